import HandoffCore
import HandoffTestSupport
import Testing

/// An x86_64 ELF vmlinux through kexec_load: its program headers where
/// they were linked, entered at e_entry, with the running kernel's setup
/// header in boot_params.
@Suite("Planning an x86_64 ELF vmlinux")
struct ELFLoadPlannerTests {
  /// 1 GiB of RAM above the first MiB.
  static let map = MemoryMap(ranges: [
    MemoryRange(start: 0, end: 0x9_f000, kind: .ram),
    MemoryRange(start: 0x10_0000, end: 0x4000_0000, kind: .ram),
  ])

  /// The running kernel's boot_params with a setup header: boot protocol
  /// 2.15, and a stale initrd and command line of its own boot.
  static var running: [UInt8] {
    var bytes = MachineFixtures.runningBootParams()
    bytes[0x1fe] = 0x55
    bytes[0x1ff] = 0xaa
    bytes[0x201] = 0x6a  // the header runs to 0x26c
    bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
    bytes[0x206] = 0x0f
    bytes[0x207] = 0x02
    bytes[0x218] = 0x77  // ramdisk_image
    bytes[0x21c] = 0x77  // ramdisk_size
    bytes[0x228] = 0x77  // cmd_line_ptr
    return bytes
  }

  static func plan(
    _ elf: HandmadeELF = HandmadeELF(), running: [UInt8]? = running, initrd: [UInt8]? = nil
  ) throws(HandoffError) -> LoadPlan {
    let bytes = elf.bytes
    return try X86LoadPlanner(
      elf: try ELFImage(path: "/boot/vmlinux", bytes: bytes), elfBytes: bytes, initrd: initrd,
      commandLine: "console=ttyS0",
      environment: X86BootEnvironment(memoryMap: map, runningBootParams: running),
      options: PlanOptions()
    ).plan()
  }

  @Test("The program headers land at their physical addresses, gaps zero, entered at e_entry")
  func kernelSegment() throws {
    let plan = try Self.plan()
    let kernel = try PlanChecks.segment(plan, "kernel")
    // PT_LOADs at 0x1000000 (0x1000 bytes) and 0x1200000 (0x800 of 0x3000)
    #expect(kernel.destination == 0x100_0000)
    #expect(kernel.memorySize == 0x20_3000)
    #expect(kernel.bytes.count == 0x20_0800)
    let made = HandmadeELF().bytes
    #expect(Array(kernel.bytes[0..<0x1000]) == Array(made[0x1000..<0x2000]))
    #expect(kernel.bytes[0x1000..<0x20_0000].allSatisfy { $0 == 0 })
    #expect(Array(kernel.bytes[0x20_0000...]) == Array(made[0x2000..<0x2800]))
    #expect(plan.purgatory.kernelEntry == 0x100_0040)
  }

  @Test("boot_params carry the running kernel's header, without its initrd and command line")
  func setupHeader() throws {
    let plan = try Self.plan()
    let bootParams = try PlanChecks.segment(plan, "boot_params")
    #expect(Array(bootParams.bytes[0x202..<0x206]) == Array("HdrS".utf8))
    #expect(bootParams.bytes[0x206] == 0x0f && bootParams.bytes[0x207] == 0x02)
    #expect(bootParams.bytes[0x210] == 0xff)
    #expect(PlanChecks.word(bootParams.bytes, 0x218) & 0xffff_ffff == 0)
    let commandLine = PlanChecks.word(bootParams.bytes, 0x228) & 0xffff_ffff
    #expect(commandLine == bootParams.destination + 0x1000)
  }

  @Test("Without the running kernel's boot_params there is no header, and nothing is planned")
  func noRunningHeader() {
    #expect {
      _ = try Self.plan(running: nil)
    } throws: { error in
      guard case .unsupportedImage(_, let reason)? = error as? HandoffError else { return false }
      return reason.hasPrefix("an ELF vmlinux brings no setup header")
    }
  }

  @Test("An entry outside every PT_LOAD, or RAM taken where it was linked, is refused")
  func refusals() {
    var stray = HandmadeELF()
    stray.entry = 0x300_0000
    #expect {
      _ = try Self.plan(stray)
    } throws: { error in
      guard case .invalidField(_, let field, _, _, _)? = error as? HandoffError else {
        return false
      }
      return field == "e_entry"
    }
    var high = HandmadeELF()
    high.segments[0].physicalAddress = 0x8000_0000
    high.segments[2].physicalAddress = 0x8020_0000
    high.entry = 0x8000_0040
    #expect {
      _ = try Self.plan(high)
    } throws: { error in
      guard case .placementFailed(let segment, _, _, _)? = error as? HandoffError else {
        return false
      }
      return segment == "kernel"
    }
  }
}
