// What Handoff's riscv64 purgatory needs of its hart besides Shared/: a
// 16550 UART through byte-wide MMIO, halting, and a report of any trap its
// own vector catches. entry.S calls `purgatory_main` (Shared/Main.swift)
// with a stack of its own and translation off; Scrub.swift zeroes free RAM
// when asked.

@_extern(c, "purgatory_mmio_read8")
func purgatoryMMIORead8(_ address: UInt64) -> UInt8

@_extern(c, "purgatory_mmio_write8")
func purgatoryMMIOWrite8(_ address: UInt64, _ value: UInt8)

// wfi in a loop with interrupts off: it never returns, which C cannot say
// to Swift
@_extern(c, "purgatory_halt")
func purgatoryHalt()

func halt() -> Never {
  while true { purgatoryHalt() }
}

/// One byte to the 16550 UART whose registers start at `base`, one byte
/// apart. The loader names no UART whose registers are spaced wider or
/// read as words (reg-shift, reg-io-width), so on such boards the
/// purgatory is silent.
func serialPut(_ base: UInt64, _ byte: UInt8) {
  // the line status register's bit 5: the transmit holding register is
  // empty. A UART that never says so gets the byte after a while anyway.
  var spins = 0
  while purgatoryMMIORead8(base &+ 5) & 0x20 == 0 && spins < 1_000_000 { spins += 1 }
  purgatoryMMIOWrite8(base, byte)
}

@_cdecl("purgatory_exception")
public func purgatoryException(
  _ cause: UInt64, _ address: UInt64, _ value: UInt64, _ block: UnsafeRawPointer
) {
  let serial = Serial(base: Parameters(block).serial)
  serial.write("handoff purgatory: trap, scause ")
  serial.writeHex(cause)
  serial.write(" at ")
  serial.writeHex(address)
  serial.write(", stval ")
  serial.writeHex(value)
  serial.write("; halting\r\n")
  halt()
}
