import HandoffCore
import HandoffTestSupport
import Testing

/// What a kexec_load plan must hold, whatever the image and the machine:
/// segments the kernel accepts, a kernel where its header allows, and a
/// purgatory told the truth about every segment.
enum PlanChecks {
  static let fourGiB: UInt64 = 0x1_0000_0000

  static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  static func segment(_ plan: LoadPlan, _ role: String) throws -> PlannedSegment {
    try #require(plan.segments.first { $0.role == role }, "no \(role) segment")
  }

  /// Checks everything a plan of `imageBytes` (and `initrd`) for `map` must satisfy.
  static func expectSound(
    _ plan: LoadPlan, imageBytes: [UInt8], initrd: [UInt8]?, map: MemoryMap
  ) throws {
    let image = try BzImage(path: "/boot/vmlinuz", bytes: imageBytes)
    let roles =
      initrd == nil
      ? ["kernel", "boot_params", "purgatory"]
      : ["kernel", "boot_params", "initrd", "purgatory"]
    #expect(plan.segments.map(\.role) == roles)
    #expect(plan.segments.count <= LoadPlan.segmentLimit)

    // every segment: whole pages of RAM, past the first MiB, clear of
    // the exclusions and of each other
    for segment in plan.segments {
      let end = segment.destination + segment.memorySize
      #expect(segment.destination % 0x1000 == 0, "\(segment.role) at \(segment.rangeText)")
      #expect(segment.memorySize % 0x1000 == 0, "\(segment.role) memsz \(segment.memorySize)")
      #expect(UInt64(segment.bytes.count) <= segment.memorySize, "\(segment.role) overflows")
      #expect(segment.destination >= 0x10_0000, "\(segment.role) in the first MiB")
      #expect(
        map.ram.contains { $0.start <= segment.destination && end <= $0.end },
        "\(segment.role) at \(segment.rangeText) is not inside RAM")
      #expect(
        !map.excluded.contains { $0.start < end && segment.destination < $0.end },
        "\(segment.role) at \(segment.rangeText) is in an excluded range")
    }
    let sorted = plan.segments.sorted { $0.destination < $1.destination }
    for (earlier, later) in zip(sorted, sorted.dropFirst()) {
      #expect(
        earlier.destination + earlier.memorySize <= later.destination,
        "\(earlier.role) \(earlier.rangeText) overlaps \(later.role) \(later.rangeText)")
    }

    // the kernel: the image past its setup code, aligned, at or above
    // pref_address, with room for init_size
    let kernel = try segment(plan, "kernel")
    #expect(kernel.bytes == Array(imageBytes[image.setupSize...]))
    #expect(kernel.destination % UInt64(image.kernelAlignment) == 0)
    #expect(kernel.destination >= image.preferredAddress)
    #expect(kernel.memorySize >= UInt64(image.initSize))

    // the purgatory and boot_params, below 4 GiB; the entry is the purgatory's
    let purgatory = try segment(plan, "purgatory")
    let bootParams = try segment(plan, "boot_params")
    #expect(purgatory.destination + purgatory.memorySize <= fourGiB)
    #expect(bootParams.destination + bootParams.memorySize <= fourGiB)
    #expect(purgatory.memorySize >= UInt64(PurgatoryBlobX86_64.bytes.count))
    #expect(plan.entry == purgatory.destination + UInt64(PurgatoryBlobX86_64.entryOffset))

    // what the purgatory is told: the 64-bit entry, boot_params, and each
    // other segment's XXH64
    #expect(plan.purgatory.kernelEntry == kernel.destination + 0x200)
    #expect(plan.purgatory.kernelArgument == bootParams.destination)
    let checked = plan.segments.filter { $0.role != "purgatory" }
    #expect(plan.purgatory.regions.count == checked.count)
    for (region, segment) in zip(plan.purgatory.regions, checked) {
      #expect(region.start == segment.destination, "\(segment.role)")
      #expect(region.size == UInt64(segment.bytes.count), "\(segment.role)")
      // without verification the digests are not computed at all
      let digest = plan.purgatory.verify ? xxh64(segment.bytes) : 0
      #expect(region.digest == digest, "\(segment.role)'s digest")
    }
    try expectPatched(purgatory.bytes, with: plan.purgatory)

    // boot_params points at the initrd segment
    let ramdisk =
      word(bootParams.bytes, 0x218) & 0xffff_ffff | (word(bootParams.bytes, 0xc0) & 0xffff_ffff)
      << 32
    let ramdiskSize =
      word(bootParams.bytes, 0x21c) & 0xffff_ffff | (word(bootParams.bytes, 0xc4) & 0xffff_ffff)
      << 32
    if let initrd {
      let placed = try segment(plan, "initrd")
      #expect(placed.bytes == initrd)
      #expect(ramdisk == placed.destination)
      #expect(ramdiskSize == UInt64(initrd.count))
    } else {
      #expect(ramdisk == 0 && ramdiskSize == 0)
    }
  }

  /// The purgatory segment is the blob with `parameters` at its block.
  static func expectPatched(_ bytes: [UInt8], with parameters: PurgatoryParameters) throws {
    let blob = PurgatoryBlobX86_64.bytes
    let block = PurgatoryBlobX86_64.parametersOffset
    let end = block + PurgatoryParameters.size
    try #require(bytes.count == blob.count)
    #expect(bytes[..<block] == blob[..<block])
    #expect(bytes[end...] == blob[end...])
    // the magic and layout version the blob was built with stay as they were
    #expect(word(bytes, block) == 0x4750_5446_464f_4e48)
    #expect(word(bytes, block + 0x08) == word(blob, block + 0x08))
    #expect(word(bytes, block + 0x10) == parameters.kernelEntry)
    #expect(word(bytes, block + 0x18) == parameters.kernelArgument)
    #expect(word(bytes, block + 0x20) == parameters.serial)
    #expect(
      word(bytes, block + 0x28) == (parameters.verify ? 1 : 0) | (parameters.announce ? 2 : 0))
    #expect(word(bytes, block + 0x30) == UInt64(parameters.regions.count))
    for (index, region) in parameters.regions.enumerated() {
      let base = block + 0x38 + index * 32
      #expect(word(bytes, base) == region.start)
      #expect(word(bytes, base + 8) == region.size)
      #expect(word(bytes, base + 16) == region.digest)
    }
  }
}

