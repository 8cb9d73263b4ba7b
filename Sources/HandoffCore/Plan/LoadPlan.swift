/// One segment of a load plan: what it is, its bytes, and where they go.
public struct PlannedSegment: Equatable, Sendable {
  /// What the segment holds: kernel, initrd, boot_params, purgatory.
  public var role: String
  public var bytes: [UInt8]
  public var destination: UInt64
  /// Bytes of memory the segment occupies; the kernel zero-fills past `bytes`.
  public var memorySize: UInt64

  public init(role: String, bytes: [UInt8], destination: UInt64, memorySize: UInt64) {
    self.role = role
    self.bytes = bytes
    self.destination = destination
    self.memorySize = memorySize
  }

  /// `[destination, destination + memorySize)` in hex.
  public var rangeText: String {
    "[\(hex(destination)), \(hex(destination + memorySize)))"
  }
}

/// Everything a `kexec_load(2)` call needs: the segments, the entry point
/// (the purgatory's), and what the purgatory was told.
public struct LoadPlan: Equatable, Sendable {
  public var segments: [PlannedSegment]
  /// Where execution starts after relocation: the purgatory's entry.
  public var entry: UInt64
  public var purgatory: PurgatoryParameters
  /// RAM still free after placement.
  public var freeMemory: [MemoryRange]
  /// What was changed in the running kernel's DTB for the next one, one
  /// line each; empty on x86_64, which has none.
  public var deviceTreeEdits: [String]

  public init(
    segments: [PlannedSegment], entry: UInt64, purgatory: PurgatoryParameters,
    freeMemory: [MemoryRange], deviceTreeEdits: [String] = []
  ) {
    self.segments = segments
    self.entry = entry
    self.purgatory = purgatory
    self.freeMemory = freeMemory
    self.deviceTreeEdits = deviceTreeEdits
  }

  /// The role of the segment the purgatory hands the kernel's address of:
  /// boot_params on x86_64, dtb on aarch64.
  public var kernelArgumentRole: String {
    segments.first { $0.destination == purgatory.kernelArgument }?.role ?? "boot_params"
  }

  /// The kernel refuses more segments than this.
  public static let segmentLimit = 16
}

/// Choices that shape a plan beyond the image and the machine.
public struct PlanOptions: Equatable, Sendable {
  /// The purgatory checks every segment's digest before it jumps.
  public var verify: Bool
  /// The purgatory says on the serial port that the segments were verified.
  public var announce: Bool
  /// The 16550 UART the purgatory reports on; 0 for none.
  public var serialPort: UInt16
  /// Lab only: damage one byte of this segment after its digest was taken.
  public var corruptSegment: Int?
  /// The purgatory zeroes free RAM before the jump.
  public var scrub: Bool

  public init(
    verify: Bool = true, announce: Bool = false, serialPort: UInt16 = 0x3f8,
    corruptSegment: Int? = nil, scrub: Bool = false
  ) {
    self.verify = verify
    self.announce = announce
    self.serialPort = serialPort
    self.corruptSegment = corruptSegment
    self.scrub = scrub
  }
}

extension PlanOptions {
  /// Lab only: flips a byte in the middle of the segment `corruptSegment`
  /// names, after its digest was taken. The purgatory, last, is never
  /// damaged.
  func damage(_ segments: inout [PlannedSegment]) {
    guard let index = corruptSegment, index >= 0, index < segments.count - 1,
      !segments[index].bytes.isEmpty
    else { return }
    segments[index].bytes[segments[index].bytes.count / 2] ^= 0xff
  }
}

extension PurgatoryRegion {
  /// One region per segment, in order, with its digest when the purgatory
  /// will check it: the digests cost a pass over every byte.
  static func covering(_ segments: [PlannedSegment], verify: Bool) -> [PurgatoryRegion] {
    var regions: [PurgatoryRegion] = []
    for segment in segments {
      let digest = verify ? segment.bytes.withUnsafeBytes { xxh64($0) } : 0
      regions.append(
        PurgatoryRegion(
          start: segment.destination, size: UInt64(segment.bytes.count), digest: digest,
          memorySize: segment.memorySize))
    }
    return regions
  }
}
