import CHandoffShims
import HandoffLinux

/// Runs the `handoff` command line on the real system and returns the exit
/// status. Invoked as `kexec`, it speaks kexec-tools' command line instead.
public func runHandoff(arguments: [String]) -> Int32 {
  runHandoff(arguments: arguments, system: LinuxSystemCalls(), console: standardConsole)
}

/// Runs the command line against `system`, writing to `console`.
public func runHandoff<System: SystemCalls>(
  arguments: [String], system: System, console: Console
) -> Int32 {
  let program = arguments.first.map(baseName) ?? "handoff"
  let rest = arguments.dropFirst()
  if program == "kexec" {
    return KexecDialect.run(rest, system: system, console: console)
  }
  return HandoffCommand.run(rest, system: system, console: console)
}

/// The console of the process: file descriptors 1 and 2.
public var standardConsole: Console {
  Console(
    output: { writeAll(1, $0) },
    error: { writeAll(2, $0) })
}

private func writeAll(_ descriptor: Int32, _ text: String) {
  var bytes = Array(text.utf8)
  var offset = 0
  while offset < bytes.count {
    let written = bytes.withUnsafeMutableBytes { buffer in
      handoff_write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
    }
    if written <= 0 { return }
    offset += written
  }
}

private func baseName(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return path }
  return String(path[path.index(after: slash)...])
}
