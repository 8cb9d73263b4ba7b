import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// The kexec_load loader against the recording fake: the one call it
/// makes, what the segments hold, and that a bad input stops it first.
@Suite("Loading through kexec_load")
struct SegmentLoaderTests {
  static let kernel = "/boot/vmlinuz"
  static let image = HandmadeBzImage().bytes

  /// A 6 GiB BIOS machine with a good kernel and two initrds.
  static func machine() -> RecordingSystem {
    let system = RecordingSystem(files: [
      kernel: .file(image),
      "/boot/ucode.cpio": .file(Array("microcode".utf8)),
      "/boot/initrd.img": .file(Array(repeating: 0xa5, count: 0x1_2345)),
      "/boot/empty.img": .file([]),
      "/boot/garbage": .file(Array(repeating: 0x90, count: 8192)),
    ])
    system.setText("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro\n")
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    return system
  }

  static func request(
    initrds: [String] = ["/boot/initrd.img"], commandLine: CommandLineChoice = .replace("quiet")
  ) -> LoadRequest {
    LoadRequest(kernelPath: kernel, initrdPaths: initrds, commandLine: commandLine)
  }

  static func word(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }

  @Test("A load makes one kexec_load: the purgatory's entry, four segments, KEXEC_ARCH_X86_64")
  func oneCall() throws {
    let system = Self.machine()
    try SegmentLoader(system: system).load(Self.request(), options: PlanOptions())

    let call = try #require(system.segmentLoads.first)
    #expect(system.segmentLoads.count == 1)
    #expect(call.flags == 0x3e_0000)
    try #require(call.segments.count == 4)
    let (kernel, bootParams, initrd, purgatory) =
      (call.segments[0], call.segments[1], call.segments[2], call.segments[3])
    #expect(call.entry == purgatory.destination + UInt64(PurgatoryBlobX86_64.entryOffset))
    #expect(kernel.bytes == Array(Self.image[1024...]))
    #expect(initrd.bytes == Array(repeating: 0xa5, count: 0x1_2345))
    #expect(initrd.memorySize == 0x1_3000)

    // the purgatory jumps to the kernel's 64-bit entry with this boot_params
    let block = PurgatoryBlobX86_64.parametersOffset
    #expect(Self.word(purgatory.bytes, block + 0x10) == kernel.destination + 0x200)
    #expect(Self.word(purgatory.bytes, block + 0x18) == bootParams.destination)
    #expect(Self.word(purgatory.bytes, block + 0x28) & 1 == 1)
    #expect(Self.word(purgatory.bytes, block + 0x30) == 3)

    #expect(
      system.kexecCalls == [
        "kexec_load(entry: \(hex(call.entry)), segments: 4, flags: 0x3e0000) = 0"
      ])
    #expect(system.fileLoads == [])
    #expect(system.openDescriptors == [])
  }

  @Test("Without an initrd there are three segments")
  func noInitrd() throws {
    let system = Self.machine()
    try SegmentLoader(system: system).load(Self.request(initrds: []), options: PlanOptions())
    #expect(system.segmentLoads.first?.segments.count == 3)
  }

  @Test("Several initrds become one segment holding them in order")
  func severalInitrds() throws {
    let system = Self.machine()
    try SegmentLoader(system: system).load(
      Self.request(initrds: ["/boot/ucode.cpio", "/boot/initrd.img"]), options: PlanOptions())
    let segments = try #require(system.segmentLoads.first?.segments)
    #expect(segments.count == 4)
    #expect(segments[2].bytes == Array("microcode".utf8) + Array(repeating: 0xa5, count: 0x1_2345))
  }

  @Test(
    "The command line in boot_params is resolved against /proc/cmdline",
    arguments: [
      (CommandLineChoice.replace("console=ttyS0"), "console=ttyS0"),
      (.append("quiet"), "root=/dev/vda1 ro quiet"),
      (.reuse, "root=/dev/vda1 ro"),
      (.empty, ""),
    ])
  func commandLine(choice: CommandLineChoice, expected: String) throws {
    let system = Self.machine()
    try SegmentLoader(system: system).load(
      Self.request(commandLine: choice), options: PlanOptions())
    let bootParams = try #require(system.segmentLoads.first?.segments[1])
    let pointer = Self.word(bootParams.bytes, 0x228) & 0xffff_ffff
    let offset = Int(pointer - bootParams.destination)
    let text = Array(expected.utf8) + [0]
    #expect(Array(bootParams.bytes[offset..<offset + text.count]) == text)
  }

  @Test("On an EFI machine boot_params hands on efi_info, the EFI tables and the RSDP")
  func efiMachine() throws {
    let system = Self.machine()
    system.serveEFI(MachineFixtures.EFIFirmware())
    try SegmentLoader(system: system).load(Self.request(), options: PlanOptions())
    let bootParams = try #require(system.segmentLoads.first?.segments[1])
    let bytes = bootParams.bytes
    #expect(bytes[0x1c0..<0x1c4].elementsEqual("EL64".utf8))
    #expect(Self.word(bytes, 0x1c0) >> 32 == 0x3e9e_e018)
    #expect(Self.word(bytes, 0x070) == 0x3eb7_e014)

    // the first setup_data node is SETUP_EFI with fw_vendor, then SETUP_RNG_SEED
    let first = Self.word(bytes, 0x250)
    let node = Int(first - bootParams.destination)
    #expect(Self.word(bytes, node + 8) & 0xffff_ffff == 4)
    #expect(Self.word(bytes, node + 16) == 0x3e9e_e098)
    let second = Int(Self.word(bytes, node) - bootParams.destination)
    #expect(Self.word(bytes, second + 8) & 0xffff_ffff == 9)
    #expect(Self.word(bytes, second) == 0)
  }

  @Test("Plan options reach the purgatory: --no-verify clears the verify bit")
  func noVerify() throws {
    let system = Self.machine()
    try SegmentLoader(system: system).load(Self.request(), options: PlanOptions(verify: false))
    let purgatory = try #require(system.segmentLoads.first?.segments.last)
    #expect(Self.word(purgatory.bytes, PurgatoryBlobX86_64.parametersOffset + 0x28) & 1 == 0)
  }

  @Test("plan reads a memory map file and loads nothing")
  func planOnly() throws {
    let system = Self.machine()
    system.setText("/root/q35.txt", MachineFixtures.q35Iomem)
    let plan = try SegmentLoader(system: system).plan(
      Self.request(), options: PlanOptions(), memoryMapFile: "/root/q35.txt")
    #expect(plan.segments.allSatisfy { $0.destination + $0.memorySize <= 0x3ffd_d000 })
    #expect(system.kexecCalls == [])
  }

  struct BadInput: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var request: LoadRequest
    var change: @Sendable (RecordingSystem) -> Void = { _ in }
    /// Words the error's text must contain.
    var saying: String
  }

  static let badInputs = [
    BadInput(
      testDescription: "a missing kernel",
      request: LoadRequest(kernelPath: "/boot/none", initrdPaths: [], commandLine: .empty),
      saying: "/boot/none: cannot read"),
    BadInput(
      testDescription: "a file that is not a kernel",
      request: LoadRequest(kernelPath: "/boot/garbage", initrdPaths: [], commandLine: .empty),
      saying: "/boot/garbage"),
    BadInput(
      testDescription: "an empty initrd",
      request: request(initrds: ["/boot/initrd.img", "/boot/empty.img"]),
      saying: "/boot/empty.img: file is empty"),
    BadInput(
      testDescription: "a missing initrd", request: request(initrds: ["/boot/none.img"]),
      saying: "/boot/none.img: cannot read"),
    BadInput(
      testDescription: "a command line too long for the kernel",
      request: request(commandLine: .replace(String(repeating: "x", count: 2047))),
      saying: "command line of 2047 bytes does not fit"),
    BadInput(
      testDescription: "no memory map", request: request(),
      change: { system in
        for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
      }, saying: "/proc/iomem: not a memory map"),
    BadInput(
      testDescription: "too little memory", request: request(),
      change: { system in
        for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
        system.setText("/proc/iomem", "00100000-00ffffff : System RAM\n")
      }, saying: "no room for the kernel segment"),
  ]

  @Test("A bad input is refused before any kexec call", arguments: badInputs)
  func badInput(_ bad: BadInput) throws {
    let system = Self.machine()
    bad.change(system)
    let error = try #require(throws: HandoffError.self) {
      try SegmentLoader(system: system).load(bad.request, options: PlanOptions())
    }
    #expect(error.description.contains(bad.saying), "\(error)")
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])
  }

  @Test("A refused kexec_load is thrown as the call with its errno")
  func refused() throws {
    let system = Self.machine()
    system.fail("kexec_load", with: Errno.EBUSY)
    let error = try #require(throws: HandoffError.self) {
      try SegmentLoader(system: system).load(Self.request(), options: PlanOptions())
    }
    guard case .systemCall(let failure) = error else {
      Issue.record("expected a system call failure, got \(error)")
      return
    }
    #expect(failure.errno == Errno.EBUSY)
    #expect(failure.call.hasPrefix("kexec_load(entry: 0x"))
    #expect(failure.call.hasSuffix(", segments: 4, flags: 0x3e0000)"))
    #expect(system.segmentLoads.count == 1)
  }

  @Test("--debug says where each segment went and the call it makes")
  func debugLines() throws {
    let system = Self.machine()
    var lines: [String] = []
    try SegmentLoader(system: system, debug: { lines.append($0) }).load(
      Self.request(), options: PlanOptions())
    let call = try #require(system.segmentLoads.first)
    #expect(lines.contains("kernel: 4096 bytes at [0x1000000, 0x1020000)"))
    #expect(lines.contains { $0.hasPrefix("initrd: 74565 bytes at [0x1fffed000, 0x200000000)") })
    #expect(lines.last == "kexec_load(entry: \(hex(call.entry)), segments: 4, flags: 0x3e0000)")
  }
}
