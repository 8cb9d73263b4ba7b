// Machines as `handoff check` reads them: /proc and /sys of QEMU q35
// guests, with their PCI devices, IOMMU, lockdown and Secure Boot.
import HandoffCore

/// The /proc and /sys files of a machine, a field per fact `handoff check`
/// looks at; the defaults describe a q35 guest under SeaBIOS that a
/// handoff through kexec_load suits, with only a host bridge and an NVMe
/// drive on its bus.
public struct CheckedMachine: Sendable {
  /// One PCI function under /sys/bus/pci/devices.
  public struct PCIFunction: Sendable {
    public var address: String
    public var classCode: String
    public var vendor: String
    public var device: String
    public var driver: String?
    /// `msi` or `msix`, with how many vectors; nil for neither.
    public var interrupts: (kind: String, vectors: Int)?
    /// The reset_method file; nil when there is none.
    public var resetMethod: String?

    public init(
      _ address: String, class classCode: String, _ vendor: String, _ device: String,
      driver: String? = nil, interrupts: (kind: String, vectors: Int)? = nil,
      reset resetMethod: String? = nil
    ) {
      self.address = address
      self.classCode = classCode
      self.vendor = vendor
      self.device = device
      self.driver = driver
      self.interrupts = interrupts
      self.resetMethod = resetMethod
    }
  }

  public var effectiveUser: UInt32 = 0
  /// CapEff of /proc/self/status; root's full set by default.
  public var capabilities = "000001ffffffffff"
  /// /sys/kernel/kexec_loaded and its siblings exist.
  public var kexec = true
  /// /proc/kallsyms; nil for none.
  public var kallsyms: String? = CheckedMachine.kallsymsWithBoth
  public var lockdown = "[none] integrity confidentiality"
  public var kexecLoadDisabled = "0"
  public var crashSize = "0"
  /// The SecureBoot variable's value under EFI; nil for a BIOS machine.
  public var secureBoot: UInt8? = nil
  public var iommu = false
  public var devices: [PCIFunction] = [
    PCIFunction("0000:00:00.0", class: "0x060000", "0x8086", "0x29c0"),
    PCIFunction(
      "0000:00:04.0", class: "0x010802", "0x1b36", "0x0010", driver: "nvme",
      interrupts: ("msix", 5), reset: "flr bus"),
  ]
  public var memAvailableKiB = 800_000

  public init() {}

  /// A q35 guest laid out as the lab's devices scenario, with the drivers
  /// a distribution kernel binds: virtio-net, e1000e (left without a
  /// driver, as the cloud kernel leaves it), bochs-display, an NVMe drive,
  /// and the chipset's LPC, AHCI and SMBus functions, behind an IOMMU.
  public static var q35WithDevices: CheckedMachine {
    var machine = CheckedMachine()
    machine.iommu = true
    machine.devices = [
      PCIFunction("0000:00:00.0", class: "0x060000", "0x8086", "0x29c0"),
      PCIFunction(
        "0000:00:01.0", class: "0x020000", "0x1af4", "0x1000", driver: "virtio-pci",
        interrupts: ("msix", 3)),
      PCIFunction("0000:00:02.0", class: "0x020000", "0x8086", "0x10d3", reset: "pm"),
      PCIFunction(
        "0000:00:03.0", class: "0x038000", "0x1234", "0x1111", driver: "bochs-drm"),
      PCIFunction(
        "0000:00:04.0", class: "0x010802", "0x1b36", "0x0010", driver: "nvme",
        interrupts: ("msix", 5), reset: "flr bus"),
      PCIFunction(
        "0000:00:1f.0", class: "0x060100", "0x8086", "0x2918", driver: "lpc_ich"),
      PCIFunction(
        "0000:00:1f.2", class: "0x010601", "0x8086", "0x2922", driver: "ahci",
        interrupts: ("msi", 1)),
      PCIFunction("0000:00:1f.3", class: "0x0c0500", "0x8086", "0x2930"),
    ]
    return machine
  }

