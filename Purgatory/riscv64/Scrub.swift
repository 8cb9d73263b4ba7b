// Scrubbing on riscv64: zeroing the RAM the loader found free. Translation
// is off (satp = 0), so every physical address is reachable as it is, and
// the cacheability of RAM comes from the platform's physical memory
// attributes, not from page tables: no tables to build, and no cache to
// clean after. The parameter block's identity-map end names the end of the
// RAM the scrub may touch, and its page-table room is empty.

// 64 bytes a step with sd; start and size are whole pages
@_extern(c, "purgatory_zero")
func purgatoryZero(_ start: UInt64, _ size: UInt64)

/// Zeroes every scrub range, after checking that none touches a segment or
/// the purgatory's own `segment`.
func scrub(
  _ parameters: Parameters, _ serial: Serial, segment: (start: UInt64, end: UInt64),
  tables: UInt64
) {
  checkScrubRanges(parameters, serial, segment: segment, end: parameters.identityMapEnd)
  let total = scrubTotal(parameters)
  if parameters.announce {
    serial.write("handoff purgatory: scrubbing ")
    serial.writeDecimal(total)
    serial.write(" bytes in ")
    serial.writeDecimal(UInt64(parameters.scrubCount))
    serial.write(" ranges below ")
    serial.writeHex(parameters.identityMapEnd)
    serial.write(", translation off\r\n")
  }
  for index in 0..<parameters.scrubCount {
    let range = parameters.scrubRange(index)
    purgatoryZero(range.start, range.size)
  }
  if parameters.announce {
    serial.write("handoff purgatory: scrubbed ")
    serial.writeDecimal(total)
    serial.write(" bytes\r\n")
  }
}
