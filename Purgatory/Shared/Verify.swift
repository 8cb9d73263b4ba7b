// The check every purgatory makes before the jump: each segment's XXH64
// against the digest the loader took, so a kernel whose memory changed after
// the load never runs.

/// Every region's digest, in table order; the first mismatch stops the
/// handoff.
func verifySegments(_ parameters: Parameters, _ serial: Serial) {
  for index in 0..<parameters.regionCount {
    let region = parameters.region(index)
    let bytes = UnsafeRawBufferPointer(
      start: UnsafeRawPointer(bitPattern: UInt(region.start)),
      count: Int(truncatingIfNeeded: region.size))
    let found = xxh64(bytes)
    if found != region.digest {
      serial.write("handoff purgatory: segment ")
      serial.writeDecimal(UInt64(index))
      serial.write(" [")
      serial.writeHex(region.start)
      serial.write(", ")
      serial.writeHex(region.start &+ region.size)
      serial.write(") digest mismatch: expected ")
      serial.writeHex(region.digest, digits: 16)
      serial.write(", found ")
      serial.writeHex(found, digits: 16)
      serial.write("; halting\r\n")
      halt()
    }
  }

  if parameters.announce {
    serial.write("handoff purgatory: ")
    serial.writeDecimal(UInt64(parameters.regionCount))
    serial.write(" segments verified\r\n")
  }
}
