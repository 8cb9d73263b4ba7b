/// Reads little-endian fields out of a file's bytes, turning every read past
/// the end into a `truncated` error that names the file, field and offset.
public struct LittleEndianReader {
  public let path: String
  public let bytes: [UInt8]

  public init(path: String, bytes: [UInt8]) {
    self.path = path
    self.bytes = bytes
  }

  /// Throws unless `count` bytes starting at `offset` lie inside the file.
  public func require(_ field: String, at offset: Int, count: Int) throws(HandoffError) {
    guard offset >= 0, count >= 0, offset <= bytes.count - count else {
      throw .truncated(path: path, field: field, offset: offset, fileSize: bytes.count)
    }
  }

  public func u8(_ field: String, at offset: Int) throws(HandoffError) -> UInt8 {
    try require(field, at: offset, count: 1)
    return bytes[offset]
  }

  public func u16(_ field: String, at offset: Int) throws(HandoffError) -> UInt16 {
    UInt16(truncatingIfNeeded: try unsigned(field, at: offset, count: 2))
  }

  public func u32(_ field: String, at offset: Int) throws(HandoffError) -> UInt32 {
    UInt32(truncatingIfNeeded: try unsigned(field, at: offset, count: 4))
  }

  public func u64(_ field: String, at offset: Int) throws(HandoffError) -> UInt64 {
    try unsigned(field, at: offset, count: 8)
  }

  /// A NUL-terminated string of printable ASCII starting at `offset`, at most
  /// `limit` bytes long; nil when there is none.
  public func cString(at offset: Int, limit: Int) -> String? {
    guard offset >= 0, offset < bytes.count else { return nil }
    var end = offset
    while end < bytes.count, end - offset < limit, bytes[end] != 0 {
      guard bytes[end] >= 0x20, bytes[end] < 0x7f else { return nil }
      end += 1
    }
    guard end > offset, end < bytes.count, bytes[end] == 0 else { return nil }
    return String(decoding: bytes[offset..<end], as: UTF8.self)
  }

  private func unsigned(_ field: String, at offset: Int, count: Int) throws(HandoffError)
    -> UInt64
  {
    try require(field, at: offset, count: count)
    var value: UInt64 = 0
    for index in (0..<count).reversed() {
      value = value << 8 | UInt64(bytes[offset + index])
    }
    return value
  }
}
