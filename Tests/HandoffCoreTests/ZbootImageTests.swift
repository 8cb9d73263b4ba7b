import HandoffCore
import HandoffTestSupport
import Testing

/// EFI zboot images: the header in the MS-DOS header, the payload unpacked
/// with the compression it names, and the Image inside read.
@Suite("EFI zboot images")
struct ZbootImageTests {
  static let path = "/boot/vmlinuz.efi"

  @Test(
    "The payload is unpacked and the Image inside read",
    arguments: [("gzip", PayloadCompression.gzip), ("zstd22", .zstd)])
  func payload(type: String, compression: PayloadCompression) throws {
    let inner = HandmadeImage(.arm64).bytes
    let packed = compression == .gzip ? try Compressor.gzip(inner) : try Compressor.zstd(inner)
    var made = HandmadeZboot(payload: packed, compressionType: type)
    // the build appends the unpacked size after a zstd payload, outside payload_size
    made.afterPayload = compression == .zstd ? littleEndian(UInt32(inner.count)) : []
    let zboot = try ZbootImage(path: Self.path, bytes: made.bytes)
    #expect(zboot.compressionType == type)
    #expect(zboot.compression == compression)
    #expect(zboot.payloadOffset == made.payloadOffset)
    #expect(zboot.payloadSize == packed.count)
    #expect(zboot.unpackedSize == inner.count)
    #expect(zboot.pe.machine == 0xaa64)
    guard case .arm64Image(let image) = zboot.kernel else {
      Issue.record("the payload is \(zboot.kernel.formatName)")
      return
    }
    #expect(image.path == Self.path + " (zboot payload)")
    #expect(image.bytes == inner)
    #expect(image.compression == nil)
    #expect(KernelImage.zboot(zboot).architecture == .arm64)
    #expect(KernelImage.zboot(zboot).kernelVersion?.hasPrefix(HandmadeImage.release) == true)
  }

  @Test("A riscv64 Image inside is read as one")
  func riscv() throws {
    var made = HandmadeZboot(
      payload: try Compressor.gzip(HandmadeImage(.riscv64).bytes), compressionType: "gzip")
    made.machine = 0x5064
    let image = try KernelImage.read(path: Self.path, bytes: made.bytes)
    #expect(image.architecture == .riscv64)
    guard case .zboot(let zboot) = image, case .riscvImage = zboot.kernel else {
      Issue.record("read as \(image.formatName)")
      return
    }
  }

  @Test(
    "Compressions Handoff does not link are refused by name",
    arguments: ["lz4", "lzma", "lzo", "xzkern"])
  func otherCompressions(type: String) {
    let made = HandmadeZboot(payload: [1, 2, 3, 4], compressionType: type)
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path,
        reason: "its zboot payload is \(type)-compressed, and Handoff unpacks only gzip and zstd")
    ) {
      _ = try ZbootImage(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("An unknown compression type is refused quoting it")
  func unknownCompression() {
    let made = HandmadeZboot(payload: [1, 2, 3, 4], compressionType: "brotli")
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path,
        reason: "its zboot compression type at offset 0x18 is \"brotli\", which Handoff does "
          + "not know")
    ) {
      _ = try ZbootImage(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("A payload reaching past the end of the file is truncated")
  func payloadPastEnd() throws {
    var made = HandmadeZboot(
      payload: try Compressor.gzip(HandmadeImage(.arm64).bytes), compressionType: "gzip")
    made.claimedSize = 0x10_0000
    let bytes = made.bytes
    #expect(
      throws: HandoffError.truncated(
        path: Self.path, field: "payload size", offset: made.payloadOffset,
        fileSize: bytes.count)
    ) {
      _ = try ZbootImage(path: Self.path, bytes: bytes)
    }
  }

  @Test("A damaged payload is refused with an offset inside it")
  func damagedPayload() throws {
    var packed = try Compressor.gzip(HandmadeImage(.arm64).bytes)
    packed[10] |= 0x06
    let made = HandmadeZboot(payload: packed, compressionType: "gzip")
    do {
      _ = try ZbootImage(path: Self.path, bytes: made.bytes)
      Issue.record("a damaged payload unpacked")
    } catch .corruptCompressedData(let path, let compression, let offset, _) {
      #expect(path == Self.path)
      #expect(compression == "gzip")
      #expect(offset >= made.payloadOffset && offset <= made.payloadOffset + packed.count)
    }
  }

  @Test("A payload holding something other than an Image is refused naming it")
  func notAnImage() throws {
    let made = HandmadeZboot(
      payload: try Compressor.gzip(HandmadeBzImage().bytes), compressionType: "gzip")
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path + " (zboot payload)",
        reason: "it is a bzImage, and a zboot payload holds an arm64 or riscv64 Image")
    ) {
      _ = try ZbootImage(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("A PE file without zimg is not a zboot image")
  func notZboot() {
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "image type", offset: 4, value: 0,
        expected: "0x676d697a (\"zimg\") after \"MZ\" (not an EFI zboot image)")
    ) {
      _ = try ZbootImage(path: Self.path, bytes: HandmadePE().bytes)
    }
  }
}
