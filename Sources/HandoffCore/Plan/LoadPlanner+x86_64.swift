/// Plans an x86_64 handoff through Handoff's own purgatory: places the
/// kernel, its boot_params, the initrd and the purgatory in RAM, and fills
/// in the purgatory's parameters, a scrub list among them when asked. A
/// crash kernel goes into the memory reserved for it, with an ELF core
/// header its command line points at.
public struct X86LoadPlanner {
  static let fourGiB: UInt64 = 0x1_0000_0000
  /// The 64-bit entry point's offset from the protected-mode kernel's start.
  static let entry64Offset: UInt64 = 0x200

  /// What is handed off: a bzImage's protected-mode kernel, placed where
  /// its header allows and entered 0x200 in; or an ELF vmlinux, already
  /// decompressed, its program headers each at its physical address and
  /// entered at e_entry, with the running kernel's setup header.
  enum Kernel {
    case bzImage(BzImage, bytes: [UInt8])
    case elf(ELFImage, bytes: [UInt8])
  }

  let kernel: Kernel
  public let initrd: [UInt8]?
  public let commandLine: String
  public let environment: X86BootEnvironment
  public let options: PlanOptions
  /// For a crash kernel, the ELF core header it reads the panicked
  /// kernel's memory through; nil for a kernel `handoff exec` boots.
  public let crashDump: CrashDumpHeader?

  public init(
    image: BzImage, imageBytes: [UInt8], initrd: [UInt8]?, commandLine: String,
    environment: X86BootEnvironment, options: PlanOptions = PlanOptions(),
    crashDump: CrashDumpHeader? = nil
  ) {
    self.kernel = .bzImage(image, bytes: imageBytes)
    self.initrd = initrd
    self.commandLine = commandLine
    self.environment = environment
    self.options = options
    self.crashDump = crashDump
  }

  public init(
    elf: ELFImage, elfBytes: [UInt8], initrd: [UInt8]?, commandLine: String,
    environment: X86BootEnvironment, options: PlanOptions = PlanOptions(),
    crashDump: CrashDumpHeader? = nil
  ) {
    self.kernel = .elf(elf, bytes: elfBytes)
    self.initrd = initrd
    self.commandLine = commandLine
    self.environment = environment
    self.options = options
    self.crashDump = crashDump
  }

