/// The headers and section table of a PE/COFF file, as UEFI firmware reads
/// them: the EFI stub in front of a kernel, an EFI zboot image, a unified
/// kernel image. Only PE32+, the 64-bit form, is read.
public struct PEFile: Equatable, Sendable {
  /// The file the headers were read from, for error messages.
  public let path: String
  /// `e_lfanew` of the MS-DOS header: where the PE signature sits.
  public let headerOffset: Int
  /// The COFF header's `Machine`, such as 0x8664 (AMD64) or 0xaa64 (ARM64).
  public let machine: UInt16
  /// The COFF header's `Characteristics`.
  public let characteristics: UInt16
  /// `AddressOfEntryPoint`, relative to the image base.
  public let entryPoint: UInt32
  public let imageBase: UInt64
  public let sectionAlignment: UInt32
  public let fileAlignment: UInt32
  /// `SizeOfImage`: the memory the loaded file spans, headers included.
  public let sizeOfImage: UInt32
  public let sizeOfHeaders: UInt32
  /// `Subsystem`: 10 for an EFI application.
  public let subsystem: UInt16
  public let sections: [PESection]

  /// The machine as an architecture, nil for one Handoff does not know.
  public var architecture: KernelArchitecture? { KernelArchitecture(peMachine: machine) }

  /// The first section called `name`.
  public func section(named name: String) -> PESection? {
    sections.first { $0.name == name }
  }

  /// Reads the PE headers of the file in `bytes`, which came from `path`.
  ///
  /// Throws `truncated` when the file ends inside a header, the section
  /// table or a section's data, and `invalidField` for a wrong signature or
  /// an optional header that is not PE32+.
  public init(path: String, bytes: [UInt8]) throws(HandoffError) {
    let reader = LittleEndianReader(path: path, bytes: bytes)
    self.path = path

    // the MS-DOS header: its magic, and where the PE header is
    let magic = try reader.u16("e_magic", at: 0)
    guard magic == 0x5a4d else {
      throw .invalidField(
        path: path, field: "e_magic", offset: 0, value: UInt64(magic),
        expected: "0x5a4d (\"MZ\"; not a PE file)")
    }
    let pe = Int(try reader.u32("e_lfanew", at: 0x3c))
    headerOffset = pe
    let signature = try reader.u32("PE signature", at: pe)
    guard signature == 0x4550 else {
      throw .invalidField(
        path: path, field: "PE signature", offset: pe, value: UInt64(signature),
        expected: "0x4550 (\"PE\\0\\0\")")
    }

    // the COFF header
    machine = try reader.u16("Machine", at: pe + 4)
    let sectionCount = Int(try reader.u16("NumberOfSections", at: pe + 6))
    let optionalSize = Int(try reader.u16("SizeOfOptionalHeader", at: pe + 20))
    characteristics = try reader.u16("Characteristics", at: pe + 22)

    // the optional header, PE32+ only
    let optional = pe + 24
    let optionalMagic = try reader.u16("optional header Magic", at: optional)
    guard optionalMagic == 0x20b else {
      throw .invalidField(
        path: path, field: "optional header Magic", offset: optional,
        value: UInt64(optionalMagic), expected: "0x20b (PE32+)")
    }
    guard optionalSize >= 112 else {
      throw .invalidField(
        path: path, field: "SizeOfOptionalHeader", offset: pe + 20, value: UInt64(optionalSize),
        expected: "at least 112, the fixed part of a PE32+ optional header")
    }
    try reader.require("optional header", at: optional, count: optionalSize)
    entryPoint = try reader.u32("AddressOfEntryPoint", at: optional + 16)
    imageBase = try reader.u64("ImageBase", at: optional + 24)
    sectionAlignment = try reader.u32("SectionAlignment", at: optional + 32)
    fileAlignment = try reader.u32("FileAlignment", at: optional + 36)
    sizeOfImage = try reader.u32("SizeOfImage", at: optional + 56)
    sizeOfHeaders = try reader.u32("SizeOfHeaders", at: optional + 60)
    subsystem = try reader.u16("Subsystem", at: optional + 68)

    // the section table, each section's data inside the file
    let table = optional + optionalSize
    try reader.require("section table", at: table, count: sectionCount * 40)
    var sections: [PESection] = []
    for index in 0..<sectionCount {
      let entry = table + index * 40
      let section = PESection(
        name: PESection.name(bytes[entry..<entry + 8]),
        virtualSize: try reader.u32("VirtualSize", at: entry + 8),
        virtualAddress: try reader.u32("VirtualAddress", at: entry + 12),
        rawSize: try reader.u32("SizeOfRawData", at: entry + 16),
        rawOffset: try reader.u32("PointerToRawData", at: entry + 20),
        characteristics: try reader.u32("Characteristics", at: entry + 36))
      if section.rawSize > 0 {
        try reader.require(
          "section " + section.name, at: Int(section.rawOffset), count: Int(section.rawSize))
      }
      sections.append(section)
    }
    self.sections = sections
  }
}

/// One entry of a PE file's section table.
public struct PESection: Equatable, Sendable {
  /// The name, such as `.text` or `.linux`, without its NUL padding.
  public let name: String
  /// `VirtualSize`: the section's size in memory.
  public let virtualSize: UInt32
  /// `VirtualAddress`: where it sits in memory, relative to the image base.
  public let virtualAddress: UInt32
  /// `SizeOfRawData`: its size in the file, rounded up to `FileAlignment`.
  public let rawSize: UInt32
  /// `PointerToRawData`: its offset in the file.
  public let rawOffset: UInt32
  public let characteristics: UInt32

  public init(
    name: String, virtualSize: UInt32, virtualAddress: UInt32, rawSize: UInt32,
    rawOffset: UInt32, characteristics: UInt32
  ) {
    self.name = name
    self.virtualSize = virtualSize
    self.virtualAddress = virtualAddress
    self.rawSize = rawSize
    self.rawOffset = rawOffset
    self.characteristics = characteristics
  }

  /// Bytes of the section's data in the file: `VirtualSize` where the
  /// file holds that much (the raw size is padded to the file alignment),
  /// else all that the file holds.
  public var dataSize: Int {
    virtualSize == 0 ? Int(rawSize) : Int(min(virtualSize, rawSize))
  }

  /// The section's data out of the file's `bytes`, indexed by file offset.
  /// The PE reader checked that it lies inside the file; a section without
  /// data in the file may point anywhere, and has none.
  public func data(in bytes: [UInt8]) -> ArraySlice<UInt8> {
    guard dataSize > 0 else { return [] }
    return bytes[Int(rawOffset)..<Int(rawOffset) + dataSize]
  }

  /// A section name from the table's 8 bytes, up to the first NUL.
  static func name(_ bytes: ArraySlice<UInt8>) -> String {
    let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
    var text = ""
    for byte in bytes[bytes.startIndex..<end] {
      text.unicodeScalars.append(Unicode.Scalar(byte >= 0x20 && byte < 0x7f ? byte : 0x3f))
    }
    return text
  }
}
