// Fuzzes the readers of every kernel image format: KernelImage.read, which
// tells them apart, and each reader on its own, so that a reader's refusals
// are reached whatever the magic numbers say. Then what inspect and the
// loaders ask of an image that read.
import FuzzSupport
import HandoffCore

/// Small enough that a compression bomb stays fast under AddressSanitizer:
/// 1 MiB, more than any seed unpacks to.
let limit = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = fuzzBytes(data, size)
  if let image = read({ () throws(HandoffError) in
    try KernelImage.read(path: "fuzz", bytes: bytes, limit: limit)
  }) {
    check(image, fileBytes: bytes)
  }

  // each reader directly
  if let elf = read({ () throws(HandoffError) in try ELFImage(path: "fuzz", bytes: bytes) }) {
    check(.elf(elf), fileBytes: bytes)
  }
  if let pe = read({ () throws(HandoffError) in try PEFile(path: "fuzz", bytes: bytes) }) {
    check(pe, fileBytes: bytes)
  }
  _ = read { () throws(HandoffError) in try Arm64Image(path: "fuzz", bytes: bytes, limit: limit) }
  _ = read { () throws(HandoffError) in try RISCVImage(path: "fuzz", bytes: bytes, limit: limit) }
  _ = read { () throws(HandoffError) in try ZbootImage(path: "fuzz", bytes: bytes, limit: limit) }
  _ = read { () throws(HandoffError) in
    try UnifiedKernelImage(path: "fuzz", bytes: bytes, limit: limit)
  }
  return 0
}

/// What `body` read, or nil after the refusal's text was made.
func read<Value>(_ body: () throws(HandoffError) -> Value) -> Value? {
  do {
    return try body()
  } catch {
    _ = error.description
    return nil
  }
}

/// What inspect and the loader ask of an image, and what must hold of it.
func check(_ image: KernelImage, fileBytes: [UInt8]) {
  _ = (image.formatName, image.formatWithArticle, image.architecture, image.kernelVersion)
  _ = read { () throws(HandoffError) in try image.bzImage() }
  _ = read { () throws(HandoffError) in try image.x86Kernel(fileBytes: fileBytes) }
  _ = read { () throws(HandoffError) in try image.deviceTreeKernel(fileBytes: fileBytes) }
  switch image {
  case .elf(let elf):
    for segment in elf.loadSegments {
      expect(
        segment.offset + segment.fileSize <= UInt64(fileBytes.count),
        "PT_LOAD \(segment.index) reaches past the end of the file")
      expect(segment.fileSize <= segment.memorySize, "PT_LOAD \(segment.index): filesz > memsz")
      _ = segment.flagsText
    }
    let flat = read { () throws(HandoffError) in
      try elf.flatImage(fileBytes: fileBytes, limit: limit).deviceTreeKernel(fileBytes: [])
    }
    if let flat {
      expect(flat.bytes.count <= limit, "a flat Image past the limit")
      expect(UInt64(flat.bytes.count) <= flat.imageSize, "a flat Image past its image_size")
    }
  case .arm64Image(let arm64):
    expect(arm64.bytes.count <= limit || arm64.compression == nil, "unpacked past the limit")
    _ = arm64.flags.names
  case .riscvImage(let riscv):
    expect(riscv.bytes.count <= limit || riscv.compression == nil, "unpacked past the limit")
    _ = riscv.headerVersionText
  case .zboot(let zboot):
    expect(
      zboot.payloadOffset + zboot.payloadSize <= fileBytes.count,
      "the zboot payload reaches past the end of the file")
    expect(zboot.unpackedSize <= limit, "unpacked past the limit")
    check(zboot.kernel, fileBytes: [])
  case .uki(let uki):
    check(uki.pe, fileBytes: fileBytes)
    expect(uki.kernelBytes.count <= fileBytes.count, "a .linux larger than the file")
    _ = (uki.prettyName, uki.commandLine, uki.uname)
    check(uki.kernel, fileBytes: uki.kernelBytes)
  case .bzImage(let bzImage):
    _ = read { () throws(HandoffError) in try bzImage.requireBootable64() }
  }
}

/// Every section's data lies inside the file.
func check(_ pe: PEFile, fileBytes: [UInt8]) {
  _ = pe.architecture
  for section in pe.sections {
    expect(
      section.dataSize == 0 || Int(section.rawOffset) + section.dataSize <= fileBytes.count,
      "section \(section.name) reaches past the end of the file")
    _ = section.data(in: fileBytes).count
  }
}
