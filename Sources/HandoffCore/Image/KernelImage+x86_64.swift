// What the x86_64 loader takes out of a kernel image: a bzImage, and what a
// unified kernel image carries along with one.

/// The kernel an x86_64 loader boots: a bzImage's header and bytes, with
/// the initrd and command line a UKI brings.
public struct X86Kernel: Equatable, Sendable {
  /// The bzImage's setup header.
  public let image: BzImage
  /// The bzImage's bytes: the file, or a UKI's .linux section.
  public let bytes: [UInt8]
  /// A UKI's .initrd; nil for a bare bzImage or a UKI without one.
  public let initrd: [UInt8]?
  /// A UKI's .cmdline; nil for a bare bzImage or a UKI without one.
  public let commandLine: String?
  /// Whether the bzImage came out of a UKI.
  public let fromUKI: Bool

  public init(
    image: BzImage, bytes: [UInt8], initrd: [UInt8]?, commandLine: String?, fromUKI: Bool
  ) {
    self.image = image
    self.bytes = bytes
    self.initrd = initrd
    self.commandLine = commandLine
    self.fromUKI = fromUKI
  }
}

extension KernelImage {
  /// The bzImage, the only format the x86_64 loader boots so far.
  ///
  /// Throws `unsupportedImage` naming the format, and why it cannot be
  /// booted, for every other format.
  public func bzImage() throws(HandoffError) -> BzImage {
    if case .bzImage(let image) = self { return image }
    throw .unsupportedImage(path: path, reason: x86Refusal)
  }

  /// The bzImage an x86_64 loader boots and what comes with it: a bzImage
  /// file as it is (`fileBytes` are the file's bytes), or the bzImage in a
  /// UKI's .linux with the UKI's .initrd and .cmdline.
  ///
  /// Throws `unsupportedImage` naming the format, and why it cannot be
  /// booted, for every other format.
  public func x86Kernel(fileBytes: [UInt8]) throws(HandoffError) -> X86Kernel {
    switch self {
    case .bzImage(let image):
      return X86Kernel(
        image: image, bytes: fileBytes, initrd: nil, commandLine: nil, fromUKI: false)
    case .uki(let uki):
      guard case .bzImage(let image) = uki.kernel else { break }
      return X86Kernel(
        image: image, bytes: uki.kernelBytes, initrd: uki.initrd,
        commandLine: uki.commandLine, fromUKI: true)
    default:
      break
    }
    throw .unsupportedImage(path: path, reason: x86Refusal)
  }

  /// Why the x86_64 loader cannot boot this image, for any but a bzImage.
  var x86Refusal: String {
    // every other format Handoff reads boots through its own loader
    let elsewhere = ", which Handoff boots through kexec_load only"
    switch self {
    case .bzImage:
      return "it is a bzImage"
    case .elf(let image) where image.machine == .x86_64:
      return "it is an ELF vmlinux" + elsewhere
    case .elf(let image):
      return "it is an ELF vmlinux for \(image.machine.architecture.rawValue)" + elsewhere
    case .uki(let image):
      if case .bzImage = image.kernel {
        return "it is a unified kernel image, which Handoff's kexec_load path boots with its "
          + ".initrd and .cmdline, but not its kexec_file_load one"
      }
      return "it is a unified kernel image carrying \(image.kernel.formatWithArticle)"
        + elsewhere
    case .zboot(let image):
      return "it is an EFI zboot image of \(image.kernel.formatWithArticle)" + elsewhere
    case .arm64Image, .riscvImage:
      return "it is \(formatWithArticle)" + elsewhere
    }
  }
}