  /// The plan, or an error naming the segment that did not fit.
  public func plan() throws(HandoffError) -> LoadPlan {
    // a crash kernel's segments go in the main region reserved for it
    let crashRegions =
      crashDump == nil ? [] : try environment.memoryMap.crashKernelRegions(scrub: options.scrub)
    let map = crashRegions.first.map { MemoryMap(ranges: [$0]) } ?? environment.memoryMap
    var placer = SegmentPlacer(map: map)
    let ramEnd = map.ram.last?.end ?? 0

    // the kernel, and the setup header boot_params are made from
    let kernelSegment: PlannedSegment
    let entry: UInt64
    let setupHeader: ArraySlice<UInt8>
    let initrdHighest: UInt64
    switch kernel {
    case .bzImage(let image, let imageBytes):
      try image.requireBootable64()
      try image.requireFits(commandLine: commandLine)
      kernelSegment = try placeBzImage(image, imageBytes, ramEnd: ramEnd, placer: &placer)
      entry = kernelSegment.destination + X86LoadPlanner.entry64Offset
      setupHeader = X86BootParams.setupHeader(in: imageBytes, end: image.setupSize)
      initrdHighest =
        image.xloadflags.contains(.canBeLoadedAbove4G)
        ? ramEnd : min(UInt64(image.initrdAddressMax) + 1, X86LoadPlanner.fourGiB)
    case .elf(let elf, let elfBytes):
      guard let header = X86BootParams.runningSetupHeader(environment) else {
        throw .unsupportedImage(
          path: elf.path,
          reason: "an ELF vmlinux brings no setup header, and the running kernel's "
            + "(/sys/kernel/boot_params/data) cannot be read")
      }
      kernelSegment = try placeELF(elf, elfBytes, placer: &placer)
      entry = elf.entry
      setupHeader = header
      // a 64-bit kernel reads the initrd's address from the ext_ fields too
      initrdHighest = ramEnd
    }

    // a crash kernel's ELF core header: the command line names it, as the
    // running kernel's own crash loads do, and the e820 table leaves it out
    var commandLine = self.commandLine
    var bootEnvironment = environment
    var crashSegment: PlannedSegment? = nil
    if let crashDump {
      let header = crashDump.bytes
      let memorySize = SegmentPlacer.roundUp(UInt64(header.count), SegmentPlacer.pageSize)
      let address = try placer.place(
        "elfcorehdr",
        PlacementRule(
          size: memorySize, alignment: SegmentPlacer.pageSize, lowest: 0, highest: ramEnd,
          topDown: true))
      crashSegment = PlannedSegment(
        role: "elfcorehdr", bytes: header, destination: address, memorySize: memorySize)
      commandLine = "elfcorehdr=\(hex(address)) " + commandLine
      if case .bzImage(let image, _) = kernel { try image.requireFits(commandLine: commandLine) }
      bootEnvironment.memoryMap = environment.memoryMap.x86CrashKernelMap(
        coreHeader: MemoryRange(start: address, end: address + memorySize, kind: .reserved))
    }
    let bootParams = X86BootParams(
      setupHeader: setupHeader, commandLine: commandLine, environment: bootEnvironment)

    // the purgatory and boot_params: below 4 GiB, from the top. A scrub's
    // page tables make the purgatory's memsz larger, past its bss. A crash
    // kernel's region may lie wholly above 4 GiB (crashkernel=X,high); they
    // go there then, as the purgatory addresses everything relative to RIP
    // and the 64-bit entry takes boot_params, the command line and
    // setup_data at 64-bit addresses.
    let lowHighest = crashDump == nil ? X86LoadPlanner.fourGiB : ramEnd
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
        highest: lowHighest, topDown: true))
    let bootParamsAddress = try placer.place(
      "boot_params",
      PlacementRule(
        size: UInt64(bootParams.size), alignment: SegmentPlacer.pageSize, lowest: 0,
        highest: lowHighest, topDown: true))

    // the initrd: as high as the kernel can reach it
    var initrdPlacement: (address: UInt64, size: UInt64)? = nil
    if let initrd, !initrd.isEmpty {
      let address = try placer.place(
        "initrd",
        PlacementRule(
          size: UInt64(initrd.count), alignment: SegmentPlacer.pageSize, lowest: 0,
          highest: initrdHighest, topDown: true))
      initrdPlacement = (address, UInt64(initrd.count))
    }

    // the segments the purgatory verifies
    var segments = [
      kernelSegment,
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
    if let crashSegment { segments.append(crashSegment) }
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
      kernelEntry: entry, kernelArgument: bootParamsAddress,
      serial: UInt64(options.serialPort), verify: options.verify, announce: options.announce,
      regions: regions, scrub: scrub)
    segments.append(
      PlannedSegment(
        role: "purgatory",
        bytes: parameters.patched(
          PurgatoryBlobX86_64.bytes, at: PurgatoryBlobX86_64.parametersOffset),
        destination: purgatory, memorySize: purgatorySize))

    options.damage(&segments)
    precondition(
      segments.count <= LoadPlan.segmentLimit,
      "an x86_64 plan has more segments than kexec_load takes")
    return LoadPlan(
      segments: segments, entry: purgatory + UInt64(PurgatoryBlobX86_64.entryOffset),
      purgatory: parameters, freeMemory: placer.freeRanges)
  }

  /// The bzImage's protected-mode kernel, placed by its header's rule.
  private func placeBzImage(
    _ image: BzImage, _ imageBytes: [UInt8], ramEnd: UInt64, placer: inout SegmentPlacer
  ) throws(HandoffError) -> PlannedSegment {
    let kernelBytes = Array(imageBytes[image.setupSize...])
    let rule = image.kernelPlacement(lowest: image.preferredAddress, ramEnd: ramEnd)
    let address = try placer.place("kernel", rule)
    return PlannedSegment(
      role: "kernel", bytes: kernelBytes, destination: address, memorySize: rule.size)
  }

  /// An ELF vmlinux as one segment from its first program header's
  /// physical page to its last one's end, each laid at its p_paddr and the
  /// gaps zero; it runs where it was linked, so that range must be free.
  private func placeELF(
    _ elf: ELFImage, _ elfBytes: [UInt8], placer: inout SegmentPlacer
  ) throws(HandoffError) -> PlannedSegment {
    let headers = elf.loadSegments
    guard elf.machine == .x86_64, let first = headers.first else {
      throw .unsupportedImage(path: elf.path, reason: "it has no x86_64 program headers to load")
    }
    var low = first.physicalAddress
    var high = first.physicalEnd
    var fileEnd = first.physicalAddress + first.fileSize
    for header in headers {
      low = min(low, header.physicalAddress)
      high = max(high, header.physicalEnd)
      fileEnd = max(fileEnd, header.physicalAddress + header.fileSize)
    }
    let start = low & ~(SegmentPlacer.pageSize - 1)
    let end = SegmentPlacer.roundUp(high, SegmentPlacer.pageSize)
    guard headers.contains(where: { $0.physicalAddress <= elf.entry && elf.entry < $0.physicalEnd })
    else {
      throw .invalidField(
        path: elf.path, field: "e_entry", offset: 0x18, value: elf.entry,
        expected: "a physical address inside a PT_LOAD program header")
    }
    var bytes = [UInt8](repeating: 0, count: Int(fileEnd - start))
    for header in headers where header.fileSize > 0 {
      let at = Int(header.physicalAddress - start)
      let from = Int(header.offset)
      bytes.replaceSubrange(
        at..<at + Int(header.fileSize), with: elfBytes[from..<from + Int(header.fileSize)])
    }
    let address = try placer.place(
      "kernel",
      PlacementRule(
        size: end - start, alignment: SegmentPlacer.pageSize, lowest: start, highest: end,
        topDown: false))
    return PlannedSegment(
      role: "kernel", bytes: bytes, destination: address, memorySize: end - start)
  }
}

extension BzImage {
  /// Where the protected-mode kernel may go: bottom-up from `lowest`,
  /// aligned to kernel_alignment, with room for init_size (or the code,
  /// when larger), below `ramEnd`; a kernel that cannot relocate goes
  /// exactly to `lowest`.
  public func kernelPlacement(lowest: UInt64, ramEnd: UInt64) -> PlacementRule {
    let size = SegmentPlacer.roundUp(
      max(UInt64(initSize), UInt64(kernelSize)), SegmentPlacer.pageSize)
    let alignment = kernelAlignment != 0 ? UInt64(kernelAlignment) : 0x20_0000
    // a fixed address too close to the top of memory leaves no room: an empty window
    let fixedEnd = lowest.addingReportingOverflow(size)
    return PlacementRule(
      size: size, alignment: alignment, lowest: lowest,
      highest: relocatable ? ramEnd : fixedEnd.overflow ? 0 : fixedEnd.partialValue,
      topDown: false, origin: "init_size \(hex(UInt64(initSize))) of \(path)")
  }
}
