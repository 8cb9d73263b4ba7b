import HandoffCore
import HandoffTestSupport
import Testing

@Suite("Planning an arm64 or riscv64 kexec_load")
struct DeviceTreeLoadPlannerTests {
  /// 1 GiB of RAM at 1 GiB, as on QEMU's virt machine, with the running
  /// kernel's reservations inside it.
  static let iomem = """
    09000000-09000fff : pl011@9000000
      09000000-09000fff : 9000000.pl011 pl011@9000000
    40000000-7fffffff : System RAM
      40210000-4165ffff : Kernel code
      41660000-41b2ffff : reserved
      41b30000-42d0ffff : Kernel data
      48000000-480fffff : reserved
    """

  static func plan(
    architecture: DeviceTreeLoadPlanner.Architecture = .arm64, uart: String = "arm,pl011",
    kernelSize: Int = 0x180_0000, imageSize: UInt64 = 0x1c0_0000, textOffset: UInt64 = 0,
    initrd: [UInt8]? = [UInt8](repeating: 0xab, count: 0x30_0000),
    reservedMemory: [(address: UInt64, size: UInt64)] = [], uefi: Bool = false,
    retainsInitrd: Bool = false, memblock: [MemoryRange]? = nil, spcr: [UInt8]? = nil,
    options: PlanOptions = PlanOptions()
  ) throws -> (plan: LoadPlan, edits: [String]) {
    let map = try MemoryMapParser.parseIomem(iomem, source: "iomem")
    let environment = DeviceTreeBootEnvironment(
      memoryMap: map,
      deviceTree: DeviceTreeFixture.virt(uart: uart, reservedMemory: reservedMemory, uefi: uefi),
      deviceTreeSource: "/sys/firmware/fdt",
      kaslrSeed: 42, rngSeed: [1, 2, 3, 4], retainsInitrd: retainsInitrd,
      memblockReserved: memblock, serialConsoleTable: spcr)
    let plan = try DeviceTreeLoadPlanner(
      architecture: architecture, kernel: [UInt8](repeating: 0x14, count: kernelSize),
      textOffset: textOffset,
      imageSize: imageSize, initrd: initrd, commandLine: "console=ttyAMA0",
      environment: environment, options: options
    ).plan()
    return (plan, plan.deviceTreeEdits)
  }

  @Test("The Image goes to the lowest 2 MiB-aligned base clear of reservations")
  func kernelPlacement() throws {
    // 28 MiB from 0x40000000 would cover the reserved [0x41660000,
    // 0x41b30000); the next 2 MiB boundary past it is 0x41c00000
    let (plan, _) = try Self.plan()
    let kernel = try PlanChecks.segment(plan, "kernel")
    #expect(kernel.destination == 0x41c0_0000)
    #expect(kernel.memorySize == 0x1c0_0000)
    #expect(plan.purgatory.kernelEntry == 0x41c0_0000)

    // a smaller Image fits below the reservation, at the start of RAM
    let (small, _) = try Self.plan(kernelSize: 0x100_0000, imageSize: 0x140_0000)
    #expect(try PlanChecks.segment(small, "kernel").destination == 0x4000_0000)
  }

  @Test("A text_offset puts the Image that far past its 2 MiB-aligned base")
  func textOffset() throws {
    let (plan, _) = try Self.plan(textOffset: 0x8_0000)
    let kernel = try PlanChecks.segment(plan, "kernel")
    #expect(kernel.destination == 0x41c8_0000)
    #expect((kernel.destination - 0x8_0000) % 0x20_0000 == 0)
  }

  @Test("Segments stay clear of the running kernel's reservations and of each other")
  func segmentsApart() throws {
    let (plan, _) = try Self.plan()
    #expect(plan.segments.map(\.role) == ["kernel", "dtb", "initrd", "purgatory"])
    let reserved: [(UInt64, UInt64)] = [(0x4166_0000, 0x41b3_0000), (0x4800_0000, 0x4810_0000)]
    let ranges = plan.segments.map { ($0.destination, $0.destination + $0.memorySize) }
    for (index, range) in ranges.enumerated() {
      #expect(range.0 % 0x1000 == 0 && range.0 >= 0x4000_0000 && range.1 <= 0x8000_0000)
      for other in reserved + ranges[(index + 1)...] {
        #expect(range.1 <= other.0 || other.1 <= range.0, "\(range) overlaps \(other)")
      }
    }
  }

