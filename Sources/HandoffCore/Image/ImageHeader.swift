// The 64-byte header that arm64 and riscv64 Images share: text_offset,
// image_size and flags at the same offsets, a magic at 0x38 and, when the
// Image is also an EFI stub, the PE header's offset at 0x3c.

/// What the arm64 and riscv64 Image readers share: unpacking a compressed
/// file, the header fields both have, the EFI stub and the banner.
struct ImageHeader {
  /// Size of the file as read, compressed or not.
  let fileSize: Int
  /// nil for a plain Image.
  let compression: PayloadCompression?
  /// The uncompressed Image.
  let bytes: [UInt8]
  /// Reads `bytes`; errors name the file, and say when it was unpacked.
  let reader: LittleEndianReader
  let textOffset: UInt64
  let imageSize: UInt64
  let flags: UInt64

  /// The compression of a whole file that starts with a gzip or zstd
  /// magic, as Image.gz does; nil for anything else.
  static func wrapper(of bytes: [UInt8]) -> PayloadCompression? {
    switch PayloadCompression.detect(bytes[...]) {
    case .gzip: return .gzip
    case .zstd: return .zstd
    default: return nil
    }
  }

  /// The Image in `file`, unpacked first when it is compressed.
  static func unpacked(
    path: String, file: [UInt8], limit: Int
  ) throws(HandoffError) -> (compression: PayloadCompression?, image: [UInt8]) {
    guard let compression = wrapper(of: file) else { return (nil, file) }
    let unpacked = try Unpacked.unpack(compression, path: path, file[...], limit: limit)
    return (compression, unpacked.bytes)
  }

  /// Reads the header of `image`, which is the whole file `path` or what
  /// its compression held, and requires `magic` in the field at 0x38 that
  /// the architecture calls `magicField`.
  init(
    path: String, fileSize: Int, compression: PayloadCompression?, image: [UInt8],
    magic: UInt32, magicField: String, expected: String
  ) throws(HandoffError) {
    guard fileSize > 0 else { throw .emptyFile(path: path) }
    self.fileSize = fileSize
    self.compression = compression
    self.bytes = image
    let reader = LittleEndianReader(
      path: compression == nil ? path : path + " (unpacked)", bytes: image)
    self.reader = reader
    let found = try reader.u32(magicField, at: 0x38)
    guard found == magic else {
      throw .invalidField(
        path: reader.path, field: magicField, offset: 0x38, value: UInt64(found),
        expected: expected)
    }
    textOffset = try reader.u64("text_offset", at: 0x08)
    imageSize = try reader.u64("image_size", at: 0x10)
    flags = try reader.u64("flags", at: 0x18)
  }

  /// The EFI stub's PE headers when the Image starts with "MZ" and they
  /// read; nil otherwise, since a loader that uses the Image header does
  /// not need them.
  var efiStub: PEFile? {
    guard bytes.starts(with: [0x4d, 0x5a]) else { return nil }
    return try? PEFile(path: reader.path, bytes: bytes)
  }
}
