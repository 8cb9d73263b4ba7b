import HandoffCore
import HandoffLinux

/// The `handoff` command line: picks the subcommand, scans its options, runs
/// it, and turns every error into a message and an exit status.
enum HandoffCommand {
  static let version = "0.1.0"

  static let subcommands: [(help: CommandHelp, options: [OptionSpec])] = [
    (InspectCommand.help, InspectCommand.help.options),
    (LoadCommand.help, LoadCommand.options),
    (PlanCommand.help, PlanCommand.options),
    (ExecCommand.help, ExecCommand.help.options),
    (UnloadCommand.help, UnloadCommand.help.options),
    (StatusCommand.help, StatusCommand.help.options),
    (CheckCommand.help, CheckCommand.options),
  ]

  static let overview = CommandHelp(
    name: "",
    abstract: "Boot a new Linux kernel from the running one, without firmware.",
    usage: "handoff <subcommand>",
    options: [OptionSpec(["--version"], help: "Show the version.")],
    discussion: subcommandList())

  static func subcommandList() -> [String] {
    var lines = ["SUBCOMMANDS:"]
    for (help, _) in subcommands {
      lines.append(
        "  " + help.name + String(repeating: " ", count: 10 - help.name.count)
          + help.abstract)
    }
    lines.append("")
    lines.append("  See 'handoff help <subcommand>' for detailed help.")
    return lines
  }

  static func run<System: SystemCalls>(
    _ arguments: ArraySlice<String>, system: System, console: Console
  ) -> Int32 {
    guard let first = arguments.first else {
      console.output(overview.text)
      return ExitStatus.usage
    }
    switch first {
    case "-h", "--help":
      console.output(overview.text)
      return ExitStatus.success
    case "--version":
      console.say(version)
      return ExitStatus.success
    case "help":
      guard let name = arguments.dropFirst().first else {
        console.output(overview.text)
        return ExitStatus.success
      }
      guard let subcommand = subcommands.first(where: { $0.help.name == name }) else {
        return usageError("Unknown subcommand '\(name)'", overview, console)
      }
      console.output(subcommand.help.text)
      return ExitStatus.success
    default:
      break
    }

    guard let subcommand = subcommands.first(where: { $0.help.name == first }) else {
      return usageError("Unknown subcommand '\(first)'", overview, console)
    }
    let rest = arguments.dropFirst()
    if rest.contains("-h") || rest.contains("--help") {
      console.output(subcommand.help.text)
      return ExitStatus.success
    }
    do throws(HandoffError) {
      let scanned = try scan(rest, options: subcommand.options)
      let context = Context(
        system: system, console: console, debugEnabled: scanned.has("--debug"))
      switch first {
      case "inspect": return try InspectCommand.run(scanned, context)
      case "load": return try LoadCommand.run(scanned, context)
      case "plan": return try PlanCommand.run(scanned, context)
      case "exec": return try ExecCommand.run(scanned, context)
      case "unload": return try UnloadCommand.run(scanned, context)
      case "check": return try CheckCommand.run(scanned, context)
      default: return try StatusCommand.run(scanned, context)
      }
    } catch {
      return report(error, help: subcommand.help, system: system, console: console)
    }
  }

  /// Prints `error` the way its kind calls for and returns the exit status.
  static func report<System: SystemCalls>(
    _ error: HandoffError, help: CommandHelp, system: System, console: Console
  ) -> Int32 {
    if case .usage(let message) = error {
      return usageError(message, help, console)
    }
    console.warn("Error: \(error.description)")
    if case .systemCall(let failure) = error {
      console.warn("Hint: " + Diagnosis(system: system).explain(failure))
    }
    if case .unreadable(let path, _) = error,
      path == MachineReader<System>.runningDeviceTree
    {
      console.warn(
        "Hint: the running kernel exposes no device tree to start the next one's from (it "
          + "booted through ACPI alone, or this machine is neither arm64 nor riscv64); give one "
          + "with --dtb FILE")
    }
    return ExitStatus.failure
  }

  static func usageError(_ message: String, _ help: CommandHelp, _ console: Console) -> Int32 {
    console.warn("Error: \(message)")
    console.error(help.usageReminder)
    return ExitStatus.usage
  }
}
