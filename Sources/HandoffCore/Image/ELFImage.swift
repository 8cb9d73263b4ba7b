/// An ELF vmlinux, the kernel as its linker wrote it: 64-bit little-endian
/// ELF for x86_64, arm64 or riscv64, read through its file header and its
/// PT_LOAD program headers, the parts a loader places.
public struct ELFImage: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the whole file in bytes.
  public let fileSize: Int
  /// `e_machine`.
  public let machine: ELFMachine
  /// `e_type`: 2 (ET_EXEC) or 3 (ET_DYN, a position-independent kernel).
  public let type: UInt16
  /// `e_entry`: a physical address on x86_64, a virtual one on arm64.
  public let entry: UInt64
  /// `e_phoff`: where the program header table starts in the file.
  public let programHeaderOffset: Int
  /// The PT_LOAD program headers, in file order: what a loader places.
  public let loadSegments: [ELFProgramHeader]
  /// The version from the kernel's banner, such as `6.12.48+deb13-amd64 (...) #1 SMP ...`.
  public let kernelVersion: String?

  /// `e_type` as the ELF specification names it.
  public var typeName: String {
    switch type {
    case 2: return "ET_EXEC"
    case 3: return "ET_DYN"
    default: return hex(type)
    }
  }

  /// Reads the ELF header and program headers of the file in `bytes`,
  /// which came from `path`.
  ///
  /// Throws `emptyFile`; `truncated` when the file ends inside the
  /// headers or before a segment's data; `invalidField` for a class, byte
  /// order, machine or type Handoff does not read, a segment whose
  /// `p_filesz` exceeds its `p_memsz` or whose addresses wrap, segments
  /// that overlap in physical memory, and an entry outside every segment.
  public init(path: String, bytes: [UInt8]) throws(HandoffError) {
    guard !bytes.isEmpty else { throw .emptyFile(path: path) }
    let reader = LittleEndianReader(path: path, bytes: bytes)
    self.path = path
    self.fileSize = bytes.count

    // e_ident: the magic, 64-bit, little-endian, version 1
    let magic = try reader.u32("EI_MAG", at: 0)
    guard magic == 0x464c_457f else {
      throw .invalidField(
        path: path, field: "EI_MAG", offset: 0, value: UInt64(magic),
        expected: "0x464c457f (\"\\x7fELF\")")
    }
    let elfClass = try reader.u8("EI_CLASS", at: 4)
    guard elfClass == 2 else {
      throw .invalidField(
        path: path, field: "EI_CLASS", offset: 4, value: UInt64(elfClass),
        expected: "2 (ELFCLASS64; Handoff reads 64-bit kernels only)")
    }
    let data = try reader.u8("EI_DATA", at: 5)
    guard data == 1 else {
      throw .invalidField(
        path: path, field: "EI_DATA", offset: 5, value: UInt64(data),
        expected: "1 (ELFDATA2LSB, little-endian)")
    }
    let identVersion = try reader.u8("EI_VERSION", at: 6)
    guard identVersion == 1 else {
      throw .invalidField(
        path: path, field: "EI_VERSION", offset: 6, value: UInt64(identVersion),
        expected: "1 (EV_CURRENT)")
    }

    // the file header
    type = try reader.u16("e_type", at: 0x10)
    guard type == 2 || type == 3 else {
      throw .invalidField(
        path: path, field: "e_type", offset: 0x10, value: UInt64(type),
        expected: "2 (ET_EXEC) or 3 (ET_DYN): an executable kernel")
    }
    let machineValue = try reader.u16("e_machine", at: 0x12)
    guard let machine = ELFMachine(rawValue: machineValue) else {
      throw .invalidField(
        path: path, field: "e_machine", offset: 0x12, value: UInt64(machineValue),
        expected: "62 (EM_X86_64), 183 (EM_AARCH64) or 243 (EM_RISCV)")
    }
    self.machine = machine
    entry = try reader.u64("e_entry", at: 0x18)
    let tableOffset = try reader.u64("e_phoff", at: 0x20)
    let entrySize = try reader.u16("e_phentsize", at: 0x36)
    let count = try reader.u16("e_phnum", at: 0x38)
    guard count != 0xffff else {
      throw .invalidField(
        path: path, field: "e_phnum", offset: 0x38, value: UInt64(count),
        expected: "fewer than 0xffff program headers (PN_XNUM is not read)")
    }
    guard entrySize == 56 || count == 0 else {
      throw .invalidField(
        path: path, field: "e_phentsize", offset: 0x36, value: UInt64(entrySize),
        expected: "56, the size of an Elf64_Phdr")
    }
    let table = tableOffset > UInt64(Int.max) ? Int.max : Int(tableOffset)
    try reader.require("program headers", at: table, count: Int(count) * 56)

    // the PT_LOAD program headers, each inside the file and sane
    var segments: [ELFProgramHeader] = []
    for index in 0..<Int(count) {
      let at = table + index * 56
      guard try reader.u32("p_type", at: at) == 1 else { continue }
      let segment = ELFProgramHeader(
        index: index,
        flags: try reader.u32("p_flags", at: at + 4),
        offset: try reader.u64("p_offset", at: at + 8),
        virtualAddress: try reader.u64("p_vaddr", at: at + 0x10),
        physicalAddress: try reader.u64("p_paddr", at: at + 0x18),
        fileSize: try reader.u64("p_filesz", at: at + 0x20),
        memorySize: try reader.u64("p_memsz", at: at + 0x28),
        alignment: try reader.u64("p_align", at: at + 0x30))
      try segment.validate(path: path, headerOffset: at, fileSize: bytes.count)
      segments.append(segment)
    }
    guard !segments.isEmpty else {
      throw .invalidField(
        path: path, field: "e_phnum", offset: 0x38, value: UInt64(count),
        expected: "at least one PT_LOAD program header")
    }
    try ELFProgramHeader.requireApart(segments, path: path, tableOffset: table)
    programHeaderOffset = table
    loadSegments = segments

    // the entry lies in a segment, by its virtual or its physical address
    let entry = self.entry
    guard segments.contains(where: { $0.holds(entry) }) else {
      throw .invalidField(
        path: path, field: "e_entry", offset: 0x18, value: entry,
        expected: "an address inside a PT_LOAD segment")
    }
    kernelVersion = LinuxBanner.version(in: bytes)
  }
}

