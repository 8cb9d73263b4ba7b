// What Handoff's x86_64 purgatory may zero before the jump, so that the next
// kernel finds no secrets of the old one in free RAM, and how far its own
// page tables must reach.

/// Decides a scrub: the RAM that both the firmware's map and the running
/// kernel call System RAM, without the segments, the EFI runtime regions,
/// the crash kernel's reservation and the first MiB, in whole pages.
public struct X86ScrubPlanner {
  public static let pageSize: UInt64 = 0x1000
  public static let largePageSize: UInt64 = 0x20_0000
  static let gigabyte: UInt64 = 0x4000_0000
  /// The BIOS data area, the EBDA and the real-mode IVT live here, and the
  /// next kernel's decompressor reads them; Linux reserves this MiB anyway.
  public static let lowMemoryEnd: UInt64 = 0x10_0000
  /// EFI memory types that are device space rather than memory.
  static let efiMemoryMappedIO: UInt32 = 11
  static let efiMemoryMappedIOPortSpace: UInt32 = 12

  /// What x86 page tables can map: 52-bit physical addresses.
  public static let addressLimit: UInt64 = 1 << 52

  public let environment: X86BootEnvironment
  /// Where the purgatory's identity map ends: past all RAM, the ACPI tables
  /// and the EFI runtime regions, which the next kernel may read before it
  /// has page tables of its own; a multiple of 2 MiB, at most `addressLimit`.
  public let identityMapEnd: UInt64
  /// Where the memory map ends when that is past `addressLimit`, a map no
  /// identity map can cover; nil otherwise.
  public let unreachableEnd: UInt64?

  public init(environment: X86BootEnvironment) {
    self.environment = environment
    var end: UInt64 = 0
    for range in environment.memoryMap.ranges {
      switch range.kind {
      case .ram, .acpiTables, .acpiNVS: end = max(end, range.end)
      default: break
      }
    }
    for range in environment.memoryMap.kernelRAM ?? [] { end = max(end, range.end) }
    for descriptor in environment.efi?.runtimeMap ?? []
    where descriptor.type != Self.efiMemoryMappedIO
      && descriptor.type != Self.efiMemoryMappedIOPortSpace
    {
      if let descriptorEnd = Self.end(of: descriptor) { end = max(end, descriptorEnd) }
    }
    identityMapEnd = SegmentPlacer.roundUp(min(end, Self.addressLimit), Self.largePageSize)
    unreachableEnd = end > Self.addressLimit ? end : nil
  }

  /// Bytes of page tables an identity map of `[0, end)` takes at worst:
  /// 2 MiB pages (no CPUID pdpe1gb) and five levels (CR4.LA57), so that the
  /// purgatory has room whatever the CPU turns out to offer.
  public static func pageTableBytes(identityMapEnd end: UInt64) -> UInt64 {
    let gigabytes = (end + gigabyte - 1) / gigabyte
    let directoryPointerTables = (gigabytes + 511) / 512
    let topLevel = 1 + (directoryPointerTables + 511) / 512
    return (topLevel + directoryPointerTables + gigabytes) * pageSize
  }

  /// The ranges to zero, sorted and page-aligned, with `kept` (every
  /// segment, the purgatory's own included) cut out.
  public func ranges(keeping kept: [MemoryRange]) -> [MemoryRange] {
    // RAM in both the firmware's map and the running kernel's
    let map = environment.memoryMap
    var ranges = map.ram.coalesced()
    if let kernelRAM = map.kernelRAM { ranges = ranges.intersected(with: kernelRAM) }

    // what the next kernel, the firmware or a crash kernel still needs
    ranges = ranges.subtracting(0, Self.lowMemoryEnd)
    for range in kept { ranges = ranges.subtracting(range.start, range.end) }
    for descriptor in environment.efi?.runtimeMap ?? [] {
      ranges = ranges.subtracting(descriptor.physicalStart, Self.end(of: descriptor) ?? .max)
    }
    for range in map.excluded { ranges = ranges.subtracting(range.start, range.end) }
    return ranges.shrunkToPages(Self.pageSize)
  }

  /// Where an EFI memory descriptor's 4 KiB pages end; nil when that lies
  /// past the end of the address space.
  static func end(of descriptor: EFIMemoryDescriptor) -> UInt64? {
    let (size, overflow) = descriptor.pageCount.multipliedReportingOverflow(by: 0x1000)
    let (end, wrapped) = descriptor.physicalStart.addingReportingOverflow(size)
    return overflow || wrapped || end > 1 << 52 ? nil : end
  }
}
