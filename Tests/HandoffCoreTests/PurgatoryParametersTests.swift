import HandoffCore
import Testing

/// The parameter block writer, read back field by field at the offsets the
/// purgatory reads.
@Suite("Purgatory parameter block")
struct PurgatoryParametersTests {
  static let regions = [
    PurgatoryRegion(start: 0x100_0000, size: 0x2a_3000, digest: 0x0123_4567_89ab_cdef),
    PurgatoryRegion(start: 0x7ffe_0000, size: 0x1000, digest: 0xfedc_ba98_7654_3210),
    PurgatoryRegion(start: 0x1_2000_0000, size: 0x900_0000, digest: 0x8000_0000_0000_0001),
  ]

  static let parameters = PurgatoryParameters(
    kernelEntry: 0x100_0200, kernelArgument: 0x7ffe_0000, serial: 0x3f8, verify: true,
    announce: true, regions: regions)

  @Test("Every field reads back at its offset in the real blob")
  func fieldsReadBack() {
    let offset = PurgatoryBlobX86_64.parametersOffset
    let patched = Self.parameters.patched(PurgatoryBlobX86_64.bytes, at: offset)
    let block = Block(bytes: patched, offset: offset)

    #expect(block.word(0x00) == 0x4750_5446_464f_4e48)
    #expect(block.word(0x08) == 2)
    #expect(block.word(0x10) == 0x100_0200)
    #expect(block.word(0x18) == 0x7ffe_0000)
    #expect(block.word(0x20) == 0x3f8)
    #expect(block.word(0x28) == 0b11)
    #expect(block.word(0x30) == 3)
    for (index, region) in Self.regions.enumerated() {
      let base = 0x38 + index * 32
      #expect(block.word(base) == region.start)
      #expect(block.word(base + 8) == region.size)
      #expect(block.word(base + 16) == region.digest)
      #expect(block.word(base + 24) == region.memorySize)
    }
  }

  @Test("Nothing outside the block changes, and unused slots stay zero")
  func onlyTheBlockChanges() {
    let blob = PurgatoryBlobX86_64.bytes
    let offset = PurgatoryBlobX86_64.parametersOffset
    let end = offset + PurgatoryParameters.size
    let patched = Self.parameters.patched(blob, at: offset)

    #expect(patched.count == blob.count)
    #expect(patched[..<offset] == blob[..<offset])
    #expect(patched[end...] == blob[end...])
    #expect(patched[(offset + 0x38 + 3 * 32)..<end].allSatisfy { $0 == 0 })
  }

  @Test(
    "The flags word carries verify in bit 0 and announce in bit 1",
    arguments: [false, true], [false, true])
  func flags(verify: Bool, announce: Bool) {
    var parameters = Self.parameters
    parameters.verify = verify
    parameters.announce = announce
    let offset = PurgatoryBlobX86_64.parametersOffset
    let block = Block(
      bytes: parameters.patched(PurgatoryBlobX86_64.bytes, at: offset), offset: offset)
    #expect(block.word(0x28) == (verify ? 1 : 0) | (announce ? 2 : 0))
  }

  @Test("Sixteen regions fill every slot, the last ending where the scrub fields start")
  func sixteenRegions() {
    var parameters = Self.parameters
    parameters.regions = (0..<16).map {
      PurgatoryRegion(start: UInt64($0) << 24, size: UInt64($0) + 1, digest: ~UInt64($0))
    }
    let offset = PurgatoryBlobX86_64.parametersOffset
    let block = Block(
      bytes: parameters.patched(PurgatoryBlobX86_64.bytes, at: offset), offset: offset)
    #expect(block.word(0x30) == 16)
    #expect(block.word(0x38 + 15 * 32) == 15 << 24)
    #expect(block.word(0x38 + 15 * 32 + 16) == ~UInt64(15))
    #expect(0x38 + 16 * 32 == PurgatoryParameters.Field.identityMapEnd)
  }

  @Test("Writing again over a patched blob replaces the earlier values")
  func repatching() {
    let offset = PurgatoryBlobX86_64.parametersOffset
    let first = Self.parameters.patched(PurgatoryBlobX86_64.bytes, at: offset)
    var fewer = Self.parameters
    fewer.regions = [Self.regions[0]]
    let second = fewer.patched(first, at: offset)
    #expect(second == fewer.patched(PurgatoryBlobX86_64.bytes, at: offset))
  }

  /// Little-endian words of a block inside a blob.
  struct Block {
    let bytes: [UInt8]
    let offset: Int

    func word(_ field: Int) -> UInt64 {
      (0..<8).reduce(0) { $0 | UInt64(bytes[offset + field + $1]) << (8 * $1) }
    }
  }
}
