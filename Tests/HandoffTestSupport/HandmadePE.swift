// A PE32+ file written field by field, for the PE reader and the formats
// built on it: EFI stubs, zboot images and unified kernel images.

/// A PE32+ file: an MS-DOS header, the PE signature, a COFF header, an
/// optional header and a section table, then each section's data at a
/// 512-byte boundary. Every field can be changed before `bytes` is read.
public struct HandmadePE: Sendable {
  /// One section: its name and data, and the `VirtualSize` to claim.
  public struct Section: Sendable {
    public var name: String
    public var data: [UInt8]
    /// nil for the data's size.
    public var virtualSize: UInt32?

    public init(_ name: String, _ data: [UInt8], virtualSize: UInt32? = nil) {
      self.name = name
      self.data = data
      self.virtualSize = virtualSize
    }
  }

  /// AMD64; 0xaa64 is ARM64, 0x5064 RISC-V 64.
  public var machine: UInt16 = 0x8664
  public var sections: [Section] = []
  public var entryPoint: UInt32 = 0x1000
  /// Bytes written over the MS-DOS header from offset 2, after "MZ" and
  /// before `e_lfanew`: where zboot and Image headers live.
  public var dosHeader: [UInt8] = []
  public var peOffset: UInt32 = 0x40
  public var signature: [UInt8] = [0x50, 0x45, 0, 0]
  public var optionalMagic: UInt16 = 0x20b
  public var optionalHeaderSize: UInt16 = 240
  /// What `NumberOfSections` says, when it should differ from the sections written.
  public var claimedSectionCount: UInt16? = nil
  /// Bytes after the last section, such as a signature.
  public var trailer: [UInt8] = []

  public static let fileAlignment = 0x200
  public static let sectionAlignment = 0x1000

  public init(machine: UInt16 = 0x8664, sections: [Section] = []) {
    self.machine = machine
    self.sections = sections
  }

  /// Where the headers end and the first section's data starts.
  public var headersSize: Int {
    let end = Int(peOffset) + 24 + Int(optionalHeaderSize) + 40 * sections.count
    return HandmadePE.align(end, HandmadePE.fileAlignment)
  }

  /// The file offset of each section's data.
  public var dataOffsets: [Int] {
    var offsets: [Int] = []
    var next = headersSize
    for section in sections {
      offsets.append(next)
      next = HandmadePE.align(next + section.data.count, HandmadePE.fileAlignment)
    }
    return offsets
  }

  /// The virtual address of each section, relative to the image base.
  public var virtualAddresses: [Int] {
    var addresses: [Int] = []
    var next = HandmadePE.sectionAlignment
    for section in sections {
      addresses.append(next)
      let size = max(Int(section.virtualSize ?? UInt32(section.data.count)), 1)
      next = HandmadePE.align(next + size, HandmadePE.sectionAlignment)
    }
    return addresses
  }

  public var bytes: [UInt8] {
    let offsets = dataOffsets
    let addresses = virtualAddresses
    let end = sections.isEmpty ? headersSize : offsets.last! + sections.last!.data.count
    var file = [UInt8](repeating: 0, count: HandmadePE.align(end, HandmadePE.fileAlignment))

    // the MS-DOS header
    file[0] = 0x4d
    file[1] = 0x5a
    file.replaceSubrange(2..<2 + dosHeader.count, with: dosHeader)
    put(&file, peOffset, at: 0x3c)

    // the PE signature and COFF header
    let pe = Int(peOffset)
    file.replaceSubrange(pe..<pe + signature.count, with: signature)
    put(&file, machine, at: pe + 4)
    put(&file, claimedSectionCount ?? UInt16(sections.count), at: pe + 6)
    put(&file, optionalHeaderSize, at: pe + 20)
    put(&file, UInt16(0x0206), at: pe + 22)  // executable, debug stripped

    // the optional header's fixed part
    let optional = pe + 24
    put(&file, optionalMagic, at: optional)
    put(&file, entryPoint, at: optional + 16)
    put(&file, UInt64(0), at: optional + 24)  // ImageBase
    put(&file, UInt32(HandmadePE.sectionAlignment), at: optional + 32)
    put(&file, UInt32(HandmadePE.fileAlignment), at: optional + 36)
    let imageEnd = addresses.last.map { $0 + HandmadePE.sectionAlignment } ?? 0x1000
    put(&file, UInt32(imageEnd), at: optional + 56)  // SizeOfImage
    put(&file, UInt32(headersSize), at: optional + 60)
    put(&file, UInt16(10), at: optional + 68)  // EFI application

    // the section table and the data
    let table = optional + Int(optionalHeaderSize)
    for (index, section) in sections.enumerated() {
      let entry = table + index * 40
      let name = Array(section.name.utf8.prefix(8))
      file.replaceSubrange(entry..<entry + name.count, with: name)
      put(&file, section.virtualSize ?? UInt32(section.data.count), at: entry + 8)
      put(&file, UInt32(addresses[index]), at: entry + 12)
      let raw = HandmadePE.align(section.data.count, HandmadePE.fileAlignment)
      put(&file, UInt32(raw), at: entry + 16)
      put(&file, UInt32(offsets[index]), at: entry + 20)
      put(&file, UInt32(0x4000_0040), at: entry + 36)  // initialised data, readable
      file.replaceSubrange(offsets[index]..<offsets[index] + section.data.count, with: section.data)
    }
    return file + trailer
  }

  static func align(_ value: Int, _ alignment: Int) -> Int {
    (value + alignment - 1) / alignment * alignment
  }
}
