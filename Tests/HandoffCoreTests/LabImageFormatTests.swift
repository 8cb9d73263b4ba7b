import HandoffCore
import HandoffTestSupport
import Testing

/// The image readers against Debian's own kernels: arm64 and riscv64
/// Images as Debian ships them, the ELF vmlinux inside the lab's bzImages,
/// and zboot images and UKIs built around real kernels.
@Suite("Debian's kernels in every format")
struct LabImageFormatTests {
  static let foreignMissing = "the lab's arm64 and riscv64 kernels are missing: run lab/setup.sh"
  static let amd64Missing = "the lab's kernels are missing: run lab/setup.sh"

  @Test(
    "Debian's arm64 vmlinuz is a plain Image with an EFI stub",
    .enabled(if: LabKernel.foreignPresent, Comment(rawValue: foreignMissing)),
    arguments: LabKernel.arm64)
  func arm64(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    guard case .arm64Image(let image) = try KernelImage.read(path: kernel.imagePath, bytes: bytes)
    else {
      Issue.record("\(kernel.imagePath) is not read as an arm64 Image")
      return
    }
    #expect(image.compression == nil)
    #expect(image.bytes == bytes)
    #expect(image.textOffset == 0)
    #expect(!image.flags.bigEndian)
    #expect(image.flags.pageSize == 4096)
    #expect(image.flags.placedAnywhere)
    #expect(image.imageSize > UInt64(bytes.count) - 0x10000)
    let stub = try #require(image.efiStub)
    #expect(stub.architecture == .arm64)
    #expect(UInt64(stub.sizeOfImage) == image.imageSize)
    let version = try #require(image.kernelVersion)
    #expect(version.hasPrefix(try kernel.release() + " ("))
    #expect(version.contains(" #1 SMP "))
  }

  @Test(
    "Debian's riscv64 vmlinux is a PE file carrying a riscv64 Image header",
    .enabled(if: LabKernel.foreignPresent, Comment(rawValue: foreignMissing)),
    arguments: LabKernel.riscv64)
  func riscv64(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    #expect(bytes.starts(with: Array("MZ".utf8)))
    guard case .riscvImage(let image) = try KernelImage.read(path: kernel.imagePath, bytes: bytes)
    else {
      Issue.record("\(kernel.imagePath) is not read as a riscv64 Image")
      return
    }
    #expect(image.compression == nil)
    #expect(image.textOffset == 0x20_0000)
    #expect(image.headerVersionText == "0.2")
    #expect(!image.bigEndian)
    #expect(image.imageSize > UInt64(bytes.count) - 0x10000)
    let stub = try #require(image.efiStub)
    #expect(stub.architecture == .riscv64)
    let version = try #require(image.kernelVersion)
    #expect(version.hasPrefix(try kernel.release() + " ("))
  }

  @Test(
    "A real arm64 Image gzipped reads as the same Image",
    .enabled(if: LabKernel.foreignPresent, Comment(rawValue: foreignMissing)))
  func imageGz() throws {
    let kernel = LabKernel.arm64[0]
    let bytes = try kernel.image()
    let plain = try Arm64Image(path: kernel.imagePath, bytes: bytes)
    let packed = try Compressor.gzip(bytes)
    let image = try Arm64Image(path: kernel.imagePath, bytes: packed)
    #expect(image.compression == .gzip)
    #expect(image.fileSize == packed.count)
    #expect(image.bytes == bytes)
    #expect(image.flags == plain.flags)
    #expect(image.imageSize == plain.imageSize)
    #expect(image.kernelVersion == plain.kernelVersion)
  }

