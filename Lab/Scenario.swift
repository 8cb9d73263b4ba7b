import Foundation

/// The firmware a guest boots under.
enum Firmware: String {
  case seabios, ovmf
  /// OVMF with Secure Boot on and the lab's certificate as PK, KEK and db:
  /// it boots only kernels the lab signed, and they lock themselves down.
  case ovmfSecureBoot = "ovmf-secureboot"
  /// None of the lab's choosing: QEMU loads the kernel itself and hands it a
  /// DTB (arm64's and riscv64's virt, the latter through QEMU's OpenSBI).
  case direct
  /// EDK2 for arm64's virt board (Debian's AAVMF): it starts the kernel's
  /// EFI stub, and the kernel finds its hardware through ACPI, with only the
  /// stub's DTB of /chosen beside it, as on arm64 servers.
  case aavmf

  var isEFI: Bool { self == .ovmf || self == .ovmfSecureBoot || self == .aavmf }
}

/// The command line the previous stage loads and boots a kernel with.
enum LoaderDialect {
  /// `handoff load` and `handoff exec`.
  case handoff
  /// `kexec -l` and `kexec -e`, kexec-tools' spelling.
  case kexecTools
}

/// One stage of a chain: a kernel and how the stage before loads it.
struct Stage {
  let kernel: LabKernel
  var dialect: LoaderDialect
}

/// The virtual machine's hardware beyond CPU, memory and firmware.
enum MachineProfile {
  /// q35 with a serial port and nothing else.
  case plain
  /// q35 with an emulated Intel IOMMU, virtio-net, e1000e and bochs-display.
  case devices
  /// q35 with an emulated Intel IOMMU and virtio-net behind a
  /// pcie-root-port, which gives it PCIe capabilities and so reset methods.
  case rootPortNetwork
  /// q35 with an emulated Intel IOMMU and, each behind a pcie-root-port of
  /// its own (so each can be reset), virtio-net, virtio-blk, e1000e, an NVMe
  /// disk, bochs-display and an xHCI controller: network, storage, display
  /// and USB, with drivers only a generic kernel has.
  case deviceChain
  /// q35 with a virtio-blk disk.
  case virtioDisk

  /// The guest has a virtio-net device, so its initramfs loads virtio_net.
  var hasNetwork: Bool { self == .devices || self == .rootPortNetwork }

  /// The disks the host writes before the run, in QEMU's order.
  var disks: [DiskBus] {
    switch self {
    case .deviceChain: return [.virtio, .nvme]
    case .virtioDisk: return [.virtio]
    default: return []
    }
  }

  /// The PCI devices whose drivers every kernel must bind, each as
  /// `vendor:device` and the driver that ends up driving it: for virtio the
  /// one on the virtio bus behind virtio-pci.
  var boundDevices: [(name: String, id: String, driver: String)] {
    guard self == .deviceChain else { return [] }
    return [
      ("virtio-net", "1af4:1041", "virtio_net"), ("virtio-blk", "1af4:1042", "virtio_blk"),
      ("e1000e", "8086:10d3", "e1000e"), ("NVMe", "1b36:0010", "nvme"),
      ("bochs-display", "1234:1111", "bochs-drm"), ("qemu-xhci", "1b36:000d", "xhci_hcd"),
    ]
  }
}

/// The form the next kernel is handed to `handoff load` in, made by the lab
/// from the Debian image.
enum KernelForm {
  /// As Debian ships it.
  case asShipped
  /// Compressed with gzip, as an arm64 Image.gz.
  case gzip
  /// An ELF vmlinux: on x86_64 the one a bzImage carries, unpacked from its
  /// payload; on aarch64 and riscv64 one binutils links around the Image.
  case elf
  /// An arm64 EFI zboot image whose payload is the Image compressed with
  /// zstd. Its PE header is valid, but its code is no decompressor: the
  /// entry only returns EFI_LOAD_ERROR, so firmware cannot boot it.
  /// Handoff, like kexec-tools, unpacks the payload itself and never runs
  /// the stub, which is all the lab shows.
  case zboot
  /// A unified kernel image: systemd's EFI stub with the kernel, the next
  /// stage's initramfs and its command line as sections, put together with
  /// objcopy. The stage before loads it with neither --initrd nor --cmdline.
  case uki
}

