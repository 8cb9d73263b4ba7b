import HandoffCore
import HandoffTestSupport
import Testing

/// An arm64 or riscv64 vmlinux laid out flat is the Image it was linked
/// from: real Debian Images cut into PT_LOADs come back byte for byte, and
/// a vmlinux that holds no Image is refused by the field that says so.
@Suite("ELF vmlinux laid out as an Image")
struct ELFFlatImageTests {
  static let path = "/boot/vmlinux"
  static let arm64Link: UInt64 = 0xffff_8000_8000_0000
  static let riscv64Link: UInt64 = 0xffff_ffff_8000_0000

  /// Where a real Image has a page of zeros past its first 64 KiB, which
  /// a vmlinux cut there can leave out of the file.
  static func zeroPage(in image: [UInt8]) -> Int? {
    stride(from: 0x1_0000, to: image.count - 0x2000, by: 0x1000).first { start in
      image[start..<start + 0x1000].allSatisfy { $0 == 0 }
    }
  }

  @Test(
    "A vmlinux of a real Image's parts, a page of zeros left out between them, is that Image",
    .enabled(
      if: LabKernel.foreignPresent, Comment(rawValue: LabImageFormatTests.foreignMissing)),
    arguments: LabKernel.arm64 + LabKernel.riscv64)
  func realImage(kernel: LabKernel) throws {
    let shipped = try kernel.image()
    let image = try KernelImage.read(path: kernel.imagePath, bytes: shipped)
    let expected = try image.deviceTreeKernel(fileBytes: shipped)
    let gap = try #require(Self.zeroPage(in: shipped))
    let arm64 = kernel.architecture == "arm64"
    let made = HandmadeELF.vmlinux(
      of: shipped, machine: arm64 ? 183 : 243, parts: [0..<gap, gap + 0x1000..<shipped.count],
      linkAddress: arm64 ? Self.arm64Link : Self.riscv64Link, memoryEnd: expected.imageSize)
    let bytes = made.bytes
    #expect(bytes.count == 0x1_0000 + shipped.count)

    let vmlinux = try KernelImage.read(path: Self.path, bytes: bytes)
    guard case .elf(let elf) = vmlinux else {
      Issue.record("read as \(vmlinux.formatName)")
      return
    }
    #expect(elf.loadSegments.count == 2)
    #expect(vmlinux.loaderRefusal(fileBytes: bytes) == nil)
    let flat = try vmlinux.deviceTreeKernel(fileBytes: bytes)
    #expect(flat.architecture == expected.architecture)
    #expect(flat.bytes == shipped)
    #expect(flat.textOffset == expected.textOffset)
    #expect(flat.imageSize == expected.imageSize)
    #expect(flat.kernelVersion == expected.kernelVersion)
    #expect(flat.kernelVersion?.hasPrefix(try kernel.release() + " (") == true)
  }

  /// A handmade Image in a vmlinux of three parts, its bss to 0x4_0000.
  static func vmlinux(
    _ architecture: HandmadeImage.Architecture = .arm64, machine: UInt16 = 183,
    change: (inout HandmadeImage) -> Void = { _ in }
  ) -> HandmadeELF {
    var image = HandmadeImage(architecture)
    image.efiStub = false
    change(&image)
    let bytes = image.bytes
    return HandmadeELF.vmlinux(
      of: bytes, machine: machine, parts: [0..<0x1000, 0x1000..<0x2000, 0x2000..<bytes.count],
      linkAddress: arm64Link, memoryEnd: 0x4_0000)
  }

  @Test("A handmade Image comes back whole, gaps and bss left to image_size")
  func handmade() throws {
    var image = HandmadeImage(.arm64)
    image.efiStub = false
    let bytes = Self.vmlinux().bytes
    let elf = try ELFImage(path: Self.path, bytes: bytes)
    guard case .arm64Image(let flat) = try elf.flatImage(fileBytes: bytes) else {
      Issue.record("not laid out as an arm64 Image")
      return
    }
    #expect(flat.bytes == image.bytes)
    #expect(flat.imageSize == 0x4_0000)
    #expect(flat.path == Self.path + " (flat Image)")
  }

  static let arm64Header = "0x644d5241 (\"ARMd\"), the arm64 Image header"
  static let riscv64Header = "0x5435352 (\"RSC\\x05\"), the riscv64 Image header"