  /// /proc/kallsyms of a kernel with both calls, as root reads it; the
  /// `__pfx_` and ia32 entries must not count.
  public static let kallsymsWithBoth = """
    ffffffff81000000 T _stext
    ffffffff8119f5e0 T __pfx___x64_sys_kexec_load
    ffffffff8119f5f0 T __x64_sys_kexec_load
    ffffffff8119f6a0 T __ia32_sys_kexec_load
    ffffffff811a2e10 T __pfx___x64_sys_kexec_file_load
    ffffffff811a2e20 T __x64_sys_kexec_file_load
    ffffffffc0123000 t e1000_probe\t[e1000e]

    """

  /// The same without kexec_file_load, as a reader without CAP_SYSLOG sees
  /// it: zero addresses, and the weak stub of the call that is not built.
  public static let kallsymsWithoutFileLoad = """
    0000000000000000 T _stext
    0000000000000000 T __x64_sys_kexec_load
    0000000000000000 W __x64_sys_kexec_file_load
    0000000000000000 W __ia32_sys_kexec_file_load

    """

  /// Serves every file on `system`, with the 6 GiB guest's memory map
  /// (or the 1 GiB OVMF one with its EFI files under Secure Boot's
  /// variable) and a command line.
  public func serve(on system: RecordingSystem) {
    system.effectiveUser = effectiveUser
    system.setText(
      "/proc/self/status",
      "Name:\thandoff\nUid:\t\(effectiveUser)\t\(effectiveUser)\t\(effectiveUser)\t"
        + "\(effectiveUser)\nCapInh:\t0000000000000000\nCapPrm:\t\(capabilities)\n"
        + "CapEff:\t\(capabilities)\n")
    system.setText("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro\n")
    system.setText("/proc/sys/kernel/arch", "x86_64\n")
    system.setText("/proc/sys/kernel/osrelease", "6.12.48+deb13-cloud-amd64\n")
    system.setText(
      "/proc/meminfo",
      "MemTotal:        1001680 kB\nMemFree:          712104 kB\n"
        + "MemAvailable:     \(memAvailableKiB) kB\n")
    system.setText("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    if kexec {
      system.setText("/sys/kernel/kexec_loaded", "0\n")
      system.setText("/sys/kernel/kexec_crash_loaded", "0\n")
      system.setText("/sys/kernel/kexec_crash_size", crashSize + "\n")
      system.setText("/proc/sys/kernel/kexec_load_disabled", kexecLoadDisabled + "\n")
    }
    if let kallsyms { system.setText("/proc/kallsyms", kallsyms) }
    system.setText("/sys/kernel/security/lockdown", lockdown + "\n")

    if let secureBoot {
      system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
      system.serveEFI(MachineFixtures.EFIFirmware())
      system.files["/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"] =
        .file([0x06, 0x00, 0x00, 0x00, secureBoot])
    } else {
      system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    }

    system.files["/sys/class/iommu"] = .directory
    system.files["/sys/kernel/iommu_groups"] = .directory
    if iommu {
      system.setText("/sys/class/iommu/dmar0/intel-iommu/version", "1:0\n")
      // the chipset's functions at 1f share a group
      let groups = Set(devices.map { $0.address.dropLast(2) }).count
      for group in 0..<groups {
        system.setText("/sys/kernel/iommu_groups/\(group)/type", "DMA\n")
      }
    }

    system.files["/sys/bus/pci/devices"] = .directory
    for function in devices {
      let directory = "/sys/bus/pci/devices/\(function.address)/"
      system.setText(directory + "class", function.classCode + "\n")
      system.setText(directory + "vendor", function.vendor + "\n")
      system.setText(directory + "device", function.device + "\n")
      var uevent = ""
      if let driver = function.driver { uevent += "DRIVER=\(driver)\n" }
      uevent += "PCI_CLASS=\(function.classCode.dropFirst(2).uppercased())\n"
      uevent += "PCI_SLOT_NAME=\(function.address)\n"
      system.setText(directory + "uevent", uevent)
      if let interrupts = function.interrupts {
        for vector in 0..<interrupts.vectors {
          system.setText(directory + "msi_irqs/\(24 + vector)", interrupts.kind + "\n")
        }
      }
      if let reset = function.resetMethod {
        system.setText(directory + "reset_method", reset + "\n")
        system.files[directory + "reset"] = .file([])
      }
      if function.driver != nil { system.files[directory + "driver/unbind"] = .file([]) }
    }
  }
}
