import HandoffCore
import HandoffLinux

/// `handoff status`: what is loaded, and what would stop a load.
enum StatusCommand {
  static let help = CommandHelp(
    name: "status",
    abstract: "Show what is loaded, and what would stop a load.",
    usage: "handoff status [--json]",
    options: [InspectCommand.jsonOption, debugOption])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    if let extra = scanned.positionals.first { throw .usage("Unexpected argument '\(extra)'") }
    let status = KexecStatus.read(from: context.system)
    context.console.output(scanned.has("--json") ? json(status) + "\n" : text(status))
    return ExitStatus.success
  }

  static func text(_ status: KexecStatus) -> String {
    let rows: [(String, String)] = [
      ("kernel loaded", yesNo(status.kernelLoaded)),
      ("crash kernel loaded", yesNo(status.crashKernelLoaded)),
      ("crash region", status.crashRegionSize.map { "\($0) bytes" } ?? "unknown"),
      ("lockdown", status.lockdown ?? "unknown"),
      ("kexec_load disabled", yesNo(status.kexecLoadDisabled)),
    ]
    var result = ""
    for (name, value) in rows {
      result += name + ":" + String(repeating: " ", count: 21 - name.count) + value + "\n"
    }
    return result
  }

  static func json(_ status: KexecStatus) -> String {
    var object = JSONObject()
    object.add("kernel_loaded", status.kernelLoaded)
    object.add("crash_kernel_loaded", status.crashKernelLoaded)
    object.add("crash_region_size", status.crashRegionSize)
    object.add("lockdown", status.lockdown)
    object.add("kexec_load_disabled", status.kexecLoadDisabled)
    return object.text
  }

  private static func yesNo(_ value: Bool?) -> String {
    value.map { $0 ? "yes" : "no" } ?? "unknown"
  }
}
