/// Tells what kind of kernel image a file holds before any parser reads it.
public enum KernelImage {
  /// Reads the image in `bytes` as a bzImage, or throws an error that says
  /// what the file looks like instead.
  ///
  /// Only bzImage is read so far: ELF vmlinux, arm64 and riscv64 Image,
  /// EFI zboot and unified kernel images are recognised and refused.
  public static func read(path: String, bytes: [UInt8]) throws(HandoffError) -> BzImage {
    if let other = recogniseOtherFormat(bytes) {
      throw .unsupportedImage(path: path, reason: "it is \(other), and only bzImage is supported")
    }
    return try BzImage(path: path, bytes: bytes)
  }

  /// A short name for a format that is not bzImage, judged by its magic.
  static func recogniseOtherFormat(_ bytes: [UInt8]) -> String? {
    if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) { return "an ELF file" }
    if bytes.starts(with: [0x1f, 0x8b]) { return "gzip-compressed data" }
    if bytes.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return "zstd-compressed data" }
    let hasSetupHeader =
      bytes.count > 0x206 && bytes[0x202] == 0x48 && bytes[0x203] == 0x64
      && bytes[0x204] == 0x72 && bytes[0x205] == 0x53
    if bytes.count >= 0x40, !hasSetupHeader {
      if bytes[0x38] == 0x41, bytes[0x39] == 0x52, bytes[0x3a] == 0x4d, bytes[0x3b] == 0x64 {
        return "an arm64 Image"
      }
      if bytes[0x38] == 0x52, bytes[0x39] == 0x53, bytes[0x3a] == 0x43, bytes[0x3b] == 0x05 {
        return "a riscv64 Image"
      }
      if bytes[0] == 0x4d, bytes[1] == 0x5a { return "a PE file without a Linux setup header" }
    }
    return nil
  }
}
