// What a purgatory says on the serial port: fixed text, decimal and hex
// numbers, one byte at a time through the architecture's `serialPut`.

/// The UART the old kernel configured, at `base` (an I/O port on x86_64, a
/// register block elsewhere); 0 means there is none and output goes nowhere.
struct Serial {
  let base: UInt64

  func write(_ text: StaticString) {
    text.withUTF8Buffer { bytes in
      for byte in bytes { put(byte) }
    }
  }

  func writeDecimal(_ value: UInt64) {
    if value >= 10 { writeDecimal(value / 10) }
    put(UInt8(truncatingIfNeeded: value % 10) &+ 0x30)
  }

  /// `value` as 0x and at least `digits` hexadecimal digits.
  func writeHex(_ value: UInt64, digits: Int = 1) {
    write("0x")
    var count = 16
    while count > digits && value &>> UInt64((count - 1) * 4) == 0 { count -= 1 }
    while count > 0 {
      count -= 1
      let nibble = UInt8(truncatingIfNeeded: value &>> UInt64(count * 4)) & 0xf
      put(nibble < 10 ? 0x30 &+ nibble : 0x61 &+ nibble &- 10)
    }
  }

  func put(_ byte: UInt8) {
    guard base != 0 else { return }
    serialPut(base, byte)
  }
}
