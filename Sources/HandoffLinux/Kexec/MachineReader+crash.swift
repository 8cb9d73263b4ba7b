import HandoffCore

extension MachineReader {
  static var possibleCPUs: String { "/sys/devices/system/cpu/possible" }
  static var vmcoreinfo: String { "/sys/kernel/vmcoreinfo" }
  static var kernelCore: String { "/proc/kcore" }

  /// What a crash kernel's ELF core header points at on this machine: each
  /// CPU's crash notes, the vmcoreinfo note, the RAM of `map` outside the
  /// crash kernel's region, and the virtual addresses /proc/kcore shows.
  ///
  /// Throws `crashKernelUnavailable` when the running kernel exports no
  /// crash notes, which it does only when built for crash dumps.
  public func crashDumpHeader(map: MemoryMap, machine: UInt16) throws(HandoffError)
    -> CrashDumpHeader
  {
    var notes: [CrashDumpHeader.Note] = []
    for cpu in Self.cpuList(system.readText(Self.possibleCPUs) ?? "0") {
      let directory = "/sys/devices/system/cpu/cpu\(cpu)"
      guard
        let address = system.readText("\(directory)/crash_notes").flatMap({
          MemoryMapParser.parseHex($0)
        }),
        let size = system.readText("\(directory)/crash_notes_size").flatMap({ UInt64($0) })
      else {
        debug("elfcorehdr: cpu\(cpu) has no crash_notes; its registers will be missing")
        continue
      }
      notes.append(CrashDumpHeader.Note(address: address, size: size))
    }
    guard !notes.isEmpty else {
      throw .crashKernelUnavailable(
        reason: "no CPU under /sys/devices/system/cpu has crash_notes: the running kernel "
          + "keeps no registers for a dump")
    }
    var vmcoreinfo: CrashDumpHeader.Note? = nil
    if let words = system.readText(Self.vmcoreinfo)?.split(separator: " "), words.count == 2,
      let address = MemoryMapParser.parseHex(String(words[0])),
      let size = MemoryMapParser.parseHex(String(words[1]))
    {
      vmcoreinfo = CrashDumpHeader.Note(address: address, size: size)
    } else {
      debug("elfcorehdr: no \(Self.vmcoreinfo); dump tools will lack the kernel's layout")
    }
    let layout = kernelCoreLayout()
    let memory = CrashDumpHeader.dumpedMemory(
      ram: map.kernelRAM ?? map.ram, without: map.crashKernel)
    debug(
      "elfcorehdr: \(notes.count) CPU notes, \(memory.count) RAM ranges, linear map "
        + (layout.map { "at physical + \(hex($0.linearOffset))" } ?? "unknown"))
    return CrashDumpHeader(
      machine: machine, cpuNotes: notes, vmcoreinfo: vmcoreinfo, memory: memory, layout: layout)
  }

  /// The running kernel's memory layout from the program headers of
  /// /proc/kcore; nil when it cannot be read (no CONFIG_PROC_KCORE, or
  /// lockdown's confidentiality mode).
  func kernelCoreLayout() -> KernelCoreLayout? {
    do {
      let fileHeader = try system.readFile(Self.kernelCore, prefix: 64)
      guard let length = KernelCoreLayout.headerLength(fileHeader) else {
        debug("elfcorehdr: \(Self.kernelCore) does not start with an ELF64 header")
        return nil
      }
      let headers = try system.readFile(Self.kernelCore, prefix: length)
      return try KernelCoreLayout(path: Self.kernelCore, bytes: headers)
    } catch {
      debug("elfcorehdr: \(error.description); the dump's RAM has no virtual addresses")
      return nil
    }
  }

  /// The CPU numbers of a kernel CPU list such as `0-3,6`.
  static func cpuList(_ text: String) -> [Int] {
    var cpus: [Int] = []
    for part in text.split(separator: ",") {
      let bounds = part.split(separator: "-")
      guard let first = bounds.first.flatMap({ Int($0) }) else { continue }
      let last = bounds.count == 2 ? Int(bounds[1]) ?? first : first
      guard first <= last, last - first < 8192 else { continue }
      cpus += Array(first...last)
    }
    return cpus
  }
}
