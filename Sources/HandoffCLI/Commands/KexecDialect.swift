import HandoffCore
import HandoffLinux

/// The command line of kexec-tools, for scripts and init systems that call
/// `kexec`: `kexec -l KERNEL --initrd=FILE --append=TEXT`, `kexec -e`, `kexec -u`.
enum KexecDialect {
  static let options = [
    OptionSpec(["-l", "--load"], help: "Load the kernel given as the argument."),
    OptionSpec(["-e", "--exec"], help: "Boot the loaded kernel now."),
    OptionSpec(["-u", "--unload"], help: "Unload the loaded kernel (with -p, the crash kernel)."),
    OptionSpec(
      ["-p", "--load-panic"],
      help: "Load the kernel given as the argument as the crash kernel, booted on a panic."),
    OptionSpec(
      ["-f", "--force"], help: "Load the kernel and boot it at once, without shutting down."),
    OptionSpec(["--initrd", "--ramdisk"], value: "file", help: "An initramfs for the new kernel."),
    OptionSpec(
      ["--append", "--command-line"], value: "text",
      help: "The new kernel's command line (added to the running one with --reuse-cmdline)."),
    OptionSpec(["--reuse-cmdline"], help: "Start from the running kernel's command line."),
    OptionSpec(
      ["--dtb"], value: "file",
      help: "arm64 and riscv64: the device tree the new kernel's starts from, instead of "
        + "/sys/firmware/fdt."),
    OptionSpec(
      ["-t", "--type"], value: "type",
      help: "Accepted; Handoff tells the image's format from its contents."),
    OptionSpec(["-s", "--kexec-file-syscall"], help: "Load through kexec_file_load."),
    OptionSpec(["-c", "--kexec-syscall"], help: "Load through kexec_load."),
    OptionSpec(
      ["-a", "--kexec-syscall-auto"],
      help: "kexec_load, or kexec_file_load when the kernel refuses it; the default."),
    OptionSpec(["-i", "--no-checks"], help: "Do not verify the segments before the jump."),
    OptionSpec(["-x", "--no-ifdown"], help: "Accepted; network interfaces are left as they are."),
    OptionSpec(["-y", "--no-sync"], help: "Do not sync file systems before booting."),
    OptionSpec(["-d", "--debug"], help: "Print what is being done to standard error."),
    OptionSpec(["-v", "--version"], help: "Show the version."),
  ]

  static let help = CommandHelp(
    name: "",
    abstract: "Handoff, answering to kexec-tools' command line.",
    usage: "kexec [-l <kernel> | -f <kernel>] [--initrd=<file>] [--append=<text>] "
      + "[--reuse-cmdline] | kexec -p <kernel> ... | kexec -e | kexec -u [-p]",
    options: options,
    program: "kexec")

  static func run<System: SystemCalls>(
    _ arguments: ArraySlice<String>, system: System, console: Console
  ) -> Int32 {
    if arguments.contains("-h") || arguments.contains("--help") {
      console.output(help.text)
      return ExitStatus.success
    }
    do throws(HandoffError) {
      // kexec-tools lets short flags share a dash: -ls, -sl
      let scanned = try scan(ArraySlice(expandShortFlags(arguments)), options: options)
      let context = Context(system: system, console: console, debugEnabled: scanned.has("-d"))
      if scanned.has("-v") {
        console.say("handoff \(HandoffCommand.version) (kexec-tools command line)")
        return ExitStatus.success
      }
      if scanned.has("-u") {
        try FileLoader(system: system, debug: { context.debug($0) }).unload(
          crash: scanned.has("-p"))
        return ExitStatus.success
      }
      let crash = scanned.has("-p")
      if crash && (scanned.has("-e") || scanned.has("-f")) {
        throw .usage("'-p' loads a kernel for a panic, and cannot be booted with '-e' or '-f'")
      }

      // load, unless only -e was asked for
      let execOnly = scanned.has("-e") && scanned.positionals.isEmpty
      if !execOnly {
        guard let kernel = scanned.positionals.first else {
          throw .usage("Missing expected argument '<kernel>'")
        }
        if scanned.positionals.count > 1 {
          throw .usage("Unexpected argument '\(scanned.positionals[1])'")
        }
        let text = scanned.value("--append")
        let commandLine: CommandLineChoice =
          scanned.has("--reuse-cmdline") ? .append(text ?? "") : .replace(text ?? "")
        let request = LoadRequest(
          kernelPath: kernel, initrdPaths: scanned.values("--initrd"), commandLine: commandLine,
          deviceTreePath: scanned.value("--dtb"), crash: crash)
        let syscall: SyscallChoice =
          scanned.has("-s") ? .kexecFileLoad : scanned.has("-c") ? .kexecLoad : .auto
        try LoadCommand.load(
          request, syscall: syscall, options: PlanOptions(verify: !scanned.has("-i")), context)
      }

      // boot it when asked to
      if scanned.has("-e") || scanned.has("-f") {
        if scanned.has("-y") {
          try context.system.rebootIntoLoadedKernel()
        } else {
          try ExecCommand.boot(context)
        }
      } else if !scanned.has("-l") && !crash {
        console.warn("Loaded; boot it with 'kexec -e'.")
      }
      return ExitStatus.success
    } catch {
      return HandoffCommand.report(error, help: help, system: system, console: console)
    }
  }

  /// `-ls` becomes `-l -s`; long options and values are left alone.
  static func expandShortFlags(_ arguments: ArraySlice<String>) -> [String] {
    var result: [String] = []
    for argument in arguments {
      let units = Array(argument.utf8)
      if units.count > 2, units[0] == 0x2d, units[1] != 0x2d,
        units.allSatisfy({ $0 == 0x2d || (0x61...0x7a).contains($0) })
      {
        for unit in units.dropFirst() {
          result.append("-" + String(decoding: [unit], as: UTF8.self))
        }
      } else {
        result.append(argument)
      }
    }
    return result
  }
}
