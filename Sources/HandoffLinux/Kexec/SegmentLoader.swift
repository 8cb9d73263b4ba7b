import HandoffCore

/// Loads a kernel through `kexec_load(2)`: Handoff places every segment
/// itself and brings its own purgatory, which checks each segment's digest
/// before it jumps.
public struct SegmentLoader<System: SystemCalls> {
  public let system: System
  public let debug: (String) -> Void

  public init(system: System, debug: @escaping (String) -> Void = { _ in }) {
    self.system = system
    self.debug = debug
  }

  /// The plan a load of `request` would use on this machine, or on the
  /// machine whose memory map `memoryMapFile` holds. The kernel's
  /// architecture picks the planner; a unified kernel image brings its
  /// initrd and command line unless the request names its own.
  public func plan(
    _ request: LoadRequest, options: PlanOptions, memoryMapFile: String? = nil
  ) throws(HandoffError) -> LoadPlan {
    try planned(request, options: options, memoryMapFile: memoryMapFile).plan
  }

  /// Plans and loads; nothing is loaded unless every step before the
  /// system call succeeded. A crash kernel goes into the memory the
  /// running kernel reserved for it, with an ELF core header Handoff
  /// builds.
  ///
  /// Throws `unsupportedImage` for a kernel of another architecture than
  /// this machine's.
  public func load(_ request: LoadRequest, options: PlanOptions) throws(HandoffError) {
    let (plan, architecture) = try planned(
      request, options: options, memoryMapFile: nil, forThisMachine: true)
    guard var flags = KexecLoadFlags.architecture(architecture) else {
      preconditionFailure("a plan for \(architecture.rawValue), which kexec_load has no flag for")
    }
    if request.crash { flags |= KexecLoadFlags.onCrash }
    var segments: [KexecSegment] = []
    for segment in plan.segments {
      segments.append(
        KexecSegment(
          bytes: segment.bytes, destination: segment.destination,
          memorySize: segment.memorySize))
    }
    debug(KexecCallText.kexecLoad(entry: plan.entry, segments: segments.count, flags: flags))
    try system.kexecLoad(entry: plan.entry, segments: segments, flags: flags)
  }

  /// The plan, and the architecture of the kernel it boots.
  /// `forThisMachine` refuses a kernel of another architecture than the
  /// running machine's before anything of the machine is read.
  private func planned(
    _ request: LoadRequest, options: PlanOptions, memoryMapFile: String?,
    forThisMachine: Bool = false
  ) throws(HandoffError) -> (plan: LoadPlan, architecture: KernelArchitecture) {
    let kernelBytes = try system.readFile(request.kernelPath)
    let image = try KernelImage.read(path: request.kernelPath, bytes: kernelBytes)
    if forThisMachine { try image.requireRunningArchitecture() }
    if let deviceTree = request.deviceTreePath, !image.architecture.isDeviceTree {
      throw .usage(
        "--dtb \(deviceTree) is for arm64 and riscv64 kernels; Handoff gives an x86 kernel "
          + "no device tree")
    }
    let runningCommandLine = system.readText(SystemPaths.commandLine) ?? ""
    let reader = MachineReader(system: system, debug: debug)
    let plan: LoadPlan
    switch image.architecture {
    case .arm64, .riscv64:
      let kernel = try image.deviceTreeKernel(fileBytes: kernelBytes)
      let commandLine = request.resolvedCommandLine(
        running: runningCommandLine, carried: kernel.commandLine)
      let initrd = try readInitrds(request.initrdPaths) ?? kernel.initrd
      let environment = try reader.deviceTreeEnvironment(
        memoryMapFile: memoryMapFile, deviceTreeFile: request.deviceTreePath)
      let crashDump = try crashDumpHeader(
        request, image: image, map: environment.memoryMap, reader: reader)
      plan = try DeviceTreeLoadPlanner(
        architecture: kernel.architecture, kernel: kernel.bytes, textOffset: kernel.textOffset,
        imageSize: kernel.imageSize, initrd: initrd, commandLine: commandLine,
        environment: environment, options: options, crashDump: crashDump
      ).plan()
    case .x86_64 where image.isELF:
      guard case .elf(let elf) = image else { preconditionFailure("an ELF image that is not") }
      let commandLine = request.resolvedCommandLine(running: runningCommandLine)
      let initrd = try readInitrds(request.initrdPaths)
      let environment = try reader.x86Environment(memoryMapFile: memoryMapFile)
      plan = try X86LoadPlanner(
        elf: elf, elfBytes: kernelBytes, initrd: initrd, commandLine: commandLine,
        environment: environment, options: options,
        crashDump: try crashDumpHeader(
          request, image: image, map: environment.memoryMap, reader: reader)
      ).plan()
    case .x86, .x86_64:
      let kernel = try image.x86Kernel(fileBytes: kernelBytes)
      try kernel.image.requireBootable64()
      let commandLine = request.resolvedCommandLine(
        running: runningCommandLine, carried: kernel.commandLine)
      try kernel.image.requireFits(commandLine: commandLine)
      let initrd = try readInitrds(request.initrdPaths) ?? kernel.initrd
      let environment = try reader.x86Environment(memoryMapFile: memoryMapFile)
      plan = try X86LoadPlanner(
        image: kernel.image, imageBytes: kernel.bytes, initrd: initrd,
        commandLine: commandLine, environment: environment, options: options,
        crashDump: try crashDumpHeader(
          request, image: image, map: environment.memoryMap, reader: reader)
      ).plan()
    }
    for segment in plan.segments {
      debug("\(segment.role): \(segment.bytes.count) bytes at \(segment.rangeText)")
    }
    for edit in plan.deviceTreeEdits { debug("dtb: \(edit)") }
    if let scrub = plan.purgatory.scrub {
      debug(
        "scrub: \(scrub.totalBytes) bytes in \(scrub.ranges.count) ranges, identity map "
          + "[0x0, \(hex(scrub.identityMapEnd))), \(scrub.pageTableBytes) bytes for page tables")
      for range in scrub.ranges { debug("scrub: \(range.rangeText)") }
    }
    return (plan, image.architecture)
  }

  /// The ELF core header a crash kernel of `image`'s architecture reads
  /// this machine's memory through; nil for a kernel that is no crash kernel.
  private func crashDumpHeader(
    _ request: LoadRequest, image: KernelImage, map: MemoryMap, reader: MachineReader<System>
  ) throws(HandoffError) -> CrashDumpHeader? {
    guard request.crash, let flag = KexecLoadFlags.architecture(image.architecture) else {
      return nil
    }
    return try reader.crashDumpHeader(map: map, machine: UInt16(truncatingIfNeeded: flag >> 16))
  }

  /// The initrds, concatenated in order; nil for none.
  private func readInitrds(_ paths: [String]) throws(HandoffError) -> [UInt8]? {
    if paths.isEmpty { return nil }
    var combined: [UInt8] = []
    for path in paths {
      let bytes = try system.readFile(path)
      if bytes.isEmpty { throw .emptyFile(path: path) }
      debug("initrd: \(path), \(bytes.count) bytes")
      combined += bytes
    }
    return combined
  }
}
