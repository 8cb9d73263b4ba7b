// What the arm64 loader takes out of a kernel image: the Image, plain or
// unpacked from gzip, zstd or an EFI zboot image, and what a unified kernel
// image carries along with one.

/// The kernel an arm64 loader boots: an Image's header and its unpacked
/// bytes, with the initrd and command line a UKI brings.
public struct Arm64Kernel: Equatable, Sendable {
  public let image: Arm64Image
  /// A UKI's .initrd; nil otherwise.
  public let initrd: [UInt8]?
  /// A UKI's .cmdline; nil otherwise.
  public let commandLine: String?

  public init(image: Arm64Image, initrd: [UInt8]?, commandLine: String?) {
    self.image = image
    self.initrd = initrd
    self.commandLine = commandLine
  }
}

extension KernelImage {
  /// The arm64 Image inside this image: itself, a zboot image's payload, or
  /// a UKI's .linux (which may itself be a zboot image).
  ///
  /// Throws `unsupportedImage` naming the format for anything that holds
  /// no little-endian arm64 Image.
  public func arm64Kernel() throws(HandoffError) -> Arm64Kernel {
    let kernel: Arm64Kernel
    switch self {
    case .arm64Image(let image):
      kernel = Arm64Kernel(image: image, initrd: nil, commandLine: nil)
    case .zboot(let zboot):
      kernel = try zboot.kernel.arm64Kernel()
    case .uki(let uki):
      let inner = try uki.kernel.arm64Kernel()
      kernel = Arm64Kernel(image: inner.image, initrd: uki.initrd, commandLine: uki.commandLine)
    default:
      throw .unsupportedImage(
        path: path,
        reason: "it is \(formatWithArticle) for \(architecture.rawValue), not an arm64 Image")
    }
    if kernel.image.flags.bigEndian {
      throw .unsupportedImage(path: path, reason: "it is a big-endian arm64 Image")
    }
    return kernel
  }
}
