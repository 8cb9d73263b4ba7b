// Which images Handoff's kexec_load loader boots, decided the way the loader
// decides: by the kernel's architecture, then by what that loader needs.

extension KernelImage {
  /// Why Handoff's own loader would not hand off to this image, or nil when
  /// it would: an x86_64 bzImage (or a UKI of one) with a 64-bit entry, an
  /// x86_64 ELF vmlinux, or an arm64 or riscv64 Image, plain, compressed, in
  /// a zboot image, in a UKI or laid out in an ELF vmlinux.
  /// `fileBytes` are the file's bytes.
  public func loaderRefusal(fileBytes: [UInt8]) -> HandoffError? {
    do {
      switch architecture {
      case .x86_64 where isELF:
        return nil
      case .x86, .x86_64:
        try x86Kernel(fileBytes: fileBytes).image.requireBootable64()
      case .arm64, .riscv64:
        _ = try deviceTreeKernel(fileBytes: fileBytes)
      }
      return nil
    } catch {
      return error
    }
  }

  /// Whether this is an ELF vmlinux.
  public var isELF: Bool {
    if case .elf = self { return true }
    return false
  }
}
