import HandoffCore

/// What to load: a kernel, its initrds in order, and its command line.
public struct LoadRequest: Equatable, Sendable {
  public var kernelPath: String
  /// Concatenated in this order into one initramfs; empty for none.
  public var initrdPaths: [String]
  public var commandLine: CommandLineChoice
  /// The DTB an arm64 kernel's starts from instead of the running kernel's
  /// /sys/firmware/fdt; nil for that one.
  public var deviceTreePath: String?

  public init(
    kernelPath: String, initrdPaths: [String] = [], commandLine: CommandLineChoice,
    deviceTreePath: String? = nil
  ) {
    self.kernelPath = kernelPath
    self.initrdPaths = initrdPaths
    self.commandLine = commandLine
    self.deviceTreePath = deviceTreePath
  }
}

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
  public func load(_ request: LoadRequest) throws(HandoffError) {
    // the kernel: readable, a bzImage a 64-bit kernel can boot
    let kernelBytes = try system.readFile(request.kernelPath)
    let image = try KernelImage.read(path: request.kernelPath, bytes: kernelBytes).bzImage()
    try image.requireBootable64()
    debug(
      "kernel: \(request.kernelPath), \(kernelBytes.count) bytes, boot protocol "
        + "\(image.protocolVersionText), \(image.kernelVersion ?? "no version string")")

    // the command line: resolved against the running kernel's, and it must fit
    let running = system.readText(SystemPaths.commandLine) ?? ""
    let commandLine = request.commandLine.resolve(running: running)
    try image.requireFits(commandLine: commandLine)
    debug("cmdline: \"\(commandLine)\" (\(commandLine.utf8.count) bytes)")

    // the initrds: one is passed as it is, several become one in-memory file
    let initrd = try openInitrd(request.initrdPaths)
    let kernel: Int32
    do {
      kernel = try system.openFile(request.kernelPath)
    } catch {
      if initrd >= 0 { system.close(initrd) }
      throw error
    }
    defer {
      system.close(kernel)
      if initrd >= 0 { system.close(initrd) }
    }

    let flags = initrd < 0 ? KexecFileFlags.noInitramfs : 0
    let text = Array(commandLine.utf8) + [0]
    debug(
      KexecCallText.kexecFileLoad(
        kernel: kernel, initrd: initrd, commandLineLength: text.count, flags: flags))
    try system.kexecFileLoad(kernel: kernel, initrd: initrd, commandLine: text, flags: flags)
  }

  /// Unloads the staged kernel. Kernels without kexec_file_load are asked
  /// through kexec_load with no segments.
  public func unload() throws(HandoffError) {
    do {
      try system.kexecFileLoad(
        kernel: -1, initrd: -1, commandLine: [], flags: KexecFileFlags.unload)
    } catch .systemCall(let failure) where failure.errno == Errno.ENOSYS {
      debug("kexec_file_load is not built in; unloading through kexec_load")
      try system.kexecLoad(entry: 0, segments: [], flags: 0)
    }
  }

  /// -1 for no initrd; otherwise a descriptor the caller closes.
  private func openInitrd(_ paths: [String]) throws(HandoffError) -> Int32 {
    if paths.isEmpty { return -1 }
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
