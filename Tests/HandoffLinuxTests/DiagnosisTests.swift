import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// The hint printed below a failed call: which of an errno's causes this
/// machine shows.
@Suite("Diagnosis of failed calls")
struct DiagnosisTests {
  static let fileLoad = "kexec_file_load(kernel_fd: 4, initrd_fd: 3, cmdline_len: 24, flags: 0x0)"
  static let load = "kexec_load(entry: 0x1000000, segments: 5, flags: 0x0)"
  static let reboot = "reboot(LINUX_REBOOT_CMD_KEXEC)"

  /// CapEff lines of /proc/self/status: a root shell's, and one without bit 22.
  static let allCapabilities = "000001ffffffffff"
  static let withoutBoot = "000001ffffbfffff"

  static func machine(
    euid: UInt32 = 0, capabilities: String? = allCapabilities, lockdown: String? = nil,
    loadDisabled: String? = nil
  ) -> RecordingSystem {
    let system = RecordingSystem()
    system.effectiveUser = euid
    if let capabilities {
      system.setText(
        SystemPaths.processStatus,
        "Name:\thandoff\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\n"
          + "CapPrm:\t\(capabilities)\nCapEff:\t\(capabilities)\n")
    }
    if let lockdown { system.setText(SystemPaths.lockdown, lockdown) }
    if let loadDisabled { system.setText(SystemPaths.kexecLoadDisabled, loadDisabled) }
    return system
  }

  static func explain(_ call: String, _ errno: Int32, on system: RecordingSystem) -> String {
    Diagnosis(system: system).explain(SystemCallFailure(call: call, errno: errno))
  }

  @Test("EPERM for a user other than root says Handoff is not running as root")
  func notRoot() {
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: Self.machine(euid: 1000))
    #expect(hint.contains("not running as root"))
    #expect(hint.contains("CAP_SYS_BOOT"))
  }

  @Test("EPERM for root without CAP_SYS_BOOT in CapEff says the capability is missing")
  func missingCapability() {
    let system = Self.machine(capabilities: Self.withoutBoot)
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(hint.contains("lacks CAP_SYS_BOOT"))
    #expect(!hint.contains("root"))
  }

  @Test(
    "EPERM for root is not blamed on capabilities it has or cannot see",
    arguments: [Optional(allCapabilities), "0000000000400000", nil])
  func capabilityPresentOrUnknown(capabilities: String?) {
    let system = Self.machine(capabilities: capabilities)
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(!hint.contains("CAP_SYS_BOOT"))
    #expect(hint.contains("kexec_load_limit_reboot"))
  }

  @Test("EPERM from kexec_load with kexec_load_disabled set says so")
  func loadDisabled() {
    let system = Self.machine(loadDisabled: "1\n")
    let hint = Self.explain(Self.load, Errno.EPERM, on: system)
    #expect(hint.contains("kexec_load_disabled"))
    #expect(hint.contains("kexec_file_load"))
  }

  @Test("kexec_load_disabled is not blamed for a kexec_file_load refusal")
  func loadDisabledIrrelevantToFileLoad() {
    let system = Self.machine(loadDisabled: "1\n")
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(!hint.contains("kexec_load_disabled"))
  }

  @Test("EPERM under lockdown names the mode and the signature for kexec_file_load")
  func lockdownFileLoad() {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n")
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(hint.contains("locked down (integrity)"))
    #expect(hint.contains("signature"))
  }

  @Test("EPERM under lockdown tells kexec_load users to use kexec_file_load")
  func lockdownLoad() {
    let system = Self.machine(lockdown: "none integrity [confidentiality]\n")
    let hint = Self.explain(Self.load, Errno.EPERM, on: system)
    #expect(hint.contains("locked down (confidentiality)"))
    #expect(hint.contains("kexec_file_load"))
  }

  @Test("Lockdown mode none is not blamed")
  func lockdownNone() {
    let system = Self.machine(lockdown: "[none] integrity confidentiality\n")
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(!hint.contains("locked down"))
  }

  @Test(
    "A signature errno from kexec_file_load speaks of the image's signature",
    arguments: [Errno.EKEYREJECTED, Errno.ENOKEY, Errno.EBADMSG, Errno.ENODATA])
  func signatureErrors(errno: Int32) {
    let hint = Self.explain(Self.fileLoad, errno, on: Self.machine())
    #expect(hint.contains("signature") || hint.contains("signing key"), "\(hint)")
    #expect(hint.contains("image"))
  }

  @Test(
    "Other errnos each get the hint that fits them",
    arguments: [
      (fileLoad, Errno.ENOEXEC, "bzImage"),
      (fileLoad, Errno.EINVAL, "cmdline_size"),
      (load, Errno.EINVAL, "segments"),
      (reboot, Errno.EINVAL, "No kernel is loaded"),
      (fileLoad, Errno.EBUSY, "in progress"),
      (fileLoad, Errno.ENOMEM, "memory"),
      (fileLoad, Errno.ETXTBSY, "open for writing"),
      (fileLoad, Errno.EFBIG, "4 GiB"),
      (fileLoad, Errno.ENOSYS, "CONFIG_KEXEC_FILE"),
      (load, Errno.ENOSYS, "CONFIG_KEXEC)"),
      (fileLoad, Errno.EACCES, "IMA"),
      (fileLoad, Errno.EADDRNOTAVAIL, "memory hole"),
      (fileLoad, Errno.EIO, "dmesg"),
    ])
  func otherErrors(call: String, errno: Int32, phrase: String) {
    let hint = Self.explain(call, errno, on: Self.machine())
    #expect(hint.contains(phrase), "\(Errno.name(errno)): \(hint)")
  }

  @Test("A diagnosis only reads the machine's state; it calls nothing that changes it")
  func readsOnly() {
    let system = Self.machine(euid: 1000)
    _ = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(system.kexecCalls == [])
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == [])
    #expect(system.openDescriptors == [])
  }
}
