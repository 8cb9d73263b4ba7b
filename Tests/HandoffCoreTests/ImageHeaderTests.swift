import HandoffCore
import HandoffTestSupport
import Testing

/// The arm64 and riscv64 Image readers: the shared 64-byte header, each
/// architecture's flags, the EFI stub, and Image.gz.
@Suite("arm64 and riscv64 Images")
struct ImageHeaderTests {
  static let path = "/boot/Image"

  @Test("An arm64 Image's header, EFI stub and banner are read")
  func arm64Fields() throws {
    let made = HandmadeImage(.arm64)
    let image = try Arm64Image(path: Self.path, bytes: made.bytes)
    #expect(image.textOffset == 0)
    #expect(image.imageSize == 0x4_0000)
    #expect(image.flags.rawValue == 0xa)
    #expect(image.flags.names == ["little-endian", "4K pages", "anywhere in physical memory"])
    #expect(image.compression == nil)
    #expect(image.fileSize == made.bytes.count)
    #expect(image.bytes == made.bytes)
    #expect(image.kernelVersion?.hasPrefix(HandmadeImage.release + " (test@handoff)") == true)
    let stub = try #require(image.efiStub)
    #expect(stub.machine == 0xaa64)
    #expect(stub.sections.map(\.name) == [".text"])
  }

  @Test(
    "The arm64 flags say endianness, page size and placement",
    arguments: [
      (UInt64(0), ["little-endian", "page size unspecified", "near the start of DRAM"]),
      (UInt64(0x1), ["big-endian", "page size unspecified", "near the start of DRAM"]),
      (UInt64(0x4), ["little-endian", "16K pages", "near the start of DRAM"]),
      (UInt64(0xe), ["little-endian", "64K pages", "anywhere in physical memory"]),
    ] as [(UInt64, [String])])
  func arm64Flags(raw: UInt64, names: [String]) {
    #expect(Arm64ImageFlags(rawValue: raw).names == names)
    #expect(Arm64ImageFlags(rawValue: 0x4).pageSize == 16384)
  }

  @Test("A riscv64 Image's header, version and EFI stub are read")
  func riscvFields() throws {
    var made = HandmadeImage(.riscv64)
    made.headerVersion = 0x0001_0003
    let image = try RISCVImage(path: Self.path, bytes: made.bytes)
    #expect(image.textOffset == 0x20_0000)
    #expect(image.imageSize == 0x4_0000)
    #expect(image.flags == 0)
    #expect(!image.bigEndian)
    #expect(image.headerVersionText == "1.3")
    #expect(image.efiStub?.architecture == .riscv64)
    #expect(image.kernelVersion?.hasPrefix(HandmadeImage.release + " ") == true)
  }

  @Test("An Image without an EFI stub has none, and no banner gives no version")
  func bare() throws {
    var made = HandmadeImage(.arm64)
    made.efiStub = false
    made.banner = "no banner here"
    let image = try Arm64Image(path: Self.path, bytes: made.bytes)
    #expect(image.efiStub == nil)
    #expect(image.kernelVersion == nil)
    #expect(image.imageSize == 0x4_0000)
  }

  @Test(
    "Image.gz and Image.zst are unpacked and read as the Image inside",
    arguments: [PayloadCompression.gzip, .zstd])
  func compressed(compression: PayloadCompression) throws {
    let plain = HandmadeImage(.riscv64).bytes
    let packed =
      compression == .gzip ? try Compressor.gzip(plain) : try Compressor.zstd(plain)
    let image = try RISCVImage(path: Self.path + ".gz", bytes: packed)
    #expect(image.compression == compression)
    #expect(image.fileSize == packed.count)
    #expect(image.bytes == plain)
    #expect(image.textOffset == 0x20_0000)
  }

  @Test("A wrong magic is refused naming the architecture's field")
  func wrongMagic() throws {
    var arm64 = HandmadeImage(.arm64)
    arm64.magic = Array("ARMe".utf8)
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "magic", offset: 0x38, value: 0x654d_5241,
        expected: "0x644d5241 (\"ARMd\"; not an arm64 Image)")
    ) {
      _ = try Arm64Image(path: Self.path, bytes: arm64.bytes)
    }
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "magic2", offset: 0x38, value: 0x644d_5241,
        expected: "0x5435352 (\"RSC\\x05\"; not a riscv64 Image)")
    ) {
      _ = try RISCVImage(path: Self.path, bytes: HandmadeImage(.arm64).bytes)
    }
  }

  @Test("A compressed Image that is damaged inside names the unpacked data in its error")
  func damagedInside() throws {
    var made = HandmadeImage(.arm64)
    made.magic = [0, 0, 0, 0]
    let packed = try Compressor.gzip(made.bytes)
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path + " (unpacked)", field: "magic", offset: 0x38, value: 0,
        expected: "0x644d5241 (\"ARMd\"; not an arm64 Image)")
    ) {
      _ = try Arm64Image(path: Self.path, bytes: packed)
    }
  }

  @Test("A file shorter than the header is truncated, and an empty one empty")
  func short() {
    #expect(
      throws: HandoffError.truncated(path: Self.path, field: "magic", offset: 0x38, fileSize: 0x30)
    ) {
      _ = try Arm64Image(path: Self.path, bytes: Array(HandmadeImage(.arm64).bytes.prefix(0x30)))
    }
    #expect(throws: HandoffError.emptyFile(path: Self.path)) {
      _ = try RISCVImage(path: Self.path, bytes: [])
    }
  }
}
