import HandoffCore
import HandoffTestSupport
import Testing

/// The reader against kernels people actually boot: Debian's cloud kernels
/// of three generations, as lab/setup.sh caches them.
@Suite("Debian's cloud kernels")
struct LabKernelTests {
  // lab/setup.sh fetches these (and `make test` runs it first); a machine
  // without them reports these tests as skipped rather than passed.
  @Test(
    "A cached kernel's header says it can be handed off to by a 64-bit kernel",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func headerOfCachedKernel(kernel: LabKernel) throws {
    let release = try kernel.release()
    let image = try BzImage(path: kernel.imagePath, bytes: try kernel.image())

    let version = try #require(image.kernelVersion)
    #expect(version.hasPrefix(release + " "), "version string \(version) for release \(release)")
    #expect(image.protocolVersion >= 0x020c, "boot protocol \(image.protocolVersionText)")
    #expect(image.xloadflags.contains(.kernel64))
    #expect(image.xloadflags.contains(.canBeLoadedAbove4G))
    #expect(image.loadedHigh)
    #expect(image.relocatable)
    #expect(image.kernelAlignment != 0)
    #expect(image.kernelAlignment & (image.kernelAlignment - 1) == 0)
    #expect(Int(image.initSize) > image.kernelSize)
    #expect(image.commandLineSize >= 2047)
    #expect(image.payloadCompression != .unknown)
    #expect(image.payloadLength > 0)
    #expect(throws: Never.self) { try image.requireBootable64() }
  }

  @Test(
    "KernelImage reads a cached kernel as the same bzImage",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func kernelImageAgrees(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    let direct = try BzImage(path: kernel.imagePath, bytes: bytes)
    let read = try KernelImage.read(path: kernel.imagePath, bytes: bytes)
    #expect(read == .bzImage(direct))
    let recognised = try read.bzImage()
    #expect(recognised.fileSize == bytes.count)
    #expect(recognised.setupSize + recognised.kernelSize == bytes.count)
  }
}