  @Test("The kernel is handed the DTB, which names the initrd where it was placed")
  func deviceTreeNamesInitrd() throws {
    let (plan, edits) = try Self.plan()
    let dtb = try PlanChecks.segment(plan, "dtb")
    let initrd = try PlanChecks.segment(plan, "initrd")
    #expect(plan.purgatory.kernelArgument == dtb.destination)
    #expect(plan.kernelArgumentRole == "dtb")
    let tree = try DeviceTree(dtb.bytes, source: "dtb")
    let start = tree.property("/chosen", "linux,initrd-start")
    let end = tree.property("/chosen", "linux,initrd-end")
    #expect(start.map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } } == initrd.destination)
    #expect(
      end.map { $0.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        == initrd.destination + 0x30_0000)
    #expect(edits.contains("set /chosen bootargs \"console=ttyAMA0\""))
  }

  @Test("The purgatory checks every other segment and reports on the DTB's PL011")
  func purgatoryParameters() throws {
    let (plan, _) = try Self.plan()
    let purgatory = try PlanChecks.segment(plan, "purgatory")
    #expect(plan.entry == purgatory.destination + UInt64(PurgatoryBlobAArch64.entryOffset))
    #expect(plan.purgatory.regions.count == 3)
    for (region, segment) in zip(plan.purgatory.regions, plan.segments) {
      #expect(region.start == segment.destination)
      #expect(region.digest == xxh64(segment.bytes))
    }
    #expect(plan.purgatory.serial == 0x900_0000)
    let block = PurgatoryBlobAArch64.parametersOffset
    #expect(PlanChecks.word(purgatory.bytes, block + 0x10) == plan.purgatory.kernelEntry)
    #expect(PlanChecks.word(purgatory.bytes, block + 0x18) == plan.purgatory.kernelArgument)
  }

