import HandoffCore
import HandoffTestSupport
import Testing

/// The boot_params segment, read back at the offsets of the x86 boot
/// protocol (Documentation/arch/x86/boot.rst and zero-page.rst) as a
/// kernel would read it, pointers followed from the segment's address.
@Suite("boot_params for the next x86 kernel")
struct BootParamsTests {
  /// Offsets in struct boot_params, written down from zero-page.rst and
  /// boot.rst rather than taken from the builder.
  enum ZeroPage {
    static let screenInfo = 0x000
    static let acpiRSDPAddr = 0x070
    static let extRamdiskImage = 0x0c0
    static let extRamdiskSize = 0x0c4
    static let extCmdLinePtr = 0x0c8
    static let efiInfo = 0x1c0
    static let e820Entries = 0x1e8
    static let secureBoot = 0x1ec
    static let hdr = 0x1f1
    static let typeOfLoader = 0x210
    static let ramdiskImage = 0x218
    static let ramdiskSize = 0x21c
    static let cmdLinePtr = 0x228
    static let setupData = 0x250
    static let e820Table = 0x2d0
  }

  /// A built segment that starts at physical `address`, read the way the
  /// kernel reads it.
  struct Segment {
    let bytes: [UInt8]
    let address: UInt64

    func u8(_ offset: Int) -> UInt8 { bytes[offset] }

