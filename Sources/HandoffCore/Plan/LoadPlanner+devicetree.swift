/// What an arm64 or riscv64 handoff is given from the running machine: its
/// RAM, its DTB, and randomness for the next kernel.
public struct DeviceTreeBootEnvironment: Sendable {
  public var memoryMap: MemoryMap
  /// The running kernel's DTB, from /sys/firmware/fdt or a file.
  public var deviceTree: [UInt8]
  /// Where `deviceTree` came from, for errors.
  public var deviceTreeSource: String
  public var kaslrSeed: UInt64
  public var rngSeed: [UInt8]
  /// The running kernel kept its initrd's memory (`retain_initrd`) rather
  /// than freeing it once unpacked.
  public var retainsInitrd: Bool
  /// The running kernel's memblock reservations as they are now (from
  /// debugfs); nil when they cannot be read.
  public var memblockReserved: [MemoryRange]?
  /// ACPI's SPCR, which names the console on a machine the DTB does not
  /// describe; nil without ACPI.
  public var serialConsoleTable: [UInt8]?

  public init(
    memoryMap: MemoryMap, deviceTree: [UInt8], deviceTreeSource: String, kaslrSeed: UInt64,
    rngSeed: [UInt8], retainsInitrd: Bool = false, memblockReserved: [MemoryRange]? = nil,
    serialConsoleTable: [UInt8]? = nil
  ) {
    self.memoryMap = memoryMap
    self.deviceTree = deviceTree
    self.deviceTreeSource = deviceTreeSource
    self.kaslrSeed = kaslrSeed
    self.rngSeed = rngSeed
    self.retainsInitrd = retainsInitrd
    self.memblockReserved = memblockReserved
    self.serialConsoleTable = serialConsoleTable
  }
}

/// Plans an arm64 or riscv64 handoff through Handoff's own purgatory: the
/// Image low in RAM on a 2 MiB boundary, then the initrd, the DTB and the
/// purgatory high. The two architectures differ only where their boot
/// documents do:
///
/// - arm64 (`Documentation/arch/arm64/booting.rst`): the Image goes
///   `text_offset` past a 2 MiB-aligned base, the initrd inside the 1 GiB-
///   aligned 32 GiB window that holds the kernel, and the purgatory enters
///   it with x0 = the DTB; it reports on a PL011.
/// - riscv64 (`Documentation/arch/riscv/boot.rst`): the Image goes on a
///   boundary of `text_offset` (2 MiB for rv64), the kernel finds the DTB
///   among the segments itself and hands it and the hart id on; the
///   purgatory keeps both and reports on a 16550.
///
/// Segments are page-aligned for a running kernel with 4 KiB pages; one
/// with 16 or 64 KiB pages would refuse them, and is not planned for yet.
public struct DeviceTreeLoadPlanner {
  /// What differs between the architectures this planner serves.
  public enum Architecture: Sendable {
    case arm64, riscv64

    var name: String { self == .arm64 ? "aarch64" : "riscv64" }
    var purgatory: (bytes: [UInt8], parametersOffset: Int, entryOffset: Int, memorySize: Int) {
      switch self {
      case .arm64:
        return (
          PurgatoryBlobAArch64.bytes, PurgatoryBlobAArch64.parametersOffset,
          PurgatoryBlobAArch64.entryOffset, PurgatoryBlobAArch64.memorySize
        )
      case .riscv64:
        return (
          PurgatoryBlobRISCV64.bytes, PurgatoryBlobRISCV64.parametersOffset,
          PurgatoryBlobRISCV64.entryOffset, PurgatoryBlobRISCV64.memorySize
        )
      }
    }
    /// The UART the purgatory drives, by its compatible string.
    var console: String { self == .arm64 ? "arm,pl011" : "ns16550a" }
  }

  static let kernelBaseAlignment: UInt64 = 0x20_0000
  static let initrdWindowAlignment: UInt64 = 0x4000_0000
  static let initrdWindowSize: UInt64 = 0x8_0000_0000
  /// The next kernel maps the DTB with blocks of up to this size.
  static let deviceTreeLimit = 0x20_0000

