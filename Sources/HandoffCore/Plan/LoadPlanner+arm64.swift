/// What an arm64 handoff is given from the running machine: its RAM, its
/// DTB, and randomness for the next kernel.
public struct Arm64BootEnvironment: Sendable {
  public var memoryMap: MemoryMap
  /// The running kernel's DTB, from /sys/firmware/fdt or a file.
  public var deviceTree: [UInt8]
  /// Where `deviceTree` came from, for errors.
  public var deviceTreeSource: String
  public var kaslrSeed: UInt64
  public var rngSeed: [UInt8]

  public init(
    memoryMap: MemoryMap, deviceTree: [UInt8], deviceTreeSource: String, kaslrSeed: UInt64,
    rngSeed: [UInt8]
  ) {
    self.memoryMap = memoryMap
    self.deviceTree = deviceTree
    self.deviceTreeSource = deviceTreeSource
    self.kaslrSeed = kaslrSeed
    self.rngSeed = rngSeed
  }
}

/// Plans an arm64 handoff through Handoff's own purgatory, by the rules of
/// Documentation/arch/arm64/booting.rst: the Image at a 2 MiB-aligned base
/// plus text_offset, as low in RAM as it fits; the initrd inside the 32 GiB
/// window, 1 GiB-aligned, that holds the kernel; the DTB and the purgatory
/// high in RAM. The purgatory enters the kernel with x0 = the DTB.
///
/// Segments are page-aligned for a running kernel with 4 KiB pages; one
/// with 16 or 64 KiB pages would refuse them, and is not planned for yet.
public struct Arm64LoadPlanner {
  static let kernelBaseAlignment: UInt64 = 0x20_0000
  static let initrdWindowAlignment: UInt64 = 0x4000_0000
  static let initrdWindowSize: UInt64 = 0x8_0000_0000
  /// The next kernel maps the DTB with blocks of up to this size.
  static let deviceTreeLimit = 0x20_0000

  /// The decompressed Image.
  public let kernel: [UInt8]
  /// Header fields: where the Image goes past its 2 MiB-aligned base, and
  /// how much memory it needs from there, its bss included.
  public let textOffset: UInt64
  public let imageSize: UInt64
  public let initrd: [UInt8]?
  public let commandLine: String
  public let environment: Arm64BootEnvironment
  public let options: PlanOptions

  public init(
    kernel: [UInt8], textOffset: UInt64, imageSize: UInt64, initrd: [UInt8]?,
    commandLine: String, environment: Arm64BootEnvironment, options: PlanOptions = PlanOptions()
  ) {
    self.kernel = kernel
    self.textOffset = textOffset
    self.imageSize = imageSize
    self.initrd = initrd
    self.commandLine = commandLine
    self.environment = environment
    self.options = options
  }

  /// The plan, with the edits made to the DTB; or an error naming the
  /// segment that did not fit.
  public func plan() throws(HandoffError) -> LoadPlan {
    if options.scrub {
      throw .scrubUnavailable(
        reason: "the aarch64 purgatory runs with the MMU off and does not scrub yet")
    }
    var placer = SegmentPlacer(map: environment.memoryMap)
    let ramEnd = environment.memoryMap.ram.last?.end ?? 0

    // the kernel: the lowest 2 MiB-aligned base with text_offset + image_size
    // free above it (a pre-3.17 image_size of 0 means the file's size)
    let imageMemory = SegmentPlacer.roundUp(
      max(imageSize, UInt64(kernel.count)), SegmentPlacer.pageSize)
    let base = try placer.place(
      "kernel",
      PlacementRule(
        size: textOffset + imageMemory, alignment: Self.kernelBaseAlignment, lowest: 0,
        highest: ramEnd, topDown: false))
    let kernelAddress = base + textOffset

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

    // the DTB: its size does not depend on the addresses written into it,
    // so a first build with the initrd's range sizes it
    let deviceTree = try NextKernelDeviceTree(
      running: environment.deviceTree, source: environment.deviceTreeSource,
      commandLine: commandLine, initrd: initrdRange, kaslrSeed: environment.kaslrSeed,
      rngSeed: environment.rngSeed)
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
    let purgatory = try placer.place(
      "purgatory",
      PlacementRule(
        size: UInt64(PurgatoryBlobAArch64.memorySize), alignment: SegmentPlacer.pageSize,
        lowest: 0, highest: ramEnd, topDown: true))

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
    let regions = PurgatoryRegion.covering(segments, verify: options.verify)

    // the purgatory, told where to jump, what to check and which UART to use
    let console = (try? DeviceTree(deviceTree.blob, source: environment.deviceTreeSource))
      .flatMap(NextKernelDeviceTree.pl011Console)
    let parameters = PurgatoryParameters(
      kernelEntry: kernelAddress, kernelArgument: deviceTreeAddress, serial: console ?? 0,
      verify: options.verify, announce: options.announce, regions: regions)
    segments.append(
      PlannedSegment(
        role: "purgatory",
        bytes: parameters.patched(
          PurgatoryBlobAArch64.bytes, at: PurgatoryBlobAArch64.parametersOffset),
        destination: purgatory, memorySize: UInt64(PurgatoryBlobAArch64.memorySize)))

    options.damage(&segments)
    return LoadPlan(
      segments: segments, entry: purgatory + UInt64(PurgatoryBlobAArch64.entryOffset),
      purgatory: parameters, freeMemory: placer.freeRanges, deviceTreeEdits: deviceTree.edits)
  }
}
