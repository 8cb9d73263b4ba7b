// XXH64, the 64-bit xxHash: the digest the purgatory checks segments with.
// It is not cryptographic; it catches memory that changed between load and
// exec, at memory speed. This file stands alone: the bare-metal purgatory
// compiles it too, so it uses nothing else from HandoffCore and keeps to the
// Embedded subset.

private let prime1: UInt64 = 0x9e37_79b1_85eb_ca87
private let prime2: UInt64 = 0xc2b2_ae3d_27d4_eb4f
private let prime3: UInt64 = 0x1656_67b1_9e37_79f9
private let prime4: UInt64 = 0x85eb_ca77_c2b2_ae63
private let prime5: UInt64 = 0x27d4_eb2f_1656_67c5

/// The XXH64 digest of `bytes`, with `seed` (0 unless both sides agree on
/// another).
public func xxh64(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
  // an empty buffer may have no address, and has nothing to mix in
  guard let base = bytes.baseAddress else { return avalanche(seed &+ prime5) }
  let count = bytes.count
  var offset = 0
  var hash: UInt64

  // four lanes, each taking every fourth 8-byte word of a 32-byte stripe;
  // whole-word loads when the start allows, since a CPU that must not
  // access memory unaligned (aarch64 with the MMU off) reads bytes otherwise
  let aligned = UInt(bitPattern: base) % 8 == 0
  if count >= 32 {
    var lane1 = seed &+ prime1 &+ prime2
    var lane2 = seed &+ prime2
    var lane3 = seed
    var lane4 = seed &- prime1
    let lastStripe = count - 32
    while offset <= lastStripe {
      lane1 = round(lane1, word(base, offset, aligned))
      lane2 = round(lane2, word(base, offset + 8, aligned))
      lane3 = round(lane3, word(base, offset + 16, aligned))
      lane4 = round(lane4, word(base, offset + 24, aligned))
      offset += 32
    }

    // the lanes folded into one
    hash = rotate(lane1, 1) &+ rotate(lane2, 7) &+ rotate(lane3, 12) &+ rotate(lane4, 18)
    hash = merge(hash, lane1)
    hash = merge(hash, lane2)
    hash = merge(hash, lane3)
    hash = merge(hash, lane4)
  } else {
    hash = seed &+ prime5
  }

  hash &+= UInt64(truncatingIfNeeded: count)
  return finish(hash, tail: base + offset, count - offset)
}

/// The XXH64 digest of `bytes`, with `seed`.
public func xxh64(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
  bytes.withUnsafeBytes { xxh64($0, seed: seed) }
}

/// Mixes the last 0 to 31 bytes into `hash`, then avalanches it.
private func finish(_ hash: UInt64, tail: UnsafeRawPointer, _ count: Int) -> UInt64 {
  var hash = hash
  var offset = 0

  // whole 8-byte words, then one 4-byte word, then single bytes
  while count - offset >= 8 {
    hash ^= round(0, word(tail, offset, false))
    hash = rotate(hash, 27) &* prime1 &+ prime4
    offset += 8
  }
  if count - offset >= 4 {
    let half = UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    hash ^= UInt64(half) &* prime1
    hash = rotate(hash, 23) &* prime2 &+ prime3
    offset += 4
  }
  while offset < count {
    hash ^= UInt64(tail.load(fromByteOffset: offset, as: UInt8.self)) &* prime5
    hash = rotate(hash, 11) &* prime1
    offset += 1
  }
  return avalanche(hash)
}

/// Scrambles `hash` so that every input bit reaches every output bit.
private func avalanche(_ hash: UInt64) -> UInt64 {
  var hash = hash
  hash ^= hash &>> 33
  hash &*= prime2
  hash ^= hash &>> 29
  hash &*= prime3
  hash ^= hash &>> 32
  return hash
}

@inline(__always)
private func word(_ base: UnsafeRawPointer, _ offset: Int, _ aligned: Bool) -> UInt64 {
  let value =
    aligned
    ? base.load(fromByteOffset: offset, as: UInt64.self)
    : base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
  return UInt64(littleEndian: value)
}

@inline(__always)
private func round(_ lane: UInt64, _ input: UInt64) -> UInt64 {
  rotate(lane &+ input &* prime2, 31) &* prime1
}

@inline(__always)
private func merge(_ hash: UInt64, _ lane: UInt64) -> UInt64 {
  (hash ^ round(0, lane)) &* prime1 &+ prime4
}

@inline(__always)
private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 {
  (value &<< count) | (value &>> (64 &- count))
}
