/// The banner every uncompressed kernel carries and prints first at boot,
/// `Linux version 6.1.0-57-cloud-arm64 (debian-kernel@...) ... #1 SMP ...`.
/// Images have no header field for their version, so the readers look for
/// it in the bytes.
enum LinuxBanner {
  static let prefix = Array("Linux version ".utf8)

  /// The text after `Linux version ` and a digit, up to the end of its
  /// line; nil when there is none. Newer kernels carry the banner twice,
  /// once with the build number, `#1 SMP`, and once without, `# SMP`; the
  /// one with the number wins.
  static func version(in bytes: [UInt8]) -> String? {
    var first: String? = nil
    var from = 0
    while let banner = next(in: bytes, from: &from) {
      if banner.hasBuildNumber { return banner.text }
      if first == nil { first = banner.text }
    }
    return first
  }

  /// The next banner at or after `from`, which moves past it.
  private static func next(
    in bytes: [UInt8], from: inout Int
  ) -> (text: String, hasBuildNumber: Bool)? {
    bytes.withUnsafeBufferPointer { buffer in
      let count = buffer.count
      let prefixLength = prefix.count
      while from < count - prefixLength {
        let index = from
        from += 1
        guard buffer[index] == 0x4c, matches(buffer, at: index) else { continue }
        let start = index + prefixLength
        guard isDigit(buffer[start]) else { continue }
        var end = start
        var hasBuildNumber = false
        while end < count, end - start < 512, buffer[end] >= 0x20, buffer[end] < 0x7f {
          if buffer[end] == 0x23, end + 1 < count, isDigit(buffer[end + 1]) {
            hasBuildNumber = true
          }
          end += 1
        }
        from = end
        let text = String(
          decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
        return (text, hasBuildNumber)
      }
      return nil
    }
  }

  private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

  private static func matches(_ buffer: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
    for offset in 1..<prefix.count where buffer[index + offset] != prefix[offset] {
      return false
    }
    return true
  }
}
