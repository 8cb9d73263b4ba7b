// What the loader tells Handoff's purgatory, and how it writes that into the
// parameter block inside the blob before the blob becomes a segment. The
// layout is the one Purgatory/x86_64/entry.S reserves and Purgatory.swift
// reads.

/// One range of memory the purgatory checks: `[start, start + size)`, whose
/// XXH64 must be `digest`, inside a segment of `memorySize` bytes that a
/// scrub must leave alone.
public struct PurgatoryRegion: Equatable, Sendable {
  public var start: UInt64
  public var size: UInt64
  public var digest: UInt64
  /// The whole segment's memsz, at least `size`.
  public var memorySize: UInt64

  public init(start: UInt64, size: UInt64, digest: UInt64, memorySize: UInt64? = nil) {
    self.start = start
    self.size = size
    self.digest = digest
    self.memorySize = max(memorySize ?? size, size)
  }
}

/// What the purgatory zeroes before the jump, and the page tables it builds
/// to reach it: an identity map of `[0, identityMapEnd)` in `pageTableBytes`
/// past the blob's bss.
public struct PurgatoryScrub: Equatable, Sendable {
  /// Page-aligned, sorted, disjoint ranges of free RAM.
  public var ranges: [MemoryRange]
  /// A multiple of 2 MiB.
  public var identityMapEnd: UInt64
  /// A multiple of 4 KiB; the purgatory segment's memsz grows by this much.
  public var pageTableBytes: UInt64

  public init(ranges: [MemoryRange], identityMapEnd: UInt64, pageTableBytes: UInt64) {
    self.ranges = ranges
    self.identityMapEnd = identityMapEnd
    self.pageTableBytes = pageTableBytes
  }

  /// Bytes zeroed in all.
  public var totalBytes: UInt64 {
    var total: UInt64 = 0
    for range in ranges { total += range.size }
    return total
  }
}

/// The purgatory's parameter block: where to jump, where boot_params is,
/// where to report, which regions to check first, and what to scrub.
///
/// In the blob it is 1616 bytes at an 8-byte-aligned offset, every field a
/// little-endian UInt64: magic (`HNOFFTPG` in memory), version 2,
/// kernel_entry, boot_params or dtb, serial, flags (bit 0 verify, bit 1
/// announce, bit 2 scrub), region_count, 16 regions of {start, size,
/// digest, memsz}, identity_map_end, page_table_bytes, scrub_count, then
/// 64 scrub ranges of {start, size}.
public struct PurgatoryParameters: Equatable, Sendable {
  /// Where the purgatory jumps: on x86_64 the kernel's 64-bit entry, load
  /// address + 0x200; on aarch64 the Image's first instruction.
  public var kernelEntry: UInt64
  /// What the kernel is handed: the physical address of boot_params in RSI
  /// on x86_64, of the DTB in x0 on aarch64.
  public var kernelArgument: UInt64
  /// The UART to report on: a 16550's I/O port on x86_64, a PL011's
  /// register base on aarch64; 0 for none.
  public var serial: UInt64
  /// Check every region's digest, and halt instead of jumping on a mismatch.
  public var verify: Bool
  /// Say on the serial port that the regions were verified.
  public var announce: Bool
  /// At most `regionLimit` regions, checked in this order.
  public var regions: [PurgatoryRegion]
  /// What to zero after the check; nil for no scrub.
  public var scrub: PurgatoryScrub?

  public init(
    kernelEntry: UInt64, kernelArgument: UInt64, serial: UInt64, verify: Bool, announce: Bool,
    regions: [PurgatoryRegion], scrub: PurgatoryScrub? = nil
  ) {
    self.kernelEntry = kernelEntry
    self.kernelArgument = kernelArgument
    self.serial = serial
    self.verify = verify
    self.announce = announce
    self.regions = regions
    self.scrub = scrub
  }

  /// The block's first word, as bytes "HNOFFTPG".
  public static let magic: UInt64 = 0x4750_5446_464f_4e48
  /// The layout this writer and the purgatory share.
  public static let version: UInt64 = 2
  /// The purgatory has room for this many regions, as many as kexec_load
  /// takes segments.
  public static let regionLimit = 16
  /// The purgatory has room for this many scrub ranges: a 1 KiB table, and
  /// several times what the RAM of an EFI server falls into once the
  /// firmware's and the segments' ranges are cut out.
  public static let scrubRangeLimit = 64
  /// The block's size in bytes.
  public static let size = Field.scrubRanges + scrubRangeLimit * Field.scrubRangeSize

