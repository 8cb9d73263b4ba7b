import HandoffCore

/// What the running kernel says about kexec: what is loaded, and what would
/// stop a load. A field is nil when the kernel does not say.
public struct KexecStatus: Equatable, Sendable {
  /// /sys/kernel/kexec/loaded (or kexec_loaded): a kernel is staged for `exec`.
  public var kernelLoaded: Bool?
  /// /sys/kernel/kexec/crash_loaded (or kexec_crash_loaded): a crash
  /// kernel waits for a panic.
  public var crashKernelLoaded: Bool?
  /// /sys/kernel/kexec/crash_size (or kexec_crash_size): bytes reserved
  /// for a crash kernel.
  public var crashRegionSize: UInt64?
  /// The active mode of /sys/kernel/security/lockdown: none, integrity or confidentiality.
  public var lockdown: String?
  /// /proc/sys/kernel/kexec_load_disabled: kexec_load is refused until reboot.
  public var kexecLoadDisabled: Bool?

  public init(
    kernelLoaded: Bool? = nil, crashKernelLoaded: Bool? = nil, crashRegionSize: UInt64? = nil,
    lockdown: String? = nil, kexecLoadDisabled: Bool? = nil
  ) {
    self.kernelLoaded = kernelLoaded
    self.crashKernelLoaded = crashKernelLoaded
    self.crashRegionSize = crashRegionSize
    self.lockdown = lockdown
    self.kexecLoadDisabled = kexecLoadDisabled
  }

  /// Reads the status from /sys and /proc: each kexec file from
  /// /sys/kernel/kexec/, where kernels from 6.19 on keep them, else by its
  /// older name in /sys/kernel, which those kernels keep too until its
  /// removal.
  public static func read<System: SystemCalls>(from system: System) -> KexecStatus {
    func kexecFile(_ name: String, else older: String) -> String? {
      system.readText(SystemPaths.kexecDirectory + name) ?? system.readText(older)
    }
    return KexecStatus(
      kernelLoaded: flag(kexecFile("loaded", else: SystemPaths.kexecLoaded)),
      crashKernelLoaded: flag(kexecFile("crash_loaded", else: SystemPaths.kexecCrashLoaded)),
      crashRegionSize: kexecFile("crash_size", else: SystemPaths.kexecCrashSize).flatMap {
        UInt64($0)
      },
      lockdown: system.readText(SystemPaths.lockdown).flatMap(activeLockdownMode),
      kexecLoadDisabled: flag(system.readText(SystemPaths.kexecLoadDisabled)))
  }

  /// Whether lockdown is known to be on.
  public var lockedDown: Bool {
    if let lockdown { return lockdown != "none" }
    return false
  }

  /// The bracketed word of a lockdown file such as `none [integrity] confidentiality`.
  static func activeLockdownMode(_ text: String) -> String? {
    for word in text.split(separator: " ") where word.hasPrefix("[") && word.hasSuffix("]") {
      return String(word.dropFirst().dropLast())
    }
    return nil
  }

  static func flag(_ text: String?) -> Bool? {
    switch text {
    case "0": return false
    case "1": return true
    default: return nil
    }
  }
}

/// The files of /proc and /sys Handoff reads.
public enum SystemPaths {
  /// Where kernels from 6.19 on keep `loaded`, `crash_loaded` and
  /// `crash_size`; the three files below are their older, deprecated
  /// names, to be removed after 2028.
  public static let kexecDirectory = "/sys/kernel/kexec/"
  public static let kexecLoaded = "/sys/kernel/kexec_loaded"
  public static let kexecCrashLoaded = "/sys/kernel/kexec_crash_loaded"
  public static let kexecCrashSize = "/sys/kernel/kexec_crash_size"
  public static let lockdown = "/sys/kernel/security/lockdown"
  public static let kexecLoadDisabled = "/proc/sys/kernel/kexec_load_disabled"
  public static let commandLine = "/proc/cmdline"
  public static let processStatus = "/proc/self/status"
}
