/// A riscv64 kernel Image (Documentation/arch/riscv/boot-image-header.rst):
/// the kernel's own bytes behind a 64-byte header shaped like arm64's,
/// plain or as Image.gz. Debian ships it as /boot/vmlinux-VERSION, a PE
/// file (the EFI stub) that carries the Image header.
public struct RISCVImage: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the file in bytes, compressed or not.
  public let fileSize: Int
  /// How the file is packed: nil for a plain Image, gzip for Image.gz.
  public let compression: PayloadCompression?
  /// `text_offset`: where the Image goes above the start of RAM.
  public let textOffset: UInt64
  /// `image_size`: the memory the kernel spans from its start, bss included.
  public let imageSize: UInt64
  /// `flags`: bit 0 says the kernel is big-endian; no other bit is used.
  public let flags: UInt64
  /// `version` of the header: major << 16 | minor (0x2 is 0.2).
  public let headerVersion: UInt32
  /// The EFI stub's PE headers, when the Image carries one.
  public let efiStub: PEFile?
  /// The version from the kernel's banner, such as `6.12.48+deb13-riscv64 (...) #1 SMP ...`.
  public let kernelVersion: String?
  /// The uncompressed Image: what a loader places.
  public let bytes: [UInt8]

  /// `magic2`, "RSC\x05", little-endian, at offset 0x38.
  static let magic: UInt32 = 0x0543_5352

  /// Bit 0 of `flags`: the kernel is big-endian.
  public var bigEndian: Bool { flags & 1 != 0 }

  /// The header version as text, such as `0.2`.
  public var headerVersionText: String { "\(headerVersion >> 16).\(headerVersion & 0xffff)" }

  /// Reads the riscv64 Image in `bytes`, which came from `path`, unpacking
  /// it first when it is gzip or zstd data; at most `limit` bytes unpacked.
  ///
  /// Throws `emptyFile`, `truncated` for a file shorter than the header,
  /// `invalidField` when `magic2` is not "RSC\x05", and what unpacking throws.
  public init(
    path: String, bytes: [UInt8], limit: Int = Unpacked.defaultLimit
  ) throws(HandoffError) {
    guard !bytes.isEmpty else { throw .emptyFile(path: path) }
    let (compression, image) = try ImageHeader.unpacked(path: path, file: bytes, limit: limit)
    try self.init(path: path, fileSize: bytes.count, compression: compression, image: image)
  }

  init(
    path: String, fileSize: Int, compression: PayloadCompression?, image: [UInt8]
  ) throws(HandoffError) {
    let header = try ImageHeader(
      path: path, fileSize: fileSize, compression: compression, image: image,
      magic: RISCVImage.magic, magicField: "magic2",
      expected: "0x5435352 (\"RSC\\x05\"; not a riscv64 Image)")
    self.path = path
    self.fileSize = fileSize
    self.compression = compression
    textOffset = header.textOffset
    imageSize = header.imageSize
    flags = header.flags
    headerVersion = try header.reader.u32("version", at: 0x20)
    efiStub = header.efiStub
    kernelVersion = LinuxBanner.version(in: image)
    bytes = image
  }
}
