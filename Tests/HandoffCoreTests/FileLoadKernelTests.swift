import HandoffCore
import HandoffTestSupport
import Testing

/// What kexec_file_load is handed for each format: the file as it is when
/// the kernel's own loader reads it, the unpacked kernel otherwise, and a
/// UKI's initrd and command line with it.
@Suite("The kernel kexec_file_load is handed")
struct FileLoadKernelTests {
  static func fileLoadKernel(_ bytes: [UInt8]) throws -> FileLoadKernel {
    try KernelImage.read(path: "kernel", bytes: bytes).fileLoadKernel(fileBytes: bytes)
  }

  @Test("A bzImage and a plain Image go as the file itself", arguments: [0, 1, 2])
  func fileAsItIs(which: Int) throws {
    let bytes = [
      HandmadeBzImage().bytes, HandmadeImage(.arm64).bytes, HandmadeImage(.riscv64).bytes,
    ][which]
    let kernel = try Self.fileLoadKernel(bytes)
    #expect(kernel.unpacked == nil)
    #expect(kernel.unpackedFrom == nil)
    #expect(kernel.initrd == nil)
    #expect(kernel.commandLine == nil)
    #expect((kernel.setupHeader != nil) == (which == 0))
  }

  @Test("A compressed Image goes unpacked")
  func compressedImage() throws {
    let image = HandmadeImage(.arm64).bytes
    let gzip = try Self.fileLoadKernel(try Compressor.gzip(image))
    #expect(gzip.unpacked == image)
    #expect(gzip.unpackedFrom == "gzip-compressed data")
    let riscv = HandmadeImage(.riscv64).bytes
    let zstd = try Self.fileLoadKernel(try Compressor.zstd(riscv))
    #expect(zstd.unpacked == riscv)
    #expect(zstd.unpackedFrom == "zstd-compressed data")
  }

  @Test("An EFI zboot image goes as its unpacked payload")
  func zboot() throws {
    let image = HandmadeImage(.arm64).bytes
    let made = HandmadeZboot(payload: try Compressor.gzip(image), compressionType: "gzip")
    let kernel = try Self.fileLoadKernel(made.bytes)
    #expect(kernel.unpacked == image)
    #expect(kernel.unpackedFrom == "an EFI zboot image's payload")
  }

  @Test("A UKI goes as its .linux, with its .initrd and .cmdline")
  func unifiedKernelImage() throws {
    let linux = HandmadeBzImage().bytes
    let kernel = try Self.fileLoadKernel(
      HandmadeUKI(linux: linux, initrd: Array("early".utf8)).bytes)
    #expect(kernel.unpacked == linux)
    #expect(kernel.unpackedFrom == "a UKI's .linux")
    #expect(kernel.initrd == Array("early".utf8))
    #expect(kernel.commandLine == HandmadeUKI.commandLine)
    #expect(kernel.setupHeader?.protocolVersion == HandmadeBzImage().version)
  }

  @Test("A UKI of an arm64 Image goes as that Image")
  func arm64UnifiedKernelImage() throws {
    let image = HandmadeImage(.arm64).bytes
    var made = HandmadeUKI(linux: image)
    made.machine = 0xaa64
    let kernel = try Self.fileLoadKernel(made.bytes)
    #expect(kernel.unpacked == image)
    #expect(kernel.setupHeader == nil)
    #expect(kernel.commandLine == HandmadeUKI.commandLine)
  }

  @Test("An x86_64 ELF vmlinux is refused: the kernel's kexec_file_load does not read one")
  func elfRefused() {
    #expect(
      throws: HandoffError.unsupportedImage(
        path: "kernel",
        reason: "it is an ELF vmlinux, which the kernel's kexec_file_load does not read on "
          + "x86_64; Handoff loads it through kexec_load (--syscall kexec_load)")
    ) {
      _ = try Self.fileLoadKernel(HandmadeELF().bytes)
    }
  }

  @Test("A bzImage without a 64-bit entry is refused")
  func oldBzImage() {
    var made = HandmadeBzImage()
    made.version = 0x020a
    #expect(throws: HandoffError.self) {
      _ = try Self.fileLoadKernel(made.bytes)
    }
  }

  @Test(
    "A cached Debian kernel of each architecture goes as the file itself",
    .enabled(
      if: LabKernel.allPresent && LabKernel.foreignPresent,
      "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all + LabKernel.arm64 + LabKernel.riscv64)
  func debianKernel(kernel: LabKernel) throws {
    #expect(try Self.fileLoadKernel(try kernel.image()).unpacked == nil)
  }

  @Test("An arm64 ELF vmlinux goes as the Image its program headers lay out")
  func arm64ELF() throws {
    let image = HandmadeImage(.arm64).bytes
    let made = HandmadeELF.vmlinux(
      of: image, machine: 183, parts: [0..<0x1000, 0x1000..<image.count],
      linkAddress: 0xffff_8000_8000_0000, memoryEnd: 0x4_0000)
    let kernel = try Self.fileLoadKernel(made.bytes)
    #expect(kernel.unpacked == image)
    #expect(kernel.unpackedFrom == "an ELF vmlinux's program headers")
  }

}
