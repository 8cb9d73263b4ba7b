import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// What a scrub needs from the running machine, and that no path loads a
/// kernel without the scrub that was asked for.
@Suite("Loading with a scrub")
struct ScrubLoadTests {
  static let kernel = "/boot/vmlinuz"

  /// A 1 GiB SeaBIOS guest with a crash kernel: /sys/firmware/memmap,
  /// /proc/iomem, a kernel and an initrd.
  static func machine(lockdown: String = "[none] integrity confidentiality\n") -> RecordingSystem {
    let system = RecordingSystem(files: [
      kernel: .file(HandmadeBzImage().bytes),
      "/boot/initrd.img": .file(Array(repeating: 0x5a, count: 0x2_1000)),
    ])
    system.setText("/proc/cmdline", "root=/dev/vda1\n")
    system.setText("/sys/kernel/security/lockdown", lockdown)
    system.setText("/proc/sys/kernel/kexec_load_disabled", "0\n")
    let memmap: [(String, String, String)] = [
      ("0x0", "0x9fbff", "System RAM"), ("0x9fc00", "0x9ffff", "Reserved"),
      ("0xf0000", "0xfffff", "Reserved"), ("0x100000", "0x3ffdffff", "System RAM"),
      ("0x3ffe0000", "0x3fffffff", "Reserved"),
    ]
    for (index, entry) in memmap.enumerated() {
      system.setText("/sys/firmware/memmap/\(index)/start", entry.0 + "\n")
      system.setText("/sys/firmware/memmap/\(index)/end", entry.1 + "\n")
      system.setText("/sys/firmware/memmap/\(index)/type", entry.2 + "\n")
    }
    system.setText(
      "/proc/iomem",
      """
      00000000-00000fff : Reserved
      00001000-0009fbff : System RAM
      00100000-3ffdffff : System RAM
        33000000-3affffff : Crash kernel
      3ffe0000-3fffffff : Reserved

      """)
    return system
  }

  static let request = LoadRequest(
    kernelPath: kernel, initrdPaths: ["/boot/initrd.img"], commandLine: .replace("quiet"))

  @Test("The firmware's map comes with /proc/iomem's RAM and crash kernel; a file comes alone")
  func kernelRAM() throws {
    let system = Self.machine()
    let map = try MachineReader(system: system).memoryMap()
    #expect(
      map.kernelRAM == [
        MemoryRange(start: 0x1000, end: 0x9_fc00, kind: .ram),
        MemoryRange(start: 0x10_0000, end: 0x3ffe_0000, kind: .ram),
      ])
    #expect(map.excluded == [MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .reserved)])

    system.setText("/root/memmap.txt", "0x100000 0x3ffdffff System RAM\n")
    #expect(try MachineReader(system: system).memoryMap(file: "/root/memmap.txt").kernelRAM == nil)
  }

  @Test("A scrub load makes one kexec_load whose purgatory names the scrub ranges")
  func scrubLoad() throws {
    let system = Self.machine()
    var lines: [String] = []
    let outcome = try Loader(system: system, debug: { lines.append($0) }).load(
      Self.request, syscall: .auto, options: PlanOptions(announce: true, scrub: true))
    #expect(outcome.syscall == .kexecLoad)
    let purgatory = try #require(system.loads.first?.last)
    let block = PurgatoryBlobX86_64.parametersOffset
    let word = { (offset: Int) in
      (0..<8).reduce(UInt64(0)) { $0 | UInt64(purgatory.bytes[block + offset + $1]) << (8 * $1) }
    }
    #expect(word(0x28) == 0b111)
    #expect(word(0x248) >= 2)
    #expect(lines.contains { $0.hasPrefix("scrub: ") && $0.contains(" ranges, identity map") })
    #expect(lines.contains("scrub: [0x100000, 0x1000000)"))
  }

  @Test("A scrub through kexec_file_load is refused before any kexec call")
  func fileLoadRefused() {
    let system = Self.machine()
    #expect(
      throws: HandoffError.scrubUnavailable(
        reason: "kexec_file_load runs the running kernel's purgatory, which does not scrub; "
          + "only kexec_load runs Handoff's")
    ) {
      try Loader(system: system).load(
        Self.request, syscall: .kexecFileLoad, options: PlanOptions(scrub: true))
    }
    #expect(system.kexecCalls.isEmpty)
  }

  @Test("Under lockdown, auto mode does not fall back to kexec_file_load and drop the scrub")
  func noSilentFallback() {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    #expect(
      throws: HandoffError.scrubUnavailable(
        reason: "kexec_load is refused under lockdown (integrity), and kexec_file_load runs the "
          + "running kernel's purgatory, which does not scrub; nothing was loaded")
    ) {
      try Loader(system: system).load(
        Self.request, syscall: .auto, options: PlanOptions(scrub: true))
    }
    #expect(system.fileLoads.isEmpty)

    // without a scrub the same machine falls back as before
    let plain = Self.machine(lockdown: "none [integrity] confidentiality\n")
    plain.fail("kexec_load", with: Errno.EPERM)
    #expect(
      (try? Loader(system: plain).load(Self.request, syscall: .auto, options: PlanOptions()))?
        .syscall == .kexecFileLoad)
  }
}
