import HandoffCore
import HandoffTestSupport
import Testing

/// The scrub list on the lab's guests: which RAM the purgatory may zero, how
/// far its identity map reaches, and how the plan and the parameter block
/// carry it.
@Suite("Scrub list (x86_64)")
struct ScrubPlanTests {
  /// /sys/firmware/memmap of the lab's 1 GiB q35 guest under SeaBIOS.
  static let seabiosMemmap = """
    0x0 0x9fbff System RAM
    0x9fc00 0x9ffff Reserved
    0xf0000 0xfffff Reserved
    0x100000 0x3ffdffff System RAM
    0x3ffe0000 0x3fffffff Reserved
    0xb0000000 0xbfffffff Reserved
    0xfed1c000 0xfed1ffff Reserved
    0xfffc0000 0xffffffff Reserved
    0xfd00000000 0xffffffffff Reserved
    """

  /// Its /proc/iomem's top level, booted with `crashkernel=128M`.
  static let seabiosIomem = """
    00000000-00000fff : Reserved
    00001000-0009fbff : System RAM
    0009fc00-0009ffff : Reserved
    000f0000-000fffff : Reserved
    00100000-3ffdffff : System RAM
      01000000-01ffffff : Kernel code
      33000000-3affffff : Crash kernel
    3ffe0000-3fffffff : Reserved
    b0000000-bfffffff : PCI ECAM 0000 [bus 00-ff]
    """

  /// /sys/firmware/memmap of the lab's 1 GiB q35 guest under OVMF.
  static let ovmfMemmap = """
    0x0 0x9ffff System RAM
    0x100000 0x805fff System RAM
    0x806000 0x807fff ACPI Non-volatile Storage
    0x808000 0x80ffff System RAM
    0x810000 0x8fffff ACPI Non-volatile Storage
    0x900000 0x3ea9ffff System RAM
    0x3eaa0000 0x3eba1fff Reserved
    0x3eba2000 0x3f4ebfff System RAM
    0x3f4ec000 0x3f76bfff Reserved
    0x3f76c000 0x3f77dfff ACPI Tables
    0x3f77e000 0x3f7fdfff ACPI Non-volatile Storage
    0x3f7fe000 0x3fef3fff System RAM
    0x3fef4000 0x3ff77fff Reserved
    0x3ff78000 0x3fffffff ACPI Non-volatile Storage
    0xb0000000 0xbfffffff Reserved
    0xffc00000 0xffffffff Reserved
    """

  /// Its /proc/iomem's RAM: the kernel keeps the ESRT page it found in boot
  /// services data (efi_mem_reserve), which the firmware's table still calls RAM.
  static let ovmfIomem = """
    00000000-00000fff : Reserved
    00001000-0009ffff : System RAM
    00100000-00805fff : System RAM
    00806000-00807fff : ACPI Non-volatile Storage
    00808000-0080ffff : System RAM
    00810000-008fffff : ACPI Non-volatile Storage
    00900000-3c683fff : System RAM
    3c684000-3c684fff : Reserved
    3c685000-3ea9ffff : System RAM
    3eaa0000-3eba1fff : Reserved
    3eba2000-3f4ebfff : System RAM
    3f4ec000-3f76bfff : Reserved
    3f76c000-3f77dfff : ACPI Tables
    3f77e000-3f7fdfff : ACPI Non-volatile Storage
    3f7fe000-3fef3fff : System RAM
    3fef4000-3ff77fff : Reserved
    3ff78000-3fffffff : ACPI Non-volatile Storage
    """

  /// Its EFI runtime map: runtime code and data where the firmware's table
  /// says Reserved, a boot services data page the kernel keeps as runtime
  /// (a TPM event log) where both tables still say RAM, and the flash.
  static let ovmfRuntimeMap = [
    EFIMemoryDescriptor(
      type: 5, physicalStart: 0x3eaa_0000, virtualStart: 0xffff_fffe_ffaa_0000,
      pageCount: 0x102, attribute: 0x8000_0000_0000_000f),
    EFIMemoryDescriptor(
      type: 4, physicalStart: 0x3e00_0000, virtualStart: 0xffff_fffe_ff00_0000,
      pageCount: 0x2, attribute: 0x8000_0000_0000_000f),
    EFIMemoryDescriptor(
      type: 11, physicalStart: 0xffc0_0000, virtualStart: 0xffff_fffe_ffc0_0000,
      pageCount: 0x400, attribute: 0x8000_0000_0000_0001),
  ]

