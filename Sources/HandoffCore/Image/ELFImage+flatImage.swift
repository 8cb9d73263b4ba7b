// An arm64 or riscv64 vmlinux holds its Image: the PT_LOAD segments laid
// out by their addresses, from the first one's, are the bytes that
// `objcopy -O binary` writes, and the first of them starts with the header.

extension ELFImage {
  /// The Image this arm64 or riscv64 vmlinux holds: each PT_LOAD's bytes
  /// at its `p_paddr` less the first one's, zero between them, read as an
  /// arm64 or riscv64 Image. `fileBytes` are the ELF file's bytes; the
  /// flat Image is at most `limit` bytes.
  ///
  /// Throws `unsupportedImage` for an x86_64 vmlinux; `invalidField` when
  /// the first segment does not start with the Image header of the ELF's
  /// machine, `e_entry` is not the Image's start, a segment lies below the
  /// end of the one before it, `image_size` does not cover every segment's
  /// `p_memsz`, or the Image would exceed `limit`.
  public func flatImage(
    fileBytes: [UInt8], limit: Int = Unpacked.defaultLimit
  ) throws(HandoffError) -> KernelImage {
    precondition(fileBytes.count == fileSize, "the bytes of another file than \(path)")
    let magic: UInt32
    let expected: String
    switch machine {
    case .x86_64:
      throw .unsupportedImage(
        path: path, reason: "it is an x86_64 vmlinux, which holds no Image to lay out")
    case .aarch64:
      (magic, expected) = (Arm64Image.magic, "0x644d5241 (\"ARMd\"), the arm64 Image header")
    case .riscv:
      (magic, expected) = (RISCVImage.magic, "0x5435352 (\"RSC\\x05\"), the riscv64 Image header")
    }

    // the header: the first segment's first 64 bytes
    let first = loadSegments[0]
    let field = "program header \(first.index)"
    guard first.fileSize >= 0x40 else {
      throw .invalidField(
        path: path, field: "p_filesz of \(field)", offset: headerOffset(first) + 0x20,
        value: first.fileSize, expected: "at least 0x40, the Image header's size")
    }
    let reader = LittleEndianReader(path: path, bytes: fileBytes)
    let start = Int(first.offset)
    let found = try reader.u32("Image header magic in \(field)", at: start + 0x38)
    guard found == magic else {
      throw .invalidField(
        path: path, field: "Image header magic in \(field)", offset: start + 0x38,
        value: UInt64(found), expected: expected)
    }
    let imageSize = try reader.u64("image_size in \(field)", at: start + 0x10)

    // entered where the Image starts, as the boot protocol enters an Image
    guard entry == first.virtualAddress || entry == first.physicalAddress else {
      throw .invalidField(
        path: path, field: "e_entry", offset: 0x18, value: entry,
        expected: "\(hex(first.virtualAddress)), the start of the Image in \(field)")
    }

    // the segments in file order, each above the one before
    let base = first.physicalAddress
    for (lower, upper) in zip(loadSegments, loadSegments.dropFirst())
    where upper.physicalAddress < lower.physicalEnd {
      throw .invalidField(
        path: path, field: "p_paddr of program header \(upper.index)",
        offset: headerOffset(upper) + 0x18, value: upper.physicalAddress,
        expected: "at least \(hex(lower.physicalEnd)), the end of program header "
          + "\(lower.index): the Image is laid out in file order")
    }

    // image_size covers them all, bss included
    let last = loadSegments[loadSegments.count - 1]
    let span = last.physicalEnd - base
    guard span <= imageSize else {
      throw .invalidField(
        path: path, field: "image_size in \(field)", offset: start + 0x10, value: imageSize,
        expected: "at least \(hex(span)), from the start of \(field) to the end of "
          + "program header \(last.index)'s p_memsz")
    }

    // its length: to the end of the last file byte, within the limit
    var length: UInt64 = 0
    for segment in loadSegments {
      length = max(length, segment.physicalAddress - base + segment.fileSize)
    }
    guard length <= UInt64(limit) else {
      throw .invalidField(
        path: path, field: "p_paddr of program header \(last.index)",
        offset: headerOffset(last) + 0x18, value: last.physicalAddress,
        expected: "an Image of at most \(limit) bytes from \(hex(base))")
    }

    // the flat Image: each segment's file bytes at its place, zero between
    let flat = laidOut(fileBytes, from: base, length: Int(length))
    let flatPath = path + " (flat Image)"
    switch machine {
    case .aarch64:
      return .arm64Image(
        try Arm64Image(path: flatPath, fileSize: fileSize, compression: nil, image: flat))
    case .riscv:
      return .riscvImage(
        try RISCVImage(path: flatPath, fileSize: fileSize, compression: nil, image: flat))
    case .x86_64:
      preconditionFailure("an x86_64 vmlinux, refused above")
    }
  }

  /// The segments' file bytes, each `p_paddr - base` from the start, zero
  /// before and between them; `length` bytes in all. The segments are in
  /// order and apart, so each starts at or past the end of the bytes so far.
  private func laidOut(_ fileBytes: [UInt8], from base: UInt64, length: Int) -> [UInt8] {
    var flat: [UInt8] = []
    flat.reserveCapacity(length)
    for segment in loadSegments where segment.fileSize > 0 {
      let start = Int(segment.physicalAddress - base)
      flat.append(contentsOf: repeatElement(0, count: start - flat.count))
      let offset = Int(segment.offset)
      flat.append(contentsOf: fileBytes[offset..<offset + Int(segment.fileSize)])
    }
    return flat
  }

  /// Where `segment`'s program header starts in the file.
  private func headerOffset(_ segment: ELFProgramHeader) -> Int {
    programHeaderOffset + segment.index * 56
  }
}
