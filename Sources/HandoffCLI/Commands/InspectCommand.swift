import HandoffCore
import HandoffLinux

/// `handoff inspect`: what a kernel image's headers say, in any format
/// Handoff reads.
enum InspectCommand {
  static let jsonOption = OptionSpec(["--json"], help: "Print one JSON object instead of text.")

  static let help = CommandHelp(
    name: "inspect",
    abstract: "Print what a kernel image's header says.",
    usage: "handoff inspect <image> [--json]",
    arguments: [
      (
        "<image>",
        "The kernel image to read, such as /boot/vmlinuz-6.1.0-40-amd64: a bzImage, an ELF "
          + "vmlinux, an arm64 or riscv64 Image (plain, gzip or zstd), an EFI zboot image or "
          + "a unified kernel image."
      )
    ],
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
    let image = try KernelImage.read(path: path, bytes: bytes)
    context.debug("\(path): \(image.formatName) for \(image.architecture.rawValue)")
    let refusal = image.loaderRefusal(fileBytes: bytes)?.description
    context.console.output(
      scanned.has("--json") ? json(image, refusal: refusal) + "\n" : text(image, refusal: refusal)
    )
    return ExitStatus.success
  }
}
