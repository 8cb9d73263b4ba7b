// The part of Handoff's x86_64 purgatory that decides: entry.S calls
// `purgatory_main` with SSE on and a stack of its own, and jumps to the new
// kernel when it returns. It checks every region's XXH64 digest against the
// one the loader stored, and halts with a line on the serial port instead of
// running a kernel whose memory changed after the load; then, when asked,
// it scrubs free RAM (Scrub.swift).
//
// Bare metal: no allocation, no runtime, physical addresses are virtual ones
// (relocate_kernel's identity map, then the purgatory's own), and only one
// CPU runs.

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

/// Checks the segments and scrubs free RAM as the parameter block asks;
/// returns only when the kernel may run. `tables` is where the segment's
/// room for page tables starts (past the bss), `image` where the blob starts.
@_cdecl("purgatory_main")
public func purgatoryMain(_ block: UnsafeRawPointer, _ tables: UInt, _ image: UInt) {
  let parameters = Parameters(block)
  let serial = Serial(port: UInt16(truncatingIfNeeded: parameters.serialPort))

  // a block the loader never filled in, or filled in for another layout
  guard parameters.isValid else {
    serial.write("handoff purgatory: the parameter block is not valid; halting\r\n")
    halt()
  }

  if parameters.verify {
    verifySegments(parameters, serial)
  } else if parameters.announce {
    serial.write("handoff purgatory: segments not verified\r\n")
  }

  if parameters.scrub {
    let segment = (start: UInt64(image), end: UInt64(tables) &+ parameters.pageTableBytes)
    scrub(parameters, serial, segment: segment, tables: UInt64(tables))
  }
}

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

@_cdecl("purgatory_exception")
public func purgatoryException(
  _ vector: UInt64, _ rip: UInt64, _ cr2: UInt64, _ block: UnsafeRawPointer
) {
  let serial = Serial(port: UInt16(truncatingIfNeeded: Parameters(block).serialPort))
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

/// The parameter block in the blob's .data, as entry.S lays it out and
/// PurgatoryParameters.swift fills it in: little-endian 64-bit words.
struct Parameters {
  static let magic: UInt64 = 0x4750_5446_464f_4e48
  static let version: UInt64 = 2
  static let regionsMax = 16
  static let scrubRangesMax = 64
  static let pageSize: UInt64 = 0x1000
  static let largePageSize: UInt64 = 0x20_0000

  let block: UnsafeRawPointer

  init(_ block: UnsafeRawPointer) { self.block = block }

  func word(_ offset: Int) -> UInt64 { block.load(fromByteOffset: offset, as: UInt64.self) }

  var kernelEntry: UInt64 { word(0x10) }
  var serialPort: UInt64 { word(0x20) }
  var flags: UInt64 { word(0x28) }
  var verify: Bool { flags & 1 != 0 }
  var announce: Bool { flags & 2 != 0 }
  var scrub: Bool { flags & 4 != 0 }
  var regionCount: Int { Int(truncatingIfNeeded: min(word(0x30), UInt64(Self.regionsMax))) }

  func region(_ index: Int) -> (start: UInt64, size: UInt64, digest: UInt64, memorySize: UInt64) {
    let offset = 0x38 + index * 32
    return (word(offset), word(offset + 8), word(offset + 16), word(offset + 24))
  }

  /// The page tables map `[0, identityMapEnd)`.
  var identityMapEnd: UInt64 { word(0x238) }
  /// Bytes of this segment past the bss that hold the page tables.
  var pageTableBytes: UInt64 { word(0x240) }
  var scrubCount: Int { Int(truncatingIfNeeded: min(word(0x248), UInt64(Self.scrubRangesMax))) }

  func scrubRange(_ index: Int) -> (start: UInt64, size: UInt64) {
    let offset = 0x250 + index * 16
    return (word(offset), word(offset + 8))
  }

  /// The magic and version are this layout's, there is a kernel to jump to,
  /// every region is a range of memory that does not wrap, and a scrub
  /// names whole pages inside the identity map it asks for.
  var isValid: Bool {
    guard word(0) == Self.magic, word(8) == Self.version, kernelEntry != 0 else { return false }
    guard word(0x30) <= UInt64(Self.regionsMax) else { return false }
    for index in 0..<regionCount {
      let region = region(index)
      guard region.size == 0 || region.start != 0 else { return false }
      guard region.memorySize >= region.size else { return false }
      guard region.start &+ region.memorySize >= region.start else { return false }
    }
    guard scrub else { return true }
    let end = identityMapEnd
    guard end != 0, end % Self.largePageSize == 0, pageTableBytes % Self.pageSize == 0 else {
      return false
    }
    guard word(0x248) <= UInt64(Self.scrubRangesMax) else { return false }
    for index in 0..<scrubCount {
      let range = scrubRange(index)
      guard range.start % Self.pageSize == 0, range.size % Self.pageSize == 0 else { return false }
      guard range.start &+ range.size >= range.start, range.start &+ range.size <= end else {
        return false
      }
    }
    return true
  }
}

/// A 16550 UART at `port` that the old kernel configured; port 0 means
/// there is none and output goes nowhere.
struct Serial {
  let port: UInt16

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
    guard port != 0 else { return }

    // the line status register's bit 5: the transmit holding register is
    // empty. A UART that never says so gets the byte after a while anyway.
    var spins = 0
    while purgatoryInb(port &+ 5) & 0x20 == 0 && spins < 1_000_000 { spins += 1 }
    purgatoryOutb(port, byte)
  }
}
