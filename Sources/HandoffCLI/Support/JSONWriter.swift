/// Builds one JSON object, key by key, in the order the keys are added.
struct JSONObject {
  private var members: [String] = []

  mutating func add(_ key: String, _ value: String?) {
    members.append(quoted(key) + ": " + (value.map(quoted) ?? "null"))
  }

  mutating func add<Value: BinaryInteger>(_ key: String, _ value: Value?) {
    members.append(quoted(key) + ": " + (value.map { "\($0)" } ?? "null"))
  }

  mutating func add(_ key: String, _ value: Bool?) {
    members.append(quoted(key) + ": " + (value.map { $0 ? "true" : "false" } ?? "null"))
  }

  mutating func add(_ key: String, strings: [String]) {
    var items: [String] = []
    for string in strings { items.append(quoted(string)) }
    members.append(quoted(key) + ": [" + joined(items, ", ") + "]")
  }

  mutating func add(_ key: String, objects: [JSONObject]) {
    var items: [String] = []
    for object in objects { items.append(object.text) }
    members.append(quoted(key) + ": [" + joined(items, ", ") + "]")
  }

  mutating func add(_ key: String, object: JSONObject) {
    members.append(quoted(key) + ": " + object.text)
  }

  /// The object on one line.
  var text: String { "{" + joined(members, ", ") + "}" }

  private func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar.value {
      case 0x22: result += "\\\""
      case 0x5c: result += "\\\\"
      case 0x0a: result += "\\n"
      case 0x09: result += "\\t"
      case 0x0d: result += "\\r"
      case 0..<0x20: result += "\\u00" + hexPair(UInt8(scalar.value))
      default: result.unicodeScalars.append(scalar)
      }
    }
    return result + "\""
  }

  private func hexPair(_ byte: UInt8) -> String {
    let digits: [Character] = [
      "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f",
    ]
    return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xf)])
  }
}

/// The strings of `parts` with `separator` between them.
func joined(_ parts: [String], _ separator: String) -> String {
  var result = ""
  for (index, part) in parts.enumerated() {
    if index > 0 { result += separator }
    result += part
  }
  return result
}
