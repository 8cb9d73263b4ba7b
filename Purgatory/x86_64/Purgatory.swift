// What Handoff's x86_64 purgatory needs of its CPU besides Shared/: port
// I/O for the 16550 UART, halting, and a report of any exception its own IDT
// catches. entry.S calls `purgatory_main` (Shared/Main.swift) with SSE on
// and a stack of its own; Scrub.swift zeroes free RAM when asked.

@_extern(c, "purgatory_outb")
func purgatoryOutb(_ port: UInt16, _ value: UInt8)

@_extern(c, "purgatory_inb")
func purgatoryInb(_ port: UInt16) -> UInt8

// cli; hlt in a loop: it never returns, which C cannot say to Swift
@_extern(c, "purgatory_halt")
func purgatoryHalt()

func halt() -> Never {
  while true { purgatoryHalt() }
}

@_cdecl("purgatory_exception")
public func purgatoryException(
  _ vector: UInt64, _ rip: UInt64, _ cr2: UInt64, _ block: UnsafeRawPointer
) {
  let serial = Serial(base: Parameters(block).serial)
  serial.write("handoff purgatory: CPU exception ")
  serial.writeDecimal(vector)
  serial.write(" at ")
  serial.writeHex(rip)
  if vector == 14 {
    serial.write(", page fault at ")
    serial.writeHex(cr2)
  }
  serial.write("; halting\r\n")
  halt()
}

/// One byte to the 16550 UART at I/O port `base`.
func serialPut(_ base: UInt64, _ byte: UInt8) {
  let port = UInt16(truncatingIfNeeded: base)

  // the line status register's bit 5: the transmit holding register is
  // empty. A UART that never says so gets the byte after a while anyway.
  var spins = 0
  while purgatoryInb(port &+ 5) & 0x20 == 0 && spins < 1_000_000 { spins += 1 }
  purgatoryOutb(port, byte)
}
