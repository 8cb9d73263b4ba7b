// inspect's text: one aligned `name: value` line per field, and the image
// inside a zboot image or UKI as an indented block of its own.
import HandoffCore

extension InspectCommand {
  /// Every field of `image`, then whether a 64-bit x86 handoff can boot it.
  static func text(_ image: KernelImage, refusal: String?) -> String {
    var rows: [(String, String)] = [("file", image.path)]
    rows += fields(image)
    rows.append(("64-bit handoff", refusal.map { "no: \($0)" } ?? "yes"))
    var result = layout(rows, indent: "")
    appendInner(image, to: &result, indent: "")
    return result
  }

  /// The block of the image a zboot image or UKI carries, after a blank line.
  static func appendInner(_ image: KernelImage, to result: inout String, indent: String) {
    let title: String
    let inner: KernelImage
    switch image {
    case .zboot(let zboot):
      (title, inner) = ("zboot payload", zboot.kernel)
    case .uki(let uki):
      (title, inner) = (".linux", uki.kernel)
    default:
      return
    }
    let nested = indent + "  "
    result += "\n" + indent + title + ":\n" + layout(fields(inner), indent: nested)
    appendInner(inner, to: &result, indent: nested)
  }

  static func layout(_ rows: [(String, String)], indent: String) -> String {
    var result = ""
    for (name, value) in rows {
      let padding = max(1, 18 - name.count)
      result += indent + name + ":" + String(repeating: " ", count: padding) + value + "\n"
    }
    return result
  }

  /// The format, architecture and version, then the format's own fields.
  static func fields(_ image: KernelImage) -> [(String, String)] {
    var rows: [(String, String)] = [
      ("format", image.formatName),
      ("architecture", image.architecture.rawValue),
      ("kernel version", image.kernelVersion ?? "(none)"),
    ]
    switch image {
    case .bzImage(let bzImage): rows += fields(bzImage)
    case .elf(let elf): rows += fields(elf)
    case .arm64Image(let arm64): rows += fields(arm64)
    case .riscvImage(let riscv): rows += fields(riscv)
    case .zboot(let zboot): rows += fields(zboot)
    case .uki(let uki): rows += fields(uki)
    }
    return rows
  }

  static func fields(_ image: BzImage) -> [(String, String)] {
    [
      ("boot protocol", image.protocolVersionText),
      (
        "setup size",
        "\(image.setupSize) bytes (\(image.setupSectors) "
          + (image.setupSectors == 1 ? "sector)" : "sectors)")
      ),
      ("kernel size", "\(image.kernelSize) bytes"),
      (
        "payload",
        "\(image.payloadCompression.rawValue), \(image.payloadLength) bytes at "
          + "\(hex(image.payloadOffset))"
      ),
      ("relocatable", image.relocatable ? "yes" : "no"),
      ("kernel_alignment", hex(image.kernelAlignment)),
      ("pref_address", hex(image.preferredAddress)),
      ("init_size", "\(hex(image.initSize)) (\(image.initSize) bytes)"),
      ("cmdline_size", "\(image.commandLineSize)"),
      ("loadflags", hex(image.loadFlags) + (image.loadedHigh ? " (LOADED_HIGH)" : "")),
      ("xloadflags", hex(image.xloadflags.rawValue) + parenthesised(image.xloadflags.names)),
      ("handover_offset", hex(image.handoverOffset)),
    ]
  }

  static func fields(_ image: ELFImage) -> [(String, String)] {
    var rows: [(String, String)] = [
      ("file size", "\(image.fileSize) bytes"),
      ("e_machine", "\(image.machine.rawValue) (\(image.machine.name))"),
      ("e_type", image.typeName),
      ("e_entry", hex(image.entry)),
    ]
    for segment in image.loadSegments {
      rows.append(
        (
          "PT_LOAD \(segment.index)",
          "offset \(hex(segment.offset)) vaddr \(hex(segment.virtualAddress)) paddr "
            + "\(hex(segment.physicalAddress)) filesz \(hex(segment.fileSize)) memsz "
            + "\(hex(segment.memorySize)) \(segment.flagsText)"
        ))
    }
    return rows
  }

  static func fields(_ image: Arm64Image) -> [(String, String)] {
    [
      ("file size", "\(image.fileSize) bytes"),
      ("compression", compression(image.compression, unpacked: image.bytes.count)),
      ("text_offset", hex(image.textOffset)),
      ("image_size", "\(hex(image.imageSize)) (\(image.imageSize) bytes)"),
      ("flags", hex(image.flags.rawValue) + parenthesised(image.flags.names)),
      ("EFI stub", stub(image.efiStub)),
    ]
  }

  static func fields(_ image: RISCVImage) -> [(String, String)] {
    [
      ("file size", "\(image.fileSize) bytes"),
      ("compression", compression(image.compression, unpacked: image.bytes.count)),
      ("header version", image.headerVersionText),
      ("text_offset", hex(image.textOffset)),
      ("image_size", "\(hex(image.imageSize)) (\(image.imageSize) bytes)"),
      ("flags", hex(image.flags) + (image.bigEndian ? " (big-endian)" : " (little-endian)")),
      ("EFI stub", stub(image.efiStub)),
    ]
  }

  static func fields(_ image: ZbootImage) -> [(String, String)] {
    [
      ("file size", "\(image.fileSize) bytes"),
      (
        "compression",
        image.compression.rawValue
          + (image.compressionType == image.compression.rawValue
            ? "" : " (\"\(image.compressionType)\")")
      ),
      (
        "payload",
        "\(image.payloadSize) bytes at \(hex(image.payloadOffset)), unpacked to "
          + "\(image.unpackedSize) bytes"
      ),
      ("EFI stub", stub(image.pe)),
    ]
  }

  static func fields(_ image: UnifiedKernelImage) -> [(String, String)] {
    var rows: [(String, String)] = [
      ("file size", "\(image.fileSize) bytes"),
      ("os release", image.prettyName ?? "(none)"),
      ("uname", image.uname ?? "(none)"),
      ("cmdline", image.commandLine ?? "(none)"),
      ("initrd", image.initrd.map { "\($0.count) bytes" } ?? "(none)"),
      ("devicetree", image.devicetree.map { "\($0.count) bytes" } ?? "(none)"),
      ("EFI stub", stub(image.pe)),
    ]
    for section in image.sections {
      rows.append(
        (
          "section " + section.name,
          "\(section.dataSize) bytes at \(hex(section.rawOffset)), virtual address "
            + hex(section.virtualAddress)
        ))
    }
    return rows
  }

  static func compression(_ compression: PayloadCompression?, unpacked: Int) -> String {
    guard let compression else { return "none" }
    return "\(compression.rawValue), unpacked to \(unpacked) bytes"
  }

  /// A PE file's headers in one line: machine, entry and sections.
  static func stub(_ pe: PEFile?) -> String {
    guard let pe else { return "none" }
    let machine = pe.architecture?.rawValue ?? "machine " + hex(pe.machine)
    return "PE32+ for \(machine) at \(hex(pe.headerOffset)), entry \(hex(pe.entryPoint)), "
      + "\(pe.sections.count) " + (pe.sections.count == 1 ? "section" : "sections")
  }

  static func parenthesised(_ names: [String]) -> String {
    names.isEmpty ? "" : " (" + joined(names, ", ") + ")"
  }
}