/// What the console must show for a scenario to pass.
enum Expectation {
  /// Every stage boots, and the last finishes.
  case handoffs
  /// The purgatory refuses to jump and names this damaged segment.
  case purgatoryRefuses(segment: Int)
}

/// What the stage before the last does between its boot and `handoff exec`.
enum HopScript {
  /// Loads the next kernel with the scenario's options and boots it.
  case standard
  /// Under Secure Boot: an unsigned next kernel is refused and nothing is
  /// loaded; the lab-signed one loads (auto mode falls back to
  /// kexec_file_load); an unsigned and a Debian-signed one are then refused
  /// and leave it loaded; exec boots it.
  case signatureChecks
  /// Loads the next kernel, then writes 1 to kexec_load_disabled: loads
  /// through kexec_load, kexec_file_load and auto are all refused and leave
  /// it loaded; exec boots it.
  case loadDisabled
  /// Loads the next kernel with `handoff load --crash` into the memory the
  /// kernel command line reserved, then panics through sysrq: the crash
  /// kernel boots and finds the panicked kernel's memory as /proc/vmcore.
  case crash
}

/// What the host must find in the last kernel's RAM of what the first wrote
/// and freed before the handoff.
enum Residue {
  /// Pages of it survive, as kexec-tools leaves them: at least this many.
  case survives(atLeastPages: Int)
  /// The purgatory scrubbed it: not one page holds the marker.
  case gone
}

/// A named lab scenario: a chain of kernels in one VM run.
struct Scenario {
  let name: String
  let summary: String
  var architecture = GuestArchitecture.x86_64
  let firmware: Firmware
  let suites: [Suite]
  /// `handoff load --syscall` for every hop.
  var syscall = "kexec_load"
  var memoryMiB = 1024
  var cpus = 1
  var machine = MachineProfile.plain
  /// Stages loaded through the `kexec` spelling instead of `handoff`.
  var kexecDialectStages: [Int] = []
  /// More `handoff load` options for every hop.
  var extraLoadOptions = ""
  /// `handoff exec` options for every hop.
  var execOptions = ""
  var expectation = Expectation.handoffs
  /// Every kernel after the first must find its initrd above 4 GiB.
  var initrdAbove4GiB = false
  /// The first stage fills 256 MiB with a marker and frees it before the
  /// handoff; the host then reads the last kernel's RAM through QEMU's
  /// monitor and counts the pages that still hold it.
  var residue: Residue? = nil
  /// What the first stage runs to load the second and boot it.
  var hop = HopScript.standard
  /// The form every kernel after the first is loaded from.
  var kernelForm = KernelForm.asShipped
  /// Which of Debian's amd64 kernels every stage boots.
  var kernels = KernelFlavour.cloud
  /// Added to every stage's command line.
  var kernelOptions = ""
  /// Each stage but the last writes 1 MiB of fresh random bytes to the
  /// start of the first disk through the page cache, leaving the sync to
  /// `handoff exec`; each after the first must read back what the one
  /// before wrote.
  var carriesData = false

