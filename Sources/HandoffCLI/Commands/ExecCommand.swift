import HandoffCore
import HandoffLinux

/// `handoff exec`: boot the loaded kernel now.
enum ExecCommand {
  static let help = CommandHelp(
    name: "exec",
    abstract: "Boot the loaded kernel now, without going through firmware.",
    usage: "handoff exec [--quiesce[=<classes>]] [--strict]",
    options: [
      OptionSpec(
        ["--quiesce"], value: "classes",
        help: "Before the jump, unbind the driver of each PCI device of these classes and "
          + "reset the device through sysfs when it can be reset, one line each on standard "
          + "error. A comma list of network, display, storage and other; network,display when "
          + "none is given. File systems are synced before the first device is unbound, and "
          + "again after the last. Storage is never in the default: once the disk the root "
          + "file system is on is unbound, nothing written after that sync reaches it. "
          + "Bridges are never touched.",
        valueOptional: true),
      OptionSpec(
        ["--strict"],
        help: "With --quiesce, refuse to boot, before unbinding anything, when a device of "
          + "those classes has no reset method, and stop when a device refuses to be unbound "
          + "or reset. Without it, such devices are reported and the handoff goes on."),
      debugOption,
    ],
    discussion: [
      "File systems are synced first. Nothing else is shut down: stop services and",
      "unmount file systems before, or let the init system call 'handoff exec' last.",
      "With --quiesce the file systems are synced, the devices stopped, and the file",
      "systems synced again.",
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    if let extra = scanned.positionals.first { throw .usage("Unexpected argument '\(extra)'") }
    var quiesce: DeviceQuiesce? = nil
    if let classes = scanned.value("--quiesce") {
      quiesce = DeviceQuiesce(kinds: try DeviceQuiesce.kinds(parsing: classes))
    }
    let strict = scanned.has("--strict")
    if strict && quiesce == nil { throw .usage("'--strict' needs '--quiesce'") }
    try boot(context, quiesce: quiesce, strict: strict)
    // only a test's fake system comes back from a successful reboot
    return ExitStatus.success
  }

  /// Syncs, stops the devices `quiesce` names, syncs again and reboots into
  /// the loaded kernel; returns only by throwing. Refuses, and does nothing else,
  /// unless the kernel says a kernel is loaded.
  static func boot<System: SystemCalls>(
    _ context: Context<System>, quiesce: DeviceQuiesce? = nil, strict: Bool = false
  ) throws(HandoffError) {
    switch KexecStatus.read(from: context.system).kernelLoaded {
    case false:
      throw .nothingLoaded
    case nil:
      throw .loadStateUnknown(path: SystemPaths.kexecLoaded)
    case true:
      break
    }
    if let quiesce { try stopDevices(quiesce, strict: strict, context) }
    context.debug("sync")
    context.system.sync()
    context.debug("reboot(LINUX_REBOOT_CMD_KEXEC)")
    try context.system.rebootIntoLoadedKernel()
  }

  /// Syncs, then unbinds and resets each device of the chosen classes, a
  /// line each: a disk unbound after the sync has what was written before.
  /// Under `strict`, throws before the sync and any write when one cannot
  /// be reset, and at the first write a device refuses.
  static func stopDevices<System: SystemCalls>(
    _ quiesce: DeviceQuiesce, strict: Bool, _ context: Context<System>
  ) throws(HandoffError) {
    let devices: [PCIDevice]
    do throws(HandoffError) {
      devices = try quiesce.devices(on: context.system)
    } catch {
      if strict { throw error }
      context.console.warn("quiesce: no device stopped: \(error.description)")
      return
    }

    // what will be done, checked before anything is done
    if strict {
      for device in devices where device.resetMethods.isEmpty {
        throw .deviceNotResettable(device: DeviceQuiesceOutcome(device: device).deviceName)
      }
    }
    if devices.isEmpty {
      context.console.warn("quiesce: no PCI device of those classes")
      return
    }

    context.debug("sync")
    context.system.sync()
    for device in devices {
      let outcome = quiesce.stop(device, on: context.system)
      context.console.warn("quiesce: " + outcome.description)
      if strict, let failure = outcome.failure {
        throw .quiesceRefused(device: outcome.deviceName, failure: failure)
      }
    }
  }
}
