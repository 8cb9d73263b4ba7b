import HandoffCore

extension MachineReader {
  /// The running kernel's DTB, which the next arm64 or riscv64 kernel's
  /// starts from.
  public static var runningDeviceTree: String { "/sys/firmware/fdt" }

  /// The boot environment of this arm64 or riscv64 machine: RAM from /proc/iomem
  /// (or `memoryMapFile`), the DTB from /sys/firmware/fdt (or
  /// `deviceTreeFile`), and fresh seeds for KASLR and the RNG.
  ///
  /// Throws `unreadable` when there is no DTB to start from: a machine that
  /// booted through ACPI alone has none, and its kernel wants one anyway.
  public func deviceTreeEnvironment(
    memoryMapFile: String? = nil, deviceTreeFile: String? = nil
  ) throws(HandoffError) -> DeviceTreeBootEnvironment {
    let map = try memoryMap(file: memoryMapFile)
    let source = deviceTreeFile ?? Self.runningDeviceTree
    let tree = try system.readFile(source)
    debug("dtb: \(tree.count) bytes from \(source)")
    let seed = system.randomBytes(count: 8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let running = system.readText(SystemPaths.commandLine) ?? ""
    return DeviceTreeBootEnvironment(
      memoryMap: map, deviceTree: tree, deviceTreeSource: source, kaslrSeed: seed,
      rngSeed: system.randomBytes(count: 64),
      retainsInitrd: running.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains(
        "retain_initrd"))
  }
}
