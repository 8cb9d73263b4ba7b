/// Hexadecimal text the way kernel people write addresses: `0x1000000`.
public func hex<Value: BinaryInteger>(_ value: Value) -> String {
  "0x" + String(value, radix: 16)
}

/// A hexadecimal number padded with zeros to `digits`, without the `0x`.
public func hexDigits<Value: BinaryInteger>(_ value: Value, digits: Int) -> String {
  let text = String(value, radix: 16)
  if text.count >= digits { return text }
  return String(repeating: "0", count: digits - text.count) + text
}
