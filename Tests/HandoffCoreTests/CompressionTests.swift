import HandoffCore
import HandoffTestSupport
import Testing

/// gzip and zstd through zlib and libzstd: data packed by Debian's gzip and
/// zstd programs unpacks to what went in, and damaged data is refused with
/// the file and the offset.
@Suite("Decompression")
struct CompressionTests {
  static let path = "/boot/Image.gz"

  /// 200 KiB that compress well but not to nothing: a counter and some text.
  static let original: [UInt8] = {
    var bytes: [UInt8] = []
    for index in 0..<(200 << 10) / 16 {
      bytes += Array("line \(index) of 16".utf8.prefix(12)) + littleEndian(UInt32(index))
    }
    return bytes
  }()

  @Test("gzip data unpacks to what went in, stopping at the member's end")
  func gzipRoundTrip() throws {
    let packed = try Compressor.gzip(Self.original)
    let unpacked = try Unpacked.unpack(.gzip, path: Self.path, (packed + [1, 2, 3, 4])[...])
    #expect(unpacked.bytes == Self.original)
    #expect(unpacked.consumed == packed.count)
  }

  @Test("zstd data unpacks to what went in, and the size the kernel appends is left over")
  func zstdRoundTrip() throws {
    let packed = try Compressor.zstd(Self.original, level: 19)
    let withSize = packed + littleEndian(UInt32(Self.original.count))
    let unpacked = try Unpacked.unpack(.zstd, path: Self.path, withSize[...])
    #expect(unpacked.bytes == Self.original)
    #expect(unpacked.consumed == packed.count)
  }

  @Test("An empty input is data that ends early", arguments: [PayloadCompression.gzip, .zstd])
  func emptyInput(compression: PayloadCompression) {
    #expect(throws: HandoffError.self) {
      _ = try Unpacked.unpack(compression, path: Self.path, [][...])
    }
  }

  /// The stream at offset 0x100 of a file, so offsets are the file's.
  static func inFile(_ stream: [UInt8]) -> ArraySlice<UInt8> {
    let file = [UInt8](repeating: 0xee, count: 0x100) + stream
    return file[0x100...]
  }

  @Test("Cut short, gzip data is refused at the offset where it ends")
  func gzipTruncated() throws {
    let packed = try Compressor.gzip(Self.original)
    let cut = Array(packed.prefix(packed.count / 2))
    #expect(
      throws: HandoffError.corruptCompressedData(
        path: Self.path, compression: "gzip", offset: 0x100 + cut.count,
        reason: "the data ends inside the gzip member")
    ) {
      _ = try Unpacked.unpack(.gzip, path: Self.path, Self.inFile(cut))
    }
  }

  @Test("Cut short, zstd data is refused at the offset where it ends")
  func zstdTruncated() throws {
    let packed = try Compressor.zstd(Self.original)
    let cut = Array(packed.prefix(packed.count - 10))
    #expect(
      throws: HandoffError.corruptCompressedData(
        path: Self.path, compression: "zstd", offset: 0x100 + cut.count,
        reason: "the data ends inside the zstd frame")
    ) {
      _ = try Unpacked.unpack(.zstd, path: Self.path, Self.inFile(cut))
    }
  }

  @Test("Damaged gzip data is refused with zlib's reason and an offset inside the stream")
  func gzipDamaged() throws {
    var packed = try Compressor.gzip(Self.original)
    // the first deflate block's header, after the 10-byte gzip header: type 3 is reserved
    packed[10] |= 0x06
    do {
      _ = try Unpacked.unpack(.gzip, path: Self.path, Self.inFile(packed))
      Issue.record("damaged gzip data unpacked")
    } catch .corruptCompressedData(let path, let compression, let offset, let reason) {
      #expect(path == Self.path)
      #expect(compression == "gzip")
      #expect(offset >= 0x100 && offset <= 0x100 + packed.count)
      #expect(reason == "invalid block type")
    }
  }

  @Test("A gzip checksum that does not match is refused")
  func gzipChecksum() throws {
    var packed = try Compressor.gzip(Self.original)
    packed[packed.count - 8] ^= 0xff  // CRC-32 of the trailer
    #expect(
      throws: HandoffError.corruptCompressedData(
        path: Self.path, compression: "gzip", offset: 0x100 + packed.count - 4,
        reason: "incorrect data check")
    ) {
      _ = try Unpacked.unpack(.gzip, path: Self.path, Self.inFile(packed))
    }
  }

  @Test("Damaged zstd data is refused with libzstd's reason")
  func zstdDamaged() throws {
    var packed = try Compressor.zstd(Self.original)
    packed[4] = 0xff  // the frame header descriptor: a reserved bit set
    do {
      _ = try Unpacked.unpack(.zstd, path: Self.path, Self.inFile(packed))
      Issue.record("damaged zstd data unpacked")
    } catch .corruptCompressedData(let path, let compression, let offset, let reason) {
      #expect(path == Self.path)
      #expect(compression == "zstd")
      #expect(offset >= 0x100)
      #expect(!reason.isEmpty)
    }
  }

  @Test(
    "Data that unpacks to more than the limit is refused naming the limit",
    arguments: [PayloadCompression.gzip, .zstd])
  func tooLarge(compression: PayloadCompression) throws {
    let packed =
      compression == .gzip
      ? try Compressor.gzip(Self.original) : try Compressor.zstd(Self.original)
    let limit = Self.original.count - 1
    #expect(
      throws: HandoffError.unpackedTooLarge(
        path: Self.path, compression: compression.rawValue, offset: 0x100, limit: limit)
    ) {
      _ = try Unpacked.unpack(compression, path: Self.path, Self.inFile(packed), limit: limit)
    }
    let exact = try Unpacked.unpack(
      compression, path: Self.path, Self.inFile(packed), limit: Self.original.count)
    #expect(exact.bytes.count == Self.original.count)
  }

  @Test(
    "Compressions Handoff does not link are refused by name",
    arguments: [PayloadCompression.xz, .lz4, .lzma, .bzip2, .lzo])
  func otherCompressions(compression: PayloadCompression) {
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path,
        reason: "its data at offset 0x100 is \(compression.rawValue)-compressed, and Handoff "
          + "unpacks only gzip and zstd")
    ) {
      _ = try Unpacked.unpack(compression, path: Self.path, Self.inFile([1, 2, 3]))
    }
  }

  @Test("The errors read as one line naming the file, the offset and the trouble")
  func errorText() {
    #expect(
      HandoffError.corruptCompressedData(
        path: Self.path, compression: "gzip", offset: 0x1234, reason: "invalid block type"
      ).description == "/boot/Image.gz: corrupt gzip data at offset 0x1234: invalid block type")
    #expect(
      HandoffError.unpackedTooLarge(
        path: Self.path, compression: "zstd", offset: 0x40, limit: 1024
      ).description
        == "/boot/Image.gz: the zstd data at offset 0x40 unpacks to more than 1024 bytes, "
        + "the most Handoff unpacks")
  }
}
