import Foundation
import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// `handoff plan` and `handoff load` of Debian's arm64 kernel, planned on
/// this machine for a virt board's memory map and DTB.
@Suite("arm64 plans")
struct PlanArm64Tests {
  static let kernel = LabKernel.arm64[1]

  /// QEMU virt's /proc/iomem with 1 GiB, as an arm64 guest of the lab shows it.
  static let iomem = """
    09000000-09000fff : pl011@9000000
      09000000-09000fff : 9000000.pl011 pl011@9000000
    40000000-7fffffff : System RAM
      40210000-4158ffff : Kernel code
      41590000-41a0ffff : reserved
      41a10000-41caffff : Kernel data
      48000000-481c3fff : reserved
      7ac00000-7fbfffff : reserved
    """

  static func system() throws -> RecordingSystem {
    let system = machine()
    system.files["/boot/Image"] = .file(try kernel.image())
    system.files["/root/virt.dtb"] = .file(DeviceTreeFixture.virt())
    system.setText("/root/virt-iomem.txt", iomem)
    return system
  }

  @Test(
    "plan places the Image low, the initrd, DTB and purgatory high, and lists the DTB edits",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func text() throws {
    let system = try Self.system()
    let run = CommandRun.handoff(
      "plan", "/boot/Image", "--initrd", "/boot/initrd.img", "--cmdline", "console=ttyAMA0",
      "--memmap", "/root/virt-iomem.txt", "--dtb", "/root/virt.dtb", on: system)
    #expect(run.status == 0, "\(run.error)")
    let lines = run.output.split(separator: "\n").map(String.init)
    let roles = lines.filter { $0.hasPrefix("  ") && $0.contains(" bytes, memsz ") }
      .map { $0.split(separator: " ")[1] }
    #expect(roles == ["kernel", "dtb", "initrd", "purgatory"])
    #expect(lines.contains { $0.hasPrefix("  0  kernel      [0x41c00000, ") })
    #expect(lines.contains("  kernel entry  0x41c00000"))
    #expect(lines.contains { $0.hasPrefix("  dtb           0x7ff") })
    #expect(lines.contains("  serial        0x9000000"))
    #expect(lines.contains("dtb edits:"))
    #expect(lines.contains("  set /chosen bootargs \"console=ttyAMA0\""))
    #expect(lines.contains("  delete /chosen linux,elfcorehdr"))
    #expect(system.kexecCalls.isEmpty)
  }

  @Test(
    "plan of an ELF vmlinux around the Image places the same kernel bytes at the same address",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func elf() throws {
    let system = try Self.system()
    let image = try Self.kernel.image()
    let imageSize = try Arm64Image(path: Self.kernel.imagePath, bytes: image).imageSize
    let vmlinux = HandmadeELF.vmlinux(
      of: image, machine: 183, parts: [0..<image.count], linkAddress: 0xffff_8000_8000_0000,
      memoryEnd: imageSize)
    system.files["/boot/vmlinux"] = .file(vmlinux.bytes)

    // the kernel's segment, its entry and its digest
    func kernelLines(_ path: String) -> [String] {
      let run = CommandRun.handoff(
        "plan", path, "--memmap", "/root/virt-iomem.txt", "--dtb", "/root/virt.dtb", on: system)
      return run.output.split(separator: "\n").map(String.init).filter { line in
        line.hasPrefix("  0  kernel") || line.hasPrefix("  kernel entry")
          || line.contains("[0x41c00000, ")
      }
    }
    let fromImage = kernelLines("/boot/Image")
    #expect(fromImage.count == 3)
    #expect(kernelLines("/boot/vmlinux") == fromImage)
    #expect(system.kexecCalls.isEmpty)
  }

  @Test(
    "plan without --dtb on a machine with no /sys/firmware/fdt says to give one",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func noDeviceTree() throws {
    let system = try Self.system()
    let run = CommandRun.handoff(
      "plan", "/boot/Image", "--memmap", "/root/virt-iomem.txt", on: system)
    #expect(run.status == 1)
    let lines = run.error.split(separator: "\n").map(String.init)
    #expect(lines.first?.hasPrefix("Error: /sys/firmware/fdt: cannot read: ") == true)
    #expect(lines.last?.hasSuffix("give one with --dtb FILE") == true)
  }

  @Test(
    "load refuses an arm64 kernel on this x86_64 machine and calls nothing",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func loadRefused() throws {
    let system = try Self.system()
    let run = CommandRun.handoff(
      "load", "/boot/Image", "--syscall", "kexec_load", "--dtb", "/root/virt.dtb", on: system)
    #expect(run.status == 1)
    #expect(
      run.error.contains(
        "/boot/Image: cannot be booted: it is a kernel for arm64, and this machine runs x86_64"))
    #expect(system.kexecCalls.isEmpty)
  }

  /// The same board booted with crashkernel=256M, and what its kernel
  /// exports for a dump: two CPUs' notes, vmcoreinfo and /proc/kcore.
  static func crashSystem() throws -> RecordingSystem {
    let system = try system()
    system.setText(
      "/root/virt-iomem.txt",
      iomem.replacingOccurrences(
        of: "  48000000-481c3fff : reserved",
        with: "  48000000-481c3fff : reserved\n  60000000-6fffffff : Crash kernel"))
    system.setText("/sys/devices/system/cpu/possible", "0-1\n")
    for cpu in 0...1 {
      system.setText("/sys/devices/system/cpu/cpu\(cpu)/crash_notes", "7fe\(cpu)1000\n")
      system.setText("/sys/devices/system/cpu/cpu\(cpu)/crash_notes_size", "424\n")
    }
    system.setText("/sys/kernel/vmcoreinfo", "0x000000004a000000 1000\n")
    system.files["/proc/kcore"] = .file(arm64Kcore)
    return system
  }

  @Test(
    "plan --crash puts every segment in the Crash kernel region and points the DTB at the core header",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func crash() throws {
    let system = try Self.crashSystem()
    let run = CommandRun.handoff(
      "plan", "/boot/Image", "--crash", "--initrd", "/boot/initrd.img", "--cmdline",
      "console=ttyAMA0 maxcpus=1", "--memmap", "/root/virt-iomem.txt", "--dtb",
      "/root/virt.dtb", "--json", on: system)
    #expect(run.status == 0, "\(run.error)")
    let plan = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let segments = try #require(plan["segments"] as? [[String: Any]])
    #expect(
      segments.compactMap { $0["role"] as? String }
        == ["kernel", "dtb", "initrd", "elfcorehdr", "purgatory"])
    for segment in segments {
      let start = try #require(segment["start"] as? UInt64)
      let end = try #require(segment["end"] as? UInt64)
      #expect(start >= 0x6000_0000 && end <= 0x7000_0000)
    }
    let edits = try #require(plan["dtb_edits"] as? [String])
    #expect(edits.contains { $0.hasPrefix("set /chosen linux,elfcorehdr [0x6") })
    #expect(edits.contains("set /chosen linux,usable-memory-range [0x60000000, 0x70000000)"))
    #expect(system.kexecCalls.isEmpty)
  }

  @Test(
    "plan --crash without a Crash kernel region says to reserve one",
    .enabled(if: kernel.isPresent, "no arm64 kernel in the lab cache; run 'make setup'"))
  func crashWithoutRegion() throws {
    let system = try Self.crashSystem()
    system.setText("/root/virt-iomem.txt", Self.iomem)
    let run = CommandRun.handoff(
      "plan", "/boot/Image", "--crash", "--memmap", "/root/virt-iomem.txt", "--dtb",
      "/root/virt.dtb", on: system)
    #expect(run.status == 1)
    #expect(run.error.contains("crashkernel="), "\(run.error)")
  }
}