  /// The five handoffs between kernel generations and firmware, through
  /// one system call; kexec_file_load's names start with `file-`.
  static func generations(syscall: String) -> [Scenario] {
    let prefix = syscall == "kexec_file_load" ? "file-" : ""
    let through = "through \(syscall)"
    return [
      Scenario(
        name: prefix + "bios-6.1-to-7.x", summary: "6.1 hands off to 7.x under SeaBIOS, \(through)",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: syscall),
      Scenario(
        name: prefix + "bios-7.x-to-6.1", summary: "7.x hands off to 6.1 under SeaBIOS, \(through)",
        firmware: .seabios, suites: [.sid, .bookworm], syscall: syscall),
      Scenario(
        name: prefix + "efi-6.1-to-7.x",
        summary: "6.1 hands off to 7.x under OVMF, \(through); 7.x still uses EFI variables",
        firmware: .ovmf, suites: [.bookworm, .sid], syscall: syscall),
      Scenario(
        name: prefix + "efi-7.x-to-6.1",
        summary: "7.x hands off to 6.1 under OVMF, \(through); 6.1 still uses EFI variables",
        firmware: .ovmf, suites: [.sid, .bookworm], syscall: syscall),
      Scenario(
        name: prefix + "chain-6.1-6.12-7.x",
        summary: "6.1 to 6.12 to 7.x in one VM run, \(through); the second hop as 'kexec -l'",
        firmware: .seabios, suites: [.bookworm, .trixie, .sid], syscall: syscall,
        kexecDialectStages: [2]),
    ]
  }

