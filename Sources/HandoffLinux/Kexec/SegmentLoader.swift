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
  /// machine whose memory map `memoryMapFile` holds.
  public func plan(
    _ request: LoadRequest, options: PlanOptions, memoryMapFile: String? = nil
  ) throws(HandoffError) -> LoadPlan {
    let kernelBytes = try system.readFile(request.kernelPath)
    let image = try KernelImage.read(path: request.kernelPath, bytes: kernelBytes).bzImage()
    try image.requireBootable64()
    let commandLine = request.commandLine.resolve(
      running: system.readText(SystemPaths.commandLine) ?? "")
    try image.requireFits(commandLine: commandLine)
    let initrd = try readInitrds(request.initrdPaths)
    let environment = try MachineReader(system: system, debug: debug)
      .x86Environment(memoryMapFile: memoryMapFile)
    let plan = try X86LoadPlanner(
      image: image, imageBytes: kernelBytes, initrd: initrd, commandLine: commandLine,
      environment: environment, options: options
    ).plan()
    for segment in plan.segments {
      debug("\(segment.role): \(segment.bytes.count) bytes at \(segment.rangeText)")
    }
    if let scrub = plan.purgatory.scrub {
      debug(
        "scrub: \(scrub.totalBytes) bytes in \(scrub.ranges.count) ranges, identity map "
          + "[0x0, \(hex(scrub.identityMapEnd))), \(scrub.pageTableBytes) bytes for page tables")
      for range in scrub.ranges { debug("scrub: \(range.rangeText)") }
    }
    return plan
  }

  /// Plans and loads; nothing is loaded unless every step before the
  /// system call succeeded.
  public func load(_ request: LoadRequest, options: PlanOptions) throws(HandoffError) {
    let plan = try plan(request, options: options)
    var segments: [KexecSegment] = []
    for segment in plan.segments {
      segments.append(
        KexecSegment(
          bytes: segment.bytes, destination: segment.destination,
          memorySize: segment.memorySize))
    }
    let flags = KexecLoadFlags.architectureX86_64
    debug(KexecCallText.kexecLoad(entry: plan.entry, segments: segments.count, flags: flags))
    try system.kexecLoad(entry: plan.entry, segments: segments, flags: flags)
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
