/// Little-endian stores into and loads from a byte buffer, for building and
/// reading boot structures.
extension Array where Element == UInt8 {
  mutating func store<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
    let width = Value.bitWidth / 8
    precondition(offset >= 0 && offset + width <= count, "store past the end of a boot structure")
    for index in 0..<width {
      self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }

  mutating func store(bytes: ArraySlice<UInt8>, at offset: Int) {
    precondition(
      offset >= 0 && offset + bytes.count <= count, "copy past the end of a boot structure")
    var target = offset
    for byte in bytes {
      self[target] = byte
      target += 1
    }
  }

  /// The little-endian 32-bit value at `offset`.
  public func load32(at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for index in (0..<4).reversed() { value = value << 8 | UInt32(self[offset + index]) }
    return value
  }
}
