import Foundation
import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// A machine whose kexec_load path works: the usual files plus the 6 GiB
/// guest's /sys/firmware/memmap, and another machine's map as a file.
func machineWithMemoryMap(kexecLoaded: String? = "0\n") -> RecordingSystem {
  let system = machine(kexecLoaded: kexecLoaded)
  system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
  system.setText("/root/q35-iomem.txt", MachineFixtures.q35Iomem)
  system.setText("/root/6g-memmap.txt", MachineFixtures.sixGiBMemmap)
  return system
}

/// `handoff plan`: where each segment would go, as text and as JSON, and
/// that planning never loads anything.
@Suite("handoff plan")
struct PlanCommandTests {
  static let planHelp = """
    OVERVIEW: Show where kexec_load would place each segment, without loading.

    USAGE: handoff plan <kernel> [--initrd <file> ...] [--cmdline <text> | --append
             <text> | --reuse-cmdline] [--memmap <file>] [--scrub | --crash]
             [--json]

    ARGUMENTS:
      <kernel>                The kernel image to plan for, in any form 'load'
                              takes.

    OPTIONS:
      --initrd <file>         An initramfs for the new kernel. Give it more than
                              once to concatenate several in order, such as a
                              microcode archive and then the main initramfs.
      --cmdline <text>        The new kernel's command line, exactly.
      --append <text>         Text added to the running kernel's command line.
      --reuse-cmdline         Give the new kernel the running kernel's command line.
      --dtb <file>            arm64 and riscv64: the device tree the new kernel's
                              starts from, instead of the running kernel's
                              /sys/firmware/fdt.
      --no-verify             Do not check the segments' digests in the purgatory
                              before the jump.
      --crash                 Plan a crash kernel: its segments in the memory
                              crashkernel= reserved, and the ELF core header its DTB
                              (arm64, riscv64) or command line (x86_64) points at.
      --scrub                 Plan a scrub too: list the RAM the purgatory would
                              zero before the jump.
      --memmap <file>         Plan for another machine: a copy of its /proc/iomem,
                              or of its /sys/firmware/memmap as 'START END TYPE'
                              lines.
      --json                  Print one JSON object instead of text.
      --debug                 Print what is being done, step by step, to standard
                              error.
      -h, --help              Show help information.

    """

  @Test("handoff plan --help prints the plan help")
  func help() {
    let run = CommandRun.handoff("plan", "--help")
    #expect(run.status == 0)
    #expect(run.output == Self.planHelp)
    #expect(CommandRun.handoff("help", "plan").output == Self.planHelp)
  }