  public let architecture: Architecture
  /// The decompressed Image.
  public let kernel: [UInt8]
  /// Header fields: on arm64 where the Image goes past its 2 MiB-aligned
  /// base, on riscv64 the alignment of its start; and how much memory it
  /// needs from its start, its bss included.
  public let textOffset: UInt64
  public let imageSize: UInt64
  public let initrd: [UInt8]?
  public let commandLine: String
  public let environment: DeviceTreeBootEnvironment
  public let options: PlanOptions
  /// For a crash kernel, the ELF core header it reads the panicked kernel
  /// through; every segment then goes into the memory the running kernel
  /// reserved for it. Nil for the kernel `exec` boots.
  public let crashDump: CrashDumpHeader?

  public init(
    architecture: Architecture, kernel: [UInt8], textOffset: UInt64, imageSize: UInt64,
    initrd: [UInt8]?, commandLine: String, environment: DeviceTreeBootEnvironment,
    options: PlanOptions = PlanOptions(), crashDump: CrashDumpHeader? = nil
  ) {
    self.architecture = architecture
    self.kernel = kernel
    self.textOffset = textOffset
    self.imageSize = imageSize
    self.initrd = initrd
    self.commandLine = commandLine
    self.environment = environment
    self.options = options
    self.crashDump = crashDump
  }

