import HandoffCore
import HandoffTestSupport
import Testing

/// KernelImage.read tells the formats apart by their magic numbers, hands
/// each to its reader, and the x86_64 loader's callers get a bzImage or a
/// refusal that names the format.
@Suite("Kernel image formats")
struct KernelImageFormatTests {
  struct Made: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var format: String
    var architecture: KernelArchitecture
    /// What the x86_64 loader's refusal says after "it is".
    var refusal: String?
    var testDescription: String { name }
  }

  /// How the x86_64 loader's refusal ends for a kernel of another
  /// architecture in any wrapping.
  static let foreign = ", not an x86 kernel"

  static let made: [Made] = {
    let arm64 = HandmadeImage(.arm64).bytes
    let riscv64 = HandmadeImage(.riscv64).bytes
    var aarch64ELF = HandmadeELF()
    aarch64ELF.machine = 183
    let riscv64ELF = HandmadeELF.vmlinux(
      of: riscv64, machine: 243, parts: [0..<0x1000, 0x1000..<riscv64.count],
      linkAddress: 0xffff_ffff_8000_0000, memoryEnd: 0x4_0000)
    var arm64UKI = HandmadeUKI(linux: arm64)
    arm64UKI.machine = 0xaa64
    return [
      Made(
        name: "a bzImage", bytes: HandmadeBzImage().bytes, format: "bzImage",
        architecture: .x86_64, refusal: nil),
      Made(
        name: "an x86_64 ELF vmlinux", bytes: HandmadeELF().bytes, format: "ELF vmlinux",
        architecture: .x86_64,
        refusal: "an ELF vmlinux, which Handoff boots through kexec_load only"),
      Made(
        name: "an arm64 ELF vmlinux", bytes: aarch64ELF.bytes, format: "ELF vmlinux",
        architecture: .arm64, refusal: "an ELF vmlinux for arm64" + foreign),
      Made(
        name: "a riscv64 ELF vmlinux holding an Image", bytes: riscv64ELF.bytes,
        format: "ELF vmlinux", architecture: .riscv64,
        refusal: "an ELF vmlinux for riscv64" + foreign),
      Made(
        name: "an arm64 Image", bytes: arm64, format: "arm64 Image", architecture: .arm64,
        refusal: "an arm64 Image" + foreign),
      Made(
        name: "a riscv64 Image", bytes: riscv64, format: "riscv64 Image",
        architecture: .riscv64, refusal: "a riscv64 Image" + foreign),
      Made(
        name: "a gzip-compressed arm64 Image", bytes: (try? Compressor.gzip(arm64)) ?? [],
        format: "arm64 Image", architecture: .arm64, refusal: "an arm64 Image" + foreign),
      Made(
        name: "a zstd-compressed riscv64 Image", bytes: (try? Compressor.zstd(riscv64)) ?? [],
        format: "riscv64 Image", architecture: .riscv64,
        refusal: "a riscv64 Image" + foreign),
      Made(
        name: "an EFI zboot image",
        bytes: HandmadeZboot(payload: (try? Compressor.gzip(arm64)) ?? [], compressionType: "gzip")
          .bytes,
        format: "EFI zboot image", architecture: .arm64,
        refusal: "an EFI zboot image of an arm64 Image" + foreign),
      Made(
        name: "a UKI carrying a bzImage", bytes: HandmadeUKI(linux: HandmadeBzImage().bytes).bytes,
        format: "unified kernel image", architecture: .x86_64,
        refusal: "a unified kernel image carrying a bzImage"),
      Made(
        name: "a UKI carrying an arm64 Image", bytes: arm64UKI.bytes,
        format: "unified kernel image", architecture: .arm64,
        refusal: "a unified kernel image carrying an arm64 Image" + foreign),
    ]
  }()

  @Test("Each format is read as itself, for its architecture", arguments: made)
  func readAsItself(made: Made) throws {
    let image = try KernelImage.read(path: "kernel", bytes: made.bytes)
    #expect(image.formatName == made.format)
    #expect(image.architecture == made.architecture)
    #expect(image.path == "kernel")
    #expect(image.kernelVersion?.hasPrefix("6.99.0-handmade ") == true)
  }

  @Test(
    "The x86_64 loader's callers get a bzImage, or a refusal naming the format", arguments: made)
  func bzImageOrRefusal(made: Made) throws {
    let image = try KernelImage.read(path: "kernel", bytes: made.bytes)
    guard let refusal = made.refusal else {
      #expect(try image.bzImage() == BzImage(path: "kernel", bytes: made.bytes))
      return
    }
    #expect(throws: HandoffError.unsupportedImage(path: "kernel", reason: "it is " + refusal)) {
      _ = try image.bzImage()
    }
  }

  @Test(
    "Handoff's loader boots bzImages, ELF vmlinux, and arm64 and riscv64 Images however wrapped",
    arguments: made)
  func loaderRefusal(made: Made) throws {
    let image = try KernelImage.read(path: "kernel", bytes: made.bytes)
    let boots = [
      "a bzImage", "an x86_64 ELF vmlinux", "a riscv64 ELF vmlinux holding an Image",
      "an arm64 Image", "a riscv64 Image", "a gzip-compressed arm64 Image",
      "a zstd-compressed riscv64 Image", "an EFI zboot image", "a UKI carrying a bzImage",
      "a UKI carrying an arm64 Image",
    ].contains(made.name)
    #expect((image.loaderRefusal(fileBytes: made.bytes) == nil) == boots)
  }

  @Test("A bzImage starting with the EFI stub's MZ is read as a bzImage")
  func efiStubBzImage() throws {
    let made = HandmadeBzImage()
    #expect(made.bytes.starts(with: [0x4d, 0x5a]))
    let image = try KernelImage.read(path: "vmlinuz", bytes: made.bytes)
    #expect(image == .bzImage(try BzImage(path: "vmlinuz", bytes: made.bytes)))
  }

  @Test("A bzImage that does not start with MZ is read as a bzImage too")
  func plainBzImage() throws {
    var made = HandmadeBzImage()
    made.signature = [0xea, 0x05]
    let image = try KernelImage.read(path: "vmlinuz", bytes: made.bytes).bzImage()
    #expect(image.protocolVersion == 0x020f)
  }

  @Test("An MZ file with a boot sector but a damaged setup header names the header field")
  func damagedSetupHeader() {
    var made = HandmadeBzImage()
    made.header = Array("HdrT".utf8)
    #expect(
      throws: HandoffError.invalidField(
        path: "vmlinuz", field: "header", offset: 0x202, value: 0x5472_6448,
        expected: "0x53726448 (\"HdrS\"; a kernel older than boot protocol 2.00)")
    ) {
      _ = try KernelImage.read(path: "vmlinuz", bytes: made.bytes)
    }
  }

  @Test("A PE file without a .linux section is an EFI application, not a kernel")
  func otherPE() {
    let pe = HandmadePE(sections: [HandmadePE.Section(".text", [0xc3])])
    #expect(
      throws: HandoffError.unsupportedImage(
        path: "app.efi",
        reason: "it is a PE file without a Linux setup header, Image header, zboot header or "
          + ".linux section: an EFI application, not a kernel")
    ) {
      _ = try KernelImage.read(path: "app.efi", bytes: pe.bytes)
    }
  }

  @Test("An MZ file whose PE header does not read is refused as neither")
  func brokenPE() {
    var pe = HandmadePE(sections: [HandmadePE.Section(".text", [0xc3])])
    pe.signature = Array("NE\0\0".utf8)
    #expect(
      throws: HandoffError.unsupportedImage(
        path: "app.efi",
        reason: "it starts with MZ, yet has no Linux setup header, no Image header, no zboot "
          + "header and no PE header that reads")
    ) {
      _ = try KernelImage.read(path: "app.efi", bytes: pe.bytes)
    }
  }

  @Test("Compressed data that holds no Image is refused naming what it holds")
  func compressedOther() throws {
    let packed = try Compressor.gzip(HandmadeBzImage().bytes)
    #expect(
      throws: HandoffError.unsupportedImage(
        path: "vmlinuz.gz",
        reason: "it is gzip-compressed data that unpacks to a bzImage, not to an arm64 or "
          + "riscv64 Image")
    ) {
      _ = try KernelImage.read(path: "vmlinuz.gz", bytes: packed)
    }
  }

  @Test("A file of nothing the readers know is refused by the bzImage reader")
  func unknown() {
    #expect(
      throws: HandoffError.invalidField(
        path: "notes.txt", field: "boot_flag", offset: 0x1fe, value: 0,
        expected: "0xaa55 (not a Linux kernel image)")
    ) {
      _ = try KernelImage.read(path: "notes.txt", bytes: [UInt8](repeating: 0, count: 0x1000))
    }
    #expect(throws: HandoffError.emptyFile(path: "empty")) {
      _ = try KernelImage.read(path: "empty", bytes: [])
    }
  }
}
