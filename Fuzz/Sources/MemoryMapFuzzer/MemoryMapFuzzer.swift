// Fuzzes the memory map readers: /proc/iomem, /sys/firmware/memmap dumps,
// and the parser that tells them apart; then the placer's view of the map.
// Also debugfs's memblock list, whose ranges must be non-empty.
import FuzzSupport
import HandoffCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMemoryMap(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let text = String(decoding: fuzzBytes(data, size), as: UTF8.self)
  check { () throws(HandoffError) in try MemoryMapParser.parse(text, source: "fuzz") }
  check { () throws(HandoffError) in try MemoryMapParser.parseIomem(text, source: "fuzz") }
  check { () throws(HandoffError) in try MemoryMapParser.parseFirmwareDump(text, source: "fuzz") }
  _ = MemoryMapParser.parseHex(text)
  if let reserved = try? MemoryMapParser.parseMemblock(text, source: "fuzz") {
    for range in reserved {
      expect(range.start < range.end, "an empty or reversed reservation \(range.rangeText)")
    }
  }
  return 0
}

/// Parses, and holds a map that parsed to what a map promises.
func check(_ parse: () throws(HandoffError) -> MemoryMap) {
  let map: MemoryMap
  do {
    map = try parse()
  } catch {
    _ = error.description
    return
  }
  expect(!map.ranges.isEmpty, "a map without ranges was accepted")
  for (index, range) in map.ranges.enumerated() {
    expect(range.start < range.end, "an empty or reversed range \(range.rangeText)")
    if index > 0 { expect(map.ranges[index - 1].start <= range.start, "unsorted ranges") }
    _ = (range.kind.e820Type, range.kind.linuxName, range.size)
  }
  for range in map.excluded {
    expect(range.start < range.end, "an empty or reversed exclusion \(range.rangeText)")
  }

  // the RAM a loader may hand out: inside RAM, clear of the exclusions
  for range in SegmentPlacer(map: map).freeRanges {
    expect(range.start < range.end, "an empty free range \(range.rangeText)")
    expect(
      map.ram.contains { $0.start <= range.start && range.end <= $0.end },
      "free \(range.rangeText) is not RAM")
    for excluded in map.excluded {
      expect(
        range.end <= excluded.start || range.start >= excluded.end,
        "free \(range.rangeText) overlaps the exclusion \(excluded.rangeText)")
    }
  }
}