    func u32(_ offset: Int) -> UInt32 {
      (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    func u64(_ offset: Int) -> UInt64 {
      (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    /// Where physical address `pointer` lies in the segment, past the
    /// zero page; nil when it lies anywhere else.
    func offset(of pointer: UInt64) -> Int? {
      guard pointer >= address + 0x1000, pointer < address + UInt64(bytes.count) else {
        return nil
      }
      return Int(pointer - address)
    }

    /// The bytes from `offset` up to the first NUL; nil without a NUL.
    func cString(at offset: Int) -> [UInt8]? {
      guard let end = bytes[offset...].firstIndex(of: 0) else { return nil }
      return Array(bytes[offset..<end])
    }

    /// The setup_data nodes from boot_params' setup_data to the 0 that
    /// ends the chain: where each lies in the segment, its type and length.
    func setupDataChain() -> [(offset: Int, type: UInt32, length: Int)]? {
      var nodes: [(offset: Int, type: UInt32, length: Int)] = []
      var next = u64(ZeroPage.setupData)
      while next != 0 {
        guard let offset = offset(of: next), nodes.count < 16 else { return nil }
        nodes.append((offset, u32(offset + 8), Int(u32(offset + 12))))
        next = u64(offset)
      }
      return nodes
    }
  }

  static let sixGiB = try! MemoryMapParser.parse(MachineFixtures.sixGiBMemmap, source: "6g")
  static let address: UInt64 = 0x7ffd_a000

  static func build(
    image made: HandmadeBzImage = HandmadeBzImage(), commandLine: String = "console=ttyS0",
    environment: X86BootEnvironment = X86BootEnvironment(memoryMap: sixGiB),
    at address: UInt64 = address, initrd: (address: UInt64, size: UInt64)? = nil
  ) throws -> Segment {
    let bytes = made.bytes
    let image = try BzImage(path: "/boot/vmlinuz", bytes: bytes)
    let params = X86BootParams(
      image: image, imageBytes: bytes, commandLine: commandLine, environment: environment)
    let built = params.build(at: address, initrd: initrd)
    #expect(built.count == params.size)
    return Segment(bytes: built, address: address)
  }

  /// An OVMF machine's environment: EFI, a running boot_params, an RSDP
  /// and an RNG seed, with `ranges` memory ranges.
  static func efiEnvironment(
    ranges: Int = 10, descriptorSize: UInt32 = 48, descriptorVersion: UInt32 = 1
  ) -> X86BootEnvironment {
    var firmware = MachineFixtures.EFIFirmware()
    firmware.systemTable = 0x1_3e9e_e018
    return X86BootEnvironment(
      memoryMap: ranges == 10 ? sixGiB : manyRanges(ranges),
      runningBootParams: MachineFixtures.runningBootParams(
        efi: firmware, descriptorSize: descriptorSize, descriptorVersion: descriptorVersion),
      efi: EFIHandover(
        systemTable: firmware.systemTable, firmwareVendor: firmware.firmwareVendor,
        runtimeServices: firmware.runtimeServices,
        configurationTables: firmware.configurationTables, smbios: 0x3e9b_9000,
        runtimeMap: firmware.runtimeMap),
      acpiRSDP: 0x3eb7_e014, rngSeed: (0..<32).map { UInt8($0 * 7 + 1) })
  }

  /// `count` ranges of 1 MiB, RAM and reserved by turns.
  static func manyRanges(_ count: Int) -> MemoryMap {
    var ranges: [MemoryRange] = []
    for index in 0..<UInt64(count) {
      let kind: MemoryKind = index % 2 == 0 ? .ram : .reserved
      ranges.append(MemoryRange(start: index << 20, end: (index + 1) << 20, kind: kind))
    }
    return MemoryMap(ranges: ranges)
  }

  /// The header bytes the loader writes itself: type_of_loader,
  /// ramdisk_image, ramdisk_size, cmd_line_ptr and setup_data.
  static let loaderFields: Set<Int> = {
    var fields: Set<Int> = [0x210]
    fields.formUnion(0x218..<0x220)
    fields.formUnion(0x228..<0x22c)
    fields.formUnion(0x250..<0x258)
    return fields
  }()

  static func expectHeaderCopied(_ segment: Segment, from image: [UInt8]) {
    let end = 0x202 + Int(image[0x201])
    for offset in ZeroPage.hdr..<end where !loaderFields.contains(offset) {
      let (built, original) = (segment.u8(offset), image[offset])
      #expect(built == original, "header byte \(hex(offset)): \(hex(built)), not \(hex(original))")
    }
  }

  @Test(
    "The setup header is the image's, up to the end its jump names, but for the loader's fields")
  func setupHeader() throws {
    let image = HandmadeBzImage()
    let segment = try Self.build(image: image)
    Self.expectHeaderCopied(segment, from: image.bytes)
    #expect(segment.bytes[0x202..<0x206].elementsEqual("HdrS".utf8))
    #expect(segment.u32(0x260) == image.initSize)
    // past the header's end (0x268) the zero page holds nothing of the image
    #expect(segment.bytes[0x268..<ZeroPage.e820Table].allSatisfy { $0 == 0 })
  }

  @Test(
    "The setup header of a Debian kernel is copied as the kernel wrote it",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func labKernelHeader(kernel: LabKernel) throws {
    let bytes = try kernel.image()
    let image = try BzImage(path: kernel.imagePath, bytes: bytes)
    let params = X86BootParams(
      image: image, imageBytes: bytes, commandLine: "console=ttyS0",
      environment: X86BootEnvironment(memoryMap: Self.sixGiB))
    let segment = Segment(bytes: params.build(at: Self.address, initrd: nil), address: Self.address)
    #expect(bytes[0x201] == 0x6a, "the header's jump at 0x200")
    Self.expectHeaderCopied(segment, from: bytes)
    #expect(segment.u8(ZeroPage.typeOfLoader) == 0xff)
  }

  @Test("type_of_loader is 0xff, a loader with no assigned id")
  func typeOfLoader() throws {
    #expect(try Self.build().u8(ZeroPage.typeOfLoader) == 0xff)
  }

  @Test(
    "cmd_line_ptr and ext_cmd_line_ptr point at the NUL-terminated command line",
    arguments: [
      "", "console=ttyS0 root=/dev/vda1 ro", String(repeating: "handoff ", count: 255) + "end",
    ], [UInt64(0x7ffd_a000), 0x1_7fff_0000])
  func commandLine(text: String, address: UInt64) throws {
    let segment = try Self.build(commandLine: text, at: address)
    let pointer =
      UInt64(segment.u32(ZeroPage.cmdLinePtr)) | UInt64(segment.u32(ZeroPage.extCmdLinePtr)) << 32
    let offset = try #require(segment.offset(of: pointer), "cmd_line_ptr \(hex(pointer))")
    #expect(segment.cString(at: offset) == Array(text.utf8))
    #expect(segment.u32(ZeroPage.extCmdLinePtr) == UInt32(address >> 32))
  }

  @Test(
    "ramdisk_image and ramdisk_size hold the initrd's low halves, the ext_ fields the high",
    arguments: [
      (UInt64(0x3f00_0000), UInt64(0x90_0000)),
      (0x1_f700_0000, 0x900_0000),
      (0x2_0000_0000, 0x1_2000_0000),
    ])
  func initrd(address: UInt64, size: UInt64) throws {
    let segment = try Self.build(initrd: (address, size))
    #expect(segment.u32(ZeroPage.ramdiskImage) == UInt32(address & 0xffff_ffff))
    #expect(segment.u32(ZeroPage.extRamdiskImage) == UInt32(address >> 32))
    #expect(segment.u32(ZeroPage.ramdiskSize) == UInt32(size & 0xffff_ffff))
    #expect(segment.u32(ZeroPage.extRamdiskSize) == UInt32(size >> 32))
  }

  @Test("Without an initrd every ramdisk field is zero")
  func noInitrd() throws {
    let segment = try Self.build()
    #expect(segment.u32(ZeroPage.ramdiskImage) == 0)
    #expect(segment.u32(ZeroPage.ramdiskSize) == 0)
    #expect(segment.u32(ZeroPage.extRamdiskImage) == 0)
    #expect(segment.u32(ZeroPage.extRamdiskSize) == 0)
  }

  @Test("The e820 table lists the 6 GiB machine's ranges with their e820 types")
  func e820Table() throws {
    let segment = try Self.build()
    let expected: [(UInt64, UInt64, UInt32)] = [
      (0x0, 0x9_fc00, 1), (0x9_fc00, 0x400, 2), (0xf_0000, 0x1_0000, 2),
      (0x10_0000, 0x7fed_c000, 1), (0x7ffd_c000, 0x2_4000, 2), (0xb000_0000, 0x1000_0000, 2),
      (0xfed1_c000, 0x4000, 2), (0xfeff_c000, 0x4000, 2), (0xfffc_0000, 0x4_0000, 2),
      (0x1_0000_0000, 0x1_0000_0000, 1),
    ]
    #expect(segment.u8(ZeroPage.e820Entries) == 10)
    for (index, entry) in expected.enumerated() {
      let base = ZeroPage.e820Table + index * 20
      #expect(segment.u64(base) == entry.0, "entry \(index) addr")
      #expect(segment.u64(base + 8) == entry.1, "entry \(index) size")
      #expect(segment.u32(base + 16) == entry.2, "entry \(index) type")
    }
    let after = ZeroPage.e820Table + 10 * 20
    #expect(segment.bytes[after..<after + 20].allSatisfy { $0 == 0 })
    #expect(segment.u64(ZeroPage.setupData) == 0)
  }

  @Test("Each kind of memory gets its e820 type number")
  func e820Types() throws {
    let kinds: [MemoryKind] = [
      .ram, .reserved, .acpiTables, .acpiNVS, .unusable, .persistent, .softReserved,
      .other("PCI Bus 0000:00"),
    ]
    let map = MemoryMap(
      ranges: kinds.enumerated().map {
        MemoryRange(
          start: UInt64($0.offset) << 24, end: UInt64($0.offset + 1) << 24, kind: $0.element)
      })
    let segment = try Self.build(environment: X86BootEnvironment(memoryMap: map))
    let types = (0..<kinds.count).map { segment.u32(ZeroPage.e820Table + $0 * 20 + 16) }
    #expect(types == [1, 2, 3, 4, 5, 7, 0xefff_ffff, 2])
  }

  @Test("Exactly 128 ranges fit in boot_params with no setup_data")
  func exactly128() throws {
    let segment = try Self.build(
      environment: X86BootEnvironment(memoryMap: Self.manyRanges(128)))
    #expect(segment.u8(ZeroPage.e820Entries) == 128)
    #expect(segment.u64(ZeroPage.e820Table + 127 * 20) == 127 << 20)
    #expect(segment.u64(ZeroPage.setupData) == 0)
  }

  @Test(
    "Past 128 ranges the rest go to a SETUP_E820_EXT node, in order",
    arguments: [129, 300])
  func extendedE820(count: Int) throws {
    let segment = try Self.build(
      environment: X86BootEnvironment(memoryMap: Self.manyRanges(count)))
    #expect(segment.u8(ZeroPage.e820Entries) == 128)
    #expect(segment.u64(ZeroPage.e820Table + 127 * 20) == 127 << 20)

    let chain = try #require(segment.setupDataChain())
    try #require(chain.count == 1)
    let node = chain[0]
    #expect(node.type == 1)
    #expect(node.length == (count - 128) * 20)
    for index in 128..<count {
      let base = node.offset + 16 + (index - 128) * 20
      #expect(segment.u64(base) == UInt64(index) << 20)
      #expect(segment.u64(base + 8) == 1 << 20)
      #expect(segment.u32(base + 16) == (index % 2 == 0 ? 1 : 2))
    }
  }

  @Test(
    "efi_info has EL64, the system table, the running kernel's descriptor format and the new map",
    arguments: [(UInt32(48), UInt32(1)), (64, 1), (56, 2)])
  func efiInfo(descriptorSize: UInt32, version: UInt32) throws {
    let environment = Self.efiEnvironment(
      descriptorSize: descriptorSize, descriptorVersion: version)
    let segment = try Self.build(environment: environment)
    let info = ZeroPage.efiInfo
    #expect(segment.bytes[info..<info + 4].elementsEqual("EL64".utf8))
    #expect(segment.u32(info + 4) == 0x3e9e_e018)
    #expect(segment.u32(info + 24) == 0x1)
    #expect(segment.u32(info + 8) == descriptorSize)
    #expect(segment.u32(info + 12) == version)

    let regions = try #require(environment.efi?.runtimeMap)
    #expect(segment.u32(info + 20) == UInt32(regions.count) * descriptorSize)
    let memmap = UInt64(segment.u32(info + 16)) | UInt64(segment.u32(info + 28)) << 32
    let offset = try #require(segment.offset(of: memmap), "efi_memmap \(hex(memmap))")
    #expect(offset + regions.count * Int(descriptorSize) <= segment.bytes.count)
    for (index, region) in regions.enumerated() {
      let base = offset + index * Int(descriptorSize)
      #expect(segment.u32(base) == region.type)
      #expect(segment.u64(base + 8) == region.physicalStart)
      #expect(segment.u64(base + 16) == region.virtualStart)
      #expect(segment.u64(base + 24) == region.pageCount)
      #expect(segment.u64(base + 32) == region.attribute)
    }
  }

  @Test(
    "Without the running boot_params efi_info still says EL64, with 48-byte version 1 descriptors")
  func efiInfoDefaults() throws {
    var environment = Self.efiEnvironment()
    environment.runningBootParams = nil
    let segment = try Self.build(environment: environment)
    #expect(segment.bytes[0x1c0..<0x1c4].elementsEqual("EL64".utf8))
    #expect(segment.u32(0x1c8) == 48)
    #expect(segment.u32(0x1cc) == 1)
    #expect(segment.u32(0x1d4) == 3 * 48)
  }

  @Test(
    "A damaged efi_memdesc_size in the running boot_params gives way to 48-byte descriptors",
    arguments: [UInt32(0), 39, 4097, 0xffff_ffff])
  func damagedDescriptorSize(size: UInt32) throws {
    let segment = try Self.build(environment: Self.efiEnvironment(descriptorSize: size))
    #expect(segment.u32(ZeroPage.efiInfo + 8) == 48)
    #expect(segment.u32(ZeroPage.efiInfo + 20) == 3 * 48)
    #expect(segment.bytes.count < 0x2000)
  }

  @Test("A BIOS machine's efi_info stays zero even if the running boot_params had one")
  func noEFI() throws {
    var environment = Self.efiEnvironment()
    environment.efi = nil
    let segment = try Self.build(environment: environment)
    #expect(segment.bytes[ZeroPage.efiInfo..<ZeroPage.efiInfo + 32].allSatisfy { $0 == 0 })
    let chain = try #require(segment.setupDataChain())
    #expect(!chain.contains { $0.type == 4 })
  }

  @Test("A SETUP_EFI node carries fw_vendor, runtime, the config tables and SMBIOS")
  func efiSetupData() throws {
    let environment = Self.efiEnvironment()
    let segment = try Self.build(environment: environment)
    let chain = try #require(segment.setupDataChain())
    let node = try #require(chain.first { $0.type == 4 })
    let efi = try #require(environment.efi)
    #expect(node.length == 96)
    #expect(segment.u64(node.offset + 16) == efi.firmwareVendor)
    #expect(segment.u64(node.offset + 24) == efi.runtimeServices)
    #expect(segment.u64(node.offset + 32) == efi.configurationTables)
    #expect(segment.u64(node.offset + 40) == 0x3e9b_9000)
    #expect(segment.bytes[node.offset + 48..<node.offset + 16 + 96].allSatisfy { $0 == 0 })
  }

  @Test("A SETUP_RNG_SEED node carries the seed's bytes")
  func rngSeed() throws {
    let seed: [UInt8] = (0..<32).map { UInt8(255 - $0) }
    let segment = try Self.build(
      environment: X86BootEnvironment(memoryMap: Self.sixGiB, rngSeed: seed))
    let chain = try #require(segment.setupDataChain())
    try #require(chain.count == 1)
    #expect(chain[0].type == 9)
    #expect(chain[0].length == 32)
    #expect(Array(segment.bytes[chain[0].offset + 16..<chain[0].offset + 48]) == seed)
  }

  @Test("The setup_data chain links E820_EXT, EFI and RNG_SEED in order, apart, and ends in 0")
  func chainOrder() throws {
    let environment = Self.efiEnvironment(ranges: 200)
    let segment = try Self.build(commandLine: "quiet", environment: environment)
    let chain = try #require(segment.setupDataChain())
    #expect(chain.map(\.type) == [1, 4, 9])
    #expect(chain.map(\.length) == [72 * 20, 96, 32])

    // no node overlaps another, the command line or the EFI memory map
    let commandLine = Int(UInt64(segment.u32(ZeroPage.cmdLinePtr)) - segment.address)
    let memmap = Int(UInt64(segment.u32(0x1d0)) - segment.address)
    var parts = chain.map { ($0.offset, $0.offset + 16 + $0.length) }
    parts.append((commandLine, commandLine + "quiet".utf8.count + 1))
    parts.append((memmap, memmap + 3 * 48))
    parts.sort { $0.0 < $1.0 }
    #expect(parts[0].0 >= 0x1000)
    for (earlier, later) in zip(parts, parts.dropFirst()) {
      #expect(earlier.1 <= later.0, "\(earlier) overlaps \(later)")
    }
    #expect(parts.last!.1 <= segment.bytes.count)
  }

  @Test("screen_info and secure_boot are copied from the running boot_params")
  func screenInfo() throws {
    let running = MachineFixtures.runningBootParams(efi: MachineFixtures.EFIFirmware())
    let segment = try Self.build(
      environment: X86BootEnvironment(memoryMap: Self.sixGiB, runningBootParams: running))
    #expect(segment.bytes[0..<0x40] == running[0..<0x40])
    #expect(segment.u8(ZeroPage.secureBoot) == 1)
  }

  @Test("Without the running boot_params screen_info is left zero")
  func noScreenInfo() throws {
    let segment = try Self.build()
    #expect(segment.bytes[0..<0x40].allSatisfy { $0 == 0 })
  }

  @Test("acpi_rsdp_addr holds the RSDP the firmware named, or zero")
  func acpiRSDP() throws {
    #expect(
      try Self.build(environment: Self.efiEnvironment()).u64(ZeroPage.acpiRSDPAddr) == 0x3eb7_e014)
    #expect(try Self.build().u64(ZeroPage.acpiRSDPAddr) == 0)
  }
}
