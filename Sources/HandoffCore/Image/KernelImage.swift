/// A kernel image of any format Handoff reads, told apart by its magic
/// numbers before a format's reader sees it.
public enum KernelImage: Equatable, Sendable {
  /// An x86 bzImage, with or without an EFI stub.
  case bzImage(BzImage)
  /// An ELF vmlinux.
  case elf(ELFImage)
  /// An arm64 Image, plain or compressed (Image.gz).
  case arm64Image(Arm64Image)
  /// A riscv64 Image, plain, compressed, or inside Debian's PE vmlinux.
  case riscvImage(RISCVImage)
  /// An EFI zboot image carrying a compressed arm64 or riscv64 Image.
  indirect case zboot(ZbootImage)
  /// A unified kernel image: a kernel, initrd and command line in one PE file.
  indirect case uki(UnifiedKernelImage)

  /// Reads the kernel image in `bytes`, which came from `path`, in whatever
  /// format it has; compressed data unpacks to at most `limit` bytes.
  ///
  /// Throws what the format's reader throws, and `unsupportedImage` for a
  /// PE file that is no kernel, compressed data that holds no Image, and a
  /// format inside a UKI or zboot image that cannot be there.
  public static func read(
    path: String, bytes: [UInt8], limit: Int = Unpacked.defaultLimit
  ) throws(HandoffError) -> KernelImage {
    try read(path: path, bytes: bytes, limit: limit, inside: nil)
  }

  /// A container of another kernel image, which limits what it may carry.
  enum Container {
    /// A UKI's .linux: what firmware can start, a bzImage, Image or zboot image.
    case uki
    /// A zboot payload: an arm64 or riscv64 Image.
    case zboot
  }

  static func read(
    path: String, bytes: [UInt8], limit: Int, inside container: Container?
  ) throws(HandoffError) -> KernelImage {
    guard !bytes.isEmpty else { throw .emptyFile(path: path) }
    let format = Format(bytes)
    if let container {
      try format.require(in: container, path: path)
    }
    switch format {
    case .elf:
      return .elf(try ELFImage(path: path, bytes: bytes))
    case .compressed(let compression):
      let unpacked = try Unpacked.unpack(compression, path: path, bytes[...], limit: limit)
      switch Format(unpacked.bytes) {
      case .arm64Image:
        return .arm64Image(
          try Arm64Image(
            path: path, fileSize: bytes.count, compression: compression, image: unpacked.bytes))
      case .riscvImage:
        return .riscvImage(
          try RISCVImage(
            path: path, fileSize: bytes.count, compression: compression, image: unpacked.bytes))
      case let inner:
        throw .unsupportedImage(
          path: path,
          reason: "it is \(compression.rawValue)-compressed data that unpacks to "
            + "\(inner.description), not to an arm64 or riscv64 Image")
      }
    case .zboot:
      return .zboot(try ZbootImage(path: path, bytes: bytes, limit: limit))
    case .bzImage:
      return .bzImage(try BzImage(path: path, bytes: bytes))
    case .arm64Image:
      return .arm64Image(try Arm64Image(path: path, bytes: bytes, limit: limit))
    case .riscvImage:
      return .riscvImage(try RISCVImage(path: path, bytes: bytes, limit: limit))
    case .pe:
      let pe: PEFile
      do {
        pe = try PEFile(path: path, bytes: bytes)
      } catch {
        // a bzImage's boot sector with its setup header damaged: that reader names the field
        if bytes.count >= 0x200, bytes[0x1fe] == 0x55, bytes[0x1ff] == 0xaa {
          return .bzImage(try BzImage(path: path, bytes: bytes))
        }
        throw .unsupportedImage(
          path: path,
          reason: "it starts with MZ, yet has no Linux setup header, no Image header, no "
            + "zboot header and no PE header that reads")
      }
      guard UnifiedKernelImage.recognises(pe) else {
        throw .unsupportedImage(
          path: path,
          reason: "it is a PE file without a Linux setup header, Image header, zboot "
            + "header or .linux section: an EFI application, not a kernel")
      }
      return .uki(try UnifiedKernelImage(path: path, bytes: bytes, pe: pe, limit: limit))
    }
  }

