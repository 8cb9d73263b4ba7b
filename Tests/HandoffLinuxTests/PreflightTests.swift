import Foundation
import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// `handoff check`'s findings on q35 guests served by the recording fake:
/// every status each item can take, and that checking loads nothing.
@Suite("Preflight")
struct PreflightTests {
  static let kernel = "/boot/vmlinuz"
  static let initrd = "/boot/initrd.img"

  static func system(
    _ machine: CheckedMachine = CheckedMachine(), image: HandmadeBzImage = HandmadeBzImage()
  ) -> RecordingSystem {
    let system = RecordingSystem(files: [
      kernel: .file(image.bytes),
      initrd: .file(Array(repeating: 0xa5, count: 0x1_2345)),
    ])
    machine.serve(on: system)
    return system
  }

  static func report(
    _ system: RecordingSystem, kernel: Bool = true, commandLine: CommandLineChoice = .reuse
  ) -> PreflightReport {
    let request = LoadRequest(
      kernelPath: Self.kernel, initrdPaths: [initrd], commandLine: commandLine)
    return Preflight(system: system).run(kernel ? request : nil)
  }

  static func item(_ report: PreflightReport, _ name: String) -> PreflightItem? {
    report.items.first { $0.item == name }
  }

  @Test("A guest with an NVMe drive, kexec_load and a kernel that fits is expected to work")
  func allOK() throws {
    let system = Self.system()
    let report = Self.report(system)
    #expect(report.worst == .ok)
    #expect(report.sections == ["machine", "kernel", "devices"])
    #expect(
      report.items.map(\.item) == [
        "root", "CAP_SYS_BOOT", "kexec", "kexec_load", "kexec_file_load",
        "kexec_load_disabled", "lockdown", "Secure Boot", "crash kernel", "load path",
        "image", "architecture", "64-bit entry", "boot protocol", "EFI handover",
        "relocatable", "cmdline", "placement", "free memory",
        "iommu", "0000:00:00.0", "0000:00:04.0",
      ])
    #expect(
      Self.item(report, "kexec_load")?.detail
        == "built in: __x64_sys_kexec_load is in /proc/kallsyms")
    #expect(
      Self.item(report, "load path")?.detail
        == "kexec_load, with Handoff's purgatory checking every segment before the jump")
    #expect(
      Self.item(report, "0000:00:04.0")?.detail
        == "storage 1b36:0010, driver nvme, MSI-X (5 vectors), reset flr bus")
    #expect(
      Self.item(report, "0000:00:00.0")?.detail == "bridge 8086:29c0, no driver, no reset method")
    let placement = try #require(Self.item(report, "placement"))
    #expect(placement.detail.hasPrefix("kernel at 0x1000000 and initrd at 0x"))
    #expect(placement.detail.hasSuffix(" KiB in all"))
    #expect(placement.detail.contains("; 4 segments, "))
  }

  @Test("Checking makes no kexec call, boots nothing and leaves no file open")
  func readsOnly() {
    let system = Self.system(CheckedMachine.q35WithDevices)
    _ = Self.report(system)
    #expect(system.kexecCalls == [])
    #expect(system.calls(named: "reboot") == [])
    #expect(system.calls(named: "sync") == [])
    #expect(system.openDescriptors == [])
  }

  @Test("Network and display devices with a driver warn, as does one with no reset method")
  func devices() {
    let report = Self.report(Self.system(CheckedMachine.q35WithDevices))
    let devices = report.items.filter { $0.section == "devices" }
    let lines = devices.map { "\($0.status.rawValue) \($0.item) \($0.detail)" }
    #expect(
      lines == [
        "ok iommu on: dmar0, 6 groups",
        "ok 0000:00:00.0 bridge 8086:29c0, no driver, no reset method",
        "warn 0000:00:01.0 network 1af4:1000, driver virtio-pci, MSI-X (3 vectors), "
          + "no reset method: virtio-pci may leave it running into the next kernel; "
          + "nothing can reset it if its driver does not stop it",
        "ok 0000:00:02.0 network 8086:10d3, no driver, reset pm",
        "warn 0000:00:03.0 display 1234:1111, driver bochs-drm, no reset method: "
          + "bochs-drm may leave it running into the next kernel; "
          + "nothing can reset it if its driver does not stop it",
        "ok 0000:00:04.0 storage 1b36:0010, driver nvme, MSI-X (5 vectors), reset flr bus",
        "ok 0000:00:1f.0 bridge 8086:2918, driver lpc_ich, no reset method",
        "warn 0000:00:1f.2 storage 8086:2922, driver ahci, MSI (1 vector), no reset method: "
          + "nothing can reset it if its driver does not stop it",
        "warn 0000:00:1f.3 other 8086:2930, no driver, no reset method: nothing can reset it, "
          + "so the next kernel gets it as the firmware left it",
      ])
    #expect(report.worst == .warn)
  }

  @Test("Without an IOMMU the report says off; without a PCI bus, no PCI devices")
  func noIOMMU() {
    var machine = CheckedMachine()
    machine.devices = []
    let system = Self.system(machine)
    let report = Self.report(system, kernel: false)
    #expect(Self.item(report, "iommu")?.detail == "off")
    #expect(Self.item(report, "pci")?.detail == "no PCI devices")
    #expect(report.worst == .ok)

    system.files["/sys/bus/pci/devices"] = .unopenable(Errno.EACCES)
    let unreadable = Self.report(system, kernel: false)
    #expect(Self.item(unreadable, "pci")?.status == .warn)
  }

  @Test("Under lockdown kexec_load is refused: the load goes through kexec_file_load, signed")
  func lockdown() {
    var machine = CheckedMachine()
    machine.lockdown = "none [integrity] confidentiality"
    let report = Self.report(Self.system(machine))
    let lockdown = Self.item(report, "lockdown")
    #expect(lockdown?.status == .warn)
    #expect(lockdown?.detail.hasPrefix("integrity: kexec_load is refused") == true)
    let path = Self.item(report, "load path")
    #expect(path?.status == .warn)
    #expect(
      path?.detail
        == "kexec_file_load, since lockdown (integrity) refuses kexec_load: the running kernel's "
        + "purgatory runs instead of Handoff's, and the image must be signed with a key the "
        + "kernel trusts")
    #expect(report.worst == .warn)
  }

  @Test("Without securityfs the lockdown mode is unknown; with it and no file, there is none")
  func lockdownUnknown() {
    let system = Self.system()
    system.files.removeValue(forKey: SystemPaths.lockdown)
    #expect(Self.item(Self.report(system), "lockdown")?.status == .warn)
    system.setText("/sys/kernel/security/apparmor/profiles", "")
    #expect(
      Self.item(Self.report(system), "lockdown")?.detail
        == "none: the kernel has no lockdown LSM")
  }

  @Test("A user without CAP_SYS_BOOT fails both root and the capability")
  func nonRoot() {
    var machine = CheckedMachine()
    machine.effectiveUser = 1000
    machine.capabilities = "0000000000000000"
    let report = Self.report(Self.system(machine))
    #expect(Self.item(report, "root")?.status == .fail)
    #expect(
      Self.item(report, "root")?.detail
        == "euid 1000: loading and booting a kernel needs root, or at least CAP_SYS_BOOT")
    #expect(
      Self.item(report, "CAP_SYS_BOOT")?.detail
        == "not effective (CapEff 0000000000000000): both loads fail with EPERM")
    #expect(report.worst == .fail)
  }

  @Test("A user with CAP_SYS_BOOT alone passes")
  func capabilityAlone() {
    var machine = CheckedMachine()
    machine.effectiveUser = 1000
    machine.capabilities = "0000000000400000"
    let report = Self.report(Self.system(machine), kernel: false)
    #expect(Self.item(report, "root")?.status == .ok)
    #expect(Self.item(report, "CAP_SYS_BOOT")?.status == .ok)
  }

  @Test("kexec_load_disabled stops both calls until reboot")
  func loadDisabled() {
    var machine = CheckedMachine()
    machine.kexecLoadDisabled = "1"
    let report = Self.report(Self.system(machine), kernel: false)
    #expect(Self.item(report, "kexec_load_disabled")?.status == .fail)
    #expect(Self.item(report, "load path")?.status == .fail)
  }

  @Test("A used-up load limit fails; one with loads left does not")
  func loadLimit() {
    let system = Self.system()
    system.setText("/proc/sys/kernel/kexec_load_limit_reboot", "0\n")
    #expect(Self.item(Self.report(system, kernel: false), "load limit")?.status == .fail)
    system.setText("/proc/sys/kernel/kexec_load_limit_reboot", "-1\n")
    #expect(Self.item(Self.report(system, kernel: false), "load limit")?.detail == "none")
  }

  @Test("A kernel without kexec fails, and the items that need it are left out")
  func noKexec() {
    var machine = CheckedMachine()
    machine.kexec = false
    let report = Self.report(Self.system(machine), kernel: false)
    let kexec = Self.item(report, "kexec")
    #expect(kexec?.status == .fail)
    #expect(
      kexec?.detail
        == "not built in: there is no /sys/kernel/kexec_loaded (CONFIG_KEXEC_CORE is off)")
    #expect(Self.item(report, "kexec_load") == nil)
    #expect(Self.item(report, "load path") == nil)
  }

  @Test("A weak stub in kallsyms means the call is not built: kexec_file_load warns")
  func weakStub() {
    var machine = CheckedMachine()
    machine.kallsyms = CheckedMachine.kallsymsWithoutFileLoad
    let report = Self.report(Self.system(machine), kernel: false)
    #expect(Self.item(report, "kexec_load")?.status == .ok)
    let file = Self.item(report, "kexec_file_load")
    #expect(file?.status == .warn)
    #expect(
      file?.detail
        == "not built in (/proc/kallsyms has only the weak stub __x64_sys_kexec_file_load, "
        + "which returns ENOSYS): under lockdown nothing can be loaded")
  }

  @Test("Under lockdown without kexec_file_load no call is left")
  func noCallLeft() {
    var machine = CheckedMachine()
    machine.kallsyms = CheckedMachine.kallsymsWithoutFileLoad
    machine.lockdown = "none integrity [confidentiality]"
    let report = Self.report(Self.system(machine), kernel: false)
    #expect(
      Self.item(report, "load path")?.detail
        == "none: lockdown (confidentiality) refuses kexec_load, and kexec_file_load is not "
        + "built in")
    #expect(report.worst == .fail)
  }

  @Test("Without kallsyms the build configuration in /boot says which calls there are")
  func bootConfig() {
    var machine = CheckedMachine()
    machine.kallsyms = nil
    let system = Self.system(machine)
    system.setText(
      "/boot/config-6.12.48+deb13-cloud-amd64",
      "CONFIG_KEXEC=y\n# CONFIG_KEXEC_FILE is not set\nCONFIG_KEXEC_CORE=y\n")
    let support = KexecSyscallSupport.read(from: system)
    #expect(
      support
        == KexecSyscallSupport(
          kexecLoad: .present("CONFIG_KEXEC=y in /boot/config-6.12.48+deb13-cloud-amd64"),
          kexecFileLoad: .absent(
            "CONFIG_KEXEC_FILE is not set in /boot/config-6.12.48+deb13-cloud-amd64")))
  }

  @Test("Secure Boot: the variable's fifth byte under EFI, off without EFI")
  func secureBoot() {
    var machine = CheckedMachine()
    #expect(
      Self.item(Self.report(Self.system(machine)), "Secure Boot")?.detail
        == "off: the machine did not boot through EFI")
    machine.secureBoot = 1
    let on = Self.item(Self.report(Self.system(machine)), "Secure Boot")
    #expect(on?.status == .warn)
    #expect(on?.detail.hasPrefix("on: ") == true)
    machine.secureBoot = 0
    #expect(Self.item(Self.report(Self.system(machine)), "Secure Boot")?.detail == "off")

    let system = Self.system(machine)
    system.files.removeValue(
      forKey: "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c")
    #expect(Self.item(Self.report(system), "Secure Boot")?.status == .warn)
  }

  @Test("Under EFI a kernel without XLF_EFI_KEXEC warns; one with it is ok")
  func efiHandover() {
    var machine = CheckedMachine()
    machine.secureBoot = 0
    var image = HandmadeBzImage()
    let without = Self.item(Self.report(Self.system(machine, image: image)), "EFI handover")
    #expect(without?.status == .warn)
    image.xloadflags |= 0x10
    let with = Self.item(Self.report(Self.system(machine, image: image)), "EFI handover")
    #expect(with?.status == .ok)
    #expect(with?.detail == "XLF_EFI_KEXEC: it takes over EFI runtime services")
  }

  @Test("An absurd init_size fails, naming the field, and nothing is placed")
  func absurdInitSize() throws {
    var image = HandmadeBzImage()
    image.initSize = 0x8000_0000
    let report = Self.report(Self.system(CheckedMachine(), image: image))
    let item = try #require(Self.item(report, "init_size"))
    #expect(item.status == .fail)
    #expect(item.detail.contains("init_size at offset 0x260 is 0x80000000"), "\(item.detail)")
    #expect(Self.item(report, "placement") == nil)
  }

  @Test("A kernel too large for the memory map fails placement, naming the segment")
  func doesNotFit() throws {
    var machine = CheckedMachine()
    machine.secureBoot = 0
    var image = HandmadeBzImage()
    image.initSize = 0x4000_0000
    let report = Self.report(Self.system(machine, image: image))
    let placement = try #require(Self.item(report, "placement"))
    #expect(placement.status == .fail)
    #expect(placement.detail.hasPrefix("no room for the kernel segment"))
    #expect(Self.item(report, "free memory") == nil)
  }

  @Test("Segments larger than MemAvailable fail: the kernel could not stage them")
  func notEnoughFreeMemory() {
    var machine = CheckedMachine()
    machine.memAvailableKiB = 64
    let item = Self.item(Self.report(Self.system(machine)), "free memory")
    #expect(item?.status == .fail)
    #expect(item?.detail.hasPrefix("the load needs ") == true)
    #expect(
      item?.detail.hasSuffix(", and only 64 KiB is available: it would fail with ENOMEM") == true)
  }

  @Test("An old boot protocol, a missing 64-bit entry or a fixed address are reported")
  func imageFlaws() {
    var old = HandmadeBzImage()
    old.version = 0x020a
    let oldReport = Self.report(Self.system(image: old))
    #expect(Self.item(oldReport, "boot protocol")?.status == .fail)
    #expect(Self.item(oldReport, "64-bit entry")?.status == .fail)
    #expect(Self.item(oldReport, "placement") == nil)

    var fixed = HandmadeBzImage()
    fixed.relocatable = 0
    let fixedReport = Self.report(Self.system(image: fixed))
    #expect(Self.item(fixedReport, "relocatable")?.status == .warn)
    #expect(Self.item(fixedReport, "placement")?.status == .ok)
  }

  @Test("A file that is not a bzImage fails, and nothing else about it is checked")
  func notAKernel() {
    let system = Self.system()
    system.files[Self.kernel] = .file(Array(repeating: 0x90, count: 8192))
    let report = Self.report(system)
    #expect(Self.item(report, "image")?.status == .fail)
    #expect(Self.item(report, "architecture") == nil)
    #expect(report.sections == ["machine", "kernel", "devices"])
  }

  @Test("A command line longer than the image takes fails")
  func commandLineTooLong() {
    let report = Self.report(
      Self.system(), commandLine: .replace(String(repeating: "x", count: 4096)))
    #expect(Self.item(report, "cmdline")?.status == .fail)
    #expect(Self.item(report, "placement") == nil)
  }

  @Test("Another architecture fails; an unknown one warns")
  func architecture() {
    let system = Self.system()
    system.setText("/proc/sys/kernel/arch", "aarch64\n")
    #expect(Self.item(Self.report(system), "architecture")?.status == .fail)
    system.files.removeValue(forKey: "/proc/sys/kernel/arch")
    #expect(Self.item(Self.report(system), "architecture")?.status == .warn)
  }
}