  /// The segments of the lab's 6.1 guest loading 7.x (handoff load --debug).
  static let labSegments = [
    range(0x100_0000, 0x4c3_b000),  // kernel, init_size
    range(0x3fd8_b000, 0x3ffd_5000),  // initrd
    range(0x3ffd_5000, 0x3ffd_7000),  // boot_params
    range(0x3ffd_7000, 0x3ffe_0000),  // purgatory with its page tables
  ]

  static func range(_ start: UInt64, _ end: UInt64) -> MemoryRange {
    MemoryRange(start: start, end: end, kind: .ram)
  }

  /// The map as MachineReader builds it: the firmware's, with /proc/iomem's
  /// crash kernel and RAM beside it.
  static func machine(memmap: String, iomem: String?) throws -> MemoryMap {
    var map = try MemoryMapParser.parseFirmwareDump(memmap, source: "memmap")
    if let iomem {
      let kernel = try MemoryMapParser.parseIomem(iomem, source: "iomem")
      map.excluded = kernel.excluded
      map.kernelRAM = kernel.ram
    }
    return map
  }

  static func planner(
    memmap: String = seabiosMemmap, iomem: String? = seabiosIomem,
    runtimeMap: [EFIMemoryDescriptor]? = nil
  ) throws -> X86ScrubPlanner {
    let efi = runtimeMap.map {
      EFIHandover(
        systemTable: 0x3f5e_b018, firmwareVendor: 0x3f5e_b098, runtimeServices: 0x3f5e_bb98,
        configurationTables: 0x3f5e_5698, smbios: 0x3f52_0000, runtimeMap: $0)
    }
    return X86ScrubPlanner(
      environment: X86BootEnvironment(
        memoryMap: try machine(memmap: memmap, iomem: iomem), efi: efi))
  }

