import HandoffCore
import HandoffTestSupport
import Testing

/// A crash kernel through kexec_load: the ELF core header Handoff writes,
/// the running kernel's layout read from /proc/kcore, and a plan that keeps
/// every segment inside the reserved region.
@Suite("Crash kernels through kexec_load")
struct CrashDumpTests {
  static let arm64Kcore = HandoffTestSupport.arm64Kcore

  @Test("The linear map is the offset most RAM shares; the kernel text is the other one")
  func kcoreLayout() throws {
    let layout = try KernelCoreLayout(path: "/proc/kcore", bytes: Self.arm64Kcore)
    #expect(layout.linearOffset == 0xffff_0000_0000_0000 &- 0x4000_0000)
    #expect(layout.virtual(0x4000_1000) == 0xffff_0000_0000_1000)
    #expect(layout.kernelText?.physical == 0x4020_0000)
    #expect(layout.kernelText?.virtual == 0xffff_d9a8_c6a0_0000)
    #expect(layout.kernelText?.size == 0x1b3_0000)
    #expect(KernelCoreLayout.headerLength(Array(Self.arm64Kcore.prefix(64))) == 64 + 56 * 5)
  }

  @Test("A /proc/kcore that is no core file, or shows no physical address, is refused")
  func kcoreRefusals() {
    #expect(throws: HandoffError.self) {
      try KernelCoreLayout(path: "/proc/kcore", bytes: handmadeKcore([], type: 2))
    }
    #expect(throws: HandoffError.self) {
      try KernelCoreLayout(
        path: "/proc/kcore", bytes: handmadeKcore([(0xffff_8000_0000_0000, .max, 0x1000)]))
    }
    #expect(throws: HandoffError.self) {
      try KernelCoreLayout(path: "/proc/kcore", bytes: Array(Self.arm64Kcore.prefix(100)))
    }
    #expect(KernelCoreLayout.headerLength([UInt8](repeating: 0, count: 64)) == nil)
  }

  static let ram = [
    MemoryRange(start: 0x4000_0000, end: 0x8000_0000, kind: .ram)
  ]
  static let region = MemoryRange(start: 0x5000_0000, end: 0x6000_0000, kind: .ram)

  static func header(layout: KernelCoreLayout?) -> CrashDumpHeader {
    CrashDumpHeader(
      machine: 183,
      cpuNotes: [
        .init(address: 0x7fe0_1000, size: 0x1a8), .init(address: 0x7fe1_1000, size: 0x1a8),
      ],
      vmcoreinfo: .init(address: 0x4a00_0000, size: 0x1000),
      memory: CrashDumpHeader.dumpedMemory(ram: Self.ram, without: [Self.region]),
      layout: layout)
  }

  /// The program headers of an ELF64 file: type, offset, virtual and
  /// physical address, file and memory size.
  static func programHeaders(_ bytes: [UInt8]) -> [(UInt32, UInt64, UInt64, UInt64, UInt64, UInt64)]
  {
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
    let count = Int(bytes[56]) | Int(bytes[57]) << 8
    return (0..<count).map { index in
      let entry = 64 + index * 56
      let type = UInt32(bytes[entry]) | UInt32(bytes[entry + 1]) << 8
      return (
        type, u64(entry + 8), u64(entry + 16), u64(entry + 24), u64(entry + 32), u64(entry + 40)
      )
    }
  }

  @Test("The core header: a note per CPU, vmcoreinfo, the kernel text, and RAM outside the region")
  func coreHeader() throws {
    let layout = try KernelCoreLayout(path: "/proc/kcore", bytes: Self.arm64Kcore)
    let bytes = Self.header(layout: layout).bytes
    #expect(Array(bytes[0..<7]) == [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
    #expect(bytes[16] == 4 && bytes[18] == 183)
    let headers = Self.programHeaders(bytes)
    #expect(bytes.count == 64 + 56 * headers.count)
    #expect(headers.map(\.0) == [4, 4, 4, 1, 1, 1])
    #expect(headers[0].1 == 0x7fe0_1000 && headers[0].4 == 0x1a8)
    #expect(headers[2].1 == 0x4a00_0000 && headers[2].5 == 0x1000)
    // the kernel text at its own virtual address
    #expect(headers[3].3 == 0x4020_0000 && headers[3].2 == 0xffff_d9a8_c6a0_0000)
    // RAM below and above the crash kernel's region, offset = physical address
    #expect(headers[4].1 == 0x4000_0000 && headers[4].3 == 0x4000_0000)
    #expect(headers[4].2 == 0xffff_0000_0000_0000 && headers[4].4 == 0x1000_0000)
    #expect(headers[5].1 == 0x6000_0000 && headers[5].5 == 0x2000_0000)

    // without /proc/kcore: no text entry, and no virtual addresses
    let bare = Self.programHeaders(Self.header(layout: nil).bytes)
    #expect(bare.map(\.0) == [4, 4, 4, 1, 1])
    #expect(bare[3].2 == 0 && bare[3].3 == 0x4000_0000)
  }

  static func crashPlan(iomem: String, scrub: Bool = false) throws -> LoadPlan {
    let map = try MemoryMapParser.parseIomem(iomem, source: "iomem")
    let environment = DeviceTreeBootEnvironment(
      memoryMap: map, deviceTree: DeviceTreeFixture.virt(uart: "arm,pl011"),
      deviceTreeSource: "/sys/firmware/fdt", kaslrSeed: 42, rngSeed: [1, 2, 3, 4])
    return try DeviceTreeLoadPlanner(
      architecture: .arm64, kernel: [UInt8](repeating: 0x14, count: 0x180_0000),
      textOffset: 0, imageSize: 0x1c0_0000,
      initrd: [UInt8](repeating: 0xab, count: 0x30_0000),
      commandLine: "console=ttyAMA0 maxcpus=1", environment: environment,
      options: PlanOptions(scrub: scrub), crashDump: Self.header(layout: nil)
    ).plan()
  }

  static let crashIomem = """
    40000000-7fffffff : System RAM
      40210000-4165ffff : Kernel code
      50000000-5fffffff : Crash kernel
    """

  @Test("Every segment of a crash kernel lies in the region crashkernel= reserved")
  func crashPlacement() throws {
    let plan = try Self.crashPlan(iomem: Self.crashIomem)
    #expect(plan.segments.map(\.role) == ["kernel", "dtb", "initrd", "elfcorehdr", "purgatory"])
    for segment in plan.segments {
      #expect(segment.destination >= 0x5000_0000, "\(segment.role)")
      #expect(segment.destination + segment.memorySize <= 0x6000_0000, "\(segment.role)")
    }
    #expect(try PlanChecks.segment(plan, "kernel").destination == 0x5000_0000)
    #expect(plan.entry >= 0x5000_0000 && plan.entry < 0x6000_0000)
    // the purgatory checks the core header with the other segments
    #expect(plan.purgatory.regions.map(\.start) == plan.segments.dropLast().map(\.destination))
  }

  @Test("The crash kernel's DTB names its core header and its only usable memory")
  func crashDeviceTree() throws {
    let plan = try Self.crashPlan(iomem: Self.crashIomem)
    let header = try PlanChecks.segment(plan, "elfcorehdr")
    let tree = try DeviceTree(
      try PlanChecks.segment(plan, "dtb").bytes, source: "dtb")
    func cells(_ values: [UInt64]) -> [UInt8] {
      values.flatMap { value in
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
      }
    }
    #expect(
      tree.property("/chosen", "linux,elfcorehdr")
        == cells([header.destination, header.memorySize]))
    #expect(
      tree.property("/chosen", "linux,usable-memory-range") == cells([0x5000_0000, 0x1000_0000]))
    #expect(
      plan.deviceTreeEdits.contains(
        "set /chosen linux,usable-memory-range [0x50000000, 0x60000000)"))
    #expect(header.bytes == Self.header(layout: nil).bytes)
  }

  @Test("No reserved region, or a scrub asked for, refuses a crash kernel before anything loads")
  func crashRefusals() {
    let noRegion = """
      40000000-7fffffff : System RAM
        40210000-4165ffff : Kernel code
      """
    #expect {
      try Self.crashPlan(iomem: noRegion)
    } throws: { error in
      guard case .crashKernelUnavailable(let reason) = error as? HandoffError else { return false }
      return reason.contains("crashkernel=")
    }
    #expect {
      try Self.crashPlan(iomem: Self.crashIomem, scrub: true)
    } throws: { error in
      guard case .crashKernelUnavailable(let reason) = error as? HandoffError else {
        return false
      }
      return reason.contains("the old memory intact")
    }
  }

  @Test("A region too small for the kernel names the segment that did not fit")
  func crashRegionTooSmall() {
    let small = """
      40000000-7fffffff : System RAM
        50000000-50ffffff : Crash kernel
      """
    #expect {
      try Self.crashPlan(iomem: small)
    } throws: { error in
      guard case .placementFailed(let segment, _, _, _) = error as? HandoffError else {
        return false
      }
      return segment == "kernel"
    }
  }

  @Test("The dump leaves out the crash kernel's region and keeps the rest of RAM")
  func dumpedMemory() {
    let memory = CrashDumpHeader.dumpedMemory(
      ram: [
        MemoryRange(start: 0x4000_0000, end: 0x5000_0000, kind: .ram),
        MemoryRange(start: 0x5000_0000, end: 0x8000_0000, kind: .ram),
      ],
      without: [Self.region])
    #expect(memory.map(\.rangeText) == ["[0x40000000, 0x50000000)", "[0x60000000, 0x80000000)"])
  }
}
