/// The ELF core header a crash kernel reads the panicked kernel through:
/// the file behind its /proc/vmcore. A kernel loaded with kexec_file_load
/// gets one from the running kernel; one loaded with kexec_load gets it
/// from the loader, as a segment whose address the next kernel learns from
/// `/chosen linux,elfcorehdr` (arm64, riscv64).
///
/// It holds no memory contents, only program headers that point at them:
/// a PT_NOTE per CPU (the registers the panic saves), one for vmcoreinfo
/// (the layout facts dump tools need), and a PT_LOAD per range of the old
/// kernel's RAM, with the file offset equal to the physical address, as
/// fs/proc/vmcore.c reads it.
public struct CrashDumpHeader: Equatable, Sendable {
  /// A note the running kernel keeps in memory: its physical address and
  /// the bytes reserved for it.
  public struct Note: Equatable, Sendable {
    public var address: UInt64
    public var size: UInt64

    public init(address: UInt64, size: UInt64) {
      self.address = address
      self.size = size
    }
  }

  /// The ELF machine number of the panicked kernel.
  public var machine: UInt16
  /// Each CPU's crash_notes, in CPU order.
  public var cpuNotes: [Note]
  /// /sys/kernel/vmcoreinfo's note; nil when the kernel exports none.
  public var vmcoreinfo: Note?
  /// The old kernel's RAM the dump covers: everything but the crash
  /// kernel's own region.
  public var memory: [MemoryRange]
  /// How the running kernel maps its memory, from /proc/kcore; nil when
  /// that could not be read, and the PT_LOADs then carry no virtual address.
  public var layout: KernelCoreLayout?

  public init(
    machine: UInt16, cpuNotes: [Note], vmcoreinfo: Note?, memory: [MemoryRange],
    layout: KernelCoreLayout?
  ) {
    self.machine = machine
    self.cpuNotes = cpuNotes
    self.vmcoreinfo = vmcoreinfo
    self.memory = memory
    self.layout = layout
  }

  static let fileHeaderSize = 64
  static let programHeaderSize = 56
  static let typeNote: UInt32 = 4
  static let typeLoad: UInt32 = 1
  /// PF_R | PF_W | PF_X, as the kernel's own header marks RAM.
  static let flagsAll: UInt32 = 7

  /// The program headers, in the order they are written: the notes, then
  /// the kernel text's mapping when known, then RAM.
  var programHeaders: [(type: UInt32, physical: UInt64, virtual: UInt64, size: UInt64)] {
    var headers: [(type: UInt32, physical: UInt64, virtual: UInt64, size: UInt64)] = []
    for note in cpuNotes + (vmcoreinfo.map { [$0] } ?? []) {
      headers.append((Self.typeNote, note.address, 0, note.size))
    }
    if let text = layout?.kernelText {
      headers.append((Self.typeLoad, text.physical, text.virtual, text.size))
    }
    for range in memory {
      headers.append((Self.typeLoad, range.start, layout?.virtual(range.start) ?? 0, range.size))
    }
    return headers
  }

  /// The header's bytes: an ELF64 little-endian ET_CORE file header and
  /// its program headers, nothing else.
  public var bytes: [UInt8] {
    let headers = programHeaders
    var bytes = [UInt8](
      repeating: 0, count: Self.fileHeaderSize + headers.count * Self.programHeaderSize)
    bytes.store(bytes: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1][...], at: 0)  // ELF64, LSB, version 1
    bytes.store(UInt16(4), at: 16)  // ET_CORE
    bytes.store(machine, at: 18)
    bytes.store(UInt32(1), at: 20)
    bytes.store(UInt64(Self.fileHeaderSize), at: 32)  // e_phoff
    bytes.store(UInt16(Self.fileHeaderSize), at: 52)
    bytes.store(UInt16(Self.programHeaderSize), at: 54)
    bytes.store(UInt16(headers.count), at: 56)
    for (index, header) in headers.enumerated() {
      let offset = Self.fileHeaderSize + index * Self.programHeaderSize
      bytes.store(header.type, at: offset)
      bytes.store(header.type == Self.typeLoad ? Self.flagsAll : 0, at: offset + 4)
      bytes.store(header.physical, at: offset + 8)  // p_offset: vmcore reads it as the address
      bytes.store(header.virtual, at: offset + 16)
      bytes.store(header.physical, at: offset + 24)
      bytes.store(header.size, at: offset + 32)
      bytes.store(header.size, at: offset + 40)
    }
    return bytes
  }

  /// The PT_LOAD ranges the dump covers: `ram` without the crash kernel's
  /// `regions`.
  public static func dumpedMemory(ram: [MemoryRange], without regions: [MemoryRange])
    -> [MemoryRange]
  {
    var ranges = ram.coalesced()
    for region in regions { ranges = ranges.subtracting(region.start, region.end) }
    return ranges
  }
}