  @Test("SeaBIOS guest: RAM above 1 MiB, without the segments and the crash kernel")
  func seabiosGuest() throws {
    let ranges = try Self.planner().ranges(keeping: Self.labSegments)
    #expect(
      ranges == [
        Self.range(0x10_0000, 0x100_0000),
        Self.range(0x4c3_b000, 0x3300_0000),
        Self.range(0x3b00_0000, 0x3fd8_b000),
      ])
  }

  @Test("Without a crash kernel and with no segments, all RAM above 1 MiB is scrubbed")
  func nothingKept() throws {
    let ranges = try Self.planner(iomem: nil).ranges(keeping: [])
    #expect(ranges == [Self.range(0x10_0000, 0x3ffe_0000)])
  }

  @Test("OVMF guest: RAM the running kernel reserved and the EFI runtime regions are kept")
  func ovmfGuest() throws {
    let planner = try Self.planner(
      memmap: Self.ovmfMemmap, iomem: Self.ovmfIomem, runtimeMap: Self.ovmfRuntimeMap)
    let ranges = planner.ranges(keeping: [
      Self.range(0x100_0000, 0x4c3_b000), Self.range(0x3fc9_f000, 0x3fef_4000),
    ])
    #expect(
      ranges == [
        Self.range(0x10_0000, 0x80_6000),
        Self.range(0x80_8000, 0x81_0000),
        Self.range(0x90_0000, 0x100_0000),
        Self.range(0x4c3_b000, 0x3c68_4000),
        // the ESRT page only /proc/iomem calls Reserved
        Self.range(0x3c68_5000, 0x3e00_0000),
        // the TPM log pages only the runtime map names
        Self.range(0x3e00_2000, 0x3eaa_0000),
        Self.range(0x3eba_2000, 0x3f4e_c000),
        Self.range(0x3f7f_e000, 0x3fc9_f000),
      ])
  }

  @Test("With one map alone (a --memmap file), that map decides")
  func firmwareMapAlone() throws {
    let planner = try Self.planner(
      memmap: Self.ovmfMemmap, iomem: nil, runtimeMap: Self.ovmfRuntimeMap)
    let ranges = planner.ranges(keeping: [])
    #expect(ranges.contains(Self.range(0x90_0000, 0x3e00_0000)))
  }

  @Test("Ranges shrink to whole pages, and a range with no whole page vanishes")
  func wholePages() throws {
    let memmap = """
      0x0 0x9fbff System RAM
      0x100000 0x2007ff System RAM
      0x200800 0x200bff Reserved
      0x200c00 0x2ff3ff System RAM
      0x2ff400 0x2ffbff Reserved
      0x2ffc00 0x2fffff System RAM
      """
    let ranges = try Self.planner(memmap: memmap, iomem: nil).ranges(keeping: [])
    #expect(ranges == [Self.range(0x10_0000, 0x20_0000), Self.range(0x20_1000, 0x2f_f000)])
  }

  @Test("Adjacent RAM entries of the firmware's table join into one range")
  func adjacentEntries() throws {
    let memmap = """
      0x100000 0x1fffff System RAM
      0x200000 0x3fffff System RAM
      """
    let ranges = try Self.planner(memmap: memmap, iomem: nil).ranges(keeping: [])
    #expect(ranges == [Self.range(0x10_0000, 0x40_0000)])
  }

  @Test("The identity map reaches past RAM, ACPI tables and EFI runtime regions, in 2 MiB")
  func identityMapEnd() throws {
    #expect(try Self.planner().identityMapEnd == 0x4000_0000)
    let memmap = """
      0x100000 0x2fffffff System RAM
      0x30000000 0x3020ffff ACPI Tables
      0xb0000000 0xbfffffff Reserved
      """
    #expect(try Self.planner(memmap: memmap, iomem: nil).identityMapEnd == 0x3040_0000)
    // runtime data past the last RAM counts; the flash (MMIO) does not
    let beyond = [
      EFIMemoryDescriptor(
        type: 6, physicalStart: 0x3050_0000, virtualStart: 0, pageCount: 1, attribute: 0),
      EFIMemoryDescriptor(
        type: 11, physicalStart: 0xffc0_0000, virtualStart: 0, pageCount: 0x400, attribute: 0),
    ]
    #expect(
      try Self.planner(memmap: memmap, iomem: nil, runtimeMap: beyond).identityMapEnd
        == 0x3060_0000)
  }

  /// Identity map ends and the page tables they take: a PML5, a PML4, a
  /// PDPT per 512 GiB and a page directory per GiB.
  static let pageTableSizes: [(end: UInt64, bytes: UInt64)] = [
    (0x20_0000, 4 * 4096),
    (0x4000_0000, 4 * 4096),
    (0x2_0000_0000, 11 * 4096),
    (0x100_0000_0000, (2 + 2 + 1024) * 4096),
  ]

  @Test(
    "Page tables are sized for 2 MiB pages and five levels", arguments: pageTableSizes)
  func pageTableBytes(end: UInt64, bytes: UInt64) {
    #expect(X86ScrubPlanner.pageTableBytes(identityMapEnd: end) == bytes)
  }
}

