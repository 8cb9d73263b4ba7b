/// The DTB an arm64 or riscv64 kernel is handed: the running kernel's own
/// (from /sys/firmware/fdt, or a file), with /chosen rewritten for this
/// handoff. Everything else is kept, the UEFI memory-map properties among
/// them, since the next kernel takes its memory map from there.
public struct NextKernelDeviceTree {
  /// The edited tree, to read from without parsing `blob` again.
  public let tree: DeviceTree
  /// The packed blob.
  public let blob: [UInt8]
  /// What changed, one line each, for `plan`: `set /chosen bootargs`.
  public let edits: [String]
  /// The running kernel's initrd, as its /chosen named it; nil for none.
  public let runningInitrd: MemoryRange?

  /// Properties that only a crash kernel or the previous handoff may see.
  static let staleProperties = [
    "linux,elfcorehdr", "linux,usable-memory-range", "linux,initrd-start", "linux,initrd-end",
  ]

  /// Rewrites /chosen of `running`: the command line, the initrd's range
  /// (with the old one's /memreserve/ dropped), a fresh kaslr-seed and
  /// rng-seed, and no crash-kernel properties unless `crash` is given: then
  /// `linux,elfcorehdr` names the ELF core header and
  /// `linux,usable-memory-range` the only RAM the crash kernel may use.
  ///
  /// Throws `deviceTree` when libfdt refuses the tree or an edit.
  public init(
    running: [UInt8], source: String, commandLine: String,
    initrd: (start: UInt64, end: UInt64)?, kaslrSeed: UInt64, rngSeed: [UInt8],
    crash: CrashKernelProperties? = nil
  ) throws(HandoffError) {
    var tree = try DeviceTree(running, source: source, room: 0x1000 + commandLine.utf8.count)
    var edits: [String] = []

    // the running kernel's initrd: its range, and the reservation for it
    var runningInitrd: MemoryRange? = nil
    if let start = tree.property("/chosen", "linux,initrd-start").flatMap(Self.bigEndian),
      let end = tree.property("/chosen", "linux,initrd-end").flatMap(Self.bigEndian), end > start
    {
      runningInitrd = MemoryRange(start: start, end: end, kind: .reserved)
      if tree.deleteReservation(address: start, size: end - start) {
        edits.append("delete /memreserve/ [\(hex(start)), \(hex(end))) of the running initrd")
      }
    }
    self.runningInitrd = runningInitrd
    for name in Self.staleProperties {
      if tree.deleteProperty("/chosen", name) { edits.append("delete /chosen \(name)") }
    }

    if commandLine.isEmpty {
      if tree.deleteProperty("/chosen", "bootargs") { edits.append("delete /chosen bootargs") }
    } else {
      try tree.setString("/chosen", "bootargs", commandLine)
      edits.append("set /chosen bootargs \"\(commandLine)\"")
    }
    if let initrd {
      try tree.setUInt64("/chosen", "linux,initrd-start", initrd.start)
      try tree.setUInt64("/chosen", "linux,initrd-end", initrd.end)
      edits.append("set /chosen linux,initrd-start \(hex(initrd.start))")
      edits.append("set /chosen linux,initrd-end \(hex(initrd.end))")
    }

    if let crash {
      try tree.setRanges(
        "/chosen", "linux,elfcorehdr", [(crash.elfCoreHeader.start, crash.elfCoreHeader.size)])
      edits.append("set /chosen linux,elfcorehdr \(crash.elfCoreHeader.rangeText)")
      var usable: [(address: UInt64, size: UInt64)] = []
      for region in crash.usableMemory { usable.append((region.start, region.size)) }
      try tree.setRanges("/chosen", "linux,usable-memory-range", usable)
      for region in crash.usableMemory {
        edits.append("set /chosen linux,usable-memory-range \(region.rangeText)")
      }
    }

    // randomness: the booted kernel zeroes both after use, so the running
    // tree's copies are spent
    try tree.setUInt64("/chosen", "kaslr-seed", kaslrSeed)
    edits.append("set /chosen kaslr-seed (8 random bytes)")
    if !rngSeed.isEmpty {
      try tree.setProperty("/chosen", "rng-seed", rngSeed)
      edits.append("set /chosen rng-seed (\(rngSeed.count) random bytes)")
    }

    self.tree = tree
    self.blob = tree.blob
    self.edits = edits
  }

  /// What a crash kernel's /chosen adds: where its ELF core header lies,
  /// and the memory reserved for it, the only RAM it may use.
  public struct CrashKernelProperties {
    public var elfCoreHeader: MemoryRange
    public var usableMemory: [MemoryRange]

    public init(elfCoreHeader: MemoryRange, usableMemory: [MemoryRange]) {
      self.elfCoreHeader = elfCoreHeader
      self.usableMemory = usableMemory
    }
  }

  /// The register base of the UART that /chosen stdout-path names, when
  /// it is `compatible` (`arm,pl011`, `ns16550a`) and its registers are
  /// bytes one address apart; nil otherwise, and the purgatory stays silent.
  ///
  /// A UART with `reg-shift` or `reg-io-width` other than the defaults
  /// (registers 4 bytes apart and read as words, common on riscv64 boards)
  /// is left alone: the purgatory only writes bytes one address apart, and
  /// would poke the wrong registers.
  public static func console(in tree: DeviceTree, compatible: String) -> UInt64? {
    guard let stdout = tree.stringProperty("/chosen", "stdout-path") else { return nil }
    let path = String(stdout.split(separator: ":", maxSplits: 1).first ?? "")
    guard !path.isEmpty, tree.isCompatible(path, compatible) else { return nil }
    for (name, fallback) in [("reg-shift", UInt64(0)), ("reg-io-width", 1)] {
      if let value = tree.property(path, name), bigEndian(value) ?? .max != fallback {
        return nil
      }
    }
    return tree.registerAddress(path)
  }

  /// A 32- or 64-bit big-endian cell value, as /chosen's initrd bounds come.
  static func bigEndian(_ bytes: [UInt8]) -> UInt64? {
    guard bytes.count == 4 || bytes.count == 8 else { return nil }
    return bytes.reduce(0) { $0 << 8 | UInt64($1) }
  }
}
