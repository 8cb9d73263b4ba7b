// An ELF vmlinux written field by field, for the ELF reader.

/// A 64-bit little-endian ELF executable: a file header, a program header
/// table at 0x40 with two PT_LOAD segments around a PT_NOTE, and the
/// kernel's banner inside the first segment.
public struct HandmadeELF: Sendable {
  /// One program header.
  public struct Segment: Sendable {
    public var type: UInt32 = 1
    public var flags: UInt32
    public var offset: UInt64
    public var virtualAddress: UInt64
    public var physicalAddress: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var alignment: UInt64 = 0x20_0000

    public init(
      type: UInt32 = 1, flags: UInt32, offset: UInt64, virtualAddress: UInt64,
      physicalAddress: UInt64, fileSize: UInt64, memorySize: UInt64
    ) {
      self.type = type
      self.flags = flags
      self.offset = offset
      self.virtualAddress = virtualAddress
      self.physicalAddress = physicalAddress
      self.fileSize = fileSize
      self.memorySize = memorySize
    }
  }

  public var elfClass: UInt8 = 2
  public var byteOrder: UInt8 = 1
  public var type: UInt16 = 2
  /// EM_X86_64; 183 is EM_AARCH64, 243 EM_RISCV.
  public var machine: UInt16 = 62
  /// A physical address, as an x86_64 vmlinux has.
  public var entry: UInt64 = 0x100_0040
  public var programHeaderOffset: UInt64 = 0x40
  public var programHeaderSize: UInt16 = 56
  /// What `e_phnum` says, when it should differ from the segments written.
  public var claimedCount: UInt16? = nil
  public var segments: [Segment] = [
    Segment(
      flags: 5, offset: 0x1000, virtualAddress: 0xffff_ffff_8100_0000,
      physicalAddress: 0x100_0000, fileSize: 0x1000, memorySize: 0x1000),
    Segment(
      type: 4, flags: 4, offset: 0x1800, virtualAddress: 0xffff_ffff_8100_0800,
      physicalAddress: 0x100_0800, fileSize: 0x40, memorySize: 0x40),
    Segment(
      flags: 6, offset: 0x2000, virtualAddress: 0xffff_ffff_8120_0000,
      physicalAddress: 0x120_0000, fileSize: 0x800, memorySize: 0x3000),
  ]
  public var fileSize = 0x3000
  public var banner =
    "Linux version 6.99.0-handmade (test@handoff) (gcc 14) #1 SMP PREEMPT_DYNAMIC 2026\n"
  /// Bytes written at file offsets after the headers and the banner, such
  /// as the parts of an Image.
  public var contents: [(offset: Int, bytes: [UInt8])] = []

  public init() {}

  /// An arm64 (183) or riscv64 (243) vmlinux holding `image`, as a
  /// kernel's linker lays one out: one PT_LOAD per range of `parts`, each
  /// at `linkAddress` plus its start in the Image and at that distance from
  /// the first in the file, which begins at 0x10000; the last one's
  /// `p_memsz` reaches `memoryEnd` bytes past `linkAddress`, its bss.
  /// Entered at `linkAddress`; no banner but the Image's own.
  public static func vmlinux(
    of image: [UInt8], machine: UInt16, parts: [Range<Int>], linkAddress: UInt64,
    memoryEnd: UInt64
  ) -> HandmadeELF {
    var made = HandmadeELF()
    made.type = 3
    made.machine = machine
    made.entry = linkAddress
    made.banner = ""
    made.segments = []
    for (index, part) in parts.enumerated() {
      let address = linkAddress + UInt64(part.lowerBound)
      let end = index == parts.count - 1 ? linkAddress + memoryEnd : address + UInt64(part.count)
      made.segments.append(
        Segment(
          flags: index == 0 ? 5 : 6, offset: 0x1_0000 + UInt64(part.lowerBound),
          virtualAddress: address, physicalAddress: address, fileSize: UInt64(part.count),
          memorySize: end - address))
      made.contents.append((0x1_0000 + part.lowerBound, Array(image[part])))
    }
    made.fileSize = 0x1_0000 + (parts.last?.upperBound ?? 0)
    return made
  }

  public var bytes: [UInt8] {
    var file = [UInt8](repeating: 0, count: fileSize)
    file.replaceSubrange(0..<4, with: [0x7f, 0x45, 0x4c, 0x46])
    file[4] = elfClass
    file[5] = byteOrder
    file[6] = 1
    put(&file, type, at: 0x10)
    put(&file, machine, at: 0x12)
    put(&file, UInt32(1), at: 0x14)
    put(&file, entry, at: 0x18)
    put(&file, programHeaderOffset, at: 0x20)
    put(&file, UInt16(64), at: 0x34)
    put(&file, programHeaderSize, at: 0x36)
    put(&file, claimedCount ?? UInt16(segments.count), at: 0x38)
    for (index, segment) in segments.enumerated() {
      let at = Int(programHeaderOffset) + index * 56
      guard at + 56 <= file.count else { break }
      put(&file, segment.type, at: at)
      put(&file, segment.flags, at: at + 4)
      put(&file, segment.offset, at: at + 8)
      put(&file, segment.virtualAddress, at: at + 0x10)
      put(&file, segment.physicalAddress, at: at + 0x18)
      put(&file, segment.fileSize, at: at + 0x20)
      put(&file, segment.memorySize, at: at + 0x28)
      put(&file, segment.alignment, at: at + 0x30)
    }
    let text = Array(banner.utf8)
    if 0x1100 + text.count <= file.count {
      file.replaceSubrange(0x1100..<0x1100 + text.count, with: text)
    }
    for (offset, bytes) in contents {
      file.replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }
    return file
  }
}