/// `X86LoadPlanner` with `PlanOptions(scrub: true)`.
@Suite("Planning a scrub")
struct ScrubLoadPlanTests {
  static let initrd: [UInt8] = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 >> 2) }

  static func plan(
    map: MemoryMap, efi: EFIHandover? = nil, scrub: Bool = true
  ) throws(HandoffError) -> LoadPlan {
    let bytes = HandmadeBzImage().bytes
    return try X86LoadPlanner(
      image: try BzImage(path: "/boot/vmlinuz", bytes: bytes), imageBytes: bytes, initrd: initrd,
      commandLine: "console=ttyS0",
      environment: X86BootEnvironment(memoryMap: map, efi: efi),
      options: PlanOptions(scrub: scrub)
    ).plan()
  }

  static func overlaps(_ a: MemoryRange, _ start: UInt64, _ end: UInt64) -> Bool {
    a.start < end && start < a.end
  }

  @Test("Every segment, the crash kernel and the first MiB are kept; every other page is scrubbed")
  func keepsAndCovers() throws {
    let map = try ScrubPlanTests.machine(
      memmap: ScrubPlanTests.seabiosMemmap, iomem: ScrubPlanTests.seabiosIomem)
    let plan = try Self.plan(map: map)
    let scrub = try #require(plan.purgatory.scrub)

    for range in scrub.ranges {
      #expect(range.start % 4096 == 0 && range.end % 4096 == 0 && range.start < range.end)
      #expect(range.start >= 0x10_0000)
      #expect(!Self.overlaps(range, 0x3300_0000, 0x3b00_0000), "\(range.rangeText) crash kernel")
      for segment in plan.segments {
        #expect(
          !Self.overlaps(range, segment.destination, segment.destination + segment.memorySize),
          "\(range.rangeText) overlaps \(segment.role)")
      }
    }
    for (earlier, later) in zip(scrub.ranges, scrub.ranges.dropFirst()) {
      #expect(earlier.end < later.start, "sorted, apart and not touching")
    }

    // the RAM above 1 MiB, page by page: scrubbed, or kept for a reason
    var page: UInt64 = 0x10_0000
    var unaccounted: [UInt64] = []
    while page < 0x3ffe_0000 {
      let scrubbed = scrub.ranges.contains { $0.start <= page && page < $0.end }
      let kept =
        (0x3300_0000..<0x3b00_0000).contains(page)
        || plan.segments.contains {
          $0.destination <= page && page < $0.destination + $0.memorySize
        }
      if scrubbed == kept { unaccounted.append(page) }
      page += 4096
    }
    #expect(unaccounted.isEmpty, "pages both or neither: \(unaccounted.prefix(4).map { hex($0) })")
    #expect(scrub.totalBytes == scrub.ranges.reduce(0) { $0 + $1.size })
  }

  @Test("The purgatory's memsz grows by the page tables, and the map covers every segment")
  func purgatoryRoom() throws {
    let map = try ScrubPlanTests.machine(
      memmap: ScrubPlanTests.seabiosMemmap, iomem: ScrubPlanTests.seabiosIomem)
    let plan = try Self.plan(map: map)
    let scrub = try #require(plan.purgatory.scrub)
    let purgatory = try #require(plan.segments.last)
    #expect(purgatory.role == "purgatory")
    #expect(scrub.identityMapEnd == 0x4000_0000)
    #expect(scrub.pageTableBytes == 4 * 4096)
    #expect(
      purgatory.memorySize == UInt64(PurgatoryBlobX86_64.memorySize) + scrub.pageTableBytes)
    #expect(plan.segments.allSatisfy { $0.destination + $0.memorySize <= scrub.identityMapEnd })
    #expect(plan.purgatory.announce == false, "the planner leaves announcing to the caller")

    // the block in the segment says the same
    let block = PurgatoryBlobX86_64.parametersOffset
    let bytes = purgatory.bytes
    #expect(ScrubParameterTests.word(bytes, block + 0x28) & 4 == 4)
    #expect(ScrubParameterTests.word(bytes, block + 0x238) == 0x4000_0000)
    #expect(ScrubParameterTests.word(bytes, block + 0x240) == 4 * 4096)
    #expect(ScrubParameterTests.word(bytes, block + 0x248) == UInt64(scrub.ranges.count))
    for (index, region) in plan.purgatory.regions.enumerated() {
      #expect(region.memorySize == plan.segments[index].memorySize)
    }
  }

  @Test("Without --scrub the plan has no scrub, and the purgatory's memsz is the blob's")
  func noScrub() throws {
    let map = try ScrubPlanTests.machine(
      memmap: ScrubPlanTests.seabiosMemmap, iomem: ScrubPlanTests.seabiosIomem)
    let plan = try Self.plan(map: map, scrub: false)
    #expect(plan.purgatory.scrub == nil)
    #expect(plan.segments.last?.memorySize == UInt64(PurgatoryBlobX86_64.memorySize))
    let bytes = try #require(plan.segments.last?.bytes)
    let block = PurgatoryBlobX86_64.parametersOffset
    #expect(ScrubParameterTests.word(bytes, block + 0x28) & 4 == 0)
    #expect(ScrubParameterTests.word(bytes, block + 0x248) == 0)
  }

  @Test("An EFI machine's runtime regions stay out of the scrub")
  func efiRuntimeKept() throws {
    let map = try ScrubPlanTests.machine(
      memmap: ScrubPlanTests.ovmfMemmap, iomem: ScrubPlanTests.ovmfIomem)
    let efi = EFIHandover(
      systemTable: 0x3f5e_b018, firmwareVendor: 0, runtimeServices: 0, configurationTables: 0,
      smbios: 0, runtimeMap: ScrubPlanTests.ovmfRuntimeMap)
    let scrub = try #require(try Self.plan(map: map, efi: efi).purgatory.scrub)
    #expect(!scrub.ranges.contains { Self.overlaps($0, 0x3e00_0000, 0x3e00_2000) })
    #expect(!scrub.ranges.contains { Self.overlaps($0, 0x3c68_4000, 0x3c68_5000) })
    #expect(!scrub.ranges.contains { Self.overlaps($0, 0x80_6000, 0x80_8000) })
  }

  @Test("RAM in more pieces than the purgatory takes is refused, with the count")
  func tooFragmented() throws {
    // 80 stretches of 16 MiB, a reserved page after each
    var lines: [String] = []
    for index in 0..<80 {
      let start = UInt64(0x100_0000) * UInt64(index + 1)
      lines.append("\(hex(start)) \(hex(start + 0xff_efff)) System RAM")
      lines.append("\(hex(start + 0xff_f000)) \(hex(start + 0xff_ffff)) Reserved")
    }
    let map = try MemoryMapParser.parseFirmwareDump(lines.joined(separator: "\n"), source: "many")
    #expect(throws: HandoffError.self) { try Self.plan(map: map) }
    do {
      _ = try Self.plan(map: map)
    } catch .scrubTooFragmented(let ranges, let limit) {
      #expect(ranges > 64)
      #expect(limit == 64)
      #expect(
        HandoffError.scrubTooFragmented(ranges: ranges, limit: limit).description
          == "cannot scrub: the free RAM falls into \(ranges) ranges once the segments, EFI "
          + "runtime regions and reservations are cut out, more than the 64 the purgatory takes")
    } catch {
      Issue.record("unexpected error \(error)")
    }
    // the same machine without a scrub plans fine
    #expect(try Self.plan(map: map, scrub: false).purgatory.scrub == nil)
  }

  @Test("A map past 52-bit physical addresses cannot be scrubbed, and the error says why")
  func unreachableMap() throws {
    let memmap = """
      0x100000 0x3fffffff System RAM
      0x20000000000000 0x20000fffffffff System RAM
      """
    let map = try MemoryMapParser.parseFirmwareDump(memmap, source: "far")
    #expect(
      throws: HandoffError.scrubUnavailable(
        reason: "the memory map reaches 0x20001000000000, past the 52-bit physical addresses "
          + "the purgatory's page tables can map")
    ) { try Self.plan(map: map) }
  }
}

