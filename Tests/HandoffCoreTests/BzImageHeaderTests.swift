import HandoffCore
import HandoffTestSupport
import Testing

/// What the reader makes of a header built byte by byte.
@Suite("bzImage setup header")
struct BzImageHeaderTests {
  @Test("Every field of a hand-made header reads back as written")
  func handmadeHeaderReadsBack() throws {
    var made = HandmadeBzImage()
    made.setupSectors = 3
    made.kernelLength = 8192
    let image = try BzImage(path: "vmlinuz", bytes: made.bytes)

    #expect(image.path == "vmlinuz")
    #expect(image.fileSize == 4 * 512 + 8192)
    #expect(image.setupSectors == 3)
    #expect(image.setupSize == 2048)
    #expect(image.kernelSize == 8192)
    #expect(image.protocolVersion == 0x020f)
    #expect(image.protocolVersionText == "2.15")
    #expect(image.kernelVersion == made.kernelVersion)
    #expect(image.loadFlags == 0x01)
    #expect(image.loadedHigh)
    #expect(image.xloadflags == [.kernel64, .canBeLoadedAbove4G])
    #expect(image.relocatable)
    #expect(image.kernelAlignment == 0x20_0000)
    #expect(image.preferredAddress == 0x100_0000)
    #expect(image.initSize == 0x2_0000)
    #expect(image.commandLineSize == 2047)
    #expect(image.initrdAddressMax == 0x7fff_ffff)
    #expect(image.handoverOffset == 0x190)
    #expect(image.payloadOffset == 0x100)
    #expect(image.payloadLength == 0x40)
    #expect(image.payloadCompression == .gzip)
    #expect(throws: Never.self) { try image.requireBootable64() }
  }

  @Test("A setup_sects of zero means four sectors, as old boot loaders assumed")
  func zeroSetupSectorsMeansFour() throws {
    var made = HandmadeBzImage()
    made.setupSectors = 0
    let image = try BzImage(path: "vmlinuz", bytes: made.bytes)
    #expect(image.setupSectors == 4)
    #expect(image.setupSize == 5 * 512)
  }

  @Test("A header without a kernel_version pointer has no version string")
  func noVersionPointer() throws {
    var bytes = HandmadeBzImage().bytes
    bytes[0x20e] = 0
    bytes[0x20f] = 0
    #expect(try BzImage(path: "vmlinuz", bytes: bytes).kernelVersion == nil)
  }

  @Test("Fields a protocol version lacks read as their defaults")
  func oldProtocolDefaults() throws {
    var made = HandmadeBzImage()
    made.version = 0x0204
    let image = try BzImage(path: "vmlinuz", bytes: made.bytes)
    #expect(image.kernelAlignment == 0)
    #expect(!image.relocatable)
    #expect(image.xloadflags == [])
    #expect(image.commandLineSize == 255)
    #expect(image.preferredAddress == 0x10_0000)
    #expect(image.initSize == 0)
    #expect(image.payloadCompression == .unknown)
  }

  static let flagNames: [(UInt16, [String])] = [
    (0x0000, []),
    (0x0003, ["XLF_KERNEL_64", "XLF_CAN_BE_LOADED_ABOVE_4G"]),
    (
      0x007f,
      [
        "XLF_KERNEL_64", "XLF_CAN_BE_LOADED_ABOVE_4G", "XLF_EFI_HANDOVER_32",
        "XLF_EFI_HANDOVER_64", "XLF_EFI_KEXEC", "XLF_5LEVEL", "XLF_5LEVEL_ENABLED",
      ]
    ),
    (0x0080, ["XLF_MEM_ENCRYPTION"]),
  ]

  @Test("The XLoadFlags names are the kernel's, in bit order", arguments: flagNames)
  func xloadflagNames(raw: UInt16, names: [String]) {
    #expect(XLoadFlags(rawValue: raw).names == names)
  }

  @Test(
    "The payload's compression is told by its magic",
    arguments: [
      ([UInt8]([0x1f, 0x8b, 0x08]), PayloadCompression.gzip),
      ([0x42, 0x5a, 0x68, 0x39], .bzip2),
      ([0x5d, 0x00, 0x00, 0x80], .lzma),
      ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00], .xz),
      ([0x89, 0x4c, 0x5a, 0x4f, 0x00], .lzo),
      ([0x02, 0x21, 0x4c, 0x18], .lz4),
      ([0x28, 0xb5, 0x2f, 0xfd], .zstd),
      ([0xfd, 0x37, 0x7a], .unknown),
      ([], .unknown),
    ])
  func payloadMagic(bytes: [UInt8], compression: PayloadCompression) {
    #expect(PayloadCompression.detect(bytes[...]) == compression)
  }
}

/// The bound on the next kernel's command line.
@Suite("Command line size")
struct CommandLineFitTests {
  @Test(
    "A command line fits only when it and its NUL fit in cmdline_size",
    arguments: [255, 2047, 4096])
  func boundary(size: Int) throws {
    var made = HandmadeBzImage()
    made.commandLineSize = UInt32(size)
    let image = try BzImage(path: "vmlinuz", bytes: made.bytes)

    let longest = String(repeating: "x", count: size - 1)
    #expect(throws: Never.self) { try image.requireFits(commandLine: longest) }
    #expect(throws: HandoffError.commandLineTooLong(length: size, limit: size, path: "vmlinuz")) {
      try image.requireFits(commandLine: longest + "x")
    }
  }

  @Test("A command line's length is counted in UTF-8 bytes")
  func countsBytes() throws {
    var made = HandmadeBzImage()
    made.commandLineSize = 4
    let image = try BzImage(path: "vmlinuz", bytes: made.bytes)
    // "é" is two bytes: three bytes and the NUL fit, four do not
    #expect(throws: Never.self) { try image.requireFits(commandLine: "aé") }
    #expect(throws: HandoffError.commandLineTooLong(length: 4, limit: 4, path: "vmlinuz")) {
      try image.requireFits(commandLine: "éé")
    }
  }
}
