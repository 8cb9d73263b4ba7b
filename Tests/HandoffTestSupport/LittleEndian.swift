// Little-endian integers into byte arrays, for the handmade files.

/// Writes `value` little-endian into `file` at `offset`.
func put<Value: FixedWidthInteger>(_ file: inout [UInt8], _ value: Value, at offset: Int) {
  for index in 0..<Value.bitWidth / 8 {
    file[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
  }
}

/// `value` as its little-endian bytes.
public func littleEndian<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: Value.bitWidth / 8)
  put(&bytes, value, at: 0)
  return bytes
}