  @Test(
    "A zboot image of a real Image unpacks to that Image",
    .enabled(if: LabKernel.foreignPresent, Comment(rawValue: foreignMissing)),
    arguments: [(LabKernel.arm64[1], "gzip"), (LabKernel.riscv64[1], "zstd22")])
  func zboot(kernel: LabKernel, type: String) throws {
    let inner = try kernel.image()
    let packed = type == "gzip" ? try Compressor.gzip(inner) : try Compressor.zstd(inner)
    var made = HandmadeZboot(payload: packed, compressionType: type)
    made.machine = kernel.architecture == "arm64" ? 0xaa64 : 0x5064
    made.afterPayload = littleEndian(UInt32(inner.count))
    let image = try KernelImage.read(path: "/boot/vmlinuz.efi", bytes: made.bytes)
    guard case .zboot(let zboot) = image else {
      Issue.record("read as \(image.formatName)")
      return
    }
    #expect(zboot.unpackedSize == inner.count)
    #expect(image.architecture.rawValue == kernel.architecture)
    #expect(image.kernelVersion?.hasPrefix(try kernel.release() + " ") == true)
  }

  @Test(
    "A UKI around a real bzImage gives the x86_64 loader that bzImage, initrd and cmdline",
    .enabled(if: LabKernel.allPresent, Comment(rawValue: amd64Missing)))
  func uki() throws {
    let kernel = LabKernel.all[1]
    let linux = try kernel.image()
    let initrd = [UInt8](repeating: 0x30, count: 0x1_0000)
    let bytes = HandmadeUKI(linux: linux, initrd: initrd).bytes
    let x86 = try KernelImage.read(path: "/efi/trixie.efi", bytes: bytes)
      .x86Kernel(fileBytes: bytes)
    #expect(x86.image == (try BzImage(path: "/efi/trixie.efi (.linux)", bytes: linux)))
    #expect(x86.bytes == linux)
    #expect(x86.initrd == initrd)
    #expect(x86.commandLine == HandmadeUKI.commandLine)
    #expect(throws: Never.self) { try x86.image.requireBootable64() }
  }

  @Test(
    "The payload of a lab bzImage is an ELF vmlinux whose PT_LOADs start at pref_address",
    .enabled(if: LabKernel.allPresent, Comment(rawValue: amd64Missing)),
    arguments: LabKernel.all)
  func vmlinuxInBzImage(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    let bzImage = try BzImage(path: kernel.imagePath, bytes: bytes)
    let start = bzImage.setupSize + Int(bzImage.payloadOffset)
    let payload = bytes[start..<start + Int(bzImage.payloadLength)]

    // zlib and zstd only: an lz4 or xz payload is refused by name
    guard bzImage.payloadCompression == .gzip || bzImage.payloadCompression == .zstd else {
      #expect(
        throws: HandoffError.unsupportedImage(
          path: kernel.imagePath,
          reason: "its data at offset \(hex(start)) is "
            + "\(bzImage.payloadCompression.rawValue)-compressed, and Handoff unpacks only "
            + "gzip and zstd")
      ) {
        _ = try Unpacked.unpack(bzImage.payloadCompression, path: kernel.imagePath, payload)
      }
      return
    }
    let unpacked = try Unpacked.unpack(
      bzImage.payloadCompression, path: kernel.imagePath, payload)
    // the build appends the unpacked size after the stream
    #expect(unpacked.consumed == payload.count - 4)

    let image = try KernelImage.read(path: kernel.imagePath + " (payload)", bytes: unpacked.bytes)
    guard case .elf(let elf) = image else {
      Issue.record("the payload reads as \(image.formatName)")
      return
    }
    #expect(elf.machine == .x86_64)
    #expect(elf.typeName == "ET_EXEC")
    let first = try #require(elf.loadSegments.first)
    #expect(first.physicalAddress == bzImage.preferredAddress)
    // x86_64's e_entry is physical: startup_64, in the text (6.x) or the init segment (7.x)
    #expect(
      elf.loadSegments.contains { elf.entry >= $0.physicalAddress && elf.entry < $0.physicalEnd })
    let end = elf.loadSegments.map(\.physicalEnd).max() ?? 0
    #expect(end - first.physicalAddress <= UInt64(bzImage.initSize))
    #expect(elf.kernelVersion?.hasPrefix(try kernel.release() + " ") == true)
  }
}
