// What every plan must satisfy, checked after each successful plan so the
// fuzzer finds wrong placements as well as crashes.
import HandoffCore

/// Stops the process (a crash for libFuzzer) unless `plan` keeps the rules a
/// kexec_load plan lives by: segments page-aligned, inside one RAM range,
/// above the first MiB, clear of each other and of the excluded ranges; the
/// kernel where its header allows; purgatory and boot_params below 4 GiB.
/// A crash kernel's segments (`crash`) lie instead in the highest of the
/// crash regions (overlapping entries joined), an ELF core header among them.
public func checkPlan(
  _ plan: LoadPlan, image: BzImage, environment: X86BootEnvironment, crash: Bool = false
) {
  let map = environment.memoryMap
  let fourGiB: UInt64 = 0x1_0000_0000
  let region = crash ? map.crashKernelRAM.last : nil
  expect(!crash || region != nil, "a crash kernel planned with no region reserved")
  expect(plan.segments.count <= LoadPlan.segmentLimit, "too many segments")
  for (index, segment) in plan.segments.enumerated() {
    let start = segment.destination
    let (end, overflow) = start.addingReportingOverflow(segment.memorySize)
    let name = "\(segment.role) at \(segment.rangeText)"
    expect(!overflow && end > start, "\(name) wraps or is empty")
    expect(UInt64(segment.bytes.count) <= segment.memorySize, "\(name) holds too many bytes")
    expect(start % 4096 == 0, "\(name) is not page-aligned")
    expect(start >= 0x10_0000, "\(name) is in the first MiB")
    expect(
      map.ram.contains { $0.start <= start && end <= $0.end }, "\(name) is not inside RAM")
    if let region {
      expect(region.start <= start && end <= region.end, "\(name) is outside the crash region")
    } else {
      for excluded in map.excluded {
        expect(end <= excluded.start || start >= excluded.end, "\(name) overlaps \(excluded)")
      }
    }
    for other in plan.segments[(index + 1)...] {
      let otherEnd = other.destination + other.memorySize
      expect(
        end <= other.destination || start >= otherEnd, "\(name) overlaps \(other.rangeText)")
    }
    switch segment.role {
    case "kernel":
      let alignment = UInt64(image.kernelAlignment == 0 ? 0x20_0000 : image.kernelAlignment)
      expect(start % alignment == 0, "\(name) is not aligned to \(alignment)")
      expect(start >= image.preferredAddress, "\(name) is below pref_address")
      expect(image.relocatable || start == image.preferredAddress, "\(name) moved")
    case "purgatory", "boot_params":
      expect(crash || end <= fourGiB, "\(name) is above 4 GiB")
    case "elfcorehdr":
      expect(crash, "\(name) in a plan for no crash kernel")
    case "initrd":
      if !image.xloadflags.contains(.canBeLoadedAbove4G) {
        expect(end <= UInt64(image.initrdAddressMax) + 1, "\(name) past initrd_addr_max")
      }
    default:
      fatalError("unknown segment \(name)")
    }
  }

  // a scrub zeroes only free RAM, never a segment or a reservation
  guard let scrub = plan.purgatory.scrub else { return }
  for (index, range) in scrub.ranges.enumerated() {
    let name = "scrub range \(range.rangeText)"
    expect(range.start < range.end, "\(name) is empty")
    expect(range.start % 4096 == 0 && range.end % 4096 == 0, "\(name) is not whole pages")
    expect(range.start >= 0x10_0000, "\(name) is in the first MiB")
    expect(range.end <= scrub.identityMapEnd, "\(name) is past the identity map")
    expect(index == 0 || scrub.ranges[index - 1].end <= range.start, "\(name) is out of order")
    expect(covers(map.ram, range), "\(name) is not RAM")
    expect(map.kernelRAM.map { covers($0, range) } ?? true, "\(name) is not the kernel's RAM")
    for descriptor in environment.efi?.runtimeMap ?? [] {
      let (size, overflow) = descriptor.pageCount.multipliedReportingOverflow(by: 4096)
      let (end, wrapped) = descriptor.physicalStart.addingReportingOverflow(size)
      guard !overflow, !wrapped, size > 0 else { continue }
      expect(
        range.end <= descriptor.physicalStart || range.start >= end,
        "\(name) zeroes the EFI runtime region at \(hex(descriptor.physicalStart))")
    }
    for segment in plan.segments {
      expect(
        range.end <= segment.destination
          || range.start >= segment.destination + segment.memorySize,
        "\(name) zeroes the \(segment.role) at \(segment.rangeText)")
    }
    for excluded in map.excluded {
      expect(
        range.end <= excluded.start || range.start >= excluded.end,
        "\(name) zeroes the exclusion \(excluded.rangeText)")
    }
  }
}

/// Whether the union of `ranges` holds all of `range`.
func covers(_ ranges: [MemoryRange], _ range: MemoryRange) -> Bool {
  var reached = range.start
  for candidate in ranges.sorted(by: { $0.start < $1.start }) where candidate.start <= reached {
    reached = max(reached, candidate.end)
    if reached >= range.end { return true }
  }
  return false
}
