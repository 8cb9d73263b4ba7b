// The running kernel's memblock reservations as they are now, from
// debugfs. /proc/iomem's `reserved` entries are the same list frozen at
// boot; this one has lost what the kernel freed since, such as its initrd.

extension MemoryMapParser {
  /// Parses /sys/kernel/debug/memblock/reserved: one `INDEX: START..END`
  /// line a reservation, both addresses in hex and END inclusive, maybe
  /// followed by the node and flags. The ranges come back as they are,
  /// byte-exact.
  ///
  /// Throws `unsupportedMemoryMap` naming the line that does not read so.
  public static func parseMemblock(_ text: String, source: String) throws(HandoffError)
    -> [MemoryRange]
  {
    var ranges: [MemoryRange] = []
    var number = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      number += 1
      if line.allSatisfy({ $0 == " " }) { continue }
      let words = line.split(separator: " ")
      guard words.count >= 2, words[0].last == ":" else {
        throw .unsupportedMemoryMap(
          source: source, reason: "line \(number): expected 'INDEX: START..END'")
      }
      // START..END splits at its dots into START, nothing and END
      let bounds = words[1].split(separator: ".", omittingEmptySubsequences: false)
      guard bounds.count == 3, bounds[1].isEmpty,
        let first = parseHex(String(bounds[0])), let last = parseHex(String(bounds[2])),
        last >= first, last < .max
      else {
        throw .unsupportedMemoryMap(
          source: source, reason: "line \(number): '\(words[1])' is not START..END in hex")
      }
      ranges.append(MemoryRange(start: first, end: last + 1, kind: .reserved))
    }
    return ranges
  }
}
