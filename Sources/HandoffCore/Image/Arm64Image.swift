/// An arm64 kernel Image (Documentation/arch/arm64/booting.rst): the
/// kernel's own bytes behind a 64-byte header, plain or as Image.gz.
/// Debian's arm64 vmlinuz is a plain Image whose header also starts the
/// EFI stub's PE file.
public struct Arm64Image: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the file in bytes, compressed or not.
  public let fileSize: Int
  /// How the file is packed: nil for a plain Image, gzip for Image.gz.
  public let compression: PayloadCompression?
  /// `text_offset`: where the Image goes above a 2 MiB aligned base.
  public let textOffset: UInt64
  /// `image_size`: the memory the kernel spans from its start, bss
  /// included; 0 for kernels older than 3.17.
  public let imageSize: UInt64
  public let flags: Arm64ImageFlags
  /// The EFI stub's PE headers, when the Image carries one.
  public let efiStub: PEFile?
  /// The version from the kernel's banner, such as `6.1.0-57-cloud-arm64 (...) #1 SMP ...`.
  public let kernelVersion: String?
  /// The uncompressed Image: what a loader places.
  public let bytes: [UInt8]

  /// "ARM\x64", little-endian, at offset 0x38.
  static let magic: UInt32 = 0x644d_5241

  /// Reads the arm64 Image in `bytes`, which came from `path`, unpacking
  /// it first when it is gzip or zstd data; at most `limit` bytes unpacked.
  ///
  /// Throws `emptyFile`, `truncated` for a file shorter than the header,
  /// `invalidField` when the magic is not "ARMd", and what unpacking throws.
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
      magic: Arm64Image.magic, magicField: "magic",
      expected: "0x644d5241 (\"ARMd\"; not an arm64 Image)")
    self.path = path
    self.fileSize = fileSize
    self.compression = compression
    textOffset = header.textOffset
    imageSize = header.imageSize
    flags = Arm64ImageFlags(rawValue: header.flags)
    efiStub = header.efiStub
    kernelVersion = LinuxBanner.version(in: image)
    bytes = image
  }
}

/// The arm64 Image header's `flags`.
public struct Arm64ImageFlags: Equatable, Sendable {
  public let rawValue: UInt64

  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// Bit 0: the kernel is big-endian.
  public var bigEndian: Bool { rawValue & 1 != 0 }

  /// Bits 1-2: the kernel's page size in bytes; nil when unspecified.
  public var pageSize: Int? {
    switch (rawValue >> 1) & 3 {
    case 1: return 4096
    case 2: return 16384
    case 3: return 65536
    default: return nil
    }
  }

  /// Bit 3: the 2 MiB aligned base may be anywhere in physical memory;
  /// when clear, it should be as close as possible to the start of DRAM.
  public var placedAnywhere: Bool { rawValue & 8 != 0 }

  /// What the flags say, in words.
  public var names: [String] {
    let pages = pageSize.map { "\($0 >> 10)K pages" } ?? "page size unspecified"
    return [
      bigEndian ? "big-endian" : "little-endian", pages,
      placedAnywhere ? "anywhere in physical memory" : "near the start of DRAM",
    ]
  }
}
