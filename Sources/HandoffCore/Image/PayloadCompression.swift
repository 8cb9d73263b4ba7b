/// How compressed kernel data is packed, told by the magic bytes at its
/// start: a bzImage's payload (the compressed vmlinux), an Image.gz, or the
/// payload of an EFI zboot image.
public enum PayloadCompression: String, Equatable, Sendable {
  case gzip, bzip2, lzma, xz, lzo, lz4, zstd
  /// No known magic at the payload's start.
  case unknown

  /// The compression whose magic starts `bytes`.
  public static func detect(_ bytes: ArraySlice<UInt8>) -> PayloadCompression {
    let magics: [([UInt8], PayloadCompression)] = [
      ([0x1f, 0x8b], .gzip),
      ([0x42, 0x5a, 0x68], .bzip2),
      ([0x5d, 0x00, 0x00], .lzma),
      ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], .xz),
      ([0x89, 0x4c, 0x5a, 0x4f], .lzo),
      ([0x02, 0x21, 0x4c, 0x18], .lz4),
      ([0x28, 0xb5, 0x2f, 0xfd], .zstd),
    ]
    for (magic, compression) in magics where bytes.starts(with: magic) {
      return compression
    }
    return .unknown
  }
}
