/// What a range of physical memory holds, in the firmware's (e820's) terms.
public enum MemoryKind: Equatable, Sendable {
  case ram
  case reserved
  case acpiTables
  case acpiNVS
  case unusable
  case persistent
  case softReserved
  /// A kind Handoff has no name for, with the text the system used.
  case other(String)

  /// The e820 type number the next kernel is told.
  public var e820Type: UInt32 {
    switch self {
    case .ram: return 1
    case .reserved, .other: return 2
    case .acpiTables: return 3
    case .acpiNVS: return 4
    case .unusable: return 5
    case .persistent: return 7
    case .softReserved: return 0xefff_ffff
    }
  }

  /// The kind the Linux names in /sys/firmware/memmap and /proc/iomem stand for.
  public init(linuxName name: String) {
    switch name {
    case "System RAM": self = .ram
    case "Reserved", "reserved": self = .reserved
    case "ACPI Tables": self = .acpiTables
    case "ACPI Non-volatile Storage": self = .acpiNVS
    case "Unusable memory": self = .unusable
    case "Persistent Memory", "Persistent Memory (legacy)": self = .persistent
    case "Soft Reserved": self = .softReserved
    default: self = .other(name)
    }
  }

  /// The name Linux uses for the kind.
  public var linuxName: String {
    switch self {
    case .ram: return "System RAM"
    case .reserved: return "Reserved"
    case .acpiTables: return "ACPI Tables"
    case .acpiNVS: return "ACPI Non-volatile Storage"
    case .unusable: return "Unusable memory"
    case .persistent: return "Persistent Memory"
    case .softReserved: return "Soft Reserved"
    case .other(let name): return name
    }
  }
}

/// A half-open range of physical memory, [start, end), and what it holds.
public struct MemoryRange: Equatable, Sendable {
  public var start: UInt64
  public var end: UInt64
  public var kind: MemoryKind

  public init(start: UInt64, end: UInt64, kind: MemoryKind) {
    self.start = start
    self.end = end
    self.kind = kind
  }

  public var size: UInt64 { end - start }

  /// `[0x100000, 0x7fee0000)`, the way debug lines and errors show ranges.
  public var rangeText: String { "[\(hex(start)), \(hex(end)))" }
}

/// The machine's physical memory as the firmware described it, sorted by
/// address, plus the ranges inside RAM that a loader must not use.
public struct MemoryMap: Equatable, Sendable {
  public private(set) var ranges: [MemoryRange]
  /// Parts of RAM the running kernel keeps for itself, such as a crash
  /// kernel's reservation; segments avoid them.
  public var excluded: [MemoryRange]
  /// RAM as the running kernel sees it, the top-level System RAM of
  /// /proc/iomem, when the map itself came from the firmware's table: the
  /// kernel turns parts of that RAM into reserved memory (EFI tables it
  /// keeps, for one) without telling the firmware's table. Nil when only
  /// one map was read.
  public var kernelRAM: [MemoryRange]?
  /// The memory reserved for a crash kernel (`crashkernel=`), which only a
  /// crash kernel's segments may use; empty when none is reserved.
  public var crashKernel: [MemoryRange] = []

  public init(ranges: [MemoryRange], excluded: [MemoryRange] = [], kernelRAM: [MemoryRange]? = nil)
  {
    self.ranges = ranges.sorted { $0.start < $1.start }
    self.excluded = excluded
    self.kernelRAM = kernelRAM
  }

  /// The RAM ranges, in address order.
  public var ram: [MemoryRange] {
    ranges.filter { $0.kind == .ram }
  }

  /// Total bytes of RAM.
  public var ramSize: UInt64 {
    var total: UInt64 = 0
    for range in ram { total += range.size }
    return total
  }
}