  @Test("plan --memmap prints each segment, what the purgatory is told, and the free RAM")
  func text() throws {
    let system = machineWithMemoryMap()
    let run = CommandRun.handoff(
      "plan", "/boot/vmlinuz", "--initrd", "/boot/initrd.img", "--cmdline", "console=ttyS0",
      "--memmap", "/root/6g-memmap.txt", on: system)
    #expect(run.status == 0)
    #expect(run.error == "")
    #expect(run.output.hasSuffix("\n"))
    let lines = run.output.split(separator: "\n").map(String.init)
    try #require(lines.count >= 15, "\(run.output)")

    // below 4 GiB, from the top of low RAM (0x7ffdc000): the purgatory,
    // then boot_params (a page, the command line and the RNG seed: 4160
    // bytes, two pages); the initrd at the top of RAM above 4 GiB
    let purgatorySize = (UInt64(PurgatoryBlobX86_64.memorySize) + 0xfff) & ~0xfff
    let purgatory = 0x7ffd_c000 - purgatorySize
    let bootParams = purgatory - 0x2000
    let kernelDigest = hex(xxh64(Array(HandmadeBzImage().bytes[1024...])))
    let initrdDigest = hex(xxh64(Array("initramfs".utf8)))
    let purgatoryRange = "[\(hex(purgatory)), 0x7ffdc000)"
    let bootParamsRange = "[\(hex(bootParams)), \(hex(purgatory)))"
    #expect(
      Array(lines[0..<11]) == [
        "entry:        \(hex(purgatory)) (purgatory)",
        "segments:",
        "  0  kernel      [0x1000000, 0x1020000)      4096 bytes, memsz 131072",
        "  1  boot_params \(bootParamsRange)    4160 bytes, memsz 8192",
        "  2  initrd      [0x1fffff000, 0x200000000)  9 bytes, memsz 4096",
        "  3  purgatory   \(purgatoryRange)    \(PurgatoryBlobX86_64.bytes.count) bytes, "
          + "memsz \(purgatorySize)",
        "purgatory:",
        "  kernel entry  0x1000200",
        "  boot_params   \(hex(bootParams))",
        "  verify        xxh64 of 3 segments",
        "    [0x1000000, 0x1001000)  \(kernelDigest)",
      ])
    #expect(lines[11].hasPrefix("    [\(hex(bootParams)), \(hex(bootParams + 4160)))  0x"))
    #expect(lines[12] == "    [0x1fffff000, 0x1fffff009)  \(initrdDigest)")
    #expect(lines.dropLast().last == "  serial        0x3f8")
    #expect(
      lines.last
        == "free RAM:     [0x100000, 0x1000000), [0x1020000, \(hex(bootParams))), "
        + "[0x100000000, 0x1fffff000)")
    #expect(system.kexecCalls == [])
  }

  @Test("plan --json prints one object with the entry, the segments and the purgatory")
  func json() throws {
    let system = machineWithMemoryMap()
    let run = CommandRun.handoff(
      "plan", "/boot/vmlinuz", "--initrd", "/boot/initrd.img", "--memmap",
      "/root/q35-iomem.txt", "--json", on: system)
    #expect(run.status == 0)
    #expect(run.output.hasSuffix("}\n"))
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let entry = try #require(object["entry"] as? UInt64)
    let segments = try #require(object["segments"] as? [[String: Any]])
    let purgatory = try #require(object["purgatory"] as? [String: Any])

    #expect(
      segments.map { $0["role"] as? String } == ["kernel", "boot_params", "initrd", "purgatory"])
    for segment in segments {
      let start = try #require(segment["start"] as? UInt64)
      let end = try #require(segment["end"] as? UInt64)
      let memsz = try #require(segment["memsz"] as? UInt64)
      let bytes = try #require(segment["bytes"] as? UInt64)
      #expect(end - start == memsz)
      #expect(bytes <= memsz)
      #expect(start % 4096 == 0)
      // inside the q35 guest's RAM, clear of its crash kernel
      #expect(start >= 0x10_0000 && end <= 0x3ffd_d000)
      #expect(end <= 0x3300_0000 || start >= 0x3b00_0000)
    }
    #expect(entry == segments[3]["start"] as? UInt64)
    #expect(segments[2]["bytes"] as? Int == 9)

    let kernelStart = try #require(segments[0]["start"] as? UInt64)
    #expect(purgatory["kernel_entry"] as? UInt64 == kernelStart + 0x200)
    #expect(purgatory["boot_params"] as? UInt64 == segments[1]["start"] as? UInt64)
    #expect(purgatory["serial"] as? Int == 0x3f8)
    #expect(purgatory["verify"] as? Bool == true)
    #expect(purgatory["digest"] as? String == "xxh64")
    let regions = try #require(purgatory["regions"] as? [[String: Any]])
    #expect(regions.count == 3)
    #expect(regions[2]["digest"] as? String == hex(xxh64(Array("initramfs".utf8))))
    #expect(regions[2]["size"] as? Int == 9)
    #expect(
      regions.map { $0["start"] as? UInt64 } == segments[0..<3].map { $0["start"] as? UInt64 })
    #expect(system.kexecCalls == [])
  }

  @Test("plan --crash puts an x86_64 crash kernel and its core header in the Crash kernel region")
  func crash() throws {
    let system = machineWithMemoryMap()
    system.setText("/sys/devices/system/cpu/possible", "0\n")
    system.setText("/sys/devices/system/cpu/cpu0/crash_notes", "3fc17000\n")
    system.setText("/sys/devices/system/cpu/cpu0/crash_notes_size", "424\n")
    let run = CommandRun.handoff(
      "plan", "/boot/vmlinuz", "--crash", "--initrd", "/boot/initrd.img", "--cmdline",
      "console=ttyS0 nr_cpus=1", "--memmap", "/root/q35-iomem.txt", "--json", on: system)
    #expect(run.status == 0, "\(run.error)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let segments = try #require(object["segments"] as? [[String: Any]])
    #expect(
      segments.map { $0["role"] as? String }
        == ["kernel", "boot_params", "initrd", "elfcorehdr", "purgatory"])
    for segment in segments {
      let start = try #require(segment["start"] as? UInt64)
      let end = try #require(segment["end"] as? UInt64)
      #expect(start >= 0x3300_0000 && end <= 0x3b00_0000)
    }
    #expect(system.kexecCalls == [])
  }

  @Test("plan without --memmap plans for this machine's /sys/firmware/memmap")
  func thisMachine() throws {
    let system = machineWithMemoryMap()
    let run = CommandRun.handoff(
      "plan", "/boot/vmlinuz", "--initrd", "/boot/initrd.img", "--json", on: system)
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let segments = try #require(object["segments"] as? [[String: Any]])
    #expect(segments[2]["end"] as? UInt64 == 0x2_0000_0000)
    #expect(system.calls.contains { $0.hasPrefix("open(\"/sys/firmware/memmap/0/start\"") })
  }

  @Test("plan --no-verify says the purgatory checks nothing", arguments: [false, true])
  func noVerify(json: Bool) throws {
    let system = machineWithMemoryMap()
    let run = CommandRun(
      ["handoff", "plan", "/boot/vmlinuz", "--no-verify"] + (json ? ["--json"] : []), on: system)
    #expect(run.status == 0)
    if json {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
      #expect((object["purgatory"] as? [String: Any])?["verify"] as? Bool == false)
    } else {
      #expect(run.output.contains("\n  verify        off\n"))
    }
  }

  @Test(
    "plan reports a memory map it cannot use, and exits 1",
    arguments: [
      (
        "/root/none.txt",
        "Error: /root/none.txt: cannot read: open(\"/root/none.txt\", O_RDONLY) = ENOENT\n"
      ),
      (
        "/root/bad.txt",
        "Error: /root/bad.txt: not a memory map Handoff can read: "
          + "line 2: expected 'START END TYPE'\n"
      ),
      (
        "/root/small.txt",
        "Error: no room for the kernel segment (131072 bytes, init_size 0x20000 of "
          + "/boot/vmlinuz, aligned to 0x200000, within [0x1000000, 0x1000000)); "
          + "free RAM: [0x100000, 0x1000000)\n"
      ),
    ])
  func badMemoryMap(path: String, error: String) {
    let system = machineWithMemoryMap()
    system.setText("/root/bad.txt", "0x0 0x9fbff System RAM\n0x100000 0x7ffdbfff\n")
    system.setText("/root/small.txt", "0x100000 0xffffff System RAM\n")
    let run = CommandRun.handoff("plan", "/boot/vmlinuz", "--memmap", path, on: system)
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(run.error == error)
    #expect(system.kexecCalls == [])
  }

  @Test("plan with no kernel is a usage error")
  func missingKernel() {
    let run = CommandRun.handoff("plan", "--json", on: machineWithMemoryMap())
    #expect(run.status == 64)
    #expect(
      run.error.hasPrefix("Error: Missing expected argument '<kernel>'\nUsage: handoff plan "))
  }
}
