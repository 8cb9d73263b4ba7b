import HandoffCore
import Testing

/// Hexadecimal text the way messages and debug lines show numbers.
@Suite("Hex helpers")
struct HexTests {
  @Test(
    "hex writes 0x and lowercase digits without padding",
    arguments: [
      (UInt64(0), "0x0"),
      (0x1fe, "0x1fe"),
      (0x100_0000, "0x1000000"),
      (0x5372_6448, "0x53726448"),
      (UInt64.max, "0xffffffffffffffff"),
    ])
  func hexText(value: UInt64, text: String) {
    #expect(hex(value) == text)
  }

  @Test("hex takes any integer type")
  func hexOfOtherTypes() {
    #expect(hex(UInt8(0xff)) == "0xff")
    #expect(hex(UInt16(0x20f)) == "0x20f")
    #expect(hex(Int(4096)) == "0x1000")
  }

  @Test(
    "hexDigits pads with zeros to the width and never cuts a longer number",
    arguments: [
      (UInt32(0), 8, "00000000"),
      (0o100644, 8, "000081a4"),
      (0xdead_beef, 8, "deadbeef"),
      (0x1_2345, 4, "12345"),
      (0xa, 1, "a"),
    ])
  func paddedDigits(value: UInt32, digits: Int, text: String) {
    #expect(hexDigits(value, digits: digits) == text)
  }
}

/// Errno names and failed calls as the user reads them.
@Suite("Errno names")
struct ErrnoTests {
  @Test(
    "Each errno kexec reports has its Linux name and number",
    arguments: [
      (Int32(1), "EPERM"), (2, "ENOENT"), (5, "EIO"), (8, "ENOEXEC"), (9, "EBADF"),
      (12, "ENOMEM"), (13, "EACCES"), (14, "EFAULT"), (16, "EBUSY"), (20, "ENOTDIR"),
      (21, "EISDIR"), (22, "EINVAL"), (26, "ETXTBSY"), (27, "EFBIG"), (38, "ENOSYS"),
      (61, "ENODATA"), (74, "EBADMSG"), (80, "ELIBBAD"), (90, "EMSGSIZE"),
      (95, "EOPNOTSUPP"), (99, "EADDRNOTAVAIL"), (116, "ESTALE"), (126, "ENOKEY"),
      (129, "EKEYREJECTED"), (524, "ENOTSUPP"),
    ])
  func knownName(number: Int32, name: String) {
    #expect(Errno.name(number) == name)
  }

  @Test("The constants carry the numbers of x86_64 Linux")
  func constants() {
    #expect(Errno.EPERM == 1)
    #expect(Errno.ENOSYS == 38)
    #expect(Errno.EKEYREJECTED == 129)
    #expect(Errno.ENOKEY == 126)
    #expect(Errno.EBADMSG == 74)
    #expect(Errno.ENODATA == 61)
  }

  @Test("An errno the table lacks is shown by number", arguments: [Int32(0), 4, 200, -1])
  func unknownName(number: Int32) {
    #expect(Errno.name(number) == "errno \(number)")
  }

  @Test("A failed call reads as the call, an equals sign and the errno name")
  func failureText() {
    let failure = SystemCallFailure(
      call: "kexec_load(entry: 0x1000000, segments: 5, flags: 0x0)", errno: Errno.EPERM)
    #expect(failure.errnoName == "EPERM")
    #expect(failure.description == "kexec_load(entry: 0x1000000, segments: 5, flags: 0x0) = EPERM")
    #expect(HandoffError.systemCall(failure).description == failure.description)
  }
}

/// Little-endian fields, and truncation reported by field and offset.
@Suite("Little-endian reader")
struct LittleEndianReaderTests {
  static let bytes: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]

  @Test("Fields read least significant byte first")
  func readsLittleEndian() throws {
    let reader = LittleEndianReader(path: "f", bytes: Self.bytes)
    #expect(try reader.u8("a", at: 8) == 0x09)
    #expect(try reader.u16("a", at: 0) == 0x0201)
    #expect(try reader.u32("a", at: 1) == 0x0504_0302)
    #expect(try reader.u64("a", at: 1) == 0x0908_0706_0504_0302)
  }

  @Test(
    "A field running past the end is truncated at its own offset",
    arguments: [(1, 9), (2, 8), (4, 6), (8, 2), (1, -1)])
  func truncation(width: Int, offset: Int) {
    let reader = LittleEndianReader(path: "f", bytes: Self.bytes)
    let expected = HandoffError.truncated(path: "f", field: "x", offset: offset, fileSize: 9)
    #expect(throws: expected) {
      switch width {
      case 1: _ = try reader.u8("x", at: offset)
      case 2: _ = try reader.u16("x", at: offset)
      case 4: _ = try reader.u32("x", at: offset)
      default: _ = try reader.u64("x", at: offset)
      }
    }
  }

  @Test("A region is required whole: it may end at the end of the file, not past it")
  func requireRegion() {
    let reader = LittleEndianReader(path: "f", bytes: Self.bytes)
    #expect(throws: Never.self) { try reader.require("r", at: 4, count: 5) }
    #expect(throws: HandoffError.truncated(path: "f", field: "r", offset: 4, fileSize: 9)) {
      try reader.require("r", at: 4, count: 6)
    }
    #expect(throws: HandoffError.truncated(path: "f", field: "r", offset: 0, fileSize: 9)) {
      try reader.require("r", at: 0, count: Int.max)
    }
  }

  @Test("A C string is printable ASCII ending in NUL within the limit")
  func cStrings() {
    let text: [UInt8] = Array("6.1.0".utf8) + [0] + [0x41, 0x07, 0] + Array("abc".utf8)
    let reader = LittleEndianReader(path: "f", bytes: text)
    #expect(reader.cString(at: 0, limit: 64) == "6.1.0")
    #expect(reader.cString(at: 2, limit: 64) == "1.0")
    #expect(reader.cString(at: 0, limit: 3) == nil)
    #expect(reader.cString(at: 5, limit: 64) == nil)
    #expect(reader.cString(at: 6, limit: 64) == nil)
    #expect(reader.cString(at: 9, limit: 64) == nil)
    #expect(reader.cString(at: 100, limit: 64) == nil)
  }
}
