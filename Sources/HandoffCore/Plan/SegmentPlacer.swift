/// Where a segment may go: its size, alignment, the window it must lie in,
/// and which end of that window it prefers.
public struct PlacementRule: Equatable, Sendable {
  /// Bytes of memory the segment occupies, rounded up to pages when placed.
  public var size: UInt64
  /// A power of two, at least a page.
  public var alignment: UInt64
  /// The lowest start address allowed.
  public var lowest: UInt64
  /// The segment must end at or below this address.
  public var highest: UInt64
  /// Place at the top of the window (initrd, boot_params) rather than the bottom (kernel).
  public var topDown: Bool
  /// Where the size comes from, for the error when nothing holds it:
  /// `init_size 0x2a4b000 of /boot/vmlinuz`.
  public var origin: String?

  public init(
    size: UInt64, alignment: UInt64, lowest: UInt64, highest: UInt64, topDown: Bool,
    origin: String? = nil
  ) {
    self.size = size
    self.alignment = alignment
    self.lowest = lowest
    self.highest = highest
    self.topDown = topDown
    self.origin = origin
  }
}

/// Hands out non-overlapping, page-aligned ranges of RAM, avoiding the map's
/// exclusions and everything placed before.
public struct SegmentPlacer {
  public static let pageSize: UInt64 = 4096
  /// The first MiB stays untouched: BIOS data, the real-mode trampoline and
  /// firmware tables live there, and the next kernel reserves it anyway.
  public static let lowMemoryEnd: UInt64 = 0x10_0000

  private var free: [MemoryRange]

  public init(map: MemoryMap) {
    var free: [MemoryRange] = []
    for range in map.ram {
      guard let pageStart = SegmentPlacer.roundedUp(range.start, SegmentPlacer.pageSize) else {
        continue
      }
      let start = max(pageStart, SegmentPlacer.lowMemoryEnd)
      let end = range.end & ~(SegmentPlacer.pageSize - 1)
      if start < end { free.append(MemoryRange(start: start, end: end, kind: .ram)) }
    }
    self.free = free
    for excluded in map.excluded { take(excluded.start, excluded.end) }
  }

  /// The RAM still free, for error messages and `plan`.
  public var freeRanges: [MemoryRange] { free }

  /// Reserves a range for `segment` under `rule` and returns its start.
  public mutating func place(_ segment: String, _ rule: PlacementRule) throws(HandoffError)
    -> UInt64
  {
    let size = SegmentPlacer.roundUp(rule.size, SegmentPlacer.pageSize)
    let alignment = max(rule.alignment, SegmentPlacer.pageSize)
    precondition(alignment & (alignment - 1) == 0, "alignment must be a power of two")
    let candidates = rule.topDown ? Array(free.reversed()) : free
    for range in candidates {
      let low = max(range.start, rule.lowest)
      let high = min(range.end, rule.highest)
      guard high > low, high - low >= size else { continue }
      let start: UInt64
      if rule.topDown {
        start = (high - size) & ~(alignment - 1)
        guard start >= low else { continue }
      } else {
        guard let aligned = SegmentPlacer.roundedUp(low, alignment), aligned <= high,
          high - aligned >= size
        else { continue }
        start = aligned
      }
      take(start, start + size)
      return start
    }
    throw .placementFailed(
      segment: segment, size: size,
      constraint: (rule.origin.map { "\($0), " } ?? "")
        + "aligned to \(hex(alignment)), within [\(hex(rule.lowest)), \(hex(rule.highest)))",
      free: describe(free))
  }

  /// Removes [start, end) from the free ranges.
  private mutating func take(_ start: UInt64, _ end: UInt64) {
    var remaining: [MemoryRange] = []
    for range in free {
      if range.end <= start || range.start >= end {
        remaining.append(range)
        continue
      }
      if range.start < start {
        remaining.append(MemoryRange(start: range.start, end: start, kind: .ram))
      }
      if range.end > end { remaining.append(MemoryRange(start: end, end: range.end, kind: .ram)) }
    }
    free = remaining
  }

  private func describe(_ ranges: [MemoryRange]) -> String {
    if ranges.isEmpty { return "none" }
    var text = ""
    for range in ranges {
      if !text.isEmpty { text += ", " }
      text += range.rangeText
    }
    return text
  }

  public static func roundUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
  }

  /// `value` rounded up to a multiple of `alignment`; nil when that lies
  /// past the end of the address space, as it can for RAM a map puts there.
  static func roundedUp(_ value: UInt64, _ alignment: UInt64) -> UInt64? {
    let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
    return overflow ? nil : sum & ~(alignment - 1)
  }
}
