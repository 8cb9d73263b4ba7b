import HandoffCore
import HandoffLinux

/// `handoff load`: stage a kernel for `handoff exec`.
enum LoadCommand {
  /// The options that say what to load, shared with `handoff plan`.
  static let requestOptions = [
    OptionSpec(
      ["--initrd"], value: "file",
      help: "An initramfs for the new kernel. Give it more than once to concatenate several "
        + "in order, such as a microcode archive and then the main initramfs."),
    OptionSpec(["--cmdline"], value: "text", help: "The new kernel's command line, exactly."),
    OptionSpec(
      ["--append"], value: "text", help: "Text added to the running kernel's command line."),
    OptionSpec(["--reuse-cmdline"], help: "Give the new kernel the running kernel's command line."),
    OptionSpec(
      ["--dtb"], value: "file",
      help: "arm64 and riscv64: the device tree the new kernel's starts from, instead of "
        + "the running kernel's /sys/firmware/fdt."),
  ]

  /// The options that shape Handoff's own purgatory, shared with `handoff plan`.
  static let purgatoryOptions = [
    OptionSpec(
      ["--no-verify"],
      help: "Do not check the segments' digests in the purgatory before the jump."),
    OptionSpec(
      ["--lab-corrupt-segment"], value: "index",
      help: "Damage one byte of a segment after its digest was taken.", hidden: true),
  ]

  static let scrubOption = OptionSpec(
    ["--scrub"],
    help: "Zero the RAM the running kernel leaves free, in the purgatory before the jump, "
      + "and say so on the serial port. Needs kexec_load.")

  static let crashOption = OptionSpec(
    ["--crash"],
    help: "Load the kernel to boot when this one panics (a crash kernel), into the memory "
      + "crashkernel= reserved, with an ELF core header the crash kernel reads /proc/vmcore "
      + "from: through kexec_load Handoff writes it, through kexec_file_load the running "
      + "kernel does. 'handoff exec' does not boot it.")

  static let options =
    requestOptions + [crashOption] + [
      OptionSpec(
        ["--syscall"], value: "syscall",
        help: "The system call that loads the kernel: auto (the default: kexec_load, or "
          + "kexec_file_load when the kernel refuses kexec_load), kexec_load or kexec_file_load.")
    ] + purgatoryOptions + [scrubOption, debugOption]

  static let help = CommandHelp(
    name: "load",
    abstract: "Load a kernel to boot later with 'handoff exec'.",
    usage: "handoff load <kernel> [--initrd <file> ...] "
      + "[--cmdline <text> | --append <text> | --reuse-cmdline] [--syscall <syscall>] [--crash]",
    arguments: [
      (
        "<kernel>",
        "The kernel image to load: an x86_64 bzImage or ELF vmlinux, an arm64 or riscv64 "
          + "Image (plain, compressed or as an ELF vmlinux), an EFI zboot image, or a unified "
          + "kernel image holding one."
      )
    ],
    options: options,
    discussion: [
      "Through kexec_load, Handoff places the segments itself, and its own purgatory",
      "checks each segment's digest before the jump: a damaged segment stops the",
      "handoff with a message on the serial port. Through kexec_file_load the running",
      "kernel places them and brings its own purgatory; it is the only call allowed",
      "under lockdown, and needs an image signed with a key the kernel trusts.",
      "",
      "With --scrub the purgatory then zeroes all RAM that both /sys/firmware/memmap",
      "and /proc/iomem call System RAM, except the segments, the EFI runtime regions,",
      "a crash kernel's reservation and the first MiB, so the new kernel finds none",
      "of the old one's data there. 'handoff plan --scrub' lists those ranges.",
      "",
      "EXAMPLES:",
      "  handoff load /boot/vmlinuz-6.12.48+deb13-amd64 \\",
      "    --initrd /boot/initrd.img-6.12.48+deb13-amd64 --reuse-cmdline",
      "  handoff load vmlinuz --initrd ucode.cpio --initrd main.cpio --cmdline 'console=ttyS0'",
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    var request = try request(from: scanned)
    request.crash = scanned.has("--crash")
    let syscall = try syscallChoice(scanned.value("--syscall"))
    if request.crash && scanned.has("--scrub") {
      throw .usage(
        "'--crash' and '--scrub' cannot be used together: a crash kernel must find the "
          + "panicked kernel's memory intact")
    }
    if syscall == .kexecFileLoad && scanned.has("--scrub") {
      throw .usage(
        "'--scrub' and '--syscall kexec_file_load' cannot be used together: only Handoff's "
          + "own purgatory, which kexec_load runs, scrubs RAM")
    }
    try load(request, syscall: syscall, options: try planOptions(from: scanned), context)
    context.debug(
      request.crash
        ? "loaded \(request.kernelPath) as the crash kernel; a panic boots it"
        : "loaded \(request.kernelPath); boot it with 'handoff exec'")
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
      kernelPath: kernel, initrdPaths: scanned.values("--initrd"), commandLine: commandLine,
      deviceTreePath: scanned.value("--dtb"))
  }

  /// The purgatory's options the scanned arguments ask for.
  static func planOptions(from scanned: ScannedArguments) throws(HandoffError) -> PlanOptions {
    var options = PlanOptions(verify: !scanned.has("--no-verify"))

    // a scrub of a large machine takes a while: the purgatory says why
    if scanned.has("--scrub") {
      options.scrub = true
      options.announce = true
    }
    if let text = scanned.value("--lab-corrupt-segment") {
      guard let index = Int(text), index >= 0 else {
        throw .usage("The value '\(text)' is invalid for '--lab-corrupt-segment <index>'")
      }
      options.corruptSegment = index
      options.announce = true
    }
    return options
  }

  static func syscallChoice(_ text: String?) throws(HandoffError) -> SyscallChoice {
    guard let text else { return .auto }
    guard let choice = SyscallChoice(rawValue: text) else {
      throw .usage(
        "The value '\(text)' is invalid for '--syscall <syscall>'; use auto, kexec_load or "
          + "kexec_file_load")
    }
    return choice
  }

  /// Loads, telling on standard error when auto mode falls back to
  /// kexec_file_load, before it tries, so the line stands above an error too.
  static func load<System: SystemCalls>(
    _ request: LoadRequest, syscall: SyscallChoice, options: PlanOptions,
    _ context: Context<System>
  ) throws(HandoffError) {
    let loader = Loader(
      system: context.system, debug: { context.debug($0) },
      fallingBack: { reason in
        context.console.warn(
          "Note: \(reason); loading through kexec_file_load instead, where the running kernel's "
            + "purgatory runs, so Handoff's own segment check and its serial report are not "
            + "available.")
      })
    _ = try loader.load(request, syscall: syscall, options: options)
  }
}
