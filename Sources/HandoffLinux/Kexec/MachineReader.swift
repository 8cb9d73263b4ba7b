import HandoffCore

/// Reads what an x86 handoff passes on from the running machine: the
/// firmware's memory map, the running kernel's boot_params, and the EFI
/// tables and runtime map when the system booted through EFI.
public struct MachineReader<System: SystemCalls> {
  public let system: System
  public let debug: (String) -> Void

  public init(system: System, debug: @escaping (String) -> Void = { _ in }) {
    self.system = system
    self.debug = debug
  }

  /// The x86 boot environment of this machine; `memoryMapFile`, when given,
  /// replaces this machine's memory map with a copy of another's.
  public func x86Environment(memoryMapFile: String? = nil) throws(HandoffError)
    -> X86BootEnvironment
  {
    let map = try memoryMap(file: memoryMapFile)
    let running = try? system.readFile("/sys/kernel/boot_params/data")
    let efi = efiHandover(runningBootParams: running)
    return X86BootEnvironment(
      memoryMap: map, runningBootParams: running, efi: efi, acpiRSDP: acpiRSDP(),
      rngSeed: system.randomBytes(count: 32))
  }

  /// The memory map: from `file` when given (a copy of /proc/iomem, a
  /// dump of /sys/firmware/memmap, or a copy of that directory), else
  /// /sys/firmware/memmap, else /proc/iomem. Crash kernel reservations from
  /// /proc/iomem are kept out of reach either way, and with the firmware's
  /// map /proc/iomem's top-level System RAM comes along as the kernel's view
  /// of RAM, which a scrub must not exceed. A file is the only map read.
  public func memoryMap(file: String? = nil) throws(HandoffError) -> MemoryMap {
    if let file {
      do {
        let text = String(decoding: try system.readFile(file), as: UTF8.self)
        return try MemoryMapParser.parse(text, source: file)
      } catch .notARegularFile(let path, let kind) {
        let entries = firmwareEntries(under: file)
        if entries.isEmpty { throw .notARegularFile(path: path, kind: kind) }
        return try MemoryMapParser.parseFirmwareEntries(entries, source: file)
      }
    }
    let iomem: Result<MemoryMap, HandoffError>
    do {
      iomem = .success(
        try MemoryMapParser.parseIomem(
          system.readText("/proc/iomem") ?? "", source: "/proc/iomem"))
    } catch {
      iomem = .failure(error)
    }
    let entries = firmwareEntries(under: "/sys/firmware/memmap")
    if !entries.isEmpty {
      var map = try MemoryMapParser.parseFirmwareEntries(entries, source: "/sys/firmware/memmap")
      if case .success(let kernelView) = iomem {
        map.excluded = kernelView.excluded
        map.kernelRAM = kernelView.ram
        map.crashKernel = kernelView.crashKernel
      }
      debug("memory map: \(entries.count) ranges from /sys/firmware/memmap")
      return map
    }
    let map = try iomem.get()
    debug("memory map: \(map.ranges.count) ranges from /proc/iomem")
    return map
  }

  /// The entries of a /sys/firmware/memmap directory, or a copy of one:
  /// subdirectories 0, 1, ... each with start, end and type.
  func firmwareEntries(under root: String) -> [(start: String, end: String, type: String)] {
    var entries: [(start: String, end: String, type: String)] = []
    while let start = system.readText("\(root)/\(entries.count)/start"),
      let end = system.readText("\(root)/\(entries.count)/end"),
      let type = system.readText("\(root)/\(entries.count)/type")
    {
      entries.append((start, end, type))
    }
    return entries
  }

  /// The EFI tables and runtime map, when the running kernel uses EFI
  /// runtime services and exports them.
  func efiHandover(runningBootParams: [UInt8]?) -> EFIHandover? {
    guard let running = runningBootParams, running.count >= 4096,
      let vendor = hexFile("/sys/firmware/efi/fw_vendor"),
      let runtime = hexFile("/sys/firmware/efi/runtime"),
      let tables = hexFile("/sys/firmware/efi/config_table")
    else { return nil }
    // efi_info's efi_systab and efi_systab_hi
    let systemTable = UInt64(running.load32(at: 0x1c4)) | UInt64(running.load32(at: 0x1d8)) << 32
    var map: [EFIMemoryDescriptor] = []
    while let type = hexFile("/sys/firmware/efi/runtime-map/\(map.count)/type"),
      let physical = hexFile("/sys/firmware/efi/runtime-map/\(map.count)/phys_addr"),
      let virtual = hexFile("/sys/firmware/efi/runtime-map/\(map.count)/virt_addr"),
      let pages = hexFile("/sys/firmware/efi/runtime-map/\(map.count)/num_pages"),
      let attribute = hexFile("/sys/firmware/efi/runtime-map/\(map.count)/attribute")
    {
      map.append(
        EFIMemoryDescriptor(
          type: UInt32(truncatingIfNeeded: type), physicalStart: physical,
          virtualStart: virtual, pageCount: pages, attribute: attribute))
    }
    debug("efi: system table \(hex(systemTable)), \(map.count) runtime regions")
    return EFIHandover(
      systemTable: systemTable, firmwareVendor: vendor, runtimeServices: runtime,
      configurationTables: tables, smbios: systabEntry("SMBIOS") ?? 0, runtimeMap: map)
  }

  /// The ACPI RSDP the EFI system table names; BIOS systems leave it to
  /// the kernel's own search of low memory.
  func acpiRSDP() -> UInt64? {
    systabEntry("ACPI20") ?? systabEntry("ACPI")
  }

  /// A `NAME=0x...` line of /sys/firmware/efi/systab.
  func systabEntry(_ name: String) -> UInt64? {
    guard let text = system.readText("/sys/firmware/efi/systab") else { return nil }
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      if parts.count == 2, parts[0] == name {
        return MemoryMapParser.parseHex(String(parts[1]))
      }
    }
    return nil
  }

  private func hexFile(_ path: String) -> UInt64? {
    system.readText(path).flatMap { MemoryMapParser.parseHex($0) }
  }
}
