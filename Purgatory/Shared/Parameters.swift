// The parameter block every architecture's purgatory reads: entry.S
// reserves it in the blob's .data, and HandoffCore's PurgatoryParameters
// fills it in before the blob becomes a segment.

/// The parameter block, little-endian 64-bit words.
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
  /// The UART to report on: an I/O port on x86_64, a register base
  /// elsewhere; 0 for none.
  var serial: UInt64 { word(0x20) }
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