  static let all: [Scenario] =
    generations(syscall: "kexec_load") + generations(syscall: "kexec_file_load") + [
      Scenario(
        name: "devices-iommu-2cpu",
        summary: "6.12 to 7.x on q35 with intel-iommu, virtio-net, e1000e, bochs-display, 2 vCPUs",
        firmware: .seabios, suites: [.trixie, .sid], cpus: 2, machine: .devices),
      Scenario(
        name: "devices-quiesce",
        summary: "6.12 to 7.x to 6.12 with 'handoff exec --quiesce': virtio-net behind a "
          + "pcie-root-port is unbound and reset, and binds again in each kernel",
        // One vCPU: with two, a kernel of this chain failed to come up about
        // once in fifteen runs under TCG, once with an oops in an interrupt on
        // the second CPU's idle loop early in boot, before any driver bound.
        // It looks like the race QemuRunner now avoids by running several
        // vCPUs in one TCG thread; devices-iommu-2cpu keeps two vCPUs.
        firmware: .seabios, suites: [.trixie, .sid, .trixie],
        machine: .rootPortNetwork, execOptions: "--quiesce"),
      Scenario(
        name: "devices-chain-8",
        summary: "8 hops through 6.1, 6.12 and 7.x generic kernels with intel_iommu=on, "
          + "virtio-net, virtio-blk, e1000e, NVMe, bochs-display and xHCI, each quiesced before "
          + "the jump, bound again after it, and both disks read back intact",
        firmware: .seabios,
        suites: [.bookworm, .trixie, .sid, .bookworm, .trixie, .sid, .bookworm, .trixie, .sid],
        memoryMiB: 2048, machine: .deviceChain,
        execOptions: "--quiesce=network,display,storage,other", kernels: .generic,
        // no_timer_check: under TCG on a busy host the IO-APIC timer check
        // at boot can miss its ticks, and with interrupt remapping on a
        // kernel then panics ("timer doesn't work through
        // Interrupt-remapped IO-APIC"); it skips the check as it does by
        // itself on KVM
        kernelOptions: "intel_iommu=on no_timer_check"),
      Scenario(
        name: "data-virtio-blk",
        summary: "6.1 to 7.x to 6.12 generic kernels: what each writes to a virtio-blk disk "
          + "just before 'handoff exec', unsynced, the next reads back",
        firmware: .seabios, suites: [.bookworm, .sid, .trixie], machine: .virtioDisk,
        kernels: .generic, carriesData: true),
      Scenario(
        name: "uki-6.1-to-7.x",
        summary: "6.1 loads a unified kernel image of 7.x the lab made with objcopy and "
          + "systemd's stub: its .initrd and .cmdline reach 7.x",
        firmware: .seabios, suites: [.bookworm, .sid], kernelForm: .uki),
      Scenario(
        name: "file-uki-6.1-to-7.x",
        summary: "6.1 loads the same UKI through kexec_file_load: Handoff hands the kernel its "
          + ".linux, .initrd and .cmdline as in-memory files and text",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: "kexec_file_load",
        kernelForm: .uki),
      Scenario(
        name: "elf-6.1-to-7.x",
        summary: "6.1 loads the ELF vmlinux the lab unpacked from 7.x's bzImage: its program "
          + "headers at their physical addresses, the running kernel's setup header",
        firmware: .seabios, suites: [.bookworm, .sid], kernelForm: .elf),
      Scenario(
        name: "highmem-6g", summary: "6.1 to 7.x in a 6 GiB guest; the initrd lands above 4 GiB",
        firmware: .seabios, suites: [.bookworm, .sid], memoryMiB: 6144, initrdAbove4GiB: true),
      Scenario(
        name: "scrub-off",
        summary: "6.1 frees 256 MiB of a marker and hands off to 7.x unscrubbed: 7.x's RAM has it",
        firmware: .seabios, suites: [.bookworm, .sid], residue: .survives(atLeastPages: 1024)),
      Scenario(
        name: "scrub-on",
        summary: "the same with 'handoff load --scrub': not one page of the marker is left",
        firmware: .seabios, suites: [.bookworm, .sid], extraLoadOptions: "--scrub",
        residue: .gone),
      Scenario(
        name: "scrub-efi-7.x-to-6.1",
        summary: "the scrub under OVMF, 7.x to 6.1: the EFI runtime regions survive for 6.1",
        firmware: .ovmf, suites: [.sid, .bookworm], extraLoadOptions: "--scrub", residue: .gone),
      Scenario(
        name: "scrub-highmem-6g",
        summary: "the scrub in a 6 GiB guest: its own page tables reach the RAM above 4 GiB",
        firmware: .seabios, suites: [.bookworm, .sid], memoryMiB: 6144,
        extraLoadOptions: "--scrub", residue: .gone),
      Scenario(
        name: "corrupt-segment",
        summary: "a kernel byte damaged after its digest: the purgatory names it and halts",
        firmware: .seabios, suites: [.bookworm, .sid], extraLoadOptions: "--lab-corrupt-segment 0",
        expectation: .purgatoryRefuses(segment: 0)),
      Scenario(
        name: "secureboot-signed",
        summary: "Secure Boot: 6.1, locked down, refuses unsigned 7.x and loads the lab-signed one",
        firmware: .ovmfSecureBoot, suites: [.bookworm, .sid], syscall: "auto",
        hop: .signatureChecks),
      Scenario(
        name: "arm64-6.1-to-6.12",
        summary: "arm64: 6.1 hands off to 6.12 on QEMU's virt board through kexec_load, with "
          + "Handoff's purgatory checking every segment and handing over the DTB",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie]),
      Scenario(
        name: "arm64-6.12-to-6.1",
        summary: "arm64: 6.12 hands off to 6.1 the same way",
        architecture: .aarch64, firmware: .direct, suites: [.trixie, .bookworm]),
      Scenario(
        name: "arm64-gzip-image",
        summary: "arm64: 6.1 loads 6.12 from an Image.gz the lab compressed; Handoff unpacks it "
          + "with zlib",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        kernelForm: .gzip),
      Scenario(
        name: "arm64-elf-6.1-to-6.12",
        summary: "arm64: 6.1 loads an ELF vmlinux of 6.12 the lab linked around its Image with "
          + "binutils; Handoff lays its segments out as the Image",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie], kernelForm: .elf),
      Scenario(
        name: "arm64-zboot-6.1-to-6.12",
        summary: "arm64: 6.1 loads 6.12 from an EFI zboot image the lab wrote around its "
          + "zstd-compressed Image; Handoff unpacks the payload and never runs the stub",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        kernelForm: .zboot),
      Scenario(
        name: "riscv64-6.12-to-7.x",
        summary: "riscv64: 6.12 hands off to 7.x on QEMU's virt board under OpenSBI through "
          + "kexec_load, with Handoff's purgatory checking every segment",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid]),
      Scenario(
        name: "riscv64-7.x-to-6.12",
        summary: "riscv64: 7.x hands off to 6.12 the same way",
        architecture: .riscv64, firmware: .direct, suites: [.sid, .trixie]),
      Scenario(
        name: "riscv64-elf-6.12-to-7.x",
        summary: "riscv64: 6.12 loads an ELF vmlinux of 7.x the lab linked around its Image "
          + "with binutils; Handoff lays its segments out as the Image",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid], kernelForm: .elf),
      Scenario(
        name: "riscv64-corrupt-segment",
        summary: "riscv64: a kernel byte damaged after its digest: the purgatory names it on the "
          + "16550 and halts",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid],
        extraLoadOptions: "--lab-corrupt-segment 0", expectation: .purgatoryRefuses(segment: 0)),
      Scenario(
        name: "riscv64-scrub-off",
        summary: "riscv64: 6.12 frees 256 MiB of a marker and hands off to 7.x unscrubbed: "
          + "7.x's RAM has it",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid],
        residue: .survives(atLeastPages: 1024)),
      Scenario(
        name: "riscv64-scrub-on",
        summary: "riscv64: the same with 'handoff load --scrub': the purgatory zeroes free RAM "
          + "with translation off, and not one page of the marker is left",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid],
        extraLoadOptions: "--scrub", residue: .gone),
      Scenario(
        name: "arm64-scrub-off",
        summary: "arm64: 6.1 frees 256 MiB of a marker and hands off to 6.12 unscrubbed: "
          + "6.12's RAM has it",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        residue: .survives(atLeastPages: 1024)),
      Scenario(
        name: "arm64-scrub-on",
        summary: "arm64: the same with 'handoff load --scrub': the purgatory cleans the caches "
          + "of free RAM, zeroes it with the MMU off, and not one page of the marker is left",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        extraLoadOptions: "--scrub", residue: .gone),
      Scenario(
        name: "arm64-efi-6.12-to-6.1",
        summary: "arm64 under EDK2 with ACPI: 6.12 hands off to 6.1 with the EFI stub's DTB "
          + "edited; 6.1 finds the EFI runtime services and lists EFI variables",
        architecture: .aarch64, firmware: .aavmf, suites: [.trixie, .bookworm]),
      Scenario(
        name: "arm64-efi-scrub-on",
        summary: "arm64 under EDK2: 6.1 frees 256 MiB of a marker and hands off to 6.12 with "
          + "--scrub: what the kernel still reserves survives, EFI variables too, the marker not",
        architecture: .aarch64, firmware: .aavmf, suites: [.bookworm, .trixie],
        extraLoadOptions: "--scrub", residue: .gone),
      Scenario(
        name: "arm64-uki-6.1-to-6.12",
        summary: "arm64: 6.1 loads a unified kernel image of 6.12 the lab made with objcopy and "
          + "systemd's arm64 stub: its .initrd and .cmdline reach 6.12",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        kernelForm: .uki),
      Scenario(
        name: "arm64-corrupt-segment",
        summary: "arm64: a kernel byte damaged after its digest: the purgatory names it on the "
          + "PL011 and halts",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        extraLoadOptions: "--lab-corrupt-segment 0", expectation: .purgatoryRefuses(segment: 0)),
      Scenario(
        name: "crash-6.1-to-7.x",
        summary: "6.1 reserves crashkernel=384M, loads 7.x there with 'handoff load --crash' "
          + "through kexec_load with Handoff's own ELF core header and e820 table, and panics: "
          + "7.x boots as its crash kernel and reads /proc/vmcore",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: "auto",
        hop: .crash, kernelOptions: "crashkernel=384M"),
      Scenario(
        name: "crash-efi-6.1-to-7.x",
        summary: "the same under OVMF: the crash kernel gets the EFI state with its e820 table",
        firmware: .ovmf, suites: [.bookworm, .sid], syscall: "auto",
        hop: .crash, kernelOptions: "crashkernel=384M"),
      Scenario(
        name: "crash-high-6g",
        summary: "a 6 GiB guest reserves crashkernel=384M,high: every segment of 7.x, the "
          + "purgatory's and boot_params too, goes above 4 GiB; 7.x reads /proc/vmcore",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: "auto", memoryMiB: 6144,
        initrdAbove4GiB: true, hop: .crash, kernelOptions: "crashkernel=384M,high"),
      Scenario(
        name: "file-crash-6.1-to-7.x",
        summary: "the same through kexec_file_load: the running kernel writes the core header",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: "kexec_file_load",
        hop: .crash, kernelOptions: "crashkernel=384M"),
      Scenario(
        name: "arm64-crash-6.1-to-6.12",
        summary: "arm64: 6.1 reserves crashkernel=384M and loads 6.12 there through kexec_load "
          + "with Handoff's own ELF core header, then panics: 6.12 reads /proc/vmcore",
        architecture: .aarch64, firmware: .direct, suites: [.bookworm, .trixie],
        syscall: "auto", hop: .crash, kernelOptions: "crashkernel=384M"),
      Scenario(
        name: "arm64-crash-high-6g",
        summary: "arm64: 6.12 in a 6 GiB guest reserves crashkernel=384M,high, a main region "
          + "above 4 GiB and a low one below, and loads 6.1 in the main one: 6.1 reads "
          + "/proc/vmcore",
        architecture: .aarch64, firmware: .direct, suites: [.trixie, .bookworm],
        syscall: "auto", memoryMiB: 6144, hop: .crash, kernelOptions: "crashkernel=384M,high"),
      Scenario(
        name: "riscv64-crash-6.12-to-7.x",
        summary: "riscv64: 6.12 reserves crashkernel=384M and loads 7.x there through "
          + "kexec_load with Handoff's own ELF core header, then panics: 7.x reads /proc/vmcore",
        architecture: .riscv64, firmware: .direct, suites: [.trixie, .sid],
        syscall: "auto", hop: .crash, kernelOptions: "crashkernel=384M"),
      Scenario(
        name: "kexec-load-disabled",
        summary: "6.1 loads 7.x, then sets kexec_load_disabled: every load is refused, exec works",
        firmware: .seabios, suites: [.bookworm, .sid], syscall: "auto", hop: .loadDisabled),
    ]
}

