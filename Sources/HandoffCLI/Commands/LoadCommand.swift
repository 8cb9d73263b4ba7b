import HandoffCore
import HandoffLinux

/// `handoff load`: stage a kernel for `handoff exec`.
enum LoadCommand {
  static let options = [
    OptionSpec(
      ["--initrd"], value: "file",
      help: "An initramfs for the new kernel. Give it more than once to concatenate several "
        + "in order, such as a microcode archive and then the main initramfs."),
    OptionSpec(["--cmdline"], value: "text", help: "The new kernel's command line, exactly."),
    OptionSpec(
      ["--append"], value: "text", help: "Text added to the running kernel's command line."),
    OptionSpec(["--reuse-cmdline"], help: "Give the new kernel the running kernel's command line."),
    OptionSpec(
      ["--syscall"], value: "syscall",
      help: "The system call that loads the kernel. Only kexec_file_load is supported so far."),
    debugOption,
  ]

  static let help = CommandHelp(
    name: "load",
    abstract: "Load a kernel to boot later with 'handoff exec'.",
    usage: "handoff load <kernel> [--initrd <file> ...] "
      + "[--cmdline <text> | --append <text> | --reuse-cmdline] [--syscall <syscall>]",
    arguments: [("<kernel>", "The kernel image to load, a bzImage.")],
    options: options,
    discussion: [
      "EXAMPLES:",
      "  handoff load /boot/vmlinuz-6.12.48+deb13-amd64 \\",
      "    --initrd /boot/initrd.img-6.12.48+deb13-amd64 --reuse-cmdline",
      "  handoff load vmlinuz --initrd ucode.cpio --initrd main.cpio --cmdline 'console=ttyS0'",
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    let request = try request(from: scanned)
    try load(request, context)
    context.debug("loaded \(request.kernelPath); boot it with 'handoff exec'")
    return ExitStatus.success
  }

  /// The load request the scanned options describe.
  static func request(from scanned: ScannedArguments) throws(HandoffError) -> LoadRequest {
    guard let kernel = scanned.positionals.first else {
      throw .usage("Missing expected argument '<kernel>'")
    }
    if scanned.positionals.count > 1 {
      throw .usage("Unexpected argument '\(scanned.positionals[1])'")
    }
    if let syscall = scanned.value("--syscall"), syscall != "kexec_file_load" {
      throw .usage(
        "The value '\(syscall)' is invalid for '--syscall <syscall>'; the supported value is "
          + "'kexec_file_load'")
    }

    // at most one source for the command line
    let choices = ["--cmdline", "--append", "--reuse-cmdline"].filter { scanned.has($0) }
    if choices.count > 1 {
      throw .usage("'\(choices[0])' and '\(choices[1])' cannot be used together")
    }
    let commandLine: CommandLineChoice
    if let text = scanned.value("--cmdline") {
      commandLine = .replace(text)
    } else if let text = scanned.value("--append") {
      commandLine = .append(text)
    } else if scanned.has("--reuse-cmdline") {
      commandLine = .reuse
    } else {
      commandLine = .empty
    }
    return LoadRequest(
      kernelPath: kernel, initrdPaths: scanned.values("--initrd"), commandLine: commandLine)
  }

  /// Loads through kexec_file_load, with debug lines when asked for.
  static func load<System: SystemCalls>(_ request: LoadRequest, _ context: Context<System>)
    throws(HandoffError)
  {
    let loader = FileLoader(system: context.system, debug: { context.debug($0) })
    try loader.load(request)
  }
}
