// What the arm64 and riscv64 loader takes out of a kernel image: the Image,
// plain, unpacked from gzip, zstd or an EFI zboot image, or laid out from an
// ELF vmlinux's segments, and what a unified kernel image carries along with
// one.

/// The kernel an arm64 or riscv64 loader boots: an Image's header fields and
/// its unpacked bytes, with the initrd and command line a UKI brings.
public struct DeviceTreeKernel: Equatable, Sendable {
  public let architecture: DeviceTreeLoadPlanner.Architecture
  public let bytes: [UInt8]
  public let textOffset: UInt64
  public let imageSize: UInt64
  public let kernelVersion: String?
  /// A UKI's .initrd; nil otherwise.
  public let initrd: [UInt8]?
  /// A UKI's .cmdline; nil otherwise.
  public let commandLine: String?
}

extension DeviceTreeLoadPlanner.Architecture: Equatable {}

extension KernelImage {
  /// The arm64 or riscv64 Image inside this image: itself, a zboot image's
  /// payload, a UKI's .linux (which may itself be a zboot image), or the
  /// segments of an ELF vmlinux laid out flat. `fileBytes` are the file's
  /// bytes.
  ///
  /// Throws `unsupportedImage` naming the format for anything that holds
  /// no little-endian arm64 or riscv64 Image, and what
  /// `ELFImage.flatImage` throws.
  public func deviceTreeKernel(fileBytes: [UInt8]) throws(HandoffError) -> DeviceTreeKernel {
    switch self {
    case .elf(let elf) where elf.machine != .x86_64:
      return try elf.flatImage(fileBytes: fileBytes).deviceTreeKernel(fileBytes: fileBytes)
    case .arm64Image(let image):
      if image.flags.bigEndian {
        throw .unsupportedImage(path: path, reason: "it is a big-endian arm64 Image")
      }
      return DeviceTreeKernel(
        architecture: .arm64, bytes: image.bytes, textOffset: image.textOffset,
        imageSize: image.imageSize, kernelVersion: image.kernelVersion, initrd: nil,
        commandLine: nil)
    case .riscvImage(let image):
      if image.bigEndian {
        throw .unsupportedImage(path: path, reason: "it is a big-endian riscv64 Image")
      }
      return DeviceTreeKernel(
        architecture: .riscv64, bytes: image.bytes, textOffset: image.textOffset,
        imageSize: image.imageSize, kernelVersion: image.kernelVersion, initrd: nil,
        commandLine: nil)
    case .zboot(let zboot):
      return try zboot.kernel.deviceTreeKernel(fileBytes: fileBytes)
    case .uki(let uki):
      let inner = try uki.kernel.deviceTreeKernel(fileBytes: uki.kernelBytes)
      return DeviceTreeKernel(
        architecture: inner.architecture, bytes: inner.bytes, textOffset: inner.textOffset,
        imageSize: inner.imageSize, kernelVersion: inner.kernelVersion, initrd: uki.initrd,
        commandLine: uki.commandLine)
    default:
      throw .unsupportedImage(
        path: path,
        reason: "it is \(formatWithArticle) for \(architecture.rawValue), not an arm64 or "
          + "riscv64 Image")
    }
  }
}
