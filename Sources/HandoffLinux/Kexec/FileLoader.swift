import HandoffCore

/// Loads a kernel through `kexec_file_load(2)`: the running kernel reads the
/// files, places the segments and brings its own purgatory.
public struct FileLoader<System: SystemCalls> {
  public let system: System
  public let debug: (String) -> Void

  public init(system: System, debug: @escaping (String) -> Void = { _ in }) {
    self.system = system
    self.debug = debug
  }

  /// Checks everything that can be checked, then makes the one system call;
  /// any failure before it leaves the loaded kernel, if any, as it was.
  ///
  /// The kernel file goes to the kernel as it is when the kernel's own
  /// loader reads it (a bzImage, a plain arm64 or riscv64 Image); a UKI's
  /// kernel and a compressed or zboot Image go as an in-memory file of the
  /// unpacked kernel. A UKI's .initrd and .cmdline are used unless the
  /// request names its own.
  ///
  /// A crash kernel goes into the region crashkernel= reserved; the
  /// running kernel writes the ELF core header and the memory map it reads
  /// /proc/vmcore from.
  ///
  /// Throws `usage` for a request with a DTB: kexec_file_load gives the
  /// next kernel the running kernel's device tree, with no way to pass
  /// another; `unsupportedImage` for a kernel of another architecture;
  /// `crashKernelUnavailable` for a crash kernel with no region reserved.
  public func load(_ request: LoadRequest) throws(HandoffError) {
    if let deviceTree = request.deviceTreePath {
      throw .usage(
        "--dtb \(deviceTree) needs kexec_load: kexec_file_load hands the next kernel the "
          + "running kernel's device tree and takes no other")
    }
    if request.crash {
      let size = KexecStatus.read(from: system).crashRegionSize
      guard let size, size > 0 else {
        throw .crashKernelUnavailable(
          reason: "no memory is reserved for one (\(SystemPaths.kexecCrashSize) "
            + (size == nil ? "cannot be read" : "is 0")
            + "); boot this kernel with crashkernel=SIZE, such as crashkernel=256M")
      }
      debug("crash kernel region: \(size) bytes")
    }
    let kernelBytes = try system.readFile(request.kernelPath)
    let image = try KernelImage.read(path: request.kernelPath, bytes: kernelBytes)
    try image.requireRunningArchitecture()
    let kernel = try image.fileLoadKernel(fileBytes: kernelBytes)
    debug(
      "kernel: \(request.kernelPath), \(kernelBytes.count) bytes, \(image.formatName)"
        + (kernel.setupHeader.map { ", boot protocol \($0.protocolVersionText)" } ?? "")
        + ", \(image.kernelVersion ?? "no version string")")

    // the command line: resolved against the running kernel's, and it must fit
    let commandLine = request.resolvedCommandLine(
      running: system.readText(SystemPaths.commandLine) ?? "", carried: kernel.commandLine)
    try kernel.setupHeader?.requireFits(commandLine: commandLine)
    debug("cmdline: \"\(commandLine)\" (\(commandLine.utf8.count) bytes)")
    if let header = kernel.setupHeader, !request.crash { try requireRoom(for: header) }

    // the initrds: one is passed as it is, several become one in-memory file,
    // and without any a UKI's own goes as an in-memory file
    let initrd = try openInitrd(request.initrdPaths, carried: kernel.initrd)
    let kernelDescriptor: Int32
    do {
      kernelDescriptor = try openKernel(request.kernelPath, kernel: kernel)
    } catch {
      if initrd >= 0 { system.close(initrd) }
      throw error
    }
    defer {
      system.close(kernelDescriptor)
      if initrd >= 0 { system.close(initrd) }
    }

    var flags = initrd < 0 ? KexecFileFlags.noInitramfs : 0
    if request.crash { flags |= KexecFileFlags.onCrash }
    let text = Array(commandLine.utf8) + [0]
    debug(
      KexecCallText.kexecFileLoad(
        kernel: kernelDescriptor, initrd: initrd, commandLineLength: text.count, flags: flags))
    try system.kexecFileLoad(
      kernel: kernelDescriptor, initrd: initrd, commandLine: text, flags: flags)
  }

  /// The lowest address the kernel's bzImage loader places a kernel at
  /// (MIN_KERNEL_LOAD_ADDR).
  static var lowestKernelAddress: UInt64 { 0x100_0000 }

  /// Throws `placementFailed` when no RAM holds the bzImage where the
  /// kernel's own loader would place it, at or above pref_address and
  /// 16 MiB, so that a kernel too large for the machine is refused here,
  /// named, rather than by the kernel with a bare errno. A memory map that
  /// cannot be read leaves the question to the kernel.
  private func requireRoom(for image: BzImage) throws(HandoffError) {
    let map: MemoryMap
    do {
      map = try MachineReader(system: system, debug: debug).memoryMap()
    } catch {
      debug("\(error.description); the kernel alone checks that the kernel fits")
      return
    }
    var placer = SegmentPlacer(map: map)
    let lowest = max(image.preferredAddress, Self.lowestKernelAddress)
    _ = try placer.place(
      "kernel", image.kernelPlacement(lowest: lowest, ramEnd: map.ram.last?.end ?? 0))
  }

  /// A descriptor of the kernel file, or of an in-memory file of the
  /// unpacked kernel; the caller closes it.
  private func openKernel(_ path: String, kernel: FileLoadKernel) throws(HandoffError) -> Int32 {
    guard let unpacked = kernel.unpacked else { return try system.openFile(path) }
    debug("kernel: \(unpacked.count) bytes from \(kernel.unpackedFrom ?? path)")
    return try system.openMemoryFile(name: "handoff-kernel", contents: unpacked)
  }

  /// Unloads the staged kernel, or with `crash` the crash kernel. Kernels
  /// without kexec_file_load are asked through kexec_load with no segments.
  public func unload(crash: Bool = false) throws(HandoffError) {
    do {
      try system.kexecFileLoad(
        kernel: -1, initrd: -1, commandLine: [],
        flags: KexecFileFlags.unload | (crash ? KexecFileFlags.onCrash : 0))
    } catch .systemCall(let failure) where failure.errno == Errno.ENOSYS {
      debug("kexec_file_load is not built in; unloading through kexec_load")
      try system.kexecLoad(entry: 0, segments: [], flags: crash ? KexecLoadFlags.onCrash : 0)
    }
  }

  /// -1 for no initrd; otherwise a descriptor the caller closes. Without
  /// `paths`, the initrd the kernel image `carried`, if any.
  private func openInitrd(
    _ paths: [String], carried: [UInt8]?
  ) throws(HandoffError) -> Int32 {
    if paths.isEmpty {
      guard let carried else { return -1 }
      debug("initrd: \(carried.count) bytes from the kernel image")
      return try system.openMemoryFile(name: "handoff-initrd", contents: carried)
    }
    var combined: [UInt8] = []
    for path in paths {
      let bytes = try system.readFile(path)
      if bytes.isEmpty { throw .emptyFile(path: path) }
      debug("initrd: \(path), \(bytes.count) bytes")
      if paths.count == 1 { return try system.openFile(path) }
      combined += bytes
    }
    debug("initrd: \(paths.count) files concatenated, \(combined.count) bytes")
    return try system.openMemoryFile(name: "handoff-initrd", contents: combined)
  }
}
