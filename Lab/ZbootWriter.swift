// Writes an EFI zboot image the way the kernel's build lays one out, for a
// kernel that Debian does not ship in that form.

/// An arm64 EFI zboot image of a compressed Image: the MS-DOS header with
/// the zboot fields, a PE32+ header, a `.text` section and a `.data`
/// section holding the payload and, after it, the Image's size.
///
/// `.text` holds no decompressor: its entry returns EFI_LOAD_ERROR, so
/// firmware that starts the file gets an error back and nothing boots.
/// Handoff, like kexec-tools, reads the payload and never runs the stub.
struct ZbootWriter {
  /// The compressed Image.
  let payload: [UInt8]
  /// The Image's size before compression.
  let imageSize: Int
  /// The compression type as the kernel's build names it, such as `zstd22`.
  let compressionType: String

  static let fileAlignment = 0x200
  static let sectionAlignment = 0x1000
  static let peHeader = 0x40
  static let optionalHeaderSize = 112 + 16 * 8
  static let textOffset = 0x200
  static let dataOffset = 0x400

  /// movz x0, #1; movk x0, #0x8000, lsl #48; ret: EFI_LOAD_ERROR.
  static let entryCode: [UInt32] = [0xd280_0020, 0xf2f0_0000, 0xd65f_03c0]

  var bytes: [UInt8] {
    let dataSize = payload.count + 4
    let dataRawSize = Self.roundUp(dataSize, Self.fileAlignment)
    let textRVA = Self.sectionAlignment
    let dataRVA = 2 * Self.sectionAlignment
    let imageEnd = dataRVA + Self.roundUp(dataSize, Self.sectionAlignment)
    var file = [UInt8](repeating: 0, count: Self.dataOffset + dataRawSize)

    // the MS-DOS header, which carries the zboot fields
    file.replaceSubrange(0..<2, with: Array("MZ".utf8))
    file.replaceSubrange(4..<8, with: Array("zimg".utf8))
    put(&file, UInt32(Self.dataOffset), at: 8)
    put(&file, UInt32(payload.count), at: 12)
    let type = Array(compressionType.utf8)
    file.replaceSubrange(0x18..<0x18 + type.count, with: type)
    put(&file, UInt32(Self.peHeader), at: 0x3c)

    // the COFF header: arm64, two sections, an executable image
    file.replaceSubrange(Self.peHeader..<Self.peHeader + 4, with: Array("PE\0\0".utf8))
    put(&file, UInt16(0xaa64), at: Self.peHeader + 4)
    put(&file, UInt16(2), at: Self.peHeader + 6)
    put(&file, UInt16(Self.optionalHeaderSize), at: Self.peHeader + 20)
    put(&file, UInt16(0x0206), at: Self.peHeader + 22)

    // the PE32+ optional header of an EFI application
    let optional = Self.peHeader + 24
    put(&file, UInt16(0x20b), at: optional)
    put(&file, UInt32(Self.fileAlignment), at: optional + 4)
    put(&file, UInt32(dataRawSize), at: optional + 8)
    put(&file, UInt32(textRVA), at: optional + 16)
    put(&file, UInt32(textRVA), at: optional + 20)
    put(&file, UInt32(Self.sectionAlignment), at: optional + 32)
    put(&file, UInt32(Self.fileAlignment), at: optional + 36)
    put(&file, UInt32(imageEnd), at: optional + 56)
    put(&file, UInt32(Self.textOffset), at: optional + 60)
    put(&file, UInt16(10), at: optional + 68)
    put(&file, UInt32(16), at: optional + 108)

    // the section table
    let table = optional + Self.optionalHeaderSize
    section(
      &file, at: table, name: ".text", size: Self.entryCode.count * 4, address: textRVA,
      rawSize: Self.fileAlignment, rawOffset: Self.textOffset, characteristics: 0x6000_0020)
    section(
      &file, at: table + 40, name: ".data", size: dataSize, address: dataRVA,
      rawSize: dataRawSize, rawOffset: Self.dataOffset, characteristics: 0xc000_0040)

    // the entry, then the payload with the Image's size after it
    for (index, instruction) in Self.entryCode.enumerated() {
      put(&file, instruction, at: Self.textOffset + index * 4)
    }
    file.replaceSubrange(Self.dataOffset..<Self.dataOffset + payload.count, with: payload)
    put(&file, UInt32(imageSize), at: Self.dataOffset + payload.count)
    return file
  }

  private func section(
    _ file: inout [UInt8], at entry: Int, name: String, size: Int, address: Int, rawSize: Int,
    rawOffset: Int, characteristics: UInt32
  ) {
    let bytes = Array(name.utf8)
    file.replaceSubrange(entry..<entry + bytes.count, with: bytes)
    put(&file, UInt32(size), at: entry + 8)
    put(&file, UInt32(address), at: entry + 12)
    put(&file, UInt32(rawSize), at: entry + 16)
    put(&file, UInt32(rawOffset), at: entry + 20)
    put(&file, characteristics, at: entry + 36)
  }

  private func put<Value: FixedWidthInteger>(_ file: inout [UInt8], _ value: Value, at offset: Int)
  {
    for index in 0..<Value.bitWidth / 8 {
      file[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
    }
  }

  private static func roundUp(_ value: Int, _ alignment: Int) -> Int {
    (value + alignment - 1) / alignment * alignment
  }
}