  /// The format's name, as `handoff inspect` prints it.
  public var formatName: String {
    switch self {
    case .bzImage: return "bzImage"
    case .elf: return "ELF vmlinux"
    case .arm64Image: return "arm64 Image"
    case .riscvImage: return "riscv64 Image"
    case .zboot: return "EFI zboot image"
    case .uki: return "unified kernel image"
    }
  }

  /// The format's name after "a" or "an", for sentences.
  public var formatWithArticle: String {
    switch self {
    case .elf, .arm64Image, .zboot: return "an " + formatName
    case .bzImage, .riscvImage, .uki: return "a " + formatName
    }
  }

  /// The machine the kernel is built for; a container's is its kernel's.
  public var architecture: KernelArchitecture {
    switch self {
    case .bzImage(let image): return image.xloadflags.contains(.kernel64) ? .x86_64 : .x86
    case .elf(let image): return image.machine.architecture
    case .arm64Image: return .arm64
    case .riscvImage: return .riscv64
    case .zboot(let image): return image.kernel.architecture
    case .uki(let image): return image.kernel.architecture
    }
  }

  /// The file the image was read from.
  public var path: String {
    switch self {
    case .bzImage(let image): return image.path
    case .elf(let image): return image.path
    case .arm64Image(let image): return image.path
    case .riscvImage(let image): return image.path
    case .zboot(let image): return image.path
    case .uki(let image): return image.path
    }
  }

  /// The kernel's version string; a container's is its kernel's.
  public var kernelVersion: String? {
    switch self {
    case .bzImage(let image): return image.kernelVersion
    case .elf(let image): return image.kernelVersion
    case .arm64Image(let image): return image.kernelVersion
    case .riscvImage(let image): return image.kernelVersion
    case .zboot(let image): return image.kernel.kernelVersion
    case .uki(let image): return image.kernel.kernelVersion
    }
  }
}

extension KernelImage {
  /// A format told by magic numbers alone, before any reader runs.
  enum Format: CustomStringConvertible {
    case elf
    case compressed(PayloadCompression)
    case zboot
    case bzImage
    case arm64Image
    case riscvImage
    case pe

    init(_ bytes: [UInt8]) {
      if bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
        self = .elf
      } else if let compression = ImageHeader.wrapper(of: bytes) {
        self = .compressed(compression)
      } else if ZbootImage.recognises(bytes) {
        self = .zboot
      } else if bytes.count > 0x206, bytes[0x202..<0x206].elementsEqual("HdrS".utf8) {
        // a bzImage's EFI stub also starts with MZ, and its setup header tells it apart
        self = .bzImage
      } else if bytes.count >= 0x3c, bytes[0x38..<0x3c].elementsEqual("ARMd".utf8) {
        self = .arm64Image
      } else if bytes.count >= 0x3c, bytes[0x38..<0x3c].elementsEqual([0x52, 0x53, 0x43, 0x05]) {
        self = .riscvImage
      } else if bytes.starts(with: [0x4d, 0x5a]) {
        self = .pe
      } else {
        // anything else goes to the bzImage reader, which says what is wrong
        self = .bzImage
      }
    }

    var description: String {
      switch self {
      case .elf: return "an ELF file"
      case .compressed(let compression): return "\(compression.rawValue)-compressed data"
      case .zboot: return "an EFI zboot image"
      case .bzImage: return "a bzImage"
      case .arm64Image: return "an arm64 Image"
      case .riscvImage: return "a riscv64 Image"
      case .pe: return "a PE file"
      }
    }

    /// Throws unless a `container` may hold this format.
    func require(in container: Container, path: String) throws(HandoffError) {
      switch (container, self) {
      case (.uki, .bzImage), (.uki, .arm64Image), (.uki, .riscvImage), (.uki, .zboot),
        (.zboot, .arm64Image), (.zboot, .riscvImage):
        return
      case (.uki, _):
        throw .unsupportedImage(
          path: path,
          reason: "it is \(description), and a UKI's .linux holds a bzImage, an Image or "
            + "an EFI zboot image")
      case (.zboot, _):
        throw .unsupportedImage(
          path: path,
          reason: "it is \(description), and a zboot payload holds an arm64 or riscv64 Image")
      }
    }
  }
}
