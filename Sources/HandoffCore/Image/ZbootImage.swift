/// An EFI zboot image (drivers/firmware/efi/libstub/zboot-header.S): a
/// small EFI application that carries a compressed arm64 or riscv64 Image
/// and unpacks it when firmware starts it. Its MS-DOS header says where the
/// payload is and how it is packed, so a loader can unpack it too.
public struct ZbootImage: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the whole file in bytes.
  public let fileSize: Int
  /// The header's compression type as the kernel's build wrote it, such as
  /// `gzip` or `zstd22`.
  public let compressionType: String
  /// The compression the type names.
  public let compression: PayloadCompression
  /// Where the compressed payload starts in the file.
  public let payloadOffset: Int
  /// The payload's size, without the size the build may append to it.
  public let payloadSize: Int
  /// The decompressor's own PE headers.
  public let pe: PEFile
  /// The Image the payload unpacks to.
  public let kernel: KernelImage

  /// "zimg", little-endian, at offset 4.
  static let imageType: UInt32 = 0x676d_697a

  /// Whether `bytes` start with a zboot header: "MZ", then "zimg" at 4.
  static func recognises(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 8 && bytes[0] == 0x4d && bytes[1] == 0x5a
      && bytes[4..<8].elementsEqual([0x7a, 0x69, 0x6d, 0x67])
  }

  /// Reads the zboot image in `bytes`, which came from `path`, and unpacks
  /// its payload, at most `limit` bytes.
  ///
  /// Throws `truncated` when the payload lies past the end of the file,
  /// `invalidField` for a wrong image type, `unsupportedImage` for a
  /// compression other than gzip and zstd or a payload that is not an
  /// arm64 or riscv64 Image, and what the PE reader and unpacking throw.
  public init(
    path: String, bytes: [UInt8], limit: Int = Unpacked.defaultLimit
  ) throws(HandoffError) {
    guard !bytes.isEmpty else { throw .emptyFile(path: path) }
    let reader = LittleEndianReader(path: path, bytes: bytes)
    self.path = path
    fileSize = bytes.count

    // the header in the MS-DOS header's unused bytes
    let type = try reader.u32("image type", at: 4)
    guard type == ZbootImage.imageType, bytes.starts(with: [0x4d, 0x5a]) else {
      throw .invalidField(
        path: path, field: "image type", offset: 4, value: UInt64(type),
        expected: "0x676d697a (\"zimg\") after \"MZ\" (not an EFI zboot image)")
    }
    payloadOffset = Int(try reader.u32("payload offset", at: 8))
    payloadSize = Int(try reader.u32("payload size", at: 12))
    try reader.require("payload size", at: payloadOffset, count: payloadSize)
    compressionType = reader.cString(at: 24, limit: 0x38 - 24) ?? ""
    pe = try PEFile(path: path, bytes: bytes)

    // the compression: gzip and zstd only, as Handoff links those libraries
    switch compressionType {
    case "gzip":
      compression = .gzip
    case "zstd", "zstd22":
      compression = .zstd
    case "lz4", "lzma", "lzo", "xzkern":
      throw .unsupportedImage(
        path: path,
        reason: "its zboot payload is \(compressionType)-compressed, and Handoff unpacks only "
          + "gzip and zstd")
    default:
      throw .unsupportedImage(
        path: path,
        reason: "its zboot compression type at offset 0x18 is \"\(compressionType)\", which "
          + "Handoff does not know")
    }

    // the payload, and the Image inside it
    let payload = bytes[payloadOffset..<payloadOffset + payloadSize]
    let unpacked = try Unpacked.unpack(compression, path: path, payload, limit: limit)
    kernel = try KernelImage.read(
      path: path + " (zboot payload)", bytes: unpacked.bytes, limit: limit, inside: .zboot)
  }

  /// The unpacked Image's size in bytes.
  public var unpackedSize: Int {
    switch kernel {
    case .arm64Image(let image): return image.bytes.count
    case .riscvImage(let image): return image.bytes.count
    default: return 0
    }
  }
}
