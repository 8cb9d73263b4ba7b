import HandoffCore

/// What to load: a kernel, its initrds in order, and its command line.
public struct LoadRequest: Equatable, Sendable {
  public var kernelPath: String
  /// Concatenated in this order into one initramfs; empty for none.
  public var initrdPaths: [String]
  public var commandLine: CommandLineChoice
  /// The DTB an arm64 kernel's starts from instead of the running kernel's
  /// /sys/firmware/fdt; nil for that one.
  public var deviceTreePath: String?
  /// A crash kernel: booted when the running kernel panics, from the
  /// memory crashkernel= reserved, to save its memory as /proc/vmcore.
  public var crash: Bool

  public init(
    kernelPath: String, initrdPaths: [String] = [], commandLine: CommandLineChoice,
    deviceTreePath: String? = nil, crash: Bool = false
  ) {
    self.kernelPath = kernelPath
    self.initrdPaths = initrdPaths
    self.commandLine = commandLine
    self.deviceTreePath = deviceTreePath
    self.crash = crash
  }
}

extension LoadRequest {
  /// The next kernel's command line, from the running kernel's
  /// (/proc/cmdline) and the one the image carries, if any. A crash
  /// kernel's leaves out the running one's `crashkernel=` words, which
  /// would have it reserve memory again, as kexec-tools does.
  public func resolvedCommandLine(running: String, carried: String? = nil) -> String {
    guard crash else { return commandLine.resolve(running: running, carried: carried) }
    let words = running.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
    var kept = ""
    for word in words where !word.hasPrefix("crashkernel=") {
      kept += kept.isEmpty ? String(word) : " " + word
    }
    return commandLine.resolve(running: kept, carried: carried)
  }
}