  /// The plan, with the edits made to the DTB; or an error naming the
  /// segment that did not fit.
  public func plan() throws(HandoffError) -> LoadPlan {
    // a crash kernel's segments go in the main region reserved for it, and
    // it may use every region
    let crashRegions =
      crashDump == nil ? [] : try environment.memoryMap.crashKernelRegions(scrub: options.scrub)
    let map = crashRegions.first.map { MemoryMap(ranges: [$0]) } ?? environment.memoryMap
    var placer = SegmentPlacer(map: map)
    let ramEnd = map.ram.last?.end ?? 0

    // the kernel: the lowest suitable boundary with image_size free above
    // it (a pre-3.17 arm64 image_size of 0 means the file's size)
    let imageMemory = SegmentPlacer.roundUp(
      max(imageSize, UInt64(kernel.count)), SegmentPlacer.pageSize)
    let base: UInt64
    let kernelAddress: UInt64
    switch architecture {
    case .arm64:
      base = try placer.place(
        "kernel",
        PlacementRule(
          size: textOffset + imageMemory, alignment: Self.kernelBaseAlignment, lowest: 0,
          highest: ramEnd, topDown: false, origin: "text_offset and image_size"))
      kernelAddress = base + textOffset
    case .riscv64:
      let alignment = max(textOffset, Self.kernelBaseAlignment)
      guard alignment & (alignment - 1) == 0 else {
        throw .invalidField(
          path: "kernel", field: "text_offset", offset: 8, value: textOffset,
          expected: "a power of two, the alignment of the Image's start")
      }
      base = try placer.place(
        "kernel",
        PlacementRule(
          size: imageMemory, alignment: alignment, lowest: 0, highest: ramEnd, topDown: false,
          origin: "image_size"))
      kernelAddress = base
    }

    // the initrd: as high as it goes inside the kernel's 32 GiB window
    var initrdRange: (start: UInt64, end: UInt64)? = nil
    if let initrd, !initrd.isEmpty {
      let windowStart = base & ~(Self.initrdWindowAlignment - 1)
      let address = try placer.place(
        "initrd",
        PlacementRule(
          size: UInt64(initrd.count), alignment: SegmentPlacer.pageSize, lowest: windowStart,
          highest: min(windowStart + Self.initrdWindowSize, ramEnd), topDown: true))
      initrdRange = (address, address + UInt64(initrd.count))
    }

    // a crash kernel's ELF core header, which its DTB points at
    var crashSegment: PlannedSegment? = nil
    var crashProperties: NextKernelDeviceTree.CrashKernelProperties? = nil
    if let crashDump {
      let header = crashDump.bytes
      let address = try placer.place(
        "elfcorehdr",
        PlacementRule(
          size: UInt64(header.count), alignment: SegmentPlacer.pageSize, lowest: 0,
          highest: ramEnd, topDown: true))
      let memorySize = SegmentPlacer.roundUp(UInt64(header.count), SegmentPlacer.pageSize)
      crashSegment = PlannedSegment(
        role: "elfcorehdr", bytes: header, destination: address, memorySize: memorySize)
      crashProperties = NextKernelDeviceTree.CrashKernelProperties(
        elfCoreHeader: MemoryRange(start: address, end: address + memorySize, kind: .reserved),
        usableMemory: crashRegions)
    }

    // the DTB: its size does not depend on the addresses written into it,
    // so one build with the initrd's range is the one placed
    let deviceTree = try NextKernelDeviceTree(
      running: environment.deviceTree, source: environment.deviceTreeSource,
      commandLine: commandLine, initrd: initrdRange, kaslrSeed: environment.kaslrSeed,
      rngSeed: environment.rngSeed, crash: crashProperties)
    guard deviceTree.blob.count <= Self.deviceTreeLimit else {
      throw .invalidField(
        path: environment.deviceTreeSource, field: "FDT totalsize", offset: 4,
        value: UInt64(deviceTree.blob.count), expected: "at most 2 MiB, as booting.rst asks")
    }
    let deviceTreeAddress = try placer.place(
      "dtb",
      PlacementRule(
        size: UInt64(deviceTree.blob.count), alignment: SegmentPlacer.pageSize, lowest: 0,
        highest: ramEnd, topDown: true))
    let blob = architecture.purgatory
    let purgatory = try placer.place(
      "purgatory",
      PlacementRule(
        size: UInt64(blob.memorySize), alignment: SegmentPlacer.pageSize, lowest: 0,
        highest: ramEnd, topDown: true))

    // the segments the purgatory verifies
    var segments = [
      PlannedSegment(
        role: "kernel", bytes: kernel, destination: kernelAddress, memorySize: imageMemory),
      PlannedSegment(
        role: "dtb", bytes: deviceTree.blob, destination: deviceTreeAddress,
        memorySize: SegmentPlacer.roundUp(UInt64(deviceTree.blob.count), SegmentPlacer.pageSize)),
    ]
    if let initrd, let initrdRange {
      segments.append(
        PlannedSegment(
          role: "initrd", bytes: initrd, destination: initrdRange.start,
          memorySize: SegmentPlacer.roundUp(UInt64(initrd.count), SegmentPlacer.pageSize)))
    }
    if let crashSegment { segments.append(crashSegment) }
    let regions = PurgatoryRegion.covering(segments, verify: options.verify)

    // what a scrub zeroes: RAM with every segment cut out, this purgatory's
    // own included, and whatever the next kernel's DTB reserves
    var scrub: PurgatoryScrub? = nil
    if options.scrub {
      var kept: [MemoryRange] = []
      for segment in segments {
        kept.append(
          MemoryRange(
            start: segment.destination, end: segment.destination + segment.memorySize,
            kind: .reserved))
      }
      kept.append(
        MemoryRange(start: purgatory, end: purgatory + UInt64(blob.memorySize), kind: .reserved))
      let ranges = try scrubRanges(
        keeping: kept + keptReservations(deviceTree), deviceTree: deviceTree.tree)
      scrub = PurgatoryScrub(
        ranges: ranges,
        identityMapEnd: SegmentPlacer.roundUp(ramEnd, Self.kernelBaseAlignment),
        pageTableBytes: 0)
    }

    // the purgatory, told where to jump, what to check, what to scrub and
    // which UART to use
    // which UART to use: the DTB's stdout-path, else ACPI's SPCR
    let console =
      NextKernelDeviceTree.console(in: deviceTree.tree, compatible: architecture.console)
      ?? environment.serialConsoleTable.flatMap {
        SerialConsoleTable.uart($0, compatible: architecture.console)
      }
    let parameters = PurgatoryParameters(
      kernelEntry: kernelAddress, kernelArgument: deviceTreeAddress, serial: console ?? 0,
      verify: options.verify, announce: options.announce, regions: regions, scrub: scrub)
    segments.append(
      PlannedSegment(
        role: "purgatory", bytes: parameters.patched(blob.bytes, at: blob.parametersOffset),
        destination: purgatory, memorySize: UInt64(blob.memorySize)))

    options.damage(&segments)
    return LoadPlan(
      segments: segments, entry: purgatory + UInt64(blob.entryOffset),
      purgatory: parameters, freeMemory: placer.freeRanges, deviceTreeEdits: deviceTree.edits)
  }

