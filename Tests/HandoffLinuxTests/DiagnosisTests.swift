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

  @Test(
    "EPERM with kexec_load_disabled set says both loads are disabled until reboot",
    arguments: [load, fileLoad])
  func loadDisabled(call: String) {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n", loadDisabled: "1\n")
    let hint = Self.explain(call, Errno.EPERM, on: system)
    #expect(hint.contains("kexec_load_disabled is 1"))
    #expect(hint.contains("refuses kexec_load and kexec_file_load alike until the next reboot"))
    #expect(hint.contains("'handoff exec' still boots it"))
    #expect(!hint.contains("locked down"))
  }

  @Test("kexec_load_disabled is not blamed when a kernel refuses to boot")
  func loadDisabledIrrelevantToReboot() {
    let system = Self.machine(loadDisabled: "1\n")
    let hint = Self.explain(Self.reboot, Errno.EPERM, on: system)
    #expect(!hint.contains("kexec_load_disabled"))
  }

  /// The words every signature refusal under lockdown must say: the mode,
  /// that the image needs a trusted signature, and which keyrings count.
  static func expectLockdownWords(_ hint: String, mode: String) {
    #expect(hint.contains("The kernel is locked down (\(mode))"), "\(hint)")
    #expect(hint.contains("signed with a key it trusts"), "\(hint)")
    #expect(hint.contains("secondary trusted keyring"), "\(hint)")
    #expect(hint.contains("platform keyring (the certificates in the firmware's Secure Boot db)"))
  }

  static let signatureErrnos = [
    Errno.EPERM, Errno.EKEYREJECTED, Errno.ENOKEY, Errno.EBADMSG, Errno.ENODATA,
  ]

  @Test(
    "A refused kexec_file_load under lockdown names the mode, the signature and both keyrings",
    arguments: signatureErrnos, ["integrity", "confidentiality"])
  func lockdownSignature(errno: Int32, mode: String) {
    let modes = ["none", "integrity", "confidentiality"].map { $0 == mode ? "[\($0)]" : $0 }
    let system = Self.machine(lockdown: modes.joined(separator: " ") + "\n")
    let hint = Self.explain(Self.fileLoad, errno, on: system)
    Self.expectLockdownWords(hint, mode: mode)
    #expect(!hint.contains("enforces kexec signatures"))
  }

  @Test(
    "A signature errno without lockdown says the kernel enforces signatures, and which keys count",
    arguments: signatureErrnos.dropFirst())
  func enforcedSignature(errno: Int32) {
    let system = Self.machine(lockdown: "[none] integrity confidentiality\n")
    let hint = Self.explain(Self.fileLoad, errno, on: system)
    #expect(hint.contains("This kernel enforces kexec signatures"), "\(hint)")
    #expect(hint.contains("secondary trusted keyring"))
    #expect(hint.contains("platform keyring"))
    #expect(!hint.contains("locked down"))
  }

  @Test(
    "Each signature errno starts with what is wrong with this image",
    arguments: [
      (Errno.EPERM, "The image's signature was not accepted"),
      (Errno.EKEYREJECTED, "The image's signature does not verify"),
      (Errno.ENOKEY, "The image is signed, but not with a key this kernel trusts"),
      (Errno.EBADMSG, "The image's signature is malformed."),
      (Errno.ENODATA, "The image carries no signature."),
    ])
  func signatureProblem(errno: Int32, opening: String) {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n")
    let hint = Self.explain(Self.fileLoad, errno, on: system)
    #expect(hint.hasPrefix(opening), "\(hint)")
  }

  @Test("EPERM from kexec_load under lockdown points to kexec_file_load and its keyrings")
  func lockdownLoad() {
    let system = Self.machine(lockdown: "none integrity [confidentiality]\n")
    let hint = Self.explain(Self.load, Errno.EPERM, on: system)
    #expect(hint.hasPrefix("The kernel is locked down (confidentiality): it refuses kexec_load"))
    #expect(hint.contains("kexec_file_load"))
    #expect(hint.contains("secondary trusted keyring"))
    #expect(hint.contains("platform keyring"))
  }

  @Test("EACCES from kexec_load under lockdown blames IMA and lockdown, and names the way out")
  func imaUnderLockdown() {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n")
    let hint = Self.explain(Self.load, Errno.EACCES, on: system)
    #expect(hint.hasPrefix("IMA refuses kexec_load"))
    #expect(hint.contains("locked down (integrity)"))
    #expect(hint.contains("kexec_file_load, which auto mode falls back to"))
    #expect(hint.contains("platform keyring"))
  }

  @Test("Lockdown mode none is not blamed")
  func lockdownNone() {
    let system = Self.machine(lockdown: "[none] integrity confidentiality\n")
    let hint = Self.explain(Self.fileLoad, Errno.EPERM, on: system)
    #expect(!hint.contains("locked down"))
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

  @Test(
    "A crash kernel that does not fit is blamed on the crashkernel= region, with its size",
    arguments: [Errno.EADDRNOTAVAIL, Errno.ENOMEM])
  func crashKernelTooLarge(errno: Int32) {
    let system = Self.machine()
    system.setText(SystemPaths.kexecCrashSize, "134217728\n")
    let crash = "kexec_file_load(kernel_fd: 4, initrd_fd: 3, cmdline_len: 24, flags: 0x2)"
    let hint = Self.explain(crash, errno, on: system)
    #expect(hint.contains("region crashkernel= reserved (128 MiB"))
    // the same errno for the kernel exec boots keeps its own hint
    #expect(!Self.explain(Self.fileLoad, errno, on: system).contains("crashkernel="))
  }

}
