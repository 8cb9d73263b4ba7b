import HandoffCore
import HandoffLinux

/// `handoff exec`: boot the loaded kernel now.
enum ExecCommand {
  static let help = CommandHelp(
    name: "exec",
    abstract: "Boot the loaded kernel now, without going through firmware.",
    usage: "handoff exec",
    options: [debugOption],
    discussion: [
      "File systems are synced first. Nothing else is shut down: stop services and",
      "unmount file systems before, or let the init system call 'handoff exec' last.",
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    if let extra = scanned.positionals.first { throw .usage("Unexpected argument '\(extra)'") }
    try boot(context)
    // only a test's fake system comes back from a successful reboot
    return ExitStatus.success
  }

  /// Syncs and reboots into the loaded kernel; returns only by throwing.
  /// Refuses, and does nothing else, unless the kernel says a kernel is loaded.
  static func boot<System: SystemCalls>(_ context: Context<System>) throws(HandoffError) {
    switch KexecStatus.read(from: context.system).kernelLoaded {
    case false:
      throw .nothingLoaded
    case nil:
      throw .loadStateUnknown(path: SystemPaths.kexecLoaded)
    case true:
      break
    }
    context.debug("sync")
    context.system.sync()
    context.debug("reboot(LINUX_REBOOT_CMD_KEXEC)")
    try context.system.rebootIntoLoadedKernel()
  }
}