/// `e_machine` values of the architectures Handoff reads.
public enum ELFMachine: UInt16, Equatable, Sendable {
  case x86_64 = 62
  case aarch64 = 183
  case riscv = 243

  /// The name the ELF specification gives it.
  public var name: String {
    switch self {
    case .x86_64: return "EM_X86_64"
    case .aarch64: return "EM_AARCH64"
    case .riscv: return "EM_RISCV"
    }
  }

  public var architecture: KernelArchitecture {
    switch self {
    case .x86_64: return .x86_64
    case .aarch64: return .arm64
    case .riscv: return .riscv64
    }
  }
}

/// One PT_LOAD program header: where a part of the file goes in memory.
public struct ELFProgramHeader: Equatable, Sendable {
  /// Its place in the program header table, counting every type.
  public let index: Int
  /// `p_flags`: PF_X (1), PF_W (2), PF_R (4).
  public let flags: UInt32
  /// `p_offset`: where its bytes start in the file.
  public let offset: UInt64
  /// `p_vaddr`.
  public let virtualAddress: UInt64
  /// `p_paddr`: where a loader places it.
  public let physicalAddress: UInt64
  /// `p_filesz`: bytes taken from the file.
  public let fileSize: UInt64
  /// `p_memsz`: bytes in memory; past `p_filesz` they are zero.
  public let memorySize: UInt64
  /// `p_align`.
  public let alignment: UInt64

  public init(
    index: Int, flags: UInt32, offset: UInt64, virtualAddress: UInt64, physicalAddress: UInt64,
    fileSize: UInt64, memorySize: UInt64, alignment: UInt64
  ) {
    self.index = index
    self.flags = flags
    self.offset = offset
    self.virtualAddress = virtualAddress
    self.physicalAddress = physicalAddress
    self.fileSize = fileSize
    self.memorySize = memorySize
    self.alignment = alignment
  }

  /// The flags as letters in `readelf`'s order, such as `RE` or `RW`.
  public var flagsText: String {
    (flags & 4 != 0 ? "R" : "") + (flags & 2 != 0 ? "W" : "") + (flags & 1 != 0 ? "E" : "")
  }

  /// The end of the segment in physical memory, exclusive.
  public var physicalEnd: UInt64 { physicalAddress &+ memorySize }

  func holds(_ address: UInt64) -> Bool {
    (address >= virtualAddress && address - virtualAddress < memorySize)
      || (address >= physicalAddress && address - physicalAddress < memorySize)
  }

  /// Throws unless the segment's bytes lie in the file, `p_filesz` is at
  /// most `p_memsz`, and neither address range wraps.
  func validate(path: String, headerOffset: Int, fileSize: Int) throws(HandoffError) {
    if self.fileSize > memorySize {
      throw .invalidField(
        path: path, field: "p_filesz of program header \(index)", offset: headerOffset + 0x20,
        value: self.fileSize, expected: "at most p_memsz, \(hex(memorySize))")
    }
    let (fileEnd, fileWraps) = offset.addingReportingOverflow(self.fileSize)
    if fileWraps || fileEnd > UInt64(fileSize) {
      throw .truncated(
        path: path, field: "segment of program header \(index)",
        offset: offset > UInt64(Int.max) ? Int.max : Int(offset), fileSize: fileSize)
    }
    if physicalAddress.addingReportingOverflow(memorySize).overflow {
      throw .invalidField(
        path: path, field: "p_paddr of program header \(index)", offset: headerOffset + 0x18,
        value: physicalAddress, expected: "a range that does not wrap past 2^64")
    }
    if virtualAddress.addingReportingOverflow(memorySize).overflow {
      throw .invalidField(
        path: path, field: "p_vaddr of program header \(index)", offset: headerOffset + 0x10,
        value: virtualAddress, expected: "a range that does not wrap past 2^64")
    }
  }

  /// Throws when two segments overlap in physical memory, naming the later one.
  static func requireApart(
    _ segments: [ELFProgramHeader], path: String, tableOffset: Int
  ) throws(HandoffError) {
    // sorted by start, two segments overlap only if some neighbours do
    let sorted = segments.filter { $0.memorySize > 0 }.sorted {
      $0.physicalAddress < $1.physicalAddress
    }
    for (lower, upper) in zip(sorted, sorted.dropFirst())
    where upper.physicalAddress < lower.physicalEnd {
      throw .invalidField(
        path: path, field: "p_paddr of program header \(upper.index)",
        offset: tableOffset + upper.index * 56 + 0x18, value: upper.physicalAddress,
        expected: "no overlap with program header \(lower.index) at "
          + "[\(hex(lower.physicalAddress)), \(hex(lower.physicalEnd)))")
    }
  }
}
