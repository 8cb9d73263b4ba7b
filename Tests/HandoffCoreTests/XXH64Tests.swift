import HandoffCore
import Testing

/// XXH64 against digests computed once with the Python `xxhash` package
/// (the reference C implementation underneath), over a fixed byte pattern.
@Suite("XXH64")
struct XXH64Tests {
  /// Bytes that are neither constant nor periodic over 256:
  /// byte i is (i × 131) xor (i >> 7), truncated to 8 bits.
  static func pattern(_ count: Int, from start: Int = 0) -> [UInt8] {
    (start..<start + count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 7)) }
  }

  // the lengths cross every branch: no stripe, the 8-, 4- and 1-byte tails,
  // exactly one stripe, a stripe and a byte, and many stripes
  static let knownAnswers: [(Int, UInt64)] = [
    (0, 0xef46_db37_51d8_e999),
    (1, 0xe934_a84a_db05_2768),
    (3, 0xa833_78d1_eb86_ec62),
    (4, 0x9882_e57e_d36c_4cfc),
    (8, 0xa5bc_8d89_4433_1fe7),
    (31, 0x1add_2d10_328c_4897),
    (32, 0x3332_88d9_92cf_3b16),
    (33, 0x379b_6015_0f2c_fc7f),
    (100, 0xacd0_7a64_00e0_7def),
    (1 << 20, 0x4567_6a93_9f29_526c),
  ]

  @Test("The digest of the pattern matches the reference", arguments: knownAnswers)
  func knownAnswer(count: Int, digest: UInt64) {
    let bytes = Self.pattern(count)
    #expect(xxh64(bytes) == digest)
    #expect(bytes.withUnsafeBytes { xxh64($0) } == digest)
  }

  @Test("A seed changes the digest as the reference does")
  func seeded() {
    let seed: UInt64 = 0x9e37_79b9_7f4a_7c15
    #expect(xxh64([], seed: 1) == 0xd5af_ba13_36a3_be4b)
    #expect(xxh64(Self.pattern(33), seed: seed) == 0xbc46_db4b_d8cd_cfdb)
    #expect(xxh64(Self.pattern(100), seed: seed) == 0xe746_1ae2_7e57_fe50)
  }

  @Test("Text hashes as its UTF-8 bytes")
  func text() {
    #expect(xxh64(Array("abc".utf8)) == 0x44bc_2cf5_ad77_0999)
  }

  @Test("A range that starts at an odd address hashes like a copy of its bytes")
  func unaligned() {
    let bytes = Self.pattern(200)
    bytes.withUnsafeBytes { buffer in
      let hundred = UnsafeRawBufferPointer(rebasing: buffer[3..<103])
      #expect(xxh64(hundred) == 0x1bc7_1288_ac8f_7864)
      let thirtySeven = UnsafeRawBufferPointer(rebasing: buffer[5..<42])
      #expect(xxh64(thirtySeven) == 0x57f9_85b1_23ae_0332)
    }
    #expect(xxh64(Self.pattern(100, from: 3)) == 0x1bc7_1288_ac8f_7864)
  }

  @Test("An empty buffer without an address hashes like an empty array")
  func emptyWithoutAddress() {
    #expect(xxh64(UnsafeRawBufferPointer(start: nil, count: 0)) == 0xef46_db37_51d8_e999)
  }
}
