/// How the running kernel maps memory, as the program headers of
/// /proc/kcore show it: the linear map's offset from physical addresses,
/// and where the kernel's own text is mapped. A crash dump's PT_LOADs carry
/// these virtual addresses so that dump readers (crash, makedumpfile,
/// vmcore-dmesg) can find the kernel's data in them.
///
/// /proc/kcore gives a physical address (p_paddr) to its RAM and kernel
/// text entries only, and -1 to the rest (vmalloc, modules, vmemmap).
public struct KernelCoreLayout: Equatable, Sendable {
  /// Virtual minus physical address in the linear map.
  public var linearOffset: UInt64
  /// The kernel image's mapping, when /proc/kcore shows it apart from the
  /// linear map.
  public var kernelText: (physical: UInt64, virtual: UInt64, size: UInt64)?

  public init(linearOffset: UInt64, kernelText: (physical: UInt64, virtual: UInt64, size: UInt64)?)
  {
    self.linearOffset = linearOffset
    self.kernelText = kernelText
  }

  public static func == (left: Self, right: Self) -> Bool {
    left.linearOffset == right.linearOffset
      && left.kernelText?.physical == right.kernelText?.physical
      && left.kernelText?.virtual == right.kernelText?.virtual
      && left.kernelText?.size == right.kernelText?.size
  }

  /// The linear map's address of `physical`.
  public func virtual(_ physical: UInt64) -> UInt64 { physical &+ linearOffset }

  /// How many bytes from the start of /proc/kcore `parse` needs, once the
  /// first 64 (the file header) are known; nil when those are no ELF64
  /// little-endian header.
  public static func headerLength(_ fileHeader: [UInt8]) -> Int? {
    let reader = LittleEndianReader(path: "", bytes: fileHeader)
    guard fileHeader.starts(with: [0x7f, 0x45, 0x4c, 0x46, 2, 1]),
      let offset = try? reader.u64("e_phoff", at: 32),
      let entrySize = try? reader.u16("e_phentsize", at: 54),
      let count = try? reader.u16("e_phnum", at: 56), offset < 0x10_0000
    else { return nil }
    return Int(offset) + Int(entrySize) * Int(count)
  }

  /// The layout in `bytes`, the start of /proc/kcore (`path`, for errors).
  /// The linear map is the offset most RAM shares; the kernel text is the
  /// one entry with a physical address at another offset.
  ///
  /// Throws `truncated` or `invalidField` for a header that is not a
  /// 64-bit little-endian ELF core file, and `unsupportedImage` when no
  /// entry carries a physical address (kernels before 4.19).
  public init(path: String, bytes: [UInt8]) throws(HandoffError) {
    let reader = LittleEndianReader(path: path, bytes: bytes)
    try reader.require("ELF identification", at: 0, count: 16)
    guard bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46, 2, 1]) else {
      throw .invalidField(
        path: path, field: "e_ident", offset: 0, value: UInt64(reader.bytes[4]),
        expected: "a 64-bit little-endian ELF file")
    }
    let type = try reader.u16("e_type", at: 16)
    guard type == 4 else {
      throw .invalidField(
        path: path, field: "e_type", offset: 16, value: UInt64(type), expected: "4 (ET_CORE)")
    }
    let tableOffset = try reader.u64("e_phoff", at: 32)
    let entrySize = Int(try reader.u16("e_phentsize", at: 54))
    let count = Int(try reader.u16("e_phnum", at: 56))
    guard entrySize >= 56 else {
      throw .invalidField(
        path: path, field: "e_phentsize", offset: 54, value: UInt64(entrySize),
        expected: "at least 56")
    }
    guard tableOffset <= UInt64(bytes.count) else {
      throw .truncated(
        path: path, field: "program headers", offset: Int(clamping: tableOffset),
        fileSize: bytes.count)
    }

    // physical entries, grouped by their virtual-minus-physical offset
    var bytesAtOffset: [(offset: UInt64, bytes: UInt64)] = []
    var mapped: [(physical: UInt64, virtual: UInt64, size: UInt64)] = []
    for index in 0..<count {
      let entry = Int(tableOffset) + index * entrySize
      guard try reader.u32("p_type", at: entry) == 1 else { continue }
      let virtual = try reader.u64("p_vaddr", at: entry + 16)
      let physical = try reader.u64("p_paddr", at: entry + 24)
      let size = try reader.u64("p_memsz", at: entry + 40)
      guard physical != .max, size > 0 else { continue }
      mapped.append((physical, virtual, size))
      let offset = virtual &- physical
      if let slot = bytesAtOffset.firstIndex(where: { $0.offset == offset }) {
        bytesAtOffset[slot].bytes &+= size
      } else {
        bytesAtOffset.append((offset, size))
      }
    }
    guard let linear = bytesAtOffset.max(by: { $0.bytes < $1.bytes })?.offset else {
      throw .unsupportedImage(
        path: path,
        reason: "none of its program headers gives a physical address, so the kernel's "
          + "memory layout cannot be read from it")
    }
    self.linearOffset = linear
    self.kernelText = mapped.first { $0.virtual &- $0.physical != linear }
  }
}
