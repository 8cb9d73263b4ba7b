import HandoffCore
import HandoffTestSupport
import Testing

/// The placer that hands out RAM to segments: rounding, alignment, which
/// end of a window it takes, what it never touches, and what it says when
/// nothing fits.
@Suite("Placing segments in RAM")
struct SegmentPlacerTests {
  static let page: UInt64 = 0x1000
  static let fourGiB: UInt64 = 0x1_0000_0000

  /// A map of RAM ranges, [start, end), and exclusions.
  static func map(_ ram: [(UInt64, UInt64)], excluded: [(UInt64, UInt64)] = []) -> MemoryMap {
    MemoryMap(
      ranges: ram.map { MemoryRange(start: $0.0, end: $0.1, kind: .ram) },
      excluded: excluded.map { MemoryRange(start: $0.0, end: $0.1, kind: .reserved) })
  }

  static func sixGiB() throws -> MemoryMap {
    try MemoryMapParser.parse(MachineFixtures.sixGiBMemmap, source: "memmap.txt")
  }

  static func rule(
    _ size: UInt64, alignment: UInt64 = page, lowest: UInt64 = 0, highest: UInt64 = .max,
    topDown: Bool = false
  ) -> PlacementRule {
    PlacementRule(
      size: size, alignment: alignment, lowest: lowest, highest: highest, topDown: topDown)
  }

