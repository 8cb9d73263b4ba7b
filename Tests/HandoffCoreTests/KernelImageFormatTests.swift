import HandoffCore
import HandoffTestSupport
import Testing

/// Files of other kernel formats are told apart by their magic and refused
/// by name, before the bzImage reader is asked about them.
@Suite("Kernel image formats")
struct KernelImageFormatTests {
  struct OtherFormat: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var testDescription: String { name }
  }

  /// 64 bytes of an image header with `magic` at offset 0x38, where arm64
  /// and riscv64 Images keep theirs, and an EFI stub's `MZ` in front.
  static func imageHeader(magic: [UInt8]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 0x1000)
    bytes[0] = 0x4d
    bytes[1] = 0x5a
    bytes.replaceSubrange(0x38..<0x3c, with: magic)
    return bytes
  }

  static let formats: [OtherFormat] = [
    OtherFormat(name: "an ELF file", bytes: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1] + zeros(0x1000)),
    OtherFormat(name: "gzip-compressed data", bytes: [0x1f, 0x8b, 0x08, 0x00] + zeros(0x1000)),
    OtherFormat(name: "zstd-compressed data", bytes: [0x28, 0xb5, 0x2f, 0xfd] + zeros(0x1000)),
    OtherFormat(name: "an arm64 Image", bytes: imageHeader(magic: [0x41, 0x52, 0x4d, 0x64])),
    OtherFormat(name: "a riscv64 Image", bytes: imageHeader(magic: [0x52, 0x53, 0x43, 0x05])),
    OtherFormat(
      name: "a PE file without a Linux setup header", bytes: imageHeader(magic: [0, 0, 0, 0])),
  ]

  static func zeros(_ count: Int) -> [UInt8] {
    [UInt8](repeating: 0, count: count)
  }

  @Test("A file of another format is refused naming that format", arguments: formats)
  func otherFormatRefused(format: OtherFormat) {
    #expect(
      throws: HandoffError.unsupportedImage(
        path: "kernel", reason: "it is \(format.name), and only bzImage is supported")
    ) {
      _ = try KernelImage.read(path: "kernel", bytes: format.bytes)
    }
  }

  @Test("A bzImage starting with the EFI stub's MZ is read as a bzImage")
  func efiStubBzImage() throws {
    let made = HandmadeBzImage()
    #expect(made.bytes.starts(with: [0x4d, 0x5a]))
    let image = try KernelImage.read(path: "vmlinuz", bytes: made.bytes)
    #expect(image == (try BzImage(path: "vmlinuz", bytes: made.bytes)))
  }

  @Test("A bzImage that does not start with MZ is read as a bzImage too")
  func plainBzImage() throws {
    var made = HandmadeBzImage()
    made.signature = [0xea, 0x05]
    let image = try KernelImage.read(path: "vmlinuz", bytes: made.bytes)
    #expect(image.protocolVersion == 0x020f)
  }
}