  /// Byte offsets inside the block.
  public enum Field {
    public static let magic = 0x00
    public static let version = 0x08
    public static let kernelEntry = 0x10
    public static let kernelArgument = 0x18
    public static let serial = 0x20
    public static let flags = 0x28
    public static let regionCount = 0x30
    public static let regions = 0x38
    /// Each region is {start, size, digest, memsz}.
    public static let regionSize = 32
    public static let identityMapEnd = 0x238
    public static let pageTableBytes = 0x240
    public static let scrubCount = 0x248
    public static let scrubRanges = 0x250
    /// Each scrub range is {start, size}.
    public static let scrubRangeSize = 16
  }

  /// Bits of the flags word.
  public enum Flag {
    public static let verify: UInt64 = 1 << 0
    public static let announce: UInt64 = 1 << 1
    public static let scrub: UInt64 = 1 << 2
  }

  /// A copy of `blob` with this block written at `offset`, where the blob
  /// has its (empty) parameter block. Unused region and scrub slots are
  /// zeroed.
  public func patched(_ blob: [UInt8], at offset: Int) -> [UInt8] {
    precondition(
      regions.count <= Self.regionLimit,
      "the purgatory checks at most \(Self.regionLimit) regions, not \(regions.count)")
    let scrubRanges = scrub?.ranges ?? []
    precondition(
      scrubRanges.count <= Self.scrubRangeLimit,
      "the purgatory scrubs at most \(Self.scrubRangeLimit) ranges, not \(scrubRanges.count)")
    precondition(
      offset >= 0 && offset % 8 == 0 && offset <= blob.count - Self.size,
      "no room for the purgatory's parameter block at offset \(offset)")
    var block = blob
    precondition(
      Self.load(block, at: offset + Field.magic) == Self.magic
        && Self.load(block, at: offset + Field.version) == Self.version,
      "the blob has no version \(Self.version) parameter block at offset \(offset)")

    var flags: UInt64 = 0
    if verify { flags |= Flag.verify }
    if announce { flags |= Flag.announce }
    if scrub != nil { flags |= Flag.scrub }
    Self.store(kernelEntry, in: &block, at: offset + Field.kernelEntry)
    Self.store(kernelArgument, in: &block, at: offset + Field.kernelArgument)
    Self.store(serial, in: &block, at: offset + Field.serial)
    Self.store(flags, in: &block, at: offset + Field.flags)
    Self.store(UInt64(regions.count), in: &block, at: offset + Field.regionCount)

    for slot in 0..<Self.regionLimit {
      let region =
        slot < regions.count ? regions[slot] : PurgatoryRegion(start: 0, size: 0, digest: 0)
      let base = offset + Field.regions + slot * Field.regionSize
      Self.store(region.start, in: &block, at: base)
      Self.store(region.size, in: &block, at: base + 8)
      Self.store(region.digest, in: &block, at: base + 16)
      Self.store(region.memorySize, in: &block, at: base + 24)
    }

    Self.store(scrub?.identityMapEnd ?? 0, in: &block, at: offset + Field.identityMapEnd)
    Self.store(scrub?.pageTableBytes ?? 0, in: &block, at: offset + Field.pageTableBytes)
    Self.store(UInt64(scrubRanges.count), in: &block, at: offset + Field.scrubCount)
    for slot in 0..<Self.scrubRangeLimit {
      let base = offset + Field.scrubRanges + slot * Field.scrubRangeSize
      let range = slot < scrubRanges.count ? scrubRanges[slot] : nil
      Self.store(range?.start ?? 0, in: &block, at: base)
      Self.store(range?.size ?? 0, in: &block, at: base + 8)
    }
    return block
  }

  private static func store(_ value: UInt64, in bytes: inout [UInt8], at offset: Int) {
    for index in 0..<8 {
      bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }

  private static func load(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in (0..<8).reversed() {
      value = value << 8 | UInt64(bytes[offset + index])
    }
    return value
  }
}
