/// Where the next kernel's command line comes from.
public enum CommandLineChoice: Equatable, Sendable {
  /// Exactly this text.
  case replace(String)
  /// The running kernel's command line, then this text.
  case append(String)
  /// The running kernel's command line unchanged.
  case reuse
  /// An empty command line.
  case empty

  /// The command line for the next kernel, given the running kernel's
  /// (the contents of /proc/cmdline).
  ///
  /// A running command line drops its trailing newline and the
  /// `BOOT_IMAGE=` word a boot loader put first, which names a file of the
  /// old boot and means nothing to the next kernel; for a crash kernel
  /// (`crashKernel`) also its `crashkernel=` words, which would have the
  /// crash kernel reserve memory again, as kexec-tools drops them.
  public func resolve(running: String, crashKernel: Bool = false) -> String {
    switch self {
    case .replace(let text):
      return text
    case .empty:
      return ""
    case .reuse:
      return CommandLineChoice.cleaned(running, crashKernel: crashKernel)
    case .append(let text):
      let base = CommandLineChoice.cleaned(running, crashKernel: crashKernel)
      if base.isEmpty { return text }
      if text.isEmpty { return base }
      return base + " " + text
    }
  }

  /// The same, except that a choice of no command line at all takes the
  /// one the kernel image `carried`, as a unified kernel image's .cmdline.
  public func resolve(running: String, carried: String?, crashKernel: Bool = false) -> String {
    if self == .empty, let carried { return carried }
    return resolve(running: running, crashKernel: crashKernel)
  }

  static func cleaned(_ running: String, crashKernel: Bool) -> String {
    var words: [Substring] = []
    for word in running.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
      if word.hasPrefix("BOOT_IMAGE=") { continue }
      if crashKernel && word.hasPrefix("crashkernel=") { continue }
      words.append(word)
    }
    var result = ""
    for word in words {
      if !result.isEmpty { result += " " }
      result += word
    }
    return result
  }
}
