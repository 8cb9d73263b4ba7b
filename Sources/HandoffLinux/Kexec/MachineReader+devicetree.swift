import HandoffCore

extension MachineReader {
  /// The running kernel's DTB, which the next arm64 or riscv64 kernel's
  /// starts from.
  public static var runningDeviceTree: String { "/sys/firmware/fdt" }
  /// The running kernel's memblock reservations now, where debugfs is
  /// mounted and the kernel keeps memblock after boot (arm64, riscv64).
  public static var memblockReserved: String { "/sys/kernel/debug/memblock/reserved" }
  /// ACPI's Serial Port Console Redirection table, on machines booted with ACPI.
  public static var serialConsoleTable: String { "/sys/firmware/acpi/tables/SPCR" }

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
        "retain_initrd"),
      memblockReserved: memblockReserved(),
      serialConsoleTable: try? system.readFile(Self.serialConsoleTable))
  }

  /// The running kernel's memblock reservations, or nil when debugfs does
  /// not show them or shows them in a form not read here.
  func memblockReserved() -> [MemoryRange]? {
    guard let text = system.readText(Self.memblockReserved) else {
      debug("memblock: \(Self.memblockReserved) cannot be read")
      return nil
    }
    do {
      let ranges = try MemoryMapParser.parseMemblock(text, source: Self.memblockReserved)
      debug("memblock: \(ranges.count) reservations from \(Self.memblockReserved)")
      return ranges
    } catch {
      debug("memblock: \(error.description)")
      return nil
    }
  }
}