  /// What of the reservations /proc/iomem shows inside RAM a scrub keeps:
  /// a crash kernel's region always, and under EFI those the running
  /// kernel still holds.
  ///
  /// Those entries are the boot-time memblock reservations as they stood
  /// when the running kernel published them, not as they are now: its own
  /// early allocations and the initrd it has since freed and reused.
  /// Without EFI nothing the next kernel needs is among them that the DTB
  /// does not reserve too. Under EFI some are kept for the next kernel (the
  /// EFI memory map and memory attributes, the GIC's LPI tables in
  /// LINUX_EFI_MEMRESERVE) and no file lists which, so every one the
  /// kernel still reserves is kept (debugfs's memblock list tells which,
  /// else all but the initrd /chosen names); the running kernel's early
  /// allocations, swiotlb's bounce buffers among them, then stay unscrubbed.
  func keptReservations(_ next: NextKernelDeviceTree) -> [MemoryRange] {
    let map = environment.memoryMap
    guard next.tree.property("/chosen", "linux,uefi-system-table") != nil else {
      return map.crashKernel
    }
    if let memblock = environment.memblockReserved {
      // whole pages of what is still reserved, as /proc/iomem rounds them
      let pages = memblock.map {
        MemoryRange(
          start: $0.start & ~(SegmentPlacer.pageSize - 1),
          end: SegmentPlacer.roundUp($0.end, SegmentPlacer.pageSize), kind: .reserved)
      }
      return map.excluded.intersected(with: pages) + map.crashKernel
    }
    guard let freed = next.runningInitrd, !environment.retainsInitrd else { return map.excluded }
    // the kernel frees every page the initrd touches
    return map.excluded.subtracting(
      freed.start & ~(SegmentPlacer.pageSize - 1),
      SegmentPlacer.roundUp(freed.end, SegmentPlacer.pageSize)) + map.crashKernel
  }

  /// The RAM an arm64 or riscv64 scrub zeroes, page-aligned: what
  /// /proc/iomem calls System RAM, without `kept`, and the next kernel's
  /// /memreserve/ entries and /reserved-memory ranges, which tell what the
  /// firmware keeps for itself.
  ///
  /// Throws `scrubUnavailable` for a /reserved-memory that cannot be read,
  /// and `scrubTooFragmented` for more ranges than the purgatory holds.
  func scrubRanges(
    keeping kept: [MemoryRange], deviceTree: DeviceTree
  ) throws(HandoffError) -> [MemoryRange] {
    guard let reservedMemory = deviceTree.reservedMemory else {
      throw .scrubUnavailable(
        reason: "\(environment.deviceTreeSource) has a /reserved-memory whose #address-cells "
          + "or #size-cells cannot be read, so what it reserves is unknown")
    }
    let map = environment.memoryMap
    var ranges = map.ram.coalesced()
    for range in kept { ranges = ranges.subtracting(range.start, range.end) }
    for reservation in deviceTree.memoryReservations + reservedMemory {
      let (end, overflow) = reservation.address.addingReportingOverflow(reservation.size)
      ranges = ranges.subtracting(reservation.address, overflow ? .max : end)
    }
    ranges = ranges.shrunkToPages(SegmentPlacer.pageSize)
    guard ranges.count <= PurgatoryParameters.scrubRangeLimit else {
      throw .scrubTooFragmented(ranges: ranges.count, limit: PurgatoryParameters.scrubRangeLimit)
    }
    return ranges
  }

}