/// The scrub fields of the parameter block, read back at the offsets the
/// purgatory reads.
@Suite("Purgatory scrub parameters")
struct ScrubParameterTests {
  static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  static func parameters(scrub: PurgatoryScrub?) -> PurgatoryParameters {
    PurgatoryParameters(
      kernelEntry: 0x100_0200, kernelArgument: 0x3ffd_5000, serial: 0x3f8, verify: true,
      announce: true,
      regions: [
        PurgatoryRegion(start: 0x100_0000, size: 0xd5_b7c0, digest: 1, memorySize: 0x3c3_b000)
      ],
      scrub: scrub)
  }

  static let scrub = PurgatoryScrub(
    ranges: [
      MemoryRange(start: 0x10_0000, end: 0x100_0000, kind: .ram),
      MemoryRange(start: 0x4c3_b000, end: 0x3fd8_b000, kind: .ram),
    ],
    identityMapEnd: 0x4000_0000, pageTableBytes: 0x4000)

  @Test("Flag bit 2, the map's end, the page-table room, the count and each {start, size}")
  func fieldsReadBack() {
    let offset = PurgatoryBlobX86_64.parametersOffset
    let bytes = Self.parameters(scrub: Self.scrub).patched(PurgatoryBlobX86_64.bytes, at: offset)
    #expect(Self.word(bytes, offset + 0x08) == 2)
    #expect(Self.word(bytes, offset + 0x28) == 0b111)
    #expect(Self.word(bytes, offset + 0x38 + 24) == 0x3c3_b000)
    #expect(Self.word(bytes, offset + 0x238) == 0x4000_0000)
    #expect(Self.word(bytes, offset + 0x240) == 0x4000)
    #expect(Self.word(bytes, offset + 0x248) == 2)
    #expect(Self.word(bytes, offset + 0x250) == 0x10_0000)
    #expect(Self.word(bytes, offset + 0x258) == 0xf0_0000)
    #expect(Self.word(bytes, offset + 0x260) == 0x4c3_b000)
    #expect(Self.word(bytes, offset + 0x268) == 0x3fd8_b000 - 0x4c3_b000)
    let end = offset + PurgatoryParameters.size
    #expect(bytes[(offset + 0x270)..<end].allSatisfy { $0 == 0 })
    #expect(Self.scrub.totalBytes == 0xf0_0000 + 0x3fd8_b000 - 0x4c3_b000)
  }

