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
  /// (/proc/cmdline) and the one the image carries, if any; a crash
  /// kernel's without the running one's `crashkernel=` words.
  public func resolvedCommandLine(running: String, carried: String? = nil) -> String {
    commandLine.resolve(running: running, carried: carried, crashKernel: crash)
  }
}
