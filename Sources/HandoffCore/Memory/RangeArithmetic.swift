// Set arithmetic on lists of half-open address ranges, for the scrub list:
// RAM in both maps, minus everything that must survive.

extension Array where Element == MemoryRange {
  /// The same addresses as sorted, disjoint ranges of `kind`, touching
  /// neighbours joined.
  func coalesced(as kind: MemoryKind = .ram) -> [MemoryRange] {
    var result: [MemoryRange] = []
    for range in sorted(by: { $0.start < $1.start }) where range.start < range.end {
      if let last = result.last, range.start <= last.end {
        result[result.count - 1].end = Swift.max(last.end, range.end)
      } else {
        result.append(MemoryRange(start: range.start, end: range.end, kind: kind))
      }
    }
    return result
  }

  /// The addresses in both lists.
  func intersected(with other: [MemoryRange]) -> [MemoryRange] {
    let left = coalesced()
    let right = other.coalesced()
    var result: [MemoryRange] = []
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
      let start = Swift.max(left[i].start, right[j].start)
      let end = Swift.min(left[i].end, right[j].end)
      if start < end { result.append(MemoryRange(start: start, end: end, kind: .ram)) }
      if left[i].end < right[j].end { i += 1 } else { j += 1 }
    }
    return result
  }

  /// These ranges without `[start, end)`.
  func subtracting(_ start: UInt64, _ end: UInt64) -> [MemoryRange] {
    guard start < end else { return self }
    var result: [MemoryRange] = []
    for range in self {
      if range.end <= start || range.start >= end {
        result.append(range)
        continue
      }
      if range.start < start {
        result.append(MemoryRange(start: range.start, end: start, kind: range.kind))
      }
      if range.end > end {
        result.append(MemoryRange(start: end, end: range.end, kind: range.kind))
      }
    }
    return result
  }

  /// Each range shrunk to whole pages of `pageSize` (a power of two);
  /// ranges with no whole page left are dropped.
  func shrunkToPages(_ pageSize: UInt64) -> [MemoryRange] {
    var result: [MemoryRange] = []
    for range in self {
      let start = (range.start &+ pageSize &- 1) & ~(pageSize - 1)
      let end = range.end & ~(pageSize - 1)
      if start >= range.start && start < end {
        result.append(MemoryRange(start: start, end: end, kind: range.kind))
      }
    }
    return result
  }
}
