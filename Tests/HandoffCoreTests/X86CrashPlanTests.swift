import HandoffCore
import HandoffTestSupport
import Testing

/// An x86_64 crash kernel through kexec_load: every segment in the region
/// crashkernel= reserved, the ELF core header named on the command line,
/// and an e820 table that gives the crash kernel no RAM of the panicked
/// kernel's but the first MiB.
@Suite("x86_64 crash kernels through kexec_load")
struct X86CrashPlanTests {
  /// The q35 guest's map, whose crash region is [0x33000000, 0x3b000000).
  static let map = try! MemoryMapParser.parseIomem(MachineFixtures.q35Iomem, source: "iomem")
  static let region = MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .ram)

  static let header = CrashDumpHeader(
    machine: 62, cpuNotes: [.init(address: 0x3fc1_7000, size: 0x1a8)],
    vmcoreinfo: .init(address: 0x0e9c_0000, size: 0x1000),
    memory: CrashDumpHeader.dumpedMemory(ram: map.ram, without: map.crashKernel),
    layout: nil)

  static func plan(
    map: MemoryMap = map, commandLine: String = "console=ttyS0 irqpoll nr_cpus=1",
    scrub: Bool = false, image: HandmadeBzImage = HandmadeBzImage()
  ) throws -> LoadPlan {
    let bytes = image.bytes
    return try X86LoadPlanner(
      image: try BzImage(path: "/boot/vmlinuz", bytes: bytes), imageBytes: bytes,
      initrd: [UInt8](repeating: 0x5a, count: 0x20_0000), commandLine: commandLine,
      environment: X86BootEnvironment(memoryMap: map), options: PlanOptions(scrub: scrub),
      crashDump: Self.header
    ).plan()
  }

  /// The e820 entries a boot_params segment holds: start, end, type.
  static func e820(_ bootParams: [UInt8]) -> [(UInt64, UInt64, UInt32)] {
    func u32(_ at: Int) -> UInt32 {
      (0..<4).reduce(0) { $0 | UInt32(bootParams[at + $1]) << (8 * $1) }
    }
    return (0..<Int(bootParams[0x1e8])).map { index in
      let entry = 0x2d0 + index * 20
      let start = PlanChecks.word(bootParams, entry)
      return (start, start + PlanChecks.word(bootParams, entry + 8), u32(entry + 16))
    }
  }

  /// The command line boot_params point at, read from the segment.
  static func commandLine(_ bootParams: PlannedSegment) -> String {
    let pointer = (0..<4).reduce(UInt64(bootParams.bytes[0xc8]) << 32) {
      $0 | UInt64(bootParams.bytes[0x228 + $1]) << (8 * $1)
    }
    let text = bootParams.bytes[Int(pointer - bootParams.destination)...].prefix { $0 != 0 }
    return String(decoding: text, as: UTF8.self)
  }

  @Test("Every segment, the core header among them, lies in the reserved region")
  func placement() throws {
    let plan = try Self.plan()
    #expect(
      plan.segments.map(\.role) == ["kernel", "boot_params", "initrd", "elfcorehdr", "purgatory"])
    for segment in plan.segments {
      #expect(segment.destination >= Self.region.start, "\(segment.role)")
      #expect(segment.destination + segment.memorySize <= Self.region.end, "\(segment.role)")
    }
    let header = try PlanChecks.segment(plan, "elfcorehdr")
    #expect(header.bytes == Self.header.bytes)
    #expect(plan.purgatory.regions.count == 4, "the purgatory checks the core header too")
  }

  @Test(
    "The command line starts with the core header's address, as the kernel's own loads write it")
  func commandLine() throws {
    let plan = try Self.plan()
    let header = try PlanChecks.segment(plan, "elfcorehdr")
    #expect(
      Self.commandLine(try PlanChecks.segment(plan, "boot_params"))
        == "elfcorehdr=\(hex(header.destination)) console=ttyS0 irqpoll nr_cpus=1")
  }

  @Test(
    "The e820 table holds the first MiB's RAM, the region without the core header, and the rest")
  func e820() throws {
    let plan = try Self.plan()
    let header = try PlanChecks.segment(plan, "elfcorehdr")
    let table = Self.e820(try PlanChecks.segment(plan, "boot_params").bytes)
    let ram = table.filter { $0.2 == 1 }.map { [$0.0, $0.1] }
    #expect(
      ram
        == [
          [0x1000, 0x9_fc00], [0x3300_0000, header.destination],
          [header.destination + header.memorySize, 0x3b00_0000],
        ].filter { $0[0] < $0[1] })
    // what is not RAM is as the firmware's map has it
    let reserved = table.filter { $0.2 != 1 }.map { [$0.0, $0.1] }
    #expect(reserved.contains([0x3ffd_d000, 0x4000_0000]))
    #expect(reserved.contains([0xfeff_c000, 0xff00_0000]))
  }

  @Test("The crash kernel's map leaves out the panicked kernel's RAM")
  func crashKernelMap() {
    let view = Self.map.x86CrashKernelMap(
      coreHeader: MemoryRange(start: 0x3aff_f000, end: 0x3b00_0000, kind: .reserved))
    #expect(
      view.ram == [
        MemoryRange(start: 0x1000, end: 0x9_fc00, kind: .ram),
        MemoryRange(start: 0x3300_0000, end: 0x3aff_f000, kind: .ram),
      ])
    #expect(view.ranges.filter { $0.kind != .ram } == Self.map.ranges.filter { $0.kind != .ram })
  }

  @Test("With crashkernel=X,high every segment goes in the main region, above 4 GiB")
  func highRegion() throws {
    var map = try MemoryMapParser.parse(MachineFixtures.sixGiBMemmap, source: "6g")
    let low = MemoryRange(start: 0x0800_0000, end: 0x1800_0000, kind: .ram)
    let high = MemoryRange(start: 0x1_e800_0000, end: 0x2_0000_0000, kind: .ram)
    map.crashKernel = [low, high]
    let plan = try Self.plan(map: map)
    for segment in plan.segments {
      #expect(segment.destination >= high.start, "\(segment.role)")
      #expect(segment.destination + segment.memorySize <= high.end, "\(segment.role)")
    }
    // the command line's high half in ext_cmd_line_ptr
    let bootParams = try PlanChecks.segment(plan, "boot_params")
    #expect(bootParams.bytes[0xc8] == 0x1)
    #expect(Self.commandLine(bootParams).hasPrefix("elfcorehdr=0x1"))
    // both regions are the crash kernel's RAM
    let table = Self.e820(bootParams.bytes)
    #expect(table.contains { $0.0 == low.start && $0.1 == low.end && $0.2 == 1 })
    #expect(table.contains { $0.0 == high.start && $0.2 == 1 })
  }

  @Test(
    "No reserved region, a scrub, or a command line the core header pushes too long are refused")
  func refusals() {
    var noRegion = Self.map
    noRegion.crashKernel = []
    #expect {
      try Self.plan(map: noRegion)
    } throws: { error in
      guard case .crashKernelUnavailable(let reason) = error as? HandoffError else { return false }
      return reason.contains("crashkernel=")
    }
    #expect {
      try Self.plan(scrub: true)
    } throws: { error in
      guard case .crashKernelUnavailable(let reason) = error as? HandoffError else { return false }
      return reason.contains("the old memory intact")
    }
    var image = HandmadeBzImage()
    image.commandLineSize = 40
    #expect {
      try Self.plan(commandLine: String(repeating: "x", count: 30), image: image)
    } throws: { error in
      guard case .commandLineTooLong(let length, let limit, _) = error as? HandoffError else {
        return false
      }
      return length > limit && limit == 40
    }
  }
}