  struct Bad: Sendable, CustomTestStringConvertible {
    var name: String
    var made: HandmadeELF
    var error: HandoffError
    var testDescription: String { name }
  }

  static let bad: [Bad] = {
    var outOfOrder = vmlinux()
    outOfOrder.segments.swapAt(1, 2)
    var entry = vmlinux()
    entry.entry = arm64Link + 0x100
    var short = vmlinux()
    short.segments[0].fileSize = 0x20
    return [
      Bad(
        name: "an arm64 vmlinux whose first segment holds no Image header",
        made: vmlinux { $0.magic = Array("ELF!".utf8) },
        error: .invalidField(
          path: path, field: "Image header magic in program header 0", offset: 0x1_0038,
          value: 0x2146_4c45, expected: arm64Header)),
      Bad(
        name: "an arm64 vmlinux holding a riscv64 Image",
        made: vmlinux(.riscv64),
        error: .invalidField(
          path: path, field: "Image header magic in program header 0", offset: 0x1_0038,
          value: 0x0543_5352, expected: arm64Header)),
      Bad(
        name: "a riscv64 vmlinux holding an arm64 Image",
        made: vmlinux(machine: 243),
        error: .invalidField(
          path: path, field: "Image header magic in program header 0", offset: 0x1_0038,
          value: 0x644d_5241, expected: riscv64Header)),
      Bad(
        name: "an x86_64 vmlinux", made: HandmadeELF(),
        error: .unsupportedImage(
          path: path, reason: "it is an x86_64 vmlinux, which holds no Image to lay out")),
      Bad(
        name: "segments out of order", made: outOfOrder,
        error: .invalidField(
          path: path, field: "p_paddr of program header 2", offset: 0x40 + 2 * 56 + 0x18,
          value: arm64Link + 0x1000,
          expected: "at least 0xffff800080040000, the end of program header 1: the Image is "
            + "laid out in file order")),
      Bad(
        name: "an entry past the Image's start", made: entry,
        error: .invalidField(
          path: path, field: "e_entry", offset: 0x18, value: arm64Link + 0x100,
          expected: "0xffff800080000000, the start of the Image in program header 0")),
      Bad(
        name: "a first segment shorter than the header", made: short,
        error: .invalidField(
          path: path, field: "p_filesz of program header 0", offset: 0x40 + 0x20, value: 0x20,
          expected: "at least 0x40, the Image header's size")),
      Bad(
        name: "an image_size short of the bss", made: vmlinux { $0.imageSize = 0x3_0000 },
        error: .invalidField(
          path: path, field: "image_size in program header 0", offset: 0x1_0010,
          value: 0x3_0000,
          expected: "at least 0x40000, from the start of program header 0 to the end of "
            + "program header 2's p_memsz")),
    ]
  }()

  @Test("A vmlinux that holds no Image is refused naming the field", arguments: bad)
  func refused(bad: Bad) throws {
    let bytes = bad.made.bytes
    let vmlinux = try KernelImage.read(path: Self.path, bytes: bytes)
    guard case .elf(let elf) = vmlinux else {
      Issue.record("read as \(vmlinux.formatName)")
      return
    }
    #expect(throws: bad.error) { _ = try elf.flatImage(fileBytes: bytes) }
    // an x86_64 vmlinux boots from its program headers, not as an Image
    let refusal = vmlinux.architecture == .x86_64 ? nil : bad.error
    #expect(vmlinux.loaderRefusal(fileBytes: bytes) == refusal)
  }

  @Test("Overlapping segments are refused when the vmlinux is read")
  func overlapping() {
    var made = Self.vmlinux()
    made.segments[1].physicalAddress = Self.arm64Link + 0x800
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "p_paddr of program header 1", offset: 0x40 + 56 + 0x18,
        value: Self.arm64Link + 0x800,
        expected: "no overlap with program header 0 at [0xffff800080000000, 0xffff800080001000)")
    ) {
      _ = try KernelImage.read(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("A flat Image larger than the limit is refused before it is laid out")
  func limit() throws {
    let bytes = Self.vmlinux().bytes
    let elf = try ELFImage(path: Self.path, bytes: bytes)
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "p_paddr of program header 2", offset: 0x40 + 2 * 56 + 0x18,
        value: Self.arm64Link + 0x2000,
        expected: "an Image of at most 4096 bytes from 0xffff800080000000")
    ) {
      _ = try elf.flatImage(fileBytes: bytes, limit: 0x1000)
    }
  }
}
