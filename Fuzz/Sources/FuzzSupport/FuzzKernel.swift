// The kernel image the planner, machine and command-line targets load: the
// head of a real kernel when run.sh names one, else a small one built here.
#if canImport(Glibc)
  import Glibc
#endif

/// Kernel images for the targets that need a valid one.
public enum FuzzKernel {
  /// Enough of a kernel for its setup header and the start of its payload.
  public static let headLength = 64 * 1024

  /// The image every target uses: the first 64 KiB of the file named by
  /// HANDOFF_FUZZ_KERNEL, fitted, or `handmade` when there is none.
  public static let image: [UInt8] = {
    guard let path = getenv("HANDOFF_FUZZ_KERNEL").map({ String(cString: $0) }),
      let head = readHead(path, count: headLength), let image = fitted(head)
    else { return handmade }
    return image
  }()

  /// A bzImage with the header fields of a Debian 6.x kernel (boot protocol
  /// 2.15, relocatable, 2 MiB alignment, 64-bit entry) and 4 KiB of code.
  public static let handmade: [UInt8] = {
    var file = [UInt8](repeating: 0, count: 2 * 512 + 4096)
    file[0] = 0x4d  // "MZ", as an EFI stub starts
    file[1] = 0x5a
    put(&file, UInt8(1), at: 0x1f1)  // setup_sects
    put(&file, UInt32(4096 / 16), at: 0x1f4)  // syssize
    put(&file, UInt16(0xaa55), at: 0x1fe)  // boot_flag
    file[0x200] = 0xeb  // the jump over the header, which ends at 0x26c
    file[0x201] = 0x6a
    file.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
    put(&file, UInt16(0x020f), at: 0x206)  // version
    put(&file, UInt16(0x100), at: 0x20e)  // kernel_version, relative to 0x200
    file.replaceSubrange(0x300..<0x314, with: Array("6.99.0-fuzz (fuzz) #1".utf8))
    put(&file, UInt8(0x01), at: 0x211)  // loadflags: LOADED_HIGH
    put(&file, UInt32(0x7fff_ffff), at: 0x22c)  // initrd_addr_max
    put(&file, UInt32(0x20_0000), at: 0x230)  // kernel_alignment
    put(&file, UInt8(1), at: 0x234)  // relocatable_kernel
    put(&file, UInt16(0x1f), at: 0x236)  // xloadflags: 64-bit, above 4G, EFI
    put(&file, UInt32(2047), at: 0x238)  // cmdline_size
    put(&file, UInt32(0x100), at: 0x248)  // payload_offset
    put(&file, UInt32(0x200), at: 0x24c)  // payload_length
    put(&file, UInt64(0x100_0000), at: 0x258)  // pref_address
    put(&file, UInt32(0x2c0_0000), at: 0x260)  // init_size
    file[1024 + 0x100] = 0x28  // a zstd frame's magic where the payload starts
    file[1024 + 0x101] = 0xb5
    file[1024 + 0x102] = 0x2f
    file[1024 + 0x103] = 0xfd
    return file
  }()

  /// The head of a bzImage with `syssize` and the payload shortened to what
  /// the head holds, so the reader gets past them; nil for a file too short
  /// to have a setup header.
  public static func fitted(_ bytes: [UInt8]) -> [UInt8]? {
    guard bytes.count >= 0x268 else { return nil }
    var file = bytes
    let sectors = Int(file[0x1f1])
    let setup = ((sectors == 0 ? 4 : sectors) + 1) * 512
    guard file.count >= setup else { return nil }
    let code = file.count - setup
    put(&file, UInt32(code / 16), at: 0x1f4)
    let offset = Int(load32(file, at: 0x248))
    if offset > code {
      put(&file, UInt32(0), at: 0x24c)
    } else if Int(load32(file, at: 0x24c)) > code - offset {
      put(&file, UInt32(code - offset), at: 0x24c)
    }
    return file
  }

  /// `bytes` with a little-endian value written at `offset`.
  public static func put<Value: FixedWidthInteger>(
    _ bytes: inout [UInt8], _ value: Value, at offset: Int
  ) {
    for index in 0..<Value.bitWidth / 8 where offset + index < bytes.count {
      bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }

  static func load32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in (0..<4).reversed() { value = value << 8 | UInt32(bytes[offset + index]) }
    return value
  }

  /// Whether HANDOFF_FUZZ_VERBOSE is set: then `show` writes to standard error.
  public static let verbose = getenv("HANDOFF_FUZZ_VERBOSE") != nil

  /// Writes `text` to standard error when HANDOFF_FUZZ_VERBOSE is set, for
  /// reading what a reproduced input did.
  public static func show(_ text: String) {
    if verbose { fputs(text, stderr) }
  }

  private static func readHead(_ path: String, count: Int) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: count)
    let read = fread(&buffer, 1, count, file)
    return read > 0 ? Array(buffer[0..<read]) : nil
  }
}
