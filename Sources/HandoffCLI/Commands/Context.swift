import HandoffLinux

/// What every subcommand works with: the system, the console, and the
/// debug channel that `--debug` opens.
struct Context<System: SystemCalls> {
  var system: System
  var console: Console
  var debugEnabled: Bool

  /// Writes a debug line to standard error when `--debug` was given.
  func debug(_ line: String) {
    if debugEnabled { console.warn("debug: " + line) }
  }
}