  @Test("An Image larger than RAM names the kernel and its image_size")
  func tooLarge() {
    #expect {
      _ = try Self.plan(imageSize: 0x4000_0000)
    } throws: { error in
      guard case .placementFailed(let segment, _, let constraint, _)? = error as? HandoffError
      else { return false }
      return segment == "kernel" && constraint.hasPrefix("text_offset and image_size, ")
    }
  }

  @Test("riscv64: the Image starts on a text_offset boundary, and the purgatory uses the 16550")
  func riscv64() throws {
    let (plan, _) = try Self.plan(
      architecture: .riscv64, uart: "ns16550a", textOffset: 0x20_0000)
    let kernel = try PlanChecks.segment(plan, "kernel")
    #expect(kernel.destination == 0x41c0_0000)
    #expect(plan.purgatory.kernelEntry == kernel.destination)
    #expect(plan.purgatory.serial == 0x900_0000)
    let purgatory = try PlanChecks.segment(plan, "purgatory")
    #expect(purgatory.memorySize == UInt64(PurgatoryBlobRISCV64.memorySize))
    #expect(plan.entry == purgatory.destination + UInt64(PurgatoryBlobRISCV64.entryOffset))

    // a text_offset that is no power of two cannot be an alignment
    #expect {
      _ = try Self.plan(architecture: .riscv64, textOffset: 0x30_0000)
    } throws: { error in
      guard case .invalidField(_, let field, _, _, _)? = error as? HandoffError else {
        return false
      }
      return field == "text_offset"
    }
  }

  /// Every page of RAM is zeroed, or is a segment or a range the DTB
  /// reserves; under EFI also a reservation /proc/iomem shows, but for the
  /// running initrd, which the kernel freed.
  @Test(
    "A scrub zeroes every page of RAM or keeps it, never both",
    arguments: [DeviceTreeLoadPlanner.Architecture.arm64, .riscv64], [false, true])
  func scrub(architecture: DeviceTreeLoadPlanner.Architecture, uefi: Bool) throws {
    let firmware: (address: UInt64, size: UInt64) = (0x7e00_0000, 0x20_0800)
    let riscv64 = architecture == .riscv64
    let (plan, _) = try Self.plan(
      architecture: architecture, uart: riscv64 ? "ns16550a" : "arm,pl011",
      textOffset: riscv64 ? 0x20_0000 : 0,
      reservedMemory: [firmware, (0x5000_0000, 0)], uefi: uefi, options: PlanOptions(scrub: true))
    let scrub = try #require(plan.purgatory.scrub)
    #expect(scrub.identityMapEnd == 0x8000_0000)
    #expect(scrub.pageTableBytes == 0)

    // the freed initrd, [0x48000000, 0x48100000), is zeroed either way
    var kept: [(start: UInt64, end: UInt64)] = [
      (firmware.address, firmware.address + firmware.size)
    ]
    if uefi { kept.append((0x4166_0000, 0x41b3_0000)) }
    for segment in plan.segments {
      kept.append((segment.destination, segment.destination + segment.memorySize))
    }
    var page: UInt64 = 0x4000_0000
    var scrubbedPages: UInt64 = 0
    while page < 0x8000_0000 {
      let scrubbed = scrub.ranges.contains { $0.start <= page && page < $0.end }
      let needed = kept.contains { $0.start < page + 0x1000 && page < $0.end }
      #expect(scrubbed != needed, "page \(String(page, radix: 16))")
      if scrubbed != needed { return }
      if scrubbed { scrubbedPages += 1 }
      page += 0x1000
    }
    #expect(scrub.totalBytes == scrubbedPages * 0x1000)

    // the block carries the ranges, and the purgatory's own checks accept them
    let purgatory = try PlanChecks.segment(plan, "purgatory")
    let block =
      riscv64 ? PurgatoryBlobRISCV64.parametersOffset : PurgatoryBlobAArch64.parametersOffset
    #expect(PlanChecks.word(purgatory.bytes, block + 0x28) & 4 != 0)
    #expect(PlanChecks.word(purgatory.bytes, block + 0x238) == 0x8000_0000)
    #expect(PlanChecks.word(purgatory.bytes, block + 0x248) == UInt64(scrub.ranges.count))
  }

  @Test("Under EFI an initrd the running kernel kept (retain_initrd) is not scrubbed")
  func retainedInitrd() throws {
    let (plan, _) = try Self.plan(
      uefi: true, retainsInitrd: true, options: PlanOptions(scrub: true))
    let scrub = try #require(plan.purgatory.scrub)
    let initrd = DeviceTreeFixture.runningInitrd
    #expect(!scrub.ranges.contains { $0.start < initrd.end && initrd.start < $0.end })
  }

  @Test("Under EFI what memblock no longer reserves is scrubbed, what it still does is kept")
  func memblockUnderEFI() throws {
    // of iomem's [0x41660000, 0x41b30000) and [0x48000000, 0x48100000) the
    // kernel still holds [0x41660000, 0x41710000), its last page in part
    let memblock = [MemoryRange(start: 0x4166_0000, end: 0x4170_f018, kind: .reserved)]
    let (plan, _) = try Self.plan(
      uefi: true, retainsInitrd: true, memblock: memblock, options: PlanOptions(scrub: true))
    let scrub = try #require(plan.purgatory.scrub)
    func scrubbed(_ page: UInt64) -> Bool {
      scrub.ranges.contains { $0.start <= page && page < $0.end }
    }
    #expect(!scrubbed(0x4166_0000))
    #expect(!scrubbed(0x4170_f000))
    #expect(scrubbed(0x4171_0000))
    #expect(scrubbed(0x41b2_f000))
    #expect(scrubbed(0x4800_0000))
  }

  @Test("Without a UART in stdout-path the purgatory reports on the one ACPI's SPCR names")
  func serialFromSPCR() throws {
    var spcr = [UInt8](repeating: 0, count: 0x50)
    spcr.replaceSubrange(0..<4, with: Array("SPCR".utf8))
    spcr[36] = 0x03
    spcr[41] = 8
    spcr.replaceSubrange(44..<52, with: [0x00, 0x00, 0x01, 0x09, 0, 0, 0, 0])
    // stdout-path names a UART of another kind: the SPCR's PL011 is used
    let (plan, _) = try Self.plan(uart: "ns16550a", spcr: spcr)
    #expect(plan.purgatory.serial == 0x901_0000)
    // a DTB's own console wins
    #expect(try Self.plan(spcr: spcr).plan.purgatory.serial == 0x900_0000)
  }
}
