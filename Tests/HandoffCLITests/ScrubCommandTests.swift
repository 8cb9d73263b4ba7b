import HandoffCore
import HandoffTestSupport
import Testing

/// `--scrub` on `handoff plan` and `handoff load`.
@Suite("handoff plan --scrub and load --scrub")
struct ScrubCommandTests {
  /// The usual machine, with the 1 GiB SeaBIOS guest's /sys/firmware/memmap.
  static func guest() -> RecordingSystem {
    let system = machine()
    let memmap: [(String, String, String)] = [
      ("0x0", "0x9fbff", "System RAM"), ("0x100000", "0x3ffdffff", "System RAM"),
      ("0x3ffe0000", "0x3fffffff", "Reserved"),
    ]
    for (index, entry) in memmap.enumerated() {
      system.setText("/sys/firmware/memmap/\(index)/start", entry.0 + "\n")
      system.setText("/sys/firmware/memmap/\(index)/end", entry.1 + "\n")
      system.setText("/sys/firmware/memmap/\(index)/type", entry.2 + "\n")
    }
    return system
  }

  @Test("plan --scrub prints every range with its size, and the total")
  func planText() throws {
    let system = Self.guest()
    let run = CommandRun.handoff("plan", "/boot/vmlinuz", "--scrub", on: system)
    #expect(run.status == 0)
    let lines = run.output.split(separator: "\n").map(String.init)
    let summary = try #require(lines.firstIndex { $0.hasPrefix("  scrub ") })
    // RAM above 1 MiB less the handmade kernel's 128 KiB at 0x1000000, and
    // boot_params (8 KiB) and the purgatory (36 KiB) at the top
    #expect(
      lines[summary]
        == "  scrub         1072386048 bytes in 2 ranges; identity map [0x0, 0x40000000), "
        + "16384 bytes of page tables")
    #expect(lines[summary + 1] == "    [0x100000, 0x1000000)       15728640 bytes")
    #expect(lines[summary + 2] == "    [0x1020000, 0x3ffd5000)     1056657408 bytes")
    #expect(system.kexecCalls.isEmpty)
  }

  @Test("plan --scrub --json carries the scrub object; without --scrub it is null")
  func planJSON() {
    let system = Self.guest()
    let scrubbed = CommandRun.handoff("plan", "/boot/vmlinuz", "--scrub", "--json", on: system)
    #expect(scrubbed.status == 0)
    #expect(scrubbed.output.contains("\"scrub\": {\"bytes\": "))
    #expect(scrubbed.output.contains("\"identity_map_end\": 1073741824"))
    #expect(scrubbed.output.contains("{\"start\": 1048576, \"end\": 16777216, \"size\": 15728640}"))
    let plain = CommandRun.handoff("plan", "/boot/vmlinuz", "--json", on: Self.guest())
    #expect(plain.output.contains("\"scrub\": null"))
  }

  @Test("load --scrub with --syscall kexec_file_load is a usage error")
  func loadUsage() {
    let system = Self.guest()
    let run = CommandRun.handoff(
      "load", "/boot/vmlinuz", "--scrub", "--syscall", "kexec_file_load", on: system)
    #expect(run.status == 64)
    #expect(
      run.error.hasPrefix(
        "Error: '--scrub' and '--syscall kexec_file_load' cannot be used together: only "
          + "Handoff's own purgatory, which kexec_load runs, scrubs RAM\n"))
    #expect(system.kexecCalls.isEmpty)
  }

  @Test("load --scrub loads through kexec_load with the scrub and announce flags set")
  func loadScrub() throws {
    let system = Self.guest()
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--scrub", on: system)
    #expect(run.status == 0)
    let purgatory = try #require(system.loads.first?.last)
    let flags = PurgatoryBlobX86_64.parametersOffset + 0x28
    #expect(purgatory.bytes[flags] == 0b111)
  }
}
