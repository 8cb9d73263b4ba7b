// `handoff check`: everything that can be known about a handoff before
// loading anything, read from /proc and /sys without a single kexec call.
import HandoffCore

/// Checks whether a handoff from this machine is expected to work: who is
/// asking, what the running kernel allows, the kernel to hand off to, and
/// the devices the next kernel will find as this one leaves them.
public struct Preflight<System: SystemCalls> {
  public let system: System
  public let debug: (String) -> Void

  public init(system: System, debug: @escaping (String) -> Void = { _ in }) {
    self.system = system
    self.debug = debug
  }

  /// The SecureBoot variable of the EFI global variable GUID.
  static var secureBootVariable: String {
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
  }

  /// The report on this machine and, when `request` is given, on the kernel
  /// it names with its initrds and command line. Reads only; never throws:
  /// what cannot be read is reported as unknown.
  public func run(_ request: LoadRequest?) -> PreflightReport {
    var report = PreflightReport()
    checkMachine(into: &report)
    if let request { checkKernel(request, into: &report) }
    checkDevices(into: &report)
    return report
  }

  /// Whether the machine booted through EFI: /sys/firmware/efi exists.
  var bootedThroughEFI: Bool {
    system.names(in: "/sys/firmware/efi") != nil
  }

  /// `bytes` in whole MiB, rounded up, or in KiB when less than a MiB.
  static func mebibytes(_ bytes: UInt64) -> String {
    if bytes < 1 << 20 { return "\((bytes + 1023) >> 10) KiB" }
    return "\((bytes + (1 << 20) - 1) >> 20) MiB"
  }
}

// MARK: The machine

extension Preflight {
  func checkMachine(into report: inout PreflightReport) {
    let section = "machine"

    // who is asking: root, and CAP_SYS_BOOT in the effective set
    let user = system.effectiveUserID()
    let capabilities = effectiveCapabilities()
    let hasBootCapability = capabilities.map { $0 & (1 << 22) != 0 }
    if user == 0 {
      report.add(section, "root", .ok, "euid 0")
    } else if hasBootCapability == true {
      report.add(section, "root", .ok, "euid \(user), with CAP_SYS_BOOT")
    } else {
      report.add(
        section, "root", .fail,
        "euid \(user): loading and booting a kernel needs root, or at least CAP_SYS_BOOT")
    }
    switch (capabilities, hasBootCapability) {
    case (let mask?, true?):
      report.add(section, "CAP_SYS_BOOT", .ok, "effective (CapEff \(hexDigits(mask, digits: 16)))")
    case (let mask?, _):
      report.add(
        section, "CAP_SYS_BOOT", .fail,
        "not effective (CapEff \(hexDigits(mask, digits: 16))): both loads fail with EPERM")
    default:
      report.add(
        section, "CAP_SYS_BOOT", .warn, "unknown: CapEff cannot be read from /proc/self/status")
    }

    // kexec itself: the kernel has /sys/kernel/kexec_loaded when it has any kexec
    let status = KexecStatus.read(from: system)
    switch status.kernelLoaded {
    case true?:
      report.add(
        section, "kexec", .ok, "built in; a kernel is loaded already, and a load replaces it")
    case false?:
      report.add(section, "kexec", .ok, "built in; nothing is loaded")
    case nil:
      if system.names(in: "/sys/kernel") != nil {
        report.add(
          section, "kexec", .fail,
          "not built in: there is no /sys/kernel/kexec_loaded (CONFIG_KEXEC_CORE is off)")
        checkFirmware(status, into: &report)
        return
      }
      report.add(section, "kexec", .warn, "unknown: /sys is not mounted")
    }

    // the two system calls, as the kernel's symbols or configuration tell
    let support = KexecSyscallSupport.read(from: system)
    switch support.kexecLoad {
    case .present(let evidence):
      report.add(section, "kexec_load", .ok, "built in: \(evidence)")
    case .absent(let evidence):
      report.add(
        section, "kexec_load", .warn,
        "not built in (\(evidence)): Handoff's own purgatory cannot run")
    case .unknown:
      report.add(section, "kexec_load", .warn, unknownSyscall)
    }
    switch support.kexecFileLoad {
    case .present(let evidence):
      report.add(section, "kexec_file_load", .ok, "built in: \(evidence)")
    case .absent(let evidence):
      report.add(
        section, "kexec_file_load", .warn,
        "not built in (\(evidence)): under lockdown nothing can be loaded")
    case .unknown:
      report.add(section, "kexec_file_load", .warn, unknownSyscall)
    }

    // what stops loads: the one-way sysctl and the load limit stop both
    // calls (kexec_load_permitted), lockdown stops kexec_load
    switch status.kexecLoadDisabled {
    case false?:
      report.add(section, "kexec_load_disabled", .ok, "0")
    case true?:
      report.add(
        section, "kexec_load_disabled", .fail,
        "1: kexec_load and kexec_file_load alike are refused until the next reboot")
    case nil:
      report.add(
        section, "kexec_load_disabled", .warn,
        "unknown: /proc/sys/kernel/kexec_load_disabled cannot be read")
    }
    let limit = system.text("/proc/sys/kernel/kexec_load_limit_reboot").flatMap { Int($0) }
    if let limit {
      if limit == 0 {
        report.add(
          section, "load limit", .fail,
          "0: kexec_load_limit_reboot allows no more loads of either call until the next reboot")
      } else {
        report.add(
          section, "load limit", .ok, limit < 0 ? "none" : "\(limit) more loads allowed")
      }
    }
    let lockdown = checkLockdown(into: &report)
    checkFirmware(status, into: &report)

    // which call `handoff load` would end up making
    let lockedDown = lockdown.map { $0 != "none" } ?? false
    var refusals: [String] = []
    if support.kexecLoad.isAbsent { refusals.append("kexec_load is not built in") }
    if let lockdown, lockedDown { refusals.append("lockdown (\(lockdown)) refuses kexec_load") }
    if status.kexecLoadDisabled == true || limit == 0 {
      report.add(section, "load path", .fail, "none: the kernel refuses every load until reboot")
    } else if refusals.isEmpty {
      report.add(
        section, "load path", .ok,
        "kexec_load, with Handoff's purgatory checking every segment before the jump")
    } else if !support.kexecFileLoad.isAbsent {
      report.add(
        section, "load path", .warn,
        "kexec_file_load, since " + joinedPhrases(refusals)
          + ": the running kernel's purgatory runs instead of Handoff's"
          + (lockedDown ? ", and the image must be signed with a key the kernel trusts" : ""))
    } else {
      report.add(
        section, "load path", .fail,
        "none: " + joinedPhrases(refusals) + ", and kexec_file_load is not built in")
    }
  }

