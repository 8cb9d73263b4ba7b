/// An x86 bzImage, read through its setup header (the kernel's boot
/// protocol, Documentation/arch/x86/boot.rst). Offsets below are file offsets.
public struct BzImage: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the whole file in bytes.
  public let fileSize: Int
  /// Boot protocol version as major << 8 | minor (0x020f is 2.15).
  public let protocolVersion: UInt16
  /// The version string the kernel carries, such as `6.1.0-40-cloud-amd64 (...) #1 SMP ...`.
  public let kernelVersion: String?
  /// Number of 512-byte setup sectors after the boot sector.
  public let setupSectors: Int
  /// `loadflags`; bit 0 (LOADED_HIGH) says the protected-mode code loads at 1 MiB.
  public let loadFlags: UInt8
  public let xloadflags: XLoadFlags
  /// `relocatable_kernel`: the kernel may run at any `kernel_alignment` multiple.
  public let relocatable: Bool
  public let kernelAlignment: UInt32
  /// `pref_address`: where the kernel prefers to be loaded.
  public let preferredAddress: UInt64
  /// `init_size`: the memory the kernel needs from its load address while it decompresses.
  public let initSize: UInt32
  /// `cmdline_size`: the longest command line the kernel reads, without its NUL.
  public let commandLineSize: UInt32
  /// `initrd_addr_max`: the highest address an initrd may end at below 4 GiB.
  public let initrdAddressMax: UInt32
  /// `handover_offset`: the EFI handover entry, relative to the 64-bit entry's base.
  public let handoverOffset: UInt32
  /// Offset and length of the compressed payload inside the protected-mode code.
  public let payloadOffset: UInt32
  public let payloadLength: UInt32
  public let payloadCompression: PayloadCompression

  /// The setup code's size in bytes: the boot sector plus the setup sectors.
  public var setupSize: Int { (setupSectors + 1) * 512 }

  /// Bytes of the protected-mode kernel, the part a loader places in memory.
  public var kernelSize: Int { fileSize - setupSize }

  /// The boot protocol version as text, such as `2.15`.
  public var protocolVersionText: String {
    "\(protocolVersion >> 8).\(protocolVersion & 0xff)"
  }

  /// LOADED_HIGH: the protected-mode code expects to run at 1 MiB or above.
  public var loadedHigh: Bool { loadFlags & 0x01 != 0 }

  /// Reads the setup header of the bzImage in `bytes`, which came from `path`.
  ///
  /// Throws `emptyFile`, `truncated` when the file ends inside the header or
  /// before the code the header announces, and `invalidField` when a magic
  /// number or size is wrong.
  public init(path: String, bytes: [UInt8]) throws(HandoffError) {
    guard !bytes.isEmpty else { throw .emptyFile(path: path) }
    let reader = LittleEndianReader(path: path, bytes: bytes)
    self.path = path
    self.fileSize = bytes.count

    // the two magics that make it a Linux boot image
    let bootFlag = try reader.u16("boot_flag", at: 0x1fe)
    guard bootFlag == 0xaa55 else {
      throw .invalidField(
        path: path, field: "boot_flag", offset: 0x1fe, value: UInt64(bootFlag),
        expected: "0xaa55 (not a Linux kernel image)")
    }
    let header = try reader.u32("header", at: 0x202)
    guard header == 0x5372_6448 else {
      throw .invalidField(
        path: path, field: "header", offset: 0x202, value: UInt64(header),
        expected: "0x53726448 (\"HdrS\"; a kernel older than boot protocol 2.00)")
    }
    let version = try reader.u16("version", at: 0x206)
    protocolVersion = version

    // the setup code and the protected-mode kernel it announces
    let sectors = Int(try reader.u8("setup_sects", at: 0x1f1))
    setupSectors = sectors == 0 ? 4 : sectors
    let setupBytes = (setupSectors + 1) * 512
    let sysSize = Int(try reader.u32("syssize", at: 0x1f4))
    try reader.require("setup_sects", at: 0, count: setupBytes)
    if version >= 0x0204 {
      try reader.require("syssize", at: setupBytes, count: sysSize * 16)
    }

    loadFlags = try reader.u8("loadflags", at: 0x211)
    let versionPointer = Int(try reader.u16("kernel_version", at: 0x20e))
    kernelVersion =
      versionPointer == 0 ? nil : reader.cString(at: versionPointer + 0x200, limit: 512)

    // fields added by later protocol versions read as zero when absent
    func field32(_ name: String, _ offset: Int, since: UInt16) throws(HandoffError) -> UInt32 {
      version >= since ? try reader.u32(name, at: offset) : 0
    }
    initrdAddressMax = try field32("initrd_addr_max", 0x22c, since: 0x0203)
    kernelAlignment = try field32("kernel_alignment", 0x230, since: 0x0205)
    relocatable = version >= 0x0205 ? try reader.u8("relocatable_kernel", at: 0x234) != 0 : false
    xloadflags = XLoadFlags(
      rawValue: version >= 0x020c ? try reader.u16("xloadflags", at: 0x236) : 0)
    commandLineSize = version >= 0x0206 ? try reader.u32("cmdline_size", at: 0x238) : 255
    payloadOffset = try field32("payload_offset", 0x248, since: 0x0208)
    payloadLength = try field32("payload_length", 0x24c, since: 0x0208)
    preferredAddress = version >= 0x020a ? try reader.u64("pref_address", at: 0x258) : 0x100000
    initSize = try field32("init_size", 0x260, since: 0x020a)
    handoverOffset = try field32("handover_offset", 0x264, since: 0x020b)

    if version >= 0x0205, kernelAlignment != 0, kernelAlignment & (kernelAlignment - 1) != 0 {
      throw .invalidField(
        path: path, field: "kernel_alignment", offset: 0x230, value: UInt64(kernelAlignment),
        expected: "a power of two")
    }

    // the payload must lie inside the protected-mode code
    if payloadLength > 0 {
      let start = setupBytes + Int(payloadOffset)
      try reader.require("payload_offset", at: start, count: Int(payloadLength))
      payloadCompression = PayloadCompression.detect(bytes[start..<start + Int(payloadLength)])
    } else {
      payloadCompression = .unknown
    }
  }

  /// The largest `init_size` taken. Real kernels need tens of MiB to
  /// decompress into; a header asking for more than this is damaged.
  public static let initSizeLimit: UInt32 = 0x4000_0000

  /// Throws unless a 64-bit kernel can load this image the way Linux's own
  /// kexec_file_load does: boot protocol 2.12 or later, LOADED_HIGH, a
  /// 64-bit entry, placement above 4 GiB allowed, and an `init_size` that
  /// holds the protected-mode code and is no larger than `initSizeLimit`.
  public func requireBootable64() throws(HandoffError) {
    if protocolVersion < 0x020c {
      throw .unsupportedImage(
        path: path,
        reason: "boot protocol \(protocolVersionText) is older than 2.12, the oldest a "
          + "64-bit loader can hand off to")
    }
    if !loadedHigh {
      throw .invalidField(
        path: path, field: "loadflags", offset: 0x211, value: UInt64(loadFlags),
        expected: "LOADED_HIGH (bit 0) set")
    }
    if !xloadflags.contains(.kernel64) {
      throw .invalidField(
        path: path, field: "xloadflags", offset: 0x236, value: UInt64(xloadflags.rawValue),
        expected: "XLF_KERNEL_64 (bit 0) set: the image has no 64-bit entry point")
    }
    if !xloadflags.contains(.canBeLoadedAbove4G) {
      throw .invalidField(
        path: path, field: "xloadflags", offset: 0x236, value: UInt64(xloadflags.rawValue),
        expected: "XLF_CAN_BE_LOADED_ABOVE_4G (bit 1) set")
    }
    if Int(initSize) < kernelSize || initSize > Self.initSizeLimit {
      throw .invalidField(
        path: path, field: "init_size", offset: 0x260, value: UInt64(initSize),
        expected: "at least the \(kernelSize) bytes of protected-mode code it decompresses "
          + "in place, and at most \(hex(UInt64(Self.initSizeLimit)))")
    }
  }

  /// Throws unless `commandLine` and its NUL fit in `cmdline_size`, the
  /// bound Linux's kexec_file_load checks.
  public func requireFits(commandLine: String) throws(HandoffError) {
    let length = commandLine.utf8.count
    if length + 1 > Int(commandLineSize) {
      throw .commandLineTooLong(length: length, limit: Int(commandLineSize), path: path)
    }
  }
}
