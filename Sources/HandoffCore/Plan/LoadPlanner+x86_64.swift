/// Plans an x86_64 handoff through Handoff's own purgatory: places the
/// kernel, its boot_params, the initrd and the purgatory in RAM, and fills
/// in the purgatory's parameters, a scrub list among them when asked.
public struct X86LoadPlanner {
  static let fourGiB: UInt64 = 0x1_0000_0000
  /// The 64-bit entry point's offset from the protected-mode kernel's start.
  static let entry64Offset: UInt64 = 0x200

  public let image: BzImage
  public let imageBytes: [UInt8]
  public let initrd: [UInt8]?
  public let commandLine: String
  public let environment: X86BootEnvironment
  public let options: PlanOptions

  public init(
    image: BzImage, imageBytes: [UInt8], initrd: [UInt8]?, commandLine: String,
    environment: X86BootEnvironment, options: PlanOptions = PlanOptions()
  ) {
    self.image = image
    self.imageBytes = imageBytes
    self.initrd = initrd
    self.commandLine = commandLine
    self.environment = environment
    self.options = options
  }

  /// The plan, or an error naming the segment that did not fit.
  public func plan() throws(HandoffError) -> LoadPlan {
    try image.requireBootable64()
    try image.requireFits(commandLine: commandLine)
    var placer = SegmentPlacer(map: environment.memoryMap)
    let ramEnd = environment.memoryMap.ram.last?.end ?? 0

    // the kernel: bottom-up from pref_address, aligned to kernel_alignment,
    // with room for init_size; a kernel that cannot relocate goes exactly there
    let kernelBytes = Array(imageBytes[image.setupSize...])
    let kernelSize = SegmentPlacer.roundUp(
      max(UInt64(image.initSize), UInt64(kernelBytes.count)), SegmentPlacer.pageSize)
    let alignment = image.kernelAlignment != 0 ? UInt64(image.kernelAlignment) : 0x20_0000
    // a pref_address too close to the top of memory leaves no room: an empty window
    let fixedEnd = image.preferredAddress.addingReportingOverflow(kernelSize)
    let kernel = try placer.place(
      "kernel",
      PlacementRule(
        size: kernelSize, alignment: alignment, lowest: image.preferredAddress,
        highest: image.relocatable ? ramEnd : fixedEnd.overflow ? 0 : fixedEnd.partialValue,
        topDown: false))

    // the purgatory and boot_params: below 4 GiB, from the top. A scrub's
    // page tables make the purgatory's memsz larger, past its bss.
    let scrubPlanner = options.scrub ? X86ScrubPlanner(environment: environment) : nil
    if let end = scrubPlanner?.unreachableEnd {
      throw .scrubUnavailable(
        reason: "the memory map reaches \(hex(end)), past the 52-bit physical addresses the "
          + "purgatory's page tables can map")
    }
    let pageTableBytes =
      scrubPlanner.map { X86ScrubPlanner.pageTableBytes(identityMapEnd: $0.identityMapEnd) } ?? 0
    let purgatorySize = UInt64(PurgatoryBlobX86_64.memorySize) + pageTableBytes
    let purgatory = try placer.place(
      "purgatory",
      PlacementRule(
        size: purgatorySize, alignment: SegmentPlacer.pageSize, lowest: 0,
        highest: X86LoadPlanner.fourGiB, topDown: true))
    let bootParams = X86BootParams(
      image: image, imageBytes: imageBytes, commandLine: commandLine, environment: environment)
    let bootParamsAddress = try placer.place(
      "boot_params",
      PlacementRule(
        size: UInt64(bootParams.size), alignment: SegmentPlacer.pageSize, lowest: 0,
        highest: X86LoadPlanner.fourGiB, topDown: true))

    // the initrd: as high as the kernel can reach it
    var initrdPlacement: (address: UInt64, size: UInt64)? = nil
    if let initrd, !initrd.isEmpty {
      let highest =
        image.xloadflags.contains(.canBeLoadedAbove4G)
        ? ramEnd : min(UInt64(image.initrdAddressMax) + 1, X86LoadPlanner.fourGiB)
      let address = try placer.place(
        "initrd",
        PlacementRule(
          size: UInt64(initrd.count), alignment: SegmentPlacer.pageSize, lowest: 0,
          highest: highest, topDown: true))
      initrdPlacement = (address, UInt64(initrd.count))
    }

    // the segments the purgatory verifies
    var segments = [
      PlannedSegment(
        role: "kernel", bytes: kernelBytes, destination: kernel, memorySize: kernelSize),
      PlannedSegment(
        role: "boot_params",
        bytes: bootParams.build(at: bootParamsAddress, initrd: initrdPlacement),
        destination: bootParamsAddress,
        memorySize: SegmentPlacer.roundUp(UInt64(bootParams.size), SegmentPlacer.pageSize)),
    ]
    if let initrd, let initrdPlacement {
      segments.append(
        PlannedSegment(
          role: "initrd", bytes: initrd, destination: initrdPlacement.address,
          memorySize: SegmentPlacer.roundUp(initrdPlacement.size, SegmentPlacer.pageSize)))
    }
    let regions = PurgatoryRegion.covering(segments, verify: options.verify)

    // what a scrub zeroes: free RAM with every segment cut out, this
    // purgatory's own and its page tables included
    var scrub: PurgatoryScrub? = nil
    if let scrubPlanner {
      var kept: [MemoryRange] = []
      for segment in segments {
        kept.append(
          MemoryRange(
            start: segment.destination, end: segment.destination + segment.memorySize,
            kind: .reserved))
      }
      kept.append(MemoryRange(start: purgatory, end: purgatory + purgatorySize, kind: .reserved))
      precondition(
        kept.allSatisfy { $0.end <= scrubPlanner.identityMapEnd },
        "a segment ends beyond the purgatory's identity map")
      let ranges = scrubPlanner.ranges(keeping: kept)
      guard ranges.count <= PurgatoryParameters.scrubRangeLimit else {
        throw .scrubTooFragmented(
          ranges: ranges.count, limit: PurgatoryParameters.scrubRangeLimit)
      }
      scrub = PurgatoryScrub(
        ranges: ranges, identityMapEnd: scrubPlanner.identityMapEnd,
        pageTableBytes: pageTableBytes)
    }

    // the purgatory, told where to jump, what to check and what to scrub
    let parameters = PurgatoryParameters(
      kernelEntry: kernel + X86LoadPlanner.entry64Offset, kernelArgument: bootParamsAddress,
      serial: UInt64(options.serialPort), verify: options.verify, announce: options.announce,
      regions: regions, scrub: scrub)
    segments.append(
      PlannedSegment(
        role: "purgatory",
        bytes: parameters.patched(
          PurgatoryBlobX86_64.bytes, at: PurgatoryBlobX86_64.parametersOffset),
        destination: purgatory, memorySize: purgatorySize))

    options.damage(&segments)
    precondition(segments.count <= LoadPlan.segmentLimit, "an x86_64 plan has at most 4 segments")
    return LoadPlan(
      segments: segments, entry: purgatory + UInt64(PurgatoryBlobX86_64.entryOffset),
      purgatory: parameters, freeMemory: placer.freeRanges)
  }
}