/// A scenario made concrete: the kernels found, and a marker per stage that
/// only that stage's initramfs carries.
struct ChainPlan {
  let scenario: Scenario
  let stages: [Stage]
  let token: String

  init(_ scenario: Scenario, paths: LabPaths) throws {
    self.scenario = scenario
    // under Secure Boot every kernel that boots carries the lab's signature
    let signing: Signing = scenario.firmware == .ovmfSecureBoot ? .lab : .debian
    var stages: [Stage] = []
    for (index, suite) in scenario.suites.enumerated() {
      let dialect: LoaderDialect =
        scenario.kexecDialectStages.contains(index) ? .kexecTools : .handoff
      let kernel = try LabKernel.find(
        suite, in: paths, architecture: scenario.architecture, flavour: scenario.kernels,
        signing: signing)
      stages.append(Stage(kernel: kernel, dialect: dialect))
    }
    self.stages = stages
    self.token = String(UInt32.random(in: 0...UInt32.max), radix: 16)
  }

  /// The options the stage before passes when it loads stage `stage`.
  func loadOptions(stage: Int) -> String {
    if stages[stage].dialect == .kexecTools {
      return scenario.syscall == "kexec_file_load" ? "-s" : "-c"
    }
    return "--syscall \(scenario.syscall) \(scenario.extraLoadOptions)"
  }

  func marker(stage: Int) -> String {
    "stage-\(stage)-\(token)"
  }

  /// The 16 bytes the first stage repeats over 256 MiB and frees, in a
  /// residue scenario: this run's token, so no earlier run's bytes count.
  var residueMarker: String {
    let digits = String(repeating: "0", count: max(0, 8 - token.count)) + token
    return "SCRUB:" + digits + "!\n"
  }

  /// The command line of stage `stage`; the first comes from QEMU, the rest
  /// from `handoff load --cmdline`.
  func commandLine(stage: Int) -> String {
    let options = scenario.kernelOptions.isEmpty ? "" : scenario.kernelOptions + " "
    return "console=\(scenario.architecture.console) panic=-1 \(options)"
      + "handoff.scenario=\(scenario.name) handoff.stage=\(stage)"
  }
}
