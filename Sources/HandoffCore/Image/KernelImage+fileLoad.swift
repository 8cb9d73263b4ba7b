// What kexec_file_load is handed for a kernel image. The running kernel
// reads the kernel file itself and takes only what its own loader of the
// architecture reads: a bzImage on x86_64, a plain Image on arm64 and
// riscv64. Anything else is unpacked first and handed over as an in-memory
// file.

/// The kernel kexec_file_load is handed, and what a unified kernel image
/// brings along with it.
public struct FileLoadKernel: Equatable, Sendable {
  /// The kernel's bytes when they are not the file's own: a UKI's .linux,
  /// or an Image unpacked from gzip, zstd or an EFI zboot image or laid out
  /// from an ELF vmlinux; nil when the file is handed over as it is.
  public let unpacked: [UInt8]?
  /// What the unpacked bytes are, for messages: "a UKI's .linux".
  public let unpackedFrom: String?
  /// The bzImage's setup header on x86_64, whose cmdline_size bounds the
  /// command line; nil for an Image, whose kernel sets its own bound.
  public let setupHeader: BzImage?
  /// A UKI's .initrd; nil otherwise.
  public let initrd: [UInt8]?
  /// A UKI's .cmdline; nil otherwise.
  public let commandLine: String?
}

extension KernelImage {
  /// The kernel kexec_file_load is handed for this image: a bzImage, or the
  /// bzImage in a UKI, with a 64-bit entry, or an arm64 or riscv64 Image,
  /// plain, compressed, in a zboot image, in a UKI or as an ELF vmlinux.
  /// `fileBytes` are the file's bytes.
  ///
  /// Under lockdown the kernel checks the signature of what it is handed:
  /// for a UKI that is the bzImage or Image in its .linux, not the UKI.
  ///
  /// Throws `unsupportedImage` for an x86_64 ELF vmlinux, which the
  /// kernel's kexec_file_load does not read, and what the format's checks
  /// throw.
  public func fileLoadKernel(fileBytes: [UInt8]) throws(HandoffError) -> FileLoadKernel {
    if isELF && (architecture == .x86 || architecture == .x86_64) {
      throw .unsupportedImage(
        path: path,
        reason: "it is an ELF vmlinux, which the kernel's kexec_file_load does not read on "
          + "\(architecture.rawValue); Handoff loads it through kexec_load (--syscall kexec_load)")
    }
    switch architecture {
    case .x86, .x86_64:
      let kernel = try x86Kernel(fileBytes: fileBytes)
      try kernel.image.requireBootable64()
      return FileLoadKernel(
        unpacked: kernel.fromUKI ? kernel.bytes : nil,
        unpackedFrom: kernel.fromUKI ? "a UKI's .linux" : nil, setupHeader: kernel.image,
        initrd: kernel.initrd, commandLine: kernel.commandLine)
    case .arm64, .riscv64:
      let kernel = try deviceTreeKernel(fileBytes: fileBytes)
      let from = unpackedImageSource
      return FileLoadKernel(
        unpacked: from == nil ? nil : kernel.bytes, unpackedFrom: from, setupHeader: nil,
        initrd: kernel.initrd, commandLine: kernel.commandLine)
    }
  }

  /// Where an arm64 or riscv64 Image came from when it is not the file as
  /// it is; nil for a plain Image.
  private var unpackedImageSource: String? {
    switch self {
    case .arm64Image(let image):
      return image.compression.map { "\($0.rawValue)-compressed data" }
    case .riscvImage(let image):
      return image.compression.map { "\($0.rawValue)-compressed data" }
    case .zboot:
      return "an EFI zboot image's payload"
    case .uki:
      return "a UKI's .linux"
    case .elf:
      return "an ELF vmlinux's program headers"
    case .bzImage:
      return nil
    }
  }
}