  private var unknownSyscall: String {
    "unknown: neither /proc/kallsyms nor /boot/config-RELEASE says"
  }

  /// CapEff of /proc/self/status as a mask; nil when it cannot be read.
  func effectiveCapabilities() -> UInt64? {
    guard let status = system.text(SystemPaths.processStatus) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
      let digits = line.dropFirst("CapEff:".count).filter { $0 != " " && $0 != "\t" }
      return UInt64(String(digits), radix: 16)
    }
    return nil
  }

  /// Reports the lockdown mode and returns it; nil when it is unknown.
  private func checkLockdown(into report: inout PreflightReport) -> String? {
    if let text = system.text(SystemPaths.lockdown) {
      guard let mode = KexecStatus.activeLockdownMode(text) else {
        report.add(
          "machine", "lockdown", .warn,
          "unknown: \(SystemPaths.lockdown) reads '\(text)'")
        return nil
      }
      if mode == "none" {
        report.add("machine", "lockdown", .ok, "none")
      } else {
        report.add(
          "machine", "lockdown", .warn,
          "\(mode): kexec_load is refused, and kexec_file_load takes only an image signed "
            + "with a key the kernel trusts")
      }
      return mode
    }
    let security = system.names(in: "/sys/kernel/security") ?? []
    if security.isEmpty {
      report.add(
        "machine", "lockdown", .warn,
        "unknown: securityfs is not mounted on /sys/kernel/security")
      return nil
    }
    report.add("machine", "lockdown", .ok, "none: the kernel has no lockdown LSM")
    return "none"
  }

  /// Secure Boot, and the crash kernel's reservation.
  private func checkFirmware(_ status: KexecStatus, into report: inout PreflightReport) {
    let section = "machine"
    if !bootedThroughEFI {
      report.add(section, "Secure Boot", .ok, "off: the machine did not boot through EFI")
    } else if let variable = try? system.readFile(Preflight.secureBootVariable),
      variable.count >= 5
    {
      // four bytes of attributes, then the value
      if variable[4] == 1 {
        report.add(
          section, "Secure Boot", .warn,
          "on: a kernel that enforces it locks down and loads only signed images")
      } else {
        report.add(section, "Secure Boot", .ok, "off")
      }
    } else {
      report.add(
        section, "Secure Boot", .warn,
        "unknown: the SecureBoot variable cannot be read (is efivarfs mounted on "
          + "/sys/firmware/efi/efivars?)")
    }

    switch status.crashRegionSize {
    case let size? where size > 0:
      report.add(
        section, "crash kernel", .ok,
        "\(Preflight.mebibytes(size)) reserved, which the segments keep out of"
          + (status.crashKernelLoaded == true ? "; a crash kernel is loaded there" : ""))
    case 0?:
      report.add(section, "crash kernel", .ok, "no region reserved")
    default:
      report.add(section, "crash kernel", .ok, "not reported (no /sys/kernel/kexec_crash_size)")
    }
  }

  /// `a`, `a and b`, `a, b and c`.
  func joinedPhrases(_ phrases: [String]) -> String {
    var result = ""
    for (index, phrase) in phrases.enumerated() {
      if index > 0 { result += index == phrases.count - 1 ? " and " : ", " }
      result += phrase
    }
    return result
  }
}

// MARK: Reading

extension SystemCalls {
  /// A small file's text, as `readText`, kept out of line: the checks read
  /// dozens of files, and inlined at each place the reads would make the
  /// static build much larger.
  @inline(never)
  func text(_ path: String) -> String? {
    readText(path)
  }

  /// The names in a directory; nil when it cannot be listed.
  @inline(never)
  func names(in path: String) -> [String]? {
    try? listDirectory(path)
  }
}
