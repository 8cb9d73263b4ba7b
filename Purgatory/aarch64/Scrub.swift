// Scrubbing on aarch64: zeroing the RAM the loader found free, with the MMU
// and the data cache off as the kernel's relocation code leaves them. Every
// physical address is reachable as it is, but the stores go past the
// caches, which may still hold lines of that RAM the old kernel left dirty:
// written back later, one would put the old bytes over the zeros. So each
// range is first cleaned and invalidated to the point of coherency, which
// empties the caches of it for good (with the MMU off nothing allocates new
// lines), and only then zeroed. The parameter block's identity-map end
// names the end of the RAM the scrub may touch, and its page-table room is
// empty.

// dc civac over every data cache line of [start, start + size), then dsb sy
@_extern(c, "purgatory_clean_invalidate")
func purgatoryCleanInvalidate(_ start: UInt64, _ size: UInt64)

// 64 bytes a step with stp xzr, then dsb sy; start and size are whole pages
@_extern(c, "purgatory_zero")
func purgatoryZero(_ start: UInt64, _ size: UInt64)

// the generic timer's virtual count (cntvct_el0) and its rate (cntfrq_el0)
@_extern(c, "purgatory_counter")
func purgatoryCounter() -> UInt64

@_extern(c, "purgatory_counter_frequency")
func purgatoryCounterFrequency() -> UInt64

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
    serial.write(", caches cleaned first, MMU off\r\n")
  }
  let started = purgatoryCounter()
  for index in 0..<parameters.scrubCount {
    let range = parameters.scrubRange(index)
    purgatoryCleanInvalidate(range.start, range.size)
    purgatoryZero(range.start, range.size)
  }
  let ticks = purgatoryCounter() &- started
  if parameters.announce {
    serial.write("handoff purgatory: scrubbed ")
    serial.writeDecimal(total)
    serial.write(" bytes in ")
    serial.writeDecimal(ticks)
    serial.write(" ticks of the ")
    serial.writeDecimal(purgatoryCounterFrequency())
    serial.write(" Hz counter\r\n")
  }
}
