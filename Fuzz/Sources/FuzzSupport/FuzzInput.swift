// Turns libFuzzer's bytes into what a target needs: the bytes themselves,
// or a small text format that names files for an in-memory system.

/// The bytes libFuzzer passes to `LLVMFuzzerTestOneInput`.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
  guard let data, size > 0 else { return [] }
  return Array(UnsafeBufferPointer(start: data, count: size))
}

/// An input split into a preamble and named files, so one fuzz input can
/// stand for a whole machine:
///
///     plan                            <- preamble, one item a line
///     /k
///     @@ /proc/iomem                  <- a text file, up to the next @@ line
///     00100000-7fffffff : System RAM
///     @@hex /sys/kernel/boot_params/data
///     454c3634 ...                    <- bytes as hex digits; others are ignored
///
/// Only text is needed to write a seed, yet every byte can be expressed.
public struct FuzzSections {
  /// The lines before the first `@@` line.
  public var preamble: [[UInt8]] = []
  /// Each file's path and contents, in input order; a later one wins.
  public var files: [(path: String, contents: [UInt8])] = []

  public init(_ bytes: [UInt8]) {
    var current: (path: String, hex: Bool, lines: [[UInt8]])? = nil
    func finish() {
      guard let section = current else { return }
      let joined = Array(section.lines.joined(separator: [0x0a]))
      files.append((section.path, section.hex ? FuzzSections.decodeHex(joined) : joined))
    }
    for line in bytes.split(separator: 0x0a, omittingEmptySubsequences: false) {
      if line.starts(with: [0x40, 0x40]) {
        finish()
        let header = String(decoding: line.dropFirst(2), as: UTF8.self)
        let hex = header.hasPrefix("hex")
        let path = String((hex ? header.dropFirst(3) : Substring(header)).drop { $0 == " " })
        current = (path, hex, [])
      } else if current != nil {
        current!.lines.append(Array(line))
      } else {
        preamble.append(Array(line))
      }
    }
    finish()
  }

  /// The preamble's lines as text.
  public var preambleText: [String] {
    preamble.map { String(decoding: $0, as: UTF8.self) }
  }

  /// The last file named `path`.
  public func file(_ path: String) -> [UInt8]? {
    files.last { $0.path == path }?.contents
  }

  /// The last file named `path`, as text.
  public func text(_ path: String) -> String? {
    file(path).map { String(decoding: $0, as: UTF8.self) }
  }

  /// Every pair of hex digits in `text` as a byte; anything else is skipped.
  public static func decodeHex(_ text: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    var high: UInt8? = nil
    for character in text {
      guard let digit = hexDigit(character) else { continue }
      if let first = high {
        result.append(first << 4 | digit)
        high = nil
      } else {
        high = digit
      }
    }
    return result
  }

  static func hexDigit(_ character: UInt8) -> UInt8? {
    switch character {
    case 0x30...0x39: return character - 0x30
    case 0x61...0x66: return character - 0x61 + 10
    case 0x41...0x46: return character - 0x41 + 10
    default: return nil
    }
  }
}

/// `NAME=VALUE` lines, values in hex (`0x` optional): the settings a target
/// reads from one of its files, such as header fields to override.
public struct FuzzSettings {
  public var values: [String: UInt64] = [:]

  public init(_ text: String?) {
    for line in (text ?? "").split(separator: "\n") {
      let parts = line.split(separator: "=", maxSplits: 1)
      guard parts.count == 2 else { continue }
      var digits = parts[1].drop { $0 == " " }
      if digits.hasPrefix("0x") { digits = digits.dropFirst(2) }
      if let value = UInt64(digits, radix: 16) {
        values[String(parts[0].filter { $0 != " " })] = value
      }
    }
  }

  public subscript(_ name: String) -> UInt64? { values[name] }
}

/// Stops the process, a crash for libFuzzer, when `condition` is false;
/// unlike `precondition`, it says why in an optimised build too.
public func expect(
  _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
  file: StaticString = #fileID, line: UInt = #line
) {
  if !condition() { fatalError(message(), file: file, line: line) }
}
