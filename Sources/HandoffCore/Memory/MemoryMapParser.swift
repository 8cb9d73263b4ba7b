/// Reads the two textual forms of a memory map Linux offers: /proc/iomem,
/// and the entries of /sys/firmware/memmap (each a start, an inclusive end
/// and a type name). Every malformed line is an error that names the source
/// and the line.
public enum MemoryMapParser {
  /// Parses /proc/iomem. Top-level lines of memory give the map (device
  /// windows are left out); `Crash kernel` lines nested in RAM become
  /// exclusions, and the regions a crash kernel is loaded into.
  public static func parseIomem(_ text: String, source: String) throws(HandoffError) -> MemoryMap {
    var ranges: [MemoryRange] = []
    var excluded: [MemoryRange] = []
    var crashKernel: [MemoryRange] = []
    var number = 0
    var insideRAM = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      number += 1
      if line.allSatisfy({ $0 == " " }) { continue }
      let nested = line.first == " "
      let trimmed = line.drop { $0 == " " }
      guard let colon = trimmed.firstIndex(of: ":") else {
        throw malformed(source, number, "no ' : ' between range and name")
      }
      let bounds = trimmed[..<colon].split(separator: "-")
      let name = String(trimmed[trimmed.index(after: colon)...].drop { $0 == " " })
      guard bounds.count == 2,
        let first = UInt64(String(bounds[0].filter { $0 != " " }), radix: 16),
        let last = UInt64(String(bounds[1].filter { $0 != " " }), radix: 16)
      else {
        throw malformed(source, number, "the range is not two hexadecimal numbers")
      }
      guard last >= first, last < UInt64.max else {
        throw malformed(source, number, "the range ends before it starts")
      }
      // /proc/iomem shows zeros to readers without CAP_SYS_ADMIN
      if first == 0, last == 0 {
        throw .unsupportedMemoryMap(
          source: source, reason: "all ranges read as zero; it must be read as root")
      }
      let range = MemoryRange(start: first, end: last + 1, kind: MemoryKind(linuxName: name))
      if !nested {
        insideRAM = range.kind == .ram
        // device windows (PCI buses, IOAPIC, ROMs) are not memory the next
        // kernel's e820 should list: it would reserve them and starve devices
        if case .other = range.kind { continue }
        ranges.append(range)
      } else if name.hasPrefix("Crash kernel")
        || insideRAM && (name == "reserved" || name == "Reserved")
      {
        // the crash kernel's region, and on arm64 and riscv64 whatever the
        // running kernel reserved inside RAM (firmware tables, reserved-memory
        // nodes, its own allocations): no segment may go there
        excluded.append(MemoryRange(start: range.start, end: range.end, kind: .reserved))
        if name.hasPrefix("Crash kernel") {
          crashKernel.append(MemoryRange(start: range.start, end: range.end, kind: .ram))
        }
      }
    }
    guard !ranges.isEmpty else {
      throw .unsupportedMemoryMap(source: source, reason: "it lists no memory ranges")
    }
    var map = MemoryMap(ranges: ranges, excluded: excluded)
    map.crashKernel = crashKernel
    return map
  }

  /// Builds a map from /sys/firmware/memmap entries: each `start` and `end`
  /// (inclusive) as the kernel prints them (`0x100000`), and a type name.
  public static func parseFirmwareEntries(
    _ entries: [(start: String, end: String, type: String)], source: String
  ) throws(HandoffError) -> MemoryMap {
    var ranges: [MemoryRange] = []
    for (index, entry) in entries.enumerated() {
      guard let first = parseHex(entry.start), let last = parseHex(entry.end), last >= first,
        last < UInt64.max
      else {
        throw .unsupportedMemoryMap(
          source: source,
          reason: "entry \(index) has start '\(entry.start)' and end '\(entry.end)'")
      }
      ranges.append(
        MemoryRange(start: first, end: last + 1, kind: MemoryKind(linuxName: entry.type)))
    }
    guard !ranges.isEmpty else {
      throw .unsupportedMemoryMap(source: source, reason: "it lists no memory ranges")
    }
    return MemoryMap(ranges: ranges)
  }

  /// Parses a text dump of /sys/firmware/memmap, one entry a line:
  /// `START END TYPE`, as `for d in /sys/firmware/memmap/*; do echo $(cat
  /// $d/start) $(cat $d/end) $(cat $d/type); done` prints it.
  public static func parseFirmwareDump(_ text: String, source: String) throws(HandoffError)
    -> MemoryMap
  {
    var entries: [(start: String, end: String, type: String)] = []
    var number = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      number += 1
      if line.allSatisfy({ $0 == " " }) { continue }
      let words = line.split(separator: " ", maxSplits: 2)
      guard words.count == 3 else {
        throw malformed(source, number, "expected 'START END TYPE'")
      }
      // the numbers are checked here, where the line is known
      guard let first = parseHex(String(words[0])), let last = parseHex(String(words[1])),
        last >= first, last < UInt64.max
      else {
        throw malformed(source, number, "'\(words[0]) \(words[1])' is not a range")
      }
      entries.append((String(words[0]), String(words[1]), String(words[2])))
    }
    return try parseFirmwareEntries(entries, source: source)
  }

  /// Reads either text form, telling them apart by the iomem ` : ` separator.
  public static func parse(_ text: String, source: String) throws(HandoffError) -> MemoryMap {
    for line in text.split(separator: "\n") where !line.isEmpty {
      if line.firstIndex(of: ":") != nil { return try parseIomem(text, source: source) }
      return try parseFirmwareDump(text, source: source)
    }
    throw .unsupportedMemoryMap(source: source, reason: "it is empty")
  }

  /// A number written as `0x1f` or `1f`.
  public static func parseHex(_ text: String) -> UInt64? {
    var digits = Substring(text.filter { $0 != " " && $0 != "\n" })
    if digits.hasPrefix("0x") { digits = digits.dropFirst(2) }
    return UInt64(String(digits), radix: 16)
  }

  private static func malformed(_ source: String, _ line: Int, _ reason: String) -> HandoffError {
    .unsupportedMemoryMap(source: source, reason: "line \(line): \(reason)")
  }
}
