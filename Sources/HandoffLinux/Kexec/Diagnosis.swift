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
    let isLoad = failure.call.hasPrefix("kexec_load")
    let isReboot = failure.call.hasPrefix("reboot")
    switch failure.errno {
    case Errno.EPERM:
      if system.effectiveUserID() != 0 {
        return "Handoff is not running as root: loading and booting a kernel needs CAP_SYS_BOOT."
      }
      if !hasBootCapability() {
        return "This process lacks CAP_SYS_BOOT, which kexec needs (a container or a "
          + "restricted service?)."
      }
      if isLoad, status.kexecLoadDisabled == true {
        return "kexec_load is disabled (/proc/sys/kernel/kexec_load_disabled is 1) until the "
          + "next reboot; kexec_file_load with a signed image may still work."
      }
      if let lockdown = status.lockdown, lockdown != "none" {
        return isFileLoad
          ? "The kernel is locked down (\(lockdown)) and the image's signature was not "
            + "accepted: sign it with a key in the kernel's secondary or platform keyring."
          : "The kernel is locked down (\(lockdown)): kexec_load is refused; use "
            + "kexec_file_load with a signed image."
      }
      return "The kernel refused the call: a kexec load limit "
        + "(/proc/sys/kernel/kexec_load_limit_reboot) may be used up, or a security module denied it."
    case Errno.EKEYREJECTED:
      return "The kernel rejected the image's signature: it is signed with a key no kernel "
        + "keyring trusts, or this kernel cannot verify this image type."
    case Errno.ENOKEY:
      return "The image's signing key is in neither the kernel's secondary nor its platform "
        + "keyring, and this kernel enforces signatures."
    case Errno.EBADMSG:
      return "The image's signature is malformed, and this kernel enforces signatures."
    case Errno.ENODATA:
      return "The image carries no signature, and this kernel enforces signatures."
    case Errno.EACCES:
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