/// Plans for the handmade image on the test machines: where each segment
/// goes, what the purgatory is told, and what fails when memory is short.
@Suite("Planning a kexec_load")
struct LoadPlannerTests {
  static let q35 = try! MemoryMapParser.parse(MachineFixtures.q35Iomem, source: "iomem")
  static let sixGiB = try! MemoryMapParser.parse(MachineFixtures.sixGiBMemmap, source: "6g")
  static let ovmf = try! MemoryMapParser.parse(MachineFixtures.oneGiBEFIMemmap, source: "ovmf")

  /// Nine MiB of a pattern that is not all one byte.
  static let initrd: [UInt8] = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) }

  static func plan(
    image: HandmadeBzImage = HandmadeBzImage(), map: MemoryMap = sixGiB,
    initrd: [UInt8]? = initrd, commandLine: String = "console=ttyS0 panic=-1",
    options: PlanOptions = PlanOptions()
  ) throws(HandoffError) -> LoadPlan {
    let bytes = image.bytes
    return try X86LoadPlanner(
      image: try BzImage(path: "/boot/vmlinuz", bytes: bytes), imageBytes: bytes, initrd: initrd,
      commandLine: commandLine,
      environment: X86BootEnvironment(memoryMap: map, rngSeed: [1, 2, 3, 4]),
      options: options
    ).plan()
  }

  struct Machine: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var map: MemoryMap
  }

  static let machines = [
    Machine(testDescription: "1 GiB q35 with a crash kernel", map: q35),
    Machine(testDescription: "6 GiB q35", map: sixGiB),
    Machine(testDescription: "1 GiB OVMF", map: ovmf),
  ]

  @Test(
    "A plan is sound on every machine, with and without an initrd", arguments: machines,
    [true, false])
  func soundPlan(machine: Machine, withInitrd: Bool) throws {
    let initrd = withInitrd ? Self.initrd : nil
    let plan = try Self.plan(map: machine.map, initrd: initrd)
    try PlanChecks.expectSound(
      plan, imageBytes: HandmadeBzImage().bytes, initrd: initrd, map: machine.map)
  }

  @Test("The kernel goes at pref_address when that is free")
  func kernelAtPreferredAddress() throws {
    let plan = try Self.plan()
    #expect(try PlanChecks.segment(plan, "kernel").destination == 0x100_0000)
    #expect(try PlanChecks.segment(plan, "kernel").memorySize == 0x2_0000)
  }

  @Test("A kernel whose init_size is larger than the image gets memsz of init_size, in pages")
  func initSize() throws {
    var image = HandmadeBzImage()
    image.initSize = 0x123_4567
    let kernel = try PlanChecks.segment(try Self.plan(image: image), "kernel")
    #expect(kernel.memorySize == 0x123_5000)
    #expect(kernel.bytes.count == image.kernelLength)
  }

  @Test(
    "A kernel with a larger alignment is placed at a multiple of it",
    arguments: [UInt32(0x20_0000), 0x100_0000, 0x400_0000])
  func kernelAlignment(alignment: UInt32) throws {
    var image = HandmadeBzImage()
    image.kernelAlignment = alignment
    image.preferredAddress = 0x130_0000
    let plan = try Self.plan(image: image)
    let kernel = try PlanChecks.segment(plan, "kernel")
    #expect(kernel.destination % UInt64(alignment) == 0)
    #expect(kernel.destination >= 0x130_0000)
    #expect(kernel.destination < 0x130_0000 + UInt64(alignment))
  }

  @Test(
    "In the crash kernel machine, a kernel too big for the room below the reservation goes above it"
  )
  func kernelAvoidsCrashKernel() throws {
    var image = HandmadeBzImage()
    image.preferredAddress = 0x3000_0000
    image.initSize = 0x400_0000
    let kernel = try PlanChecks.segment(try Self.plan(image: image, map: Self.q35), "kernel")
    #expect(kernel.destination == 0x3b00_0000)
  }

  @Test("A kernel that cannot relocate goes exactly at pref_address, or nowhere")
  func notRelocatable() throws {
    var image = HandmadeBzImage()
    image.relocatable = 0
    image.preferredAddress = 0x200_0000
    #expect(try PlanChecks.segment(try Self.plan(image: image), "kernel").destination == 0x200_0000)

    var taken = Self.sixGiB
    taken.excluded = [MemoryRange(start: 0x200_0000, end: 0x200_1000, kind: .reserved)]
    let error = try #require(throws: HandoffError.self) { try Self.plan(image: image, map: taken) }
    guard case .placementFailed(let segment, _, _, _) = error else {
      Issue.record("expected placementFailed, got \(error)")
      return
    }
    #expect(segment == "kernel")
  }

  /// Each machine, and whether it has RAM above 4 GiB.
  static let highRAM: [(MemoryMap, Bool)] = [(sixGiB, true), (q35, false), (ovmf, false)]

  @Test(
    "The initrd goes as high as RAM goes: above 4 GiB with 6 GiB, below it with 1 GiB",
    arguments: highRAM)
  func initrdHigh(map: MemoryMap, above4GiB: Bool) throws {
    let plan = try Self.plan(map: map)
    let initrd = try PlanChecks.segment(plan, "initrd")
    let end = initrd.destination + initrd.memorySize
    #expect((initrd.destination >= PlanChecks.fourGiB) == above4GiB)
    // nothing free above it: what lies there is taken by other segments
    #expect(
      !plan.freeMemory.contains { $0.end > end }, "free above the initrd: \(plan.freeMemory)")
    #expect(end <= map.ram.last!.end)
  }

  @Test("The boot_params segment carries the command line it was given")
  func commandLine() throws {
    let plan = try Self.plan(commandLine: "console=ttyS0 handoff.stage=2")
    let bootParams = try PlanChecks.segment(plan, "boot_params")
    let pointer = PlanChecks.word(bootParams.bytes, 0x228) & 0xffff_ffff
    let offset = Int(pointer - bootParams.destination)
    let text = Array("console=ttyS0 handoff.stage=2".utf8) + [0]
    #expect(Array(bootParams.bytes[offset..<offset + text.count]) == text)
  }

  @Test("--no-verify clears the verify flag and leaves the digests out")
  func noVerify() throws {
    let plan = try Self.plan(options: PlanOptions(verify: false))
    #expect(!plan.purgatory.verify)
    let purgatory = try PlanChecks.segment(plan, "purgatory")
    let flags = PlanChecks.word(purgatory.bytes, PurgatoryBlobX86_64.parametersOffset + 0x28)
    #expect(flags & 1 == 0)
    try PlanChecks.expectSound(
      plan, imageBytes: HandmadeBzImage().bytes, initrd: Self.initrd, map: Self.sixGiB)
  }

  @Test(
    "The serial port and the announce flag reach the purgatory",
    arguments: [(UInt16(0x3f8), false), (0x2f8, true), (0, true)])
  func serialAndAnnounce(port: UInt16, announce: Bool) throws {
    let plan = try Self.plan(options: PlanOptions(announce: announce, serialPort: port))
    let purgatory = try PlanChecks.segment(plan, "purgatory")
    let block = PurgatoryBlobX86_64.parametersOffset
    #expect(PlanChecks.word(purgatory.bytes, block + 0x20) == UInt64(port))
    #expect(PlanChecks.word(purgatory.bytes, block + 0x28) == 1 | (announce ? 2 : 0))
  }

  @Test(
    "A segment damaged for the lab no longer matches its digest; the others still do",
    arguments: [0, 1, 2])
  func corruptSegment(index: Int) throws {
    let plan = try Self.plan(options: PlanOptions(corruptSegment: index))
    let intact = try Self.plan()
    for (number, segment) in plan.segments.enumerated() where segment.role != "purgatory" {
      let matches = xxh64(segment.bytes) == plan.purgatory.regions[number].digest
      #expect(matches == (number != index), "segment \(number), \(segment.role)")
    }
    let damaged = plan.segments[index].bytes
    let original = intact.segments[index].bytes
    #expect(damaged.count == original.count)
    #expect(zip(damaged, original).filter { $0 != $1 }.count == 1)
    #expect(plan.purgatory.regions == intact.purgatory.regions)
  }

  @Test("A damage index past the checked segments damages nothing", arguments: [3, 9])
  func corruptNothing(index: Int) throws {
    let plan = try Self.plan(options: PlanOptions(corruptSegment: index))
    #expect(plan.segments == (try Self.plan()).segments)
  }

  struct Shortage: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var ram: [(UInt64, UInt64)]
    var segment: String
    var size: UInt64
  }

  /// The purgatory's memsz, as the blob says.
  static let purgatorySize = SegmentPlacer.roundUp(
    UInt64(PurgatoryBlobX86_64.memorySize), 0x1000)

  static let shortages = [
    Shortage(
      testDescription: "RAM ends inside the kernel's init_size",
      ram: [(0x10_0000, 0x101_0000)], segment: "kernel", size: 0x2_0000),
    Shortage(
      testDescription: "below 4 GiB only the kernel's room",
      ram: [(0x100_0000, 0x102_0000), (0x1_0000_0000, 0x2_0000_0000)], segment: "purgatory",
      size: purgatorySize),
    Shortage(
      testDescription: "below 4 GiB room for the kernel and purgatory alone",
      ram: [(0x100_0000, 0x102_0000 + purgatorySize), (0x1_0000_0000, 0x2_0000_0000)],
      segment: "boot_params", size: 0x2000),
    Shortage(
      testDescription: "no room left for 9 MiB",
      ram: [(0x10_0000, 0x80_0000), (0x100_0000, 0x180_0000)], segment: "initrd",
      size: 0x90_0000),
  ]

  @Test("Too little memory fails, naming the segment that did not fit", arguments: shortages)
  func tooLittleMemory(_ shortage: Shortage) throws {
    let map = MemoryMap(
      ranges: shortage.ram.map { MemoryRange(start: $0.0, end: $0.1, kind: .ram) })
    let error = try #require(throws: HandoffError.self) { try Self.plan(map: map) }
    guard case .placementFailed(let segment, let size, _, let free) = error else {
      Issue.record("expected placementFailed, got \(error)")
      return
    }
    #expect(segment == shortage.segment)
    #expect(size == shortage.size)
    #expect(free.hasPrefix("["), "\(free)")
  }

  @Test("A command line longer than cmdline_size is refused before anything is placed")
  func commandLineTooLong() throws {
    var image = HandmadeBzImage()
    image.commandLineSize = 16
    #expect(
      throws: HandoffError.commandLineTooLong(length: 16, limit: 16, path: "/boot/vmlinuz")
    ) { try Self.plan(image: image, commandLine: String(repeating: "x", count: 16)) }
  }
}

/// Plans for the Debian kernels the lab boots, on the lab's machines.
@Suite("Planning a kexec_load for Debian's kernels")
struct LabKernelPlanTests {
  @Test(
    "A Debian kernel's plan is sound, its initrd above 4 GiB with 6 GiB and below with 1 GiB",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func debianKernel(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    let image = try BzImage(path: kernel.imagePath, bytes: bytes)
    let initrd = LoadPlannerTests.initrd
    for (map, above) in [(LoadPlannerTests.sixGiB, true), (LoadPlannerTests.q35, false)] {
      let plan = try X86LoadPlanner(
        image: image, imageBytes: bytes, initrd: initrd, commandLine: "console=ttyS0",
        environment: X86BootEnvironment(memoryMap: map)
      ).plan()
      try PlanChecks.expectSound(plan, imageBytes: bytes, initrd: initrd, map: map)
      let placed = try PlanChecks.segment(plan, "initrd")
      #expect((placed.destination >= PlanChecks.fourGiB) == above, "initrd at \(placed.rangeText)")
      #expect(try PlanChecks.segment(plan, "kernel").destination == image.preferredAddress)
    }
  }
}