  @Test("Sixty-four ranges fill the table, the last ending where the block ends")
  func fullTable() {
    var scrub = Self.scrub
    scrub.ranges = (0..<64).map {
      MemoryRange(
        start: UInt64($0 + 1) << 24, end: (UInt64($0 + 1) << 24) + 0x1000, kind: .ram)
    }
    let offset = PurgatoryBlobX86_64.parametersOffset
    let bytes = Self.parameters(scrub: scrub).patched(PurgatoryBlobX86_64.bytes, at: offset)
    #expect(Self.word(bytes, offset + 0x248) == 64)
    #expect(Self.word(bytes, offset + 0x250 + 63 * 16) == 64 << 24)
    #expect(Self.word(bytes, offset + 0x250 + 63 * 16 + 8) == 0x1000)
    #expect(0x250 + 64 * 16 == PurgatoryParameters.size)
    #expect(PurgatoryParameters.size == 1616)
  }

  @Test("Without a scrub the flag is clear and every scrub field is zero, even over an old block")
  func noScrub() {
    let offset = PurgatoryBlobX86_64.parametersOffset
    let scrubbed = Self.parameters(scrub: Self.scrub).patched(PurgatoryBlobX86_64.bytes, at: offset)
    let bytes = Self.parameters(scrub: nil).patched(scrubbed, at: offset)
    #expect(Self.word(bytes, offset + 0x28) == 0b011)
    let fields = (offset + 0x238)..<(offset + PurgatoryParameters.size)
    #expect(bytes[fields].allSatisfy { $0 == 0 })
    #expect(bytes == Self.parameters(scrub: nil).patched(PurgatoryBlobX86_64.bytes, at: offset))
  }

  @Test("A region's memsz is at least its size, its size when not given")
  func regionMemorySize() {
    #expect(PurgatoryRegion(start: 0x1000, size: 0x123, digest: 0).memorySize == 0x123)
    #expect(
      PurgatoryRegion(start: 0x1000, size: 0x123, digest: 0, memorySize: 0x1000).memorySize
        == 0x1000)
    #expect(
      PurgatoryRegion(start: 0x1000, size: 0x2000, digest: 0, memorySize: 0x1000).memorySize
        == 0x2000)
  }
}
