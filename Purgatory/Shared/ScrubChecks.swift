// What every architecture's scrub checks before it zeroes anything: nothing
// the next kernel or this purgatory needs may be zeroed, whatever the
// parameter block says.

/// Halts unless the purgatory's own `segment` and every checked region lie
/// below `end`, where what the purgatory can address ends, and no scrub range
/// touches either.
func checkScrubRanges(
  _ parameters: Parameters, _ serial: Serial, segment: (start: UInt64, end: UInt64), end: UInt64
) {
  if segment.end > end {
    serial.write("handoff purgatory: the identity map ends at ")
    serial.writeHex(end)
    serial.write(", below the purgatory's segment; halting\r\n")
    halt()
  }
  for index in 0..<parameters.regionCount {
    let region = parameters.region(index)
    if region.start &+ region.memorySize > end {
      serial.write("handoff purgatory: segment ")
      serial.writeDecimal(UInt64(index))
      serial.write(" ends beyond the identity map's end ")
      serial.writeHex(end)
      serial.write("; halting\r\n")
      halt()
    }
  }
  for index in 0..<parameters.scrubCount {
    let range = parameters.scrubRange(index)
    let rangeEnd = range.start + range.size
    if range.start < segment.end && segment.start < rangeEnd {
      refuse(serial, index, range, "overlaps the purgatory")
    }
    for regionIndex in 0..<parameters.regionCount {
      let region = parameters.region(regionIndex)
      if range.start < region.start &+ region.memorySize && region.start < rangeEnd {
        refuse(serial, index, range, "overlaps a segment")
      }
    }
  }
}

/// The bytes every scrub range holds together.
func scrubTotal(_ parameters: Parameters) -> UInt64 {
  var total: UInt64 = 0
  for index in 0..<parameters.scrubCount { total += parameters.scrubRange(index).size }
  return total
}

/// Halts, naming the scrub range that would have destroyed something.
func refuse(
  _ serial: Serial, _ index: Int, _ range: (start: UInt64, size: UInt64), _ reason: StaticString
) -> Never {
  serial.write("handoff purgatory: scrub range ")
  serial.writeDecimal(UInt64(index))
  serial.write(" [")
  serial.writeHex(range.start)
  serial.write(", ")
  serial.writeHex(range.start &+ range.size)
  serial.write(") ")
  serial.write(reason)
  serial.write("; halting\r\n")
  halt()
}
