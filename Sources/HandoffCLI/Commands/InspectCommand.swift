import HandoffCore
import HandoffLinux

/// `handoff inspect`: what a kernel image's header says.
enum InspectCommand {
  static let jsonOption = OptionSpec(["--json"], help: "Print one JSON object instead of text.")

  static let help = CommandHelp(
    name: "inspect",
    abstract: "Print what a kernel image's header says.",
    usage: "handoff inspect <image> [--json]",
    arguments: [("<image>", "The kernel image to read, such as /boot/vmlinuz-6.1.0-40-amd64.")],
    options: [jsonOption, debugOption])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    guard scanned.positionals.count == 1 else {
      throw .usage(
        scanned.positionals.isEmpty
          ? "Missing expected argument '<image>'"
          : "Unexpected argument '\(scanned.positionals[1])'")
    }
    let path = scanned.positionals[0]
    let bytes = try context.system.readFile(path)
    let image = try KernelImage.read(path: path, bytes: bytes).bzImage()
    let bootable: String?
    do {
      try image.requireBootable64()
      bootable = nil
    } catch {
      bootable = error.description
    }
    context.console.output(
      scanned.has("--json") ? json(image, refusal: bootable) + "\n" : text(image, refusal: bootable)
    )
    return ExitStatus.success
  }

  static func text(_ image: BzImage, refusal: String?) -> String {
    let rows: [(String, String)] = [
      ("file", image.path),
      ("format", "bzImage"),
      ("kernel version", image.kernelVersion ?? "(none)"),
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
      ("64-bit handoff", refusal.map { "no: \($0)" } ?? "yes"),
    ]
    var result = ""
    for (name, value) in rows {
      result += name + ":" + String(repeating: " ", count: 18 - name.count) + value + "\n"
    }
    return result
  }

  static func parenthesised(_ names: [String]) -> String {
    names.isEmpty ? "" : " (" + joined(names, ", ") + ")"
  }

  static func json(_ image: BzImage, refusal: String?) -> String {
    var object = JSONObject()
    object.add("file", image.path)
    object.add("format", "bzImage")
    object.add("kernel_version", image.kernelVersion)
    object.add("boot_protocol", image.protocolVersionText)
    object.add("setup_sects", image.setupSectors)
    object.add("setup_size", image.setupSize)
    object.add("kernel_size", image.kernelSize)
    object.add("payload_compression", image.payloadCompression.rawValue)
    object.add("payload_offset", image.payloadOffset)
    object.add("payload_length", image.payloadLength)
    object.add("relocatable", image.relocatable)
    object.add("kernel_alignment", image.kernelAlignment)
    object.add("pref_address", image.preferredAddress)
    object.add("init_size", image.initSize)
    object.add("cmdline_size", image.commandLineSize)
    object.add("loadflags", image.loadFlags)
    object.add("xloadflags", image.xloadflags.rawValue)
    object.add("xloadflags_names", strings: image.xloadflags.names)
    object.add("handover_offset", image.handoverOffset)
    object.add("bootable_64", refusal == nil)
    object.add("refusal", refusal)
    return object.text
  }
}