  @Test(
    "A size is rounded up to whole pages",
    arguments: [
      (UInt64(1), UInt64(0x1000)), (0x1000, 0x1000), (0x1001, 0x2000), (0x2_a3f1, 0x2_b000),
    ]
  )
  func pageRounding(size: UInt64, taken: UInt64) throws {
    var placer = SegmentPlacer(map: Self.map([(0x10_0000, 0x20_0000)]))
    let start = try placer.place("initrd", Self.rule(size))
    #expect(start == 0x10_0000)
    #expect(
      placer.freeRanges == [MemoryRange(start: 0x10_0000 + taken, end: 0x20_0000, kind: .ram)])
    #expect(try placer.place("next", Self.rule(1)) == 0x10_0000 + taken)
  }

  @Test(
    "A segment starts at a multiple of its alignment, whichever end it takes",
    arguments: [UInt64(0x1000), 0x1_0000, 0x20_0000, 0x100_0000], [false, true])
  func alignment(alignment: UInt64, topDown: Bool) throws {
    // RAM whose ends are aligned to nothing larger than a page
    var placer = SegmentPlacer(map: Self.map([(0x12_3000, 0x7ff_d000)]))
    _ = try placer.place("filler", Self.rule(0x3000, topDown: topDown))
    let start = try placer.place(
      "kernel", Self.rule(0x5_0000, alignment: alignment, topDown: topDown))
    #expect(start % alignment == 0, "\(hex(start)) is not aligned to \(hex(alignment))")
    #expect(start >= 0x12_3000)
    #expect(start + 0x5_0000 <= 0x7ff_d000)
  }

  @Test("Bottom-up takes the lowest room in the window, top-down the highest")
  func bothEnds() throws {
    var placer = SegmentPlacer(map: try Self.sixGiB())
    #expect(try placer.place("kernel", Self.rule(0x100_0000)) == 0x10_0000)
    #expect(try placer.place("initrd", Self.rule(0x90_0000, topDown: true)) == 0x1_ff70_0000)
    #expect(
      try placer.place("boot_params", Self.rule(0x2000, highest: Self.fourGiB, topDown: true))
        == 0x7ffd_a000)
    #expect(try placer.place("purgatory", Self.rule(0x3000, lowest: Self.fourGiB)) == Self.fourGiB)
  }

  @Test(
    "A segment lies inside its window, at the window's low or high end",
    arguments: [
      (UInt64(0x100_0000), UInt64(0x4000_0000), false, UInt64(0x100_0000)),
      (0x100_0000, 0x4000_0000, true, 0x3fe0_0000),
      (0x7000_0000, 0x1_8000_0000, false, 0x7000_0000),
      (0x7000_0000, 0x1_8000_0000, true, 0x1_7fe0_0000),
      (0, 0x1_0000_0000, true, 0x7fdd_c000),
      (0x7ff0_0000, 0x1_0800_0000, false, 0x1_0000_0000),
      (0x1_2345_6000, 0x1_4000_0000, false, 0x1_2345_6000),
    ])
  func windows(lowest: UInt64, highest: UInt64, topDown: Bool, expected: UInt64) throws {
    var placer = SegmentPlacer(map: try Self.sixGiB())
    let start = try placer.place(
      "segment", Self.rule(0x20_0000, lowest: lowest, highest: highest, topDown: topDown))
    #expect(start == expected)
    #expect(start >= lowest && start + 0x20_0000 <= highest)
  }

  @Test("A window with no RAM in it fails even when RAM is free elsewhere")
  func emptyWindow() throws {
    var placer = SegmentPlacer(map: try Self.sixGiB())
    #expect(throws: HandoffError.self) {
      try placer.place("boot_params", Self.rule(0x1000, lowest: 0x8000_0000, highest: Self.fourGiB))
    }
  }

  @Test("The first MiB is never handed out, even when the firmware calls it RAM")
  func firstMiB() throws {
    let map = try MemoryMapParser.parse(MachineFixtures.q35Iomem, source: "/proc/iomem")
    var placer = SegmentPlacer(map: map)
    #expect(placer.freeRanges.allSatisfy { $0.start >= 0x10_0000 })
    #expect(try placer.place("purgatory", Self.rule(0x3000)) == 0x10_0000)

    var lowOnly = SegmentPlacer(map: Self.map([(0x1000, 0x9_fc00)]))
    #expect(lowOnly.freeRanges == [])
    #expect(throws: HandoffError.self) { try lowOnly.place("purgatory", Self.rule(0x1000)) }
  }

  @Test("RAM that starts or ends inside a page gives only its whole pages")
  func partialPages() {
    let placer = SegmentPlacer(map: Self.map([(0x10_0800, 0x3ffd_d800)]))
    #expect(placer.freeRanges == [MemoryRange(start: 0x10_1000, end: 0x3ffd_d000, kind: .ram)])
  }

  @Test("Excluded ranges are never handed out, from either end")
  func exclusions() throws {
    let map = try MemoryMapParser.parse(MachineFixtures.q35Iomem, source: "/proc/iomem")
    var placer = SegmentPlacer(map: map)
    #expect(
      placer.freeRanges == [
        MemoryRange(start: 0x10_0000, end: 0x3300_0000, kind: .ram),
        MemoryRange(start: 0x3b00_0000, end: 0x3ffd_d000, kind: .ram),
      ])
    // the top 80 MiB above the crash kernel holds 64 MiB; the next 64 MiB
    // must go below the reservation, not across it
    let first = try placer.place("initrd", Self.rule(0x400_0000, topDown: true))
    let second = try placer.place("initrd2", Self.rule(0x400_0000, topDown: true))
    #expect(first == 0x3ffd_d000 - 0x400_0000)
    #expect(second == 0x3300_0000 - 0x400_0000)

    // bottom-up, 32 MiB from 0x32000000 does not fit below the reservation
    var fresh = SegmentPlacer(map: map)
    #expect(try fresh.place("kernel", Self.rule(0x200_0000, lowest: 0x3200_0000)) == 0x3b00_0000)
  }

  @Test("Many placements of every kind never overlap, leave RAM or touch what is excluded")
  func manyPlacements() throws {
    var map = try Self.sixGiB()
    map.excluded = [
      MemoryRange(start: 0x3300_0000, end: 0x3b00_0000, kind: .reserved),
      MemoryRange(start: 0x1_8000_0000, end: 0x1_8123_4000, kind: .reserved),
    ]
    var placer = SegmentPlacer(map: map)
    let freeBefore = placer.freeRanges.reduce(0) { $0 + $1.size }
    let windows: [(UInt64, UInt64)] = [
      (0, .max), (0, Self.fourGiB), (Self.fourGiB, .max), (0x100_0000, 0x4000_0000),
    ]
    let alignments: [UInt64] = [0x1000, 0x1_0000, 0x20_0000]

    // a fixed pseudo-random sequence, so a failure can be replayed
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    func next(_ bound: UInt64) -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return (state >> 33) % bound
    }

    var placed: [(start: UInt64, end: UInt64)] = []
    var failures = 0
    for index in 0..<400 {
      let window = windows[Int(next(UInt64(windows.count)))]
      let alignment = alignments[Int(next(UInt64(alignments.count)))]
      let size = 1 + next(0x200_0000)
      let rule = Self.rule(
        size, alignment: alignment, lowest: window.0, highest: window.1, topDown: next(2) == 1)
      do {
        let start = try placer.place("segment \(index)", rule)
        let end = start + SegmentPlacer.roundUp(size, Self.page)
        #expect(start % alignment == 0)
        #expect(start >= window.0 && end <= window.1)
        placed.append((start, end))
      } catch {
        guard case .placementFailed(let segment, _, _, _) = error else {
          Issue.record("unexpected \(error)")
          continue
        }
        #expect(segment == "segment \(index)")
        failures += 1
      }
    }
    #expect(placed.count > 200, "only \(placed.count) of 400 placed")
    #expect(failures > 0, "6 GiB never filled up")

    placed.sort { $0.start < $1.start }
    for (earlier, later) in zip(placed, placed.dropFirst()) {
      #expect(earlier.end <= later.start, "\(hex(earlier.start)) overlaps \(hex(later.start))")
    }
    for segment in placed {
      #expect(segment.start >= 0x10_0000)
      #expect(map.ram.contains { $0.start <= segment.start && segment.end <= $0.end })
      #expect(!map.excluded.contains { $0.start < segment.end && segment.start < $0.end })
    }
    let taken = placed.reduce(0) { $0 + ($1.end - $1.start) }
    let freeAfter = placer.freeRanges.reduce(0) { $0 + $1.size }
    #expect(taken + freeAfter == freeBefore)
  }

  @Test("When nothing fits, the error names the segment, its size in pages and the free RAM")
  func placementFailed() throws {
    var placer = SegmentPlacer(map: Self.map([(0x10_0000, 0x30_0000)]))
    _ = try placer.place("kernel", Self.rule(0x10_0000, alignment: 0x20_0000))
    let error = try #require(throws: HandoffError.self) {
      try placer.place("initrd", Self.rule(0x10_0001, highest: Self.fourGiB, topDown: true))
    }
    #expect(
      error
        == .placementFailed(
          segment: "initrd", size: 0x10_1000,
          constraint: "aligned to 0x1000, within [0x0, 0x100000000)",
          free: "[0x100000, 0x200000)"))
    #expect(
      error.description
        == "no room for the initrd segment (1052672 bytes, aligned to 0x1000, within "
        + "[0x0, 0x100000000)); free RAM: [0x100000, 0x200000)")
  }

  @Test("With no RAM left the error says the free RAM is none")
  func nothingFree() throws {
    var placer = SegmentPlacer(map: Self.map([(0x10_0000, 0x20_0000)]))
    _ = try placer.place("kernel", Self.rule(0x10_0000))
    let error = try #require(throws: HandoffError.self) {
      try placer.place("purgatory", Self.rule(0x3000))
    }
    #expect(error.description.hasSuffix("; free RAM: none"), "\(error)")
  }
}
