import HandoffCore
import HandoffLinux

/// `handoff unload`: forget the loaded kernel.
enum UnloadCommand {
  static let help = CommandHelp(
    name: "unload",
    abstract: "Unload the kernel staged by 'handoff load'.",
    usage: "handoff unload [--crash]",
    options: [
      OptionSpec(["--crash"], help: "Unload the crash kernel instead."), debugOption,
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    if let extra = scanned.positionals.first { throw .usage("Unexpected argument '\(extra)'") }
    let loader = FileLoader(system: context.system, debug: { context.debug($0) })
    try loader.unload(crash: scanned.has("--crash"))
    return ExitStatus.success
  }
}
