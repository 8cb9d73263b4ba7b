import HandoffCore
import HandoffTestSupport
import Testing

/// The memory map readers against the text real machines print: a q35
/// guest's /proc/iomem, a 6 GiB guest's /sys/firmware/memmap, and broken
/// copies of both.
@Suite("Reading memory maps")
struct MemoryMapTests {
  @Test("/proc/iomem gives its top-level memory ranges, in order, without device windows")
  func iomemTopLevel() throws {
    let map = try MemoryMapParser.parseIomem(MachineFixtures.q35Iomem, source: "/proc/iomem")
    #expect(map.ranges.count == 9)
    #expect(map.ranges.first == MemoryRange(start: 0, end: 0x1000, kind: .reserved))
    #expect(
      map.ranges.last == MemoryRange(start: 0xfffc_0000, end: 0x1_0000_0000, kind: .reserved))
    for range in map.ranges {
      if case .other(let name) = range.kind { Issue.record("device window \(name) kept") }
    }
    #expect(map.ranges.contains(MemoryRange(start: 0x3ffd_d000, end: 0x4000_0000, kind: .reserved)))
    for (earlier, later) in zip(map.ranges, map.ranges.dropFirst()) {
      #expect(earlier.end <= later.start, "\(earlier.rangeText) runs into \(later.rangeText)")
    }
  }

  @Test("/proc/iomem's RAM is the two System RAM lines, nested lines left out")
  func iomemRAM() throws {
    let map = try MemoryMapParser.parseIomem(MachineFixtures.q35Iomem, source: "/proc/iomem")
    #expect(
      map.ram == [
        MemoryRange(start: 0x1000, end: 0x9_fc00, kind: .ram),
        MemoryRange(start: 0x10_0000, end: 0x3ffd_d000, kind: .ram),
      ])
    #expect(map.ramSize == 0x9_ec00 + 0x3fed_d000)
    #expect(!map.ranges.contains { $0.kind == .other("Kernel code") })
    #expect(!map.ranges.contains { $0.kind == .other("System ROM") })
  }

  @Test("A Crash kernel line nested in RAM becomes the map's one exclusion")
  func crashKernelExcluded() throws {
    let map = try MemoryMapParser.parseIomem(MachineFixtures.q35Iomem, source: "/proc/iomem")
    #expect(map.excluded == [MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .reserved)])
    #expect(!map.ranges.contains { $0.start == 0x3300_0000 })
  }

  @Test("Reservations nested in RAM are excluded; those nested in other windows are not")
  func nestedReservations() throws {
    let text = """
      40000000-7fffffff : System RAM
        40210000-4165ffff : Kernel code
        41660000-41b2ffff : reserved
      b0000000-bfffffff : PCI ECAM
        b0000000-bfffffff : Reserved
      """
    let map = try MemoryMapParser.parseIomem(text, source: "/proc/iomem")
    #expect(map.excluded == [MemoryRange(start: 0x4166_0000, end: 0x41b3_0000, kind: .reserved)])
  }

  @Test("Without a Crash kernel line nothing is excluded")
  func noCrashKernel() throws {
    let text = """
      00001000-0009fbff : System RAM
      00100000-3ffdcfff : System RAM
        0e000000-0e8fffff : Kernel code
      """
    let map = try MemoryMapParser.parseIomem(text, source: "/proc/iomem")
    #expect(map.excluded == [])
    #expect(map.ram.count == 2)
  }

  @Test("/proc/iomem read without CAP_SYS_ADMIN is refused, saying to read it as root")
  func unprivilegedIomem() {
    #expect(
      throws: HandoffError.unsupportedMemoryMap(
        source: "/proc/iomem", reason: "all ranges read as zero; it must be read as root")
    ) {
      try MemoryMapParser.parseIomem(MachineFixtures.unprivilegedIomem, source: "/proc/iomem")
    }
  }

  @Test("A 6 GiB memmap dump gives 2 GiB of RAM below the PCI hole and 4 GiB above 4 GiB")
  func sixGiBDump() throws {
    let map = try MemoryMapParser.parseFirmwareDump(
      MachineFixtures.sixGiBMemmap, source: "memmap.txt")
    #expect(map.ranges.count == 10)
    #expect(
      map.ram == [
        MemoryRange(start: 0, end: 0x9_fc00, kind: .ram),
        MemoryRange(start: 0x10_0000, end: 0x7ffd_c000, kind: .ram),
        MemoryRange(start: 0x1_0000_0000, end: 0x2_0000_0000, kind: .ram),
      ])
    #expect(map.ranges[5] == MemoryRange(start: 0xb000_0000, end: 0xc000_0000, kind: .reserved))
    #expect(map.ramSize == 0x9_fc00 + 0x7fed_c000 + 0x1_0000_0000)
    #expect(map.excluded == [])
  }

  @Test("/sys/firmware/memmap entries have inclusive ends and the kernel's type names")
  func firmwareEntries() throws {
    let map = try MemoryMapParser.parseFirmwareEntries(
      [
        ("0x100000", "0x3e8ebfff", "System RAM"),
        ("0x0", "0x9ffff", "System RAM"),
        ("0x3eb6c000", "0x3eb7dfff", "ACPI Tables"),
        ("0x3eb7e000", "0x3ebfffff", "ACPI Non-volatile Storage"),
        ("0x3ec00000", "0x3ec00fff", "Unknown E820 type"),
      ], source: "/sys/firmware/memmap")
    #expect(
      map.ranges == [
        MemoryRange(start: 0, end: 0xa_0000, kind: .ram),
        MemoryRange(start: 0x10_0000, end: 0x3e8e_c000, kind: .ram),
        MemoryRange(start: 0x3eb6_c000, end: 0x3eb7_e000, kind: .acpiTables),
        MemoryRange(start: 0x3eb7_e000, end: 0x3ec0_0000, kind: .acpiNVS),
        MemoryRange(start: 0x3ec0_0000, end: 0x3ec0_1000, kind: .other("Unknown E820 type")),
      ])
  }

  @Test("parse tells /proc/iomem from a memmap dump by the ' : ' of its lines")
  func autoDetection() throws {
    let iomem = try MemoryMapParser.parse(MachineFixtures.q35Iomem, source: "iomem.txt")
    #expect(iomem.ranges.count == 9)
    #expect(iomem.excluded.count == 1)

    let dump = try MemoryMapParser.parse(MachineFixtures.sixGiBMemmap, source: "memmap.txt")
    #expect(dump.ranges.count == 10)
    #expect(dump.ram.last == MemoryRange(start: 0x1_0000_0000, end: 0x2_0000_0000, kind: .ram))

    let afterBlankLines = try MemoryMapParser.parse("\n\n" + MachineFixtures.q35Iomem, source: "x")
    #expect(afterBlankLines == iomem)
  }

  @Test("An empty file is not a memory map", arguments: ["", "\n", "\n\n\n"])
  func emptyText(text: String) {
    #expect(
      throws: HandoffError.unsupportedMemoryMap(source: "map.txt", reason: "it is empty")
    ) { try MemoryMapParser.parse(text, source: "map.txt") }
  }

  struct Malformed: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var text: String
    var line: Int
  }

  static let malformed = [
    Malformed(
      testDescription: "an iomem line without ' : '",
      text: "00000000-00000fff : Reserved\n00001000-0009fbff System RAM\n", line: 2),
    Malformed(
      testDescription: "an iomem range that is not hexadecimal",
      text: "00000000-00000fff : Reserved\n00001000-0009fbzz : System RAM\n", line: 2),
    Malformed(
      testDescription: "an iomem range with one number",
      text: "00100000 : System RAM\n", line: 1),
    Malformed(
      testDescription: "an iomem range that ends before it starts",
      text: "00001000-0009fbff : System RAM\n00100000-000fffff : System RAM\n", line: 2),
    Malformed(
      testDescription: "a broken nested iomem line",
      text: "00100000-3ffdcfff : System RAM\n  33000000 : Crash kernel\n", line: 2),
    Malformed(
      testDescription: "a dump line with two words",
      text: "0x0 0x9fbff System RAM\n0x100000 0x3ffdcfff\n", line: 2),
    Malformed(
      testDescription: "a dump line whose end is not hexadecimal",
      text: "0x0 0x9fbff System RAM\n0x9fc00 0x9ffzz Reserved\n0x100000 0x3ffdcfff System RAM\n",
      line: 2),
    Malformed(
      testDescription: "a dump line whose start is not hexadecimal",
      text: "0x0 0x9fbff System RAM\n0x9fc00 0x9ffff Reserved\nram 0x3ffdcfff System RAM\n",
      line: 3),
    Malformed(
      testDescription: "a dump line that ends before it starts",
      text: "0x100000 0xfffff System RAM\n", line: 1),
    Malformed(
      testDescription: "a dump line after a blank one",
      text: "0x0 0x9fbff System RAM\n\n0x100000 0x3ffdcfff\n", line: 3),
  ]

  @Test("A malformed line is refused, naming the source and the line", arguments: malformed)
  func malformedLine(_ bad: Malformed) throws {
    let error = try #require(throws: HandoffError.self) {
      try MemoryMapParser.parse(bad.text, source: "/root/map.txt")
    }
    guard case .unsupportedMemoryMap(let source, let reason) = error else {
      Issue.record("expected unsupportedMemoryMap, got \(error)")
      return
    }
    #expect(source == "/root/map.txt")
    #expect(reason.hasPrefix("line \(bad.line): "), "\(reason)")
    #expect(error.description.hasPrefix("/root/map.txt: not a memory map Handoff can read: line "))
  }

  @Test("A /sys/firmware/memmap entry that is not a range is refused, naming the entry")
  func badFirmwareEntry() throws {
    let error = try #require(throws: HandoffError.self) {
      try MemoryMapParser.parseFirmwareEntries(
        [("0x0", "0x9fbff", "System RAM"), ("0x100000", "", "System RAM")],
        source: "/sys/firmware/memmap")
    }
    guard case .unsupportedMemoryMap(let source, let reason) = error else {
      Issue.record("expected unsupportedMemoryMap, got \(error)")
      return
    }
    #expect(source == "/sys/firmware/memmap")
    #expect(reason.contains("entry 1"), "\(reason)")
    #expect(!reason.hasPrefix("line"), "a directory of entries has no lines: \(reason)")
  }

  @Test(
    "Each kind has the kernel's name and the e820 type the next kernel is told",
    arguments: [
      ("System RAM", MemoryKind.ram, UInt32(1)),
      ("Reserved", .reserved, 2),
      ("ACPI Tables", .acpiTables, 3),
      ("ACPI Non-volatile Storage", .acpiNVS, 4),
      ("Unusable memory", .unusable, 5),
      ("Persistent Memory", .persistent, 7),
      ("Soft Reserved", .softReserved, 0xefff_ffff),
      ("PCI Bus 0000:00", .other("PCI Bus 0000:00"), 2),
    ])
  func kinds(name: String, kind: MemoryKind, e820Type: UInt32) {
    #expect(MemoryKind(linuxName: name) == kind)
    #expect(kind.linuxName == name)
    #expect(kind.e820Type == e820Type)
  }

  @Test("iomem's lowercase 'reserved' and the legacy persistent name read as the same kinds")
  func otherSpellings() {
    #expect(MemoryKind(linuxName: "reserved") == .reserved)
    #expect(MemoryKind(linuxName: "Persistent Memory (legacy)") == .persistent)
  }

  @Test("A map sorts its ranges by address and shows them as half-open hex ranges")
  func sorting() {
    let map = MemoryMap(ranges: [
      MemoryRange(start: 0x1_0000_0000, end: 0x2_0000_0000, kind: .ram),
      MemoryRange(start: 0x10_0000, end: 0x7ffd_c000, kind: .ram),
    ])
    #expect(map.ranges.map(\.start) == [0x10_0000, 0x1_0000_0000])
    #expect(map.ranges[0].rangeText == "[0x100000, 0x7ffdc000)")
    #expect(map.ranges[1].size == 0x1_0000_0000)
  }

  @Test("debugfs's memblock list reads as byte-exact ranges, its ends inclusive")
  func memblock() throws {
    // arm64 6.1 under EDK2, and 6.12's form with the node and flags after
    let text = """
         0: 0x0000000074e00000..0x0000000078dfffff
         1: 0x000000007c42ff98..0x000000007c42ffa7
         2: 0x000000007ffe0000..0x000000007fffffff    0 NONE

      """
    let ranges = try MemoryMapParser.parseMemblock(text, source: "reserved")
    #expect(
      ranges == [
        MemoryRange(start: 0x74e0_0000, end: 0x78e0_0000, kind: .reserved),
        MemoryRange(start: 0x7c42_ff98, end: 0x7c42_ffa8, kind: .reserved),
        MemoryRange(start: 0x7ffe_0000, end: 0x8000_0000, kind: .reserved),
      ])
    #expect(try MemoryMapParser.parseMemblock("", source: "reserved") == [])
  }

  @Test(
    "A memblock line that does not read names its number",
    arguments: [
      ("   0: 0x1000-0x1fff\n", 1), ("0x1000..0x1fff\n", 1),
      ("   0: 0x1000..0x1fff\n   1: 0x3000..0x2fff\n", 2), ("   0: 0x1000..\n", 1),
    ])
  func malformedMemblock(text: String, line: Int) {
    #expect {
      try MemoryMapParser.parseMemblock(text, source: "reserved")
    } throws: { error in
      guard case .unsupportedMemoryMap(let source, let reason)? = error as? HandoffError else {
        return false
      }
      return source == "reserved" && reason.hasPrefix("line \(line): ")
    }
  }
}
