import HandoffCore

/// Turns a failed system call into what it most likely means on this
/// machine, reading the state that tells the causes of one errno apart.
public struct Diagnosis<System: SystemCalls> {
  public let system: System

  public init(system: System) {
    self.system = system
  }

  /// One or more sentences for the line below the failed call.
  public func explain(_ failure: SystemCallFailure) -> String {
    let status = KexecStatus.read(from: system)
    let isFileLoad = failure.call.hasPrefix("kexec_file_load")
    let isReboot = failure.call.hasPrefix("reboot")
    let isCrashLoad =
      isFileLoad && (Self.flags(of: failure.call) ?? 0) & KexecFileFlags.onCrash != 0
    switch failure.errno {
    case Errno.EPERM:
      if system.effectiveUserID() != 0 {
        return "Handoff is not running as root: loading and booting a kernel needs CAP_SYS_BOOT."
      }
      if !hasBootCapability() {
        return "This process lacks CAP_SYS_BOOT, which kexec needs (a container or a "
          + "restricted service?)."
      }
      if !isReboot, status.kexecLoadDisabled == true {
        return "Loading is disabled (/proc/sys/kernel/kexec_load_disabled is 1): the kernel "
          + "refuses kexec_load and kexec_file_load alike until the next reboot. A kernel "
          + "loaded before that stays loaded and 'handoff exec' still boots it."
      }
      if let lockdown = status.lockdown, lockdown != "none" {
        return isFileLoad
          ? signatureRefused(
            "The image's signature was not accepted (it has none, or its key is not trusted).",
            lockdown: lockdown)
          : "The kernel is locked down (\(lockdown)): it refuses kexec_load, whose segments "
            + "it cannot check. " + Self.fileLoadStillWorks
      }
      return "The kernel refused the call: a kexec load limit "
        + "(/proc/sys/kernel/kexec_load_limit_reboot) may be used up, "
        + "or a security module denied it."
    case Errno.EKEYREJECTED:
      return signatureRefused(
        "The image's signature does not verify: the image changed after it was signed, or "
          + "this kernel cannot check signatures of this image type.", lockdown: status.lockdown)
    case Errno.ENOKEY:
      return signatureRefused(
        "The image is signed, but not with a key this kernel trusts (only its first "
          + "signature is read).", lockdown: status.lockdown)
    case Errno.EBADMSG:
      return signatureRefused("The image's signature is malformed.", lockdown: status.lockdown)
    case Errno.ENODATA:
      return signatureRefused("The image carries no signature.", lockdown: status.lockdown)
    case Errno.EACCES:
      if !isFileLoad, !isReboot, let lockdown = status.lockdown, lockdown != "none" {
        return "IMA refuses kexec_load, whose image it cannot appraise without a file, and "
          + "the kernel is locked down (\(lockdown)) as well. " + Self.fileLoadStillWorks
      }
      return "IMA or a security module refused the image (appraisal failed, or kexec_load "
        + "is refused because the image cannot be appraised without a file)."
    case Errno.ENOEXEC:
      return "The running kernel cannot boot this image: it needs a bzImage of boot protocol "
        + "2.12 or later with a 64-bit entry, loadable above 4 GiB."
    case Errno.EINVAL:
      if isReboot { return "No kernel is loaded." }
      return isFileLoad
        ? "The kernel refused the image or the command line: an image its loader does not "
          + "accept, a command line longer than the image's cmdline_size, or unknown flags."
        : "The kernel refused the segments: overlapping, more than 16, or larger than half "
          + "of RAM."
    case Errno.EBUSY:
      return "Another kexec load or exec is in progress; try again when it is done."
    case Errno.EADDRNOTAVAIL where isCrashLoad, Errno.ENOMEM where isCrashLoad:
      let size = status.crashRegionSize.map { "\($0 >> 20) MiB" } ?? "of unknown size"
      return "The crash kernel and its initrd do not fit in the region crashkernel= reserved "
        + "(\(size), /sys/kernel/kexec_crash_size): reserve more, or use a smaller initrd."
    case Errno.ENOMEM:
      return "The kernel could not allocate memory to hold the new kernel and initrd; free "
        + "some memory or use a smaller initrd."
    case Errno.ETXTBSY:
      return "The kernel or initrd file is open for writing by some process; close it first."
    case Errno.EFBIG:
      return "The kernel or initrd is larger than 4 GiB."
    case Errno.ENOSYS:
      return isFileLoad
        ? "The running kernel was built without kexec_file_load (CONFIG_KEXEC_FILE)."
        : "The running kernel was built without kexec support (CONFIG_KEXEC)."
    case Errno.EADDRNOTAVAIL:
      return "The kernel found no memory hole large enough for a segment."
    default:
      return "The kernel gave no more detail; see dmesg."
    }
  }

  /// The flags a call's text names (`flags: 0x6`), or nil.
  static func flags(of call: String) -> UInt? {
    let words = call.split(separator: " ")
    guard let label = words.firstIndex(of: "flags:"), label + 1 < words.count,
      words[label + 1].hasPrefix("0x")
    else { return nil }
    return UInt(String(words[label + 1].dropFirst(2).prefix { $0.isHexDigit }), radix: 16)
  }

  /// The keyrings whose keys kexec_file_load accepts a signature from.
  static var keyrings: String {
    "secondary trusted keyring (the keys built into the kernel and those added to it later) "
      + "or its platform keyring (the certificates in the firmware's Secure Boot db)"
  }

  /// What is left when kexec_load is refused under lockdown.
  static var fileLoadStillWorks: String {
    "kexec_file_load, which auto mode falls back to, still loads an image signed with a key "
      + "this kernel trusts: one in its " + keyrings + "."
  }

  /// `problem`, then why the kernel insisted on a signature and which keys
  /// it would have accepted.
  func signatureRefused(_ problem: String, lockdown: String?) -> String {
    let why =
      if let lockdown, lockdown != "none" {
        "The kernel is locked down (\(lockdown)), so it loads only an image"
      } else {
        "This kernel enforces kexec signatures, so it loads only an image"
      }
    return problem + " " + why + " signed with a key it trusts: one in its " + Self.keyrings
      + ". Sign the image with such a key (sbsign), or enroll the image's key in db or MOK."
  }

  /// Whether CapEff in /proc/self/status includes CAP_SYS_BOOT (bit 22);
  /// true when that cannot be read.
  func hasBootCapability() -> Bool {
    guard let status = system.readText(SystemPaths.processStatus) else { return true }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
      let digits = line.dropFirst("CapEff:".count).filter { $0 != " " && $0 != "\t" }
      guard let mask = UInt64(String(digits), radix: 16) else { return true }
      return mask & (1 << 22) != 0
    }
    return true
  }
}
