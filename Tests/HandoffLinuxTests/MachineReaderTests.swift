import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// What the machine reader finds in /sys and /proc of the recording fake:
/// which memory map it trusts, and the EFI state it hands on.
@Suite("Reading the running machine")
struct MachineReaderTests {
  static let efi = MachineFixtures.EFIFirmware()

  @Test("The memory map comes from /sys/firmware/memmap, with /proc/iomem's crash kernel kept out")
  func firmwareMemmapFirst() throws {
    // two machines' files, so the answer shows which one was read
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    system.setText("/proc/iomem", MachineFixtures.q35Iomem)
    let map = try MachineReader(system: system).memoryMap()
    #expect(map.ranges.count == 10)
    #expect(map.ranges[0] == MemoryRange(start: 0, end: 0x9_fc00, kind: .ram))
    #expect(map.ram.last == MemoryRange(start: 0x1_0000_0000, end: 0x2_0000_0000, kind: .ram))
    #expect(map.excluded == [MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .reserved)])
  }

  @Test("Each /sys/firmware/memmap entry is read, from 0 up to the first that is missing")
  func firmwareMemmapEntries() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    var lines: [String] = []
    let map = try MachineReader(system: system, debug: { lines.append($0) }).memoryMap()
    #expect(map.ranges.count == 14)
    #expect(map.ranges.filter { $0.kind == .acpiNVS }.count == 4)
    #expect(
      map.ranges.contains(MemoryRange(start: 0x3eb6_c000, end: 0x3eb7_e000, kind: .acpiTables)))
    #expect(lines == ["memory map: 14 ranges from /sys/firmware/memmap"])
    #expect(system.calls.contains("open(\"/sys/firmware/memmap/14/start\", O_RDONLY) = ENOENT"))
  }

  @Test("Without /sys/firmware/memmap, /proc/iomem gives the map and its exclusions")
  func iomemFallback() throws {
    let system = RecordingSystem()
    system.setText("/proc/iomem", MachineFixtures.q35Iomem)
    var lines: [String] = []
    let map = try MachineReader(system: system, debug: { lines.append($0) }).memoryMap()
    #expect(map.ranges.count == 9)
    #expect(
      map.ram == [
        MemoryRange(start: 0x1000, end: 0x9_fc00, kind: .ram),
        MemoryRange(start: 0x10_0000, end: 0x3ffd_d000, kind: .ram),
      ])
    #expect(map.excluded == [MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .reserved)])
    #expect(lines == ["memory map: 9 ranges from /proc/iomem"])
  }

  @Test("/proc/iomem read without privilege and no /sys/firmware/memmap is an error naming it")
  func unprivilegedIomem() {
    let system = RecordingSystem()
    system.setText("/proc/iomem", MachineFixtures.unprivilegedIomem)
    #expect(
      throws: HandoffError.unsupportedMemoryMap(
        source: "/proc/iomem", reason: "all ranges read as zero; it must be read as root")
    ) { try MachineReader(system: system).memoryMap() }
  }

  @Test("/sys/firmware/memmap is enough when /proc/iomem reads as zeros")
  func unprivilegedIomemWithMemmap() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    system.setText("/proc/iomem", MachineFixtures.unprivilegedIomem)
    let map = try MachineReader(system: system).memoryMap()
    #expect(map.ranges.count == 10)
    #expect(map.excluded == [])
  }

  @Test("With neither file there is no memory map, and the error says so")
  func noMemoryMap() {
    #expect(
      throws: HandoffError.unsupportedMemoryMap(
        source: "/proc/iomem", reason: "it lists no memory ranges")
    ) { try MachineReader(system: RecordingSystem()).memoryMap() }
  }

  @Test(
    "A memory map file replaces this machine's, in either form",
    arguments: [
      (MachineFixtures.sixGiBMemmap, 10, UInt64(0x2_0000_0000)),
      (MachineFixtures.q35Iomem, 9, 0x3ffd_d000),
    ])
  func memoryMapFile(text: String, ranges: Int, ramEnd: UInt64) throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.setText("/root/other-machine.txt", text)
    let map = try MachineReader(system: system).memoryMap(file: "/root/other-machine.txt")
    #expect(map.ranges.count == ranges)
    #expect(map.ram.last?.end == ramEnd)
    #expect(!system.calls.contains { $0.contains("/sys/firmware/memmap") })
  }

  @Test("A copy of a /sys/firmware/memmap directory is read like the real one")
  func memmapDirectoryCopy() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap, under: "/root/memmap")
    let map = try MachineReader(system: system).memoryMap(file: "/root/memmap")
    #expect(map.ranges.count == 10)
    #expect(map.ram.last == MemoryRange(start: 0x1_0000_0000, end: 0x2_0000_0000, kind: .ram))
    #expect(!system.calls.contains { $0.contains("/sys/firmware/memmap") })
  }

  @Test("A directory with no memmap entries in it is refused as a directory")
  func emptyDirectory() {
    let system = RecordingSystem()
    system.files["/root"] = .directory
    #expect(throws: HandoffError.notARegularFile(path: "/root", kind: "a directory")) {
      try MachineReader(system: system).memoryMap(file: "/root")
    }
  }

  @Test("A memory map file that cannot be read is an error naming it")
  func missingMemoryMapFile() {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    #expect(
      throws: HandoffError.unreadable(
        path: "/root/none.txt",
        failure: SystemCallFailure(call: "open(\"/root/none.txt\", O_RDONLY)", errno: Errno.ENOENT))
    ) { try MachineReader(system: system).x86Environment(memoryMapFile: "/root/none.txt") }
  }

  @Test("An EFI machine hands on its system table, tables, SMBIOS, runtime map and RSDP")
  func efiHandover() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.serveEFI(Self.efi)
    let environment = try MachineReader(system: system).x86Environment()
    #expect(
      environment.efi
        == EFIHandover(
          systemTable: 0x3e9e_e018, firmwareVendor: 0x3e9e_e098, runtimeServices: 0x3e9e_bb98,
          configurationTables: 0x3e9e_5698, smbios: 0x3e9b_9000, runtimeMap: Self.efi.runtimeMap))
    #expect(environment.acpiRSDP == 0x3eb7_e014)
    #expect(environment.runningBootParams == MachineFixtures.runningBootParams(efi: Self.efi))
    #expect(environment.memoryMap.ranges.count == 14)
  }

  @Test("The system table's address comes whole from efi_systab and efi_systab_hi")
  func systemTableAbove4GiB() throws {
    var efi = Self.efi
    efi.systemTable = 0x1_7e9e_e018
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    system.serveEFI(efi)
    let environment = try MachineReader(system: system).x86Environment()
    #expect(environment.efi?.systemTable == 0x1_7e9e_e018)
  }

  @Test("The runtime map's regions are read in order, numbers in hex as the kernel prints them")
  func runtimeMap() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.serveEFI(Self.efi)
    let map = try #require(try MachineReader(system: system).x86Environment().efi?.runtimeMap)
    #expect(map.count == 3)
    #expect(
      map.first
        == EFIMemoryDescriptor(
          type: 5, physicalStart: 0x3e8e_c000, virtualStart: 0xffff_fffe_ff8e_c000,
          pageCount: 0xf0, attribute: 0x8000_0000_0000_000f))
    #expect(map.map(\.type) == [5, 6, 11])
  }

  @Test("Without ACPI20 the RSDP is systab's ACPI line")
  func acpi10() throws {
    var efi = Self.efi
    efi.systab = "ACPI=0xf5a40\nSMBIOS=0xf5a60\n"
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.serveEFI(efi)
    let environment = try MachineReader(system: system).x86Environment()
    #expect(environment.acpiRSDP == 0xf5a40)
    #expect(environment.efi?.smbios == 0xf5a60)
  }

  @Test("A BIOS machine has no EFI handover and no RSDP, but its boot_params is kept")
  func biosMachine() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    let running = MachineFixtures.runningBootParams()
    system.files["/sys/kernel/boot_params/data"] = .file(running)
    let environment = try MachineReader(system: system).x86Environment()
    #expect(environment.efi == nil)
    #expect(environment.acpiRSDP == nil)
    #expect(environment.runningBootParams == running)
  }

  @Test(
    "EFI files are not enough without boot_params or with one of them missing",
    arguments: [
      "/sys/kernel/boot_params/data", "/sys/firmware/efi/fw_vendor", "/sys/firmware/efi/runtime",
      "/sys/firmware/efi/config_table",
    ])
  func incompleteEFI(missing: String) throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.oneGiBEFIMemmap)
    system.serveEFI(Self.efi)
    system.files[missing] = nil
    #expect(try MachineReader(system: system).x86Environment().efi == nil)
  }

  @Test("The RNG seed is 32 bytes from getrandom, or none when the pool is not ready")
  func rngSeed() throws {
    let system = RecordingSystem()
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    system.randomPattern = [0x11, 0x22, 0x33]
    let seed = try MachineReader(system: system).x86Environment().rngSeed
    #expect(seed == (0..<32).map { [0x11, 0x22, 0x33][$0 % 3] })
    #expect(system.calls.contains("getrandom(count: 32, GRND_NONBLOCK) = 32"))

    system.randomPattern = []
    #expect(try MachineReader(system: system).x86Environment().rngSeed == [])
  }
}
