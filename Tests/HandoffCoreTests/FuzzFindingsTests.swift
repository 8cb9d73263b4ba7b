// Inputs the fuzz targets in Fuzz/ found to crash Handoff, each kept as a
// test of the error or fallback that replaced the crash. The same inputs
// are regression seeds in Fuzz/seeds/planner/, Fuzz/seeds/machine/ and
// Fuzz/seeds/image/.
import HandoffCore
import HandoffTestSupport
import Testing

@Suite("Inputs the fuzzers found")
struct FuzzFindingsTests {
  static let topPage: UInt64 = 0xffff_ffff_ffff_f000

  static func ram(_ ranges: [(UInt64, UInt64)]) -> MemoryMap {
    MemoryMap(ranges: ranges.map { MemoryRange(start: $0.0, end: $0.1, kind: .ram) })
  }

  @Test("RAM starting in the last page of the address space is left out, not rounded past it")
  func ramInTheLastPage() {
    let placer = SegmentPlacer(
      map: Self.ram([(0x10_0000, 0x4000_0000), (Self.topPage + 1, .max)]))
    #expect(placer.freeRanges == [MemoryRange(start: 0x10_0000, end: 0x4000_0000, kind: .ram)])
  }

  @Test("An alignment that rounds past the top of memory skips that range")
  func alignmentPastTheTop() throws {
    var placer = SegmentPlacer(map: Self.ram([(0xffff_ffff_ffe0_1000, .max)]))
    let rule = PlacementRule(
      size: 0x1_0000, alignment: 0x20_0000, lowest: 0x100_0000, highest: .max, topDown: false)
    #expect(throws: HandoffError.self) { try placer.place("kernel", rule) }
  }

  @Test("A kernel that cannot relocate, with pref_address near the top, does not fit")
  func preferredAddressAtTheTop() throws {
    var made = HandmadeBzImage()
    made.relocatable = 0
    made.preferredAddress = 0xffff_ffff_fff0_0000
    let bytes = made.bytes
    let image = try KernelImage.read(path: "vmlinuz", bytes: bytes).bzImage()
    let planner = X86LoadPlanner(
      image: image, imageBytes: bytes, initrd: nil, commandLine: "",
      environment: X86BootEnvironment(memoryMap: Self.ram([(0x10_0000, 0x4000_0000)])))
    #expect {
      _ = try planner.plan()
    } throws: { error in
      guard case .placementFailed(let segment, _, _, _) = error as? HandoffError else {
        return false
      }
      return segment == "kernel"
    }
  }

  @Test(
    "A damaged efi_memdesc_size in the running boot_params falls back to 48 bytes",
    arguments: [UInt32(0xffff_ffff), 0x2ff0_0018, 4097, 39, 0])
  func damagedDescriptorSize(size: UInt32) throws {
    let bytes = HandmadeBzImage().bytes
    let image = try KernelImage.read(path: "vmlinuz", bytes: bytes).bzImage()
    var running = [UInt8](repeating: 0, count: 4096)
    for index in 0..<4 { running[0x1c8 + index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
    let descriptor = EFIMemoryDescriptor(
      type: 5, physicalStart: 0x7e00_0000, virtualStart: 0xffff_fffe_ffc0_0000, pageCount: 16,
      attribute: 0x8000_0000_0000_000f)
    let environment = X86BootEnvironment(
      memoryMap: Self.ram([(0x10_0000, 0x4000_0000)]), runningBootParams: running,
      efi: EFIHandover(
        systemTable: 0x7f00_0018, firmwareVendor: 0, runtimeServices: 0, configurationTables: 0,
        smbios: 0, runtimeMap: [descriptor, descriptor, descriptor]))
    let params = X86BootParams(
      image: image, imageBytes: bytes, commandLine: "", environment: environment)
    let built = params.build(at: 0x7000_0000, initrd: nil)
    #expect(built.count == params.size)
    #expect(built.count < 3 * 4096)
    let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(built[0x1c8 + $1]) << (8 * $1) }
    #expect(stored == 48)
  }

  @Test("A PE section without data in the file has none, wherever PointerToRawData points")
  func emptySectionFarAway() throws {
    let section = PESection(
      name: "", virtualSize: 0, virtualAddress: 0, rawSize: 0, rawOffset: 0x642e_0000,
      characteristics: 0)
    #expect(section.data(in: [1, 2, 3]).isEmpty)

    // a UKI whose .initrd says so: zero bytes at 0x642e0000
    var bytes = HandmadeUKI(linux: HandmadeBzImage().bytes).bytes
    let initrd = 0x40 + 24 + 240 + 4 * 40
    #expect(bytes[initrd..<initrd + 7].elementsEqual(".initrd".utf8))
    bytes.replaceSubrange(initrd + 8..<initrd + 12, with: littleEndian(UInt32(0)))
    bytes.replaceSubrange(initrd + 16..<initrd + 24, with: littleEndian(UInt64(0x642e_0000) << 32))
    let image = try KernelImage.read(path: "uki.efi", bytes: bytes)
    guard case .uki(let uki) = image else {
      Issue.record("read as \(image.formatName)")
      return
    }
    #expect(uki.initrd == [])
  }

  @Test("A Crash kernel region nested under something that is not RAM holds no segment")
  func crashRegionOutsideRAM() throws {
    let iomem = """
      00001000-0009fbff : System RAM
      00100000-3ffdcfff : System RAMxloadflags=
        33000000-3affffff : Crash kernel
      """
    let map = try MemoryMapParser.parseIomem(iomem, source: "iomem")
    #expect(map.crashKernelRAM == [])
    #expect {
      try map.crashKernelRegions(scrub: false)
    } throws: { error in
      guard case .crashKernelUnavailable(let reason) = error as? HandoffError else { return false }
      return reason.contains("crashkernel=")
    }
  }
}
