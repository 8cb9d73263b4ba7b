// What Handoff's aarch64 purgatory needs of its CPU besides Shared/: a PL011
// UART through device-memory accesses, halting, and a report of any
// exception its own vectors catch. entry.S calls `purgatory_main`
// (Shared/Main.swift) with a stack of its own, the MMU and the caches off;
// Scrub.swift zeroes free RAM when asked.

@_extern(c, "purgatory_mmio_read32")
func purgatoryMMIORead32(_ address: UInt64) -> UInt32

@_extern(c, "purgatory_mmio_write32")
func purgatoryMMIOWrite32(_ address: UInt64, _ value: UInt32)

// wfi in a loop with every interrupt masked: it never returns, which C
// cannot say to Swift
@_extern(c, "purgatory_halt")
func purgatoryHalt()

func halt() -> Never {
  while true { purgatoryHalt() }
}

/// One byte to the PL011 UART whose registers start at `base`.
func serialPut(_ base: UInt64, _ byte: UInt8) {
  // the flag register's bit 5: the transmit FIFO is full. A UART that never
  // drains gets the byte after a while anyway.
  var spins = 0
  while purgatoryMMIORead32(base &+ 0x18) & 0x20 != 0 && spins < 1_000_000 { spins += 1 }
  purgatoryMMIOWrite32(base, UInt32(byte))
}

@_cdecl("purgatory_exception")
public func purgatoryException(
  _ index: UInt64, _ syndrome: UInt64, _ address: UInt64, _ faultAddress: UInt64,
  _ block: UnsafeRawPointer
) {
  let serial = Serial(base: Parameters(block).serial)
  serial.write("handoff purgatory: exception ")
  serial.writeDecimal(index)
  serial.write(", ESR ")
  serial.writeHex(syndrome)
  serial.write(" at ")
  serial.writeHex(address)
  serial.write(", FAR ")
  serial.writeHex(faultAddress)
  serial.write("; halting\r\n")
  halt()
}
