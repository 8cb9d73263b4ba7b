// What the decompressors share: their result, the size cap, and the one
// entry point the image readers call.

/// A compressed stream unpacked: its bytes, and how much input it took.
public struct Unpacked: Equatable, Sendable {
  /// The unpacked bytes.
  public let bytes: [UInt8]
  /// Bytes of input the stream took, from its first byte to the end of the
  /// gzip member or zstd frame; whatever follows (the size the kernel's
  /// build appends, padding) is left alone.
  public let consumed: Int

  public init(bytes: [UInt8], consumed: Int) {
    self.bytes = bytes
    self.consumed = consumed
  }
}

extension Unpacked {
  /// The most bytes Handoff unpacks from one stream: 512 MiB, several
  /// times any kernel's Image or vmlinux.
  public static let defaultLimit = 512 << 20

  /// Unpacks the stream that starts `input`, whose indices are offsets in
  /// the file `path`, with the library for `compression`.
  ///
  /// Throws `corruptCompressedData` with the offset where the library gave
  /// up, `unpackedTooLarge` past `limit` bytes, and `unsupportedImage` for
  /// a compression other than gzip and zstd.
  public static func unpack(
    _ compression: PayloadCompression, path: String, _ input: ArraySlice<UInt8>,
    limit: Int = defaultLimit
  ) throws(HandoffError) -> Unpacked {
    switch compression {
    case .gzip:
      return try gunzip(path: path, input, limit: limit)
    case .zstd:
      return try unzstd(path: path, input, limit: limit)
    default:
      throw .unsupportedImage(
        path: path,
        reason: "its data at offset \(hex(input.startIndex)) is \(compression.rawValue)-"
          + "compressed, and Handoff unpacks only gzip and zstd")
    }
  }

  /// Bytes the decompressors write at a time before appending them.
  static let chunkSize = 256 << 10
}
