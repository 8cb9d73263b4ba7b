/// Builds the segment an x86 kernel's 64-bit entry reads through RSI: the
/// boot_params "zero page", the command line, and the setup_data chain
/// (extra e820 entries, EFI tables, an RNG seed) with the EFI runtime map,
/// laid out as the kernel's boot protocol (Documentation/arch/x86/boot.rst
/// and zero-page.rst) describes.
public struct X86BootParams {
  /// Offsets in struct boot_params.
  enum Offset {
    static let screenInfo = 0x000
    static let acpiRSDP = 0x070
    static let extRamdiskImage = 0x0c0
    static let extRamdiskSize = 0x0c4
    static let extCmdLinePtr = 0x0c8
    static let efiInfo = 0x1c0
    static let e820Entries = 0x1e8
    static let secureBoot = 0x1ec
    static let setupHeader = 0x1f1
    static let typeOfLoader = 0x210
    static let ramdiskImage = 0x218
    static let ramdiskSize = 0x21c
    static let cmdLinePtr = 0x228
    static let setupData = 0x250
    static let e820Table = 0x2d0
  }

  /// setup_data types.
  enum SetupDataType {
    static let e820Extended: UInt32 = 1
    static let efi: UInt32 = 4
    static let rngSeed: UInt32 = 9
  }

  static let pageSize = 4096
  static let e820TableCapacity = 128
  static let e820EntrySize = 20
  static let efiSetupDataSize = 96
  static let defaultDescriptorSize = 48

  /// The setup header copied into boot_params: from offset 0x1f1 to its
  /// end, as a bzImage carries it (or, for an ELF vmlinux, which carries
  /// none, as the running kernel's boot_params hold it).
  public let setupHeader: ArraySlice<UInt8>
  public let commandLine: String
  public let environment: X86BootEnvironment

  public init(
    setupHeader: ArraySlice<UInt8>, commandLine: String, environment: X86BootEnvironment
  ) {
    self.setupHeader = setupHeader
    self.commandLine = commandLine
    self.environment = environment
  }

  /// boot_params for `image`, whose file bytes are `imageBytes`.
  public init(
    image: BzImage, imageBytes: [UInt8], commandLine: String, environment: X86BootEnvironment
  ) {
    self.init(
      setupHeader: X86BootParams.setupHeader(in: imageBytes, end: image.setupSize),
      commandLine: commandLine, environment: environment)
  }

  /// The setup header in the running kernel's boot_params, for a kernel
  /// that brings none; nil when they cannot be read.
  public static func runningSetupHeader(_ environment: X86BootEnvironment) -> ArraySlice<UInt8>? {
    guard let running = environment.runningBootParams, running.count >= pageSize else {
      return nil
    }
    return setupHeader(in: running, end: pageSize)
  }

  /// The setup header in the first page of `bytes`: from 0x1f1 to the end
  /// the byte at 0x201 gives (its length past 0x202), and no further than
  /// `end` or a page.
  static func setupHeader(in bytes: [UInt8], end: Int) -> ArraySlice<UInt8> {
    bytes[Offset.setupHeader..<min(0x202 + Int(bytes[0x201]), end, pageSize)]
  }

  /// The parts of the segment, as offsets from its start.
  struct Layout {
    var commandLine = 0
    var e820Extended: Int?
    var efiSetupData: Int?
    var rngSeed: Int?
    var efiMemoryMap: Int?
    var size = 0
  }

  var e820: [MemoryRange] { environment.memoryMap.ranges }

  /// The running kernel's efi_memdesc_size, unless it is smaller than a
  /// descriptor or larger than a page: then efi_info is damaged, and a size
  /// taken from it would make the segment gigabytes long.
  var descriptorSize: Int {
    let running = runningEFIInfo(field: 8)
    return (40...4096).contains(running) ? Int(running) : X86BootParams.defaultDescriptorSize
  }

  var layout: Layout {
    var layout = Layout()
    var cursor = X86BootParams.pageSize
    func reserve(_ bytes: Int) -> Int {
      let start = cursor
      cursor = (cursor + bytes + 15) & ~15
      return start
    }
    layout.commandLine = reserve(commandLine.utf8.count + 1)
    if e820.count > X86BootParams.e820TableCapacity {
      let extra = e820.count - X86BootParams.e820TableCapacity
      layout.e820Extended = reserve(16 + extra * X86BootParams.e820EntrySize)
    }
    if let efi = environment.efi {
      layout.efiSetupData = reserve(16 + X86BootParams.efiSetupDataSize)
      layout.efiMemoryMap = reserve(efi.runtimeMap.count * descriptorSize)
    }
    if !environment.rngSeed.isEmpty {
      layout.rngSeed = reserve(16 + environment.rngSeed.count)
    }
    layout.size = cursor
    return layout
  }

  /// Bytes the segment needs.
  public var size: Int { layout.size }

  /// The segment's bytes, for a segment that starts at physical `address`,
  /// with the initrd (if any) at `initrd`.
  public func build(at address: UInt64, initrd: (address: UInt64, size: UInt64)?) -> [UInt8] {
    let layout = self.layout
    var bytes = [UInt8](repeating: 0, count: layout.size)

    // the console as the firmware left it, and the setup header from the image
    if let running = environment.runningBootParams, running.count >= X86BootParams.pageSize {
      bytes.store(bytes: running[0..<0x40], at: Offset.screenInfo)
      bytes[Offset.secureBoot] = running[Offset.secureBoot]
    }
    bytes.store(bytes: setupHeader, at: Offset.setupHeader)
    bytes[Offset.typeOfLoader] = 0xff

    // a header taken from the running kernel names its initrd and command
    // line: those of this handoff replace them below, or none
    for offset in [Offset.ramdiskImage, Offset.ramdiskSize, Offset.cmdLinePtr] {
      bytes.store(UInt32(0), at: offset)
    }

    // the command line
    let commandLineAddress = address + UInt64(layout.commandLine)
    bytes.store(bytes: ArraySlice(commandLine.utf8), at: layout.commandLine)
    bytes.store(UInt32(truncatingIfNeeded: commandLineAddress), at: Offset.cmdLinePtr)
    bytes.store(UInt32(truncatingIfNeeded: commandLineAddress >> 32), at: Offset.extCmdLinePtr)

    // the initrd, with its high half in the ext_ fields
    if let initrd {
      bytes.store(UInt32(truncatingIfNeeded: initrd.address), at: Offset.ramdiskImage)
      bytes.store(UInt32(truncatingIfNeeded: initrd.address >> 32), at: Offset.extRamdiskImage)
      bytes.store(UInt32(truncatingIfNeeded: initrd.size), at: Offset.ramdiskSize)
      bytes.store(UInt32(truncatingIfNeeded: initrd.size >> 32), at: Offset.extRamdiskSize)
    }

    // the e820 table: 128 entries in boot_params, the rest in setup_data
    let inline = min(e820.count, X86BootParams.e820TableCapacity)
    bytes[Offset.e820Entries] = UInt8(inline)
    for (index, range) in e820.enumerated() where index < inline {
      storeE820(range, into: &bytes, at: Offset.e820Table + index * X86BootParams.e820EntrySize)
    }
    var chain: [(offset: Int, type: UInt32, length: Int)] = []
    if let offset = layout.e820Extended {
      let extra = Array(e820[inline...])
      for (index, range) in extra.enumerated() {
        storeE820(range, into: &bytes, at: offset + 16 + index * X86BootParams.e820EntrySize)
      }
      chain.append((offset, SetupDataType.e820Extended, extra.count * X86BootParams.e820EntrySize))
    }

    // EFI: the tables, and the runtime regions where the first kernel mapped them
    if let efi = environment.efi, let setupOffset = layout.efiSetupData,
      let mapOffset = layout.efiMemoryMap
    {
      let data = setupOffset + 16
      bytes.store(efi.firmwareVendor, at: data)
      bytes.store(efi.runtimeServices, at: data + 8)
      bytes.store(efi.configurationTables, at: data + 16)
      bytes.store(efi.smbios, at: data + 24)
      chain.append((setupOffset, SetupDataType.efi, X86BootParams.efiSetupDataSize))
      for (index, descriptor) in efi.runtimeMap.enumerated() {
        storeDescriptor(descriptor, into: &bytes, at: mapOffset + index * descriptorSize)
      }
      storeEFIInfo(efi, memoryMap: address + UInt64(mapOffset), into: &bytes)
    }

    // a seed for the next kernel's random number generator
    if let offset = layout.rngSeed {
      bytes.store(bytes: ArraySlice(environment.rngSeed), at: offset + 16)
      chain.append((offset, SetupDataType.rngSeed, environment.rngSeed.count))
    }

    if let rsdp = environment.acpiRSDP { bytes.store(rsdp, at: Offset.acpiRSDP) }

    // link the setup_data nodes: boot_params points at the first
    var next: UInt64 = 0
    for node in chain.reversed() {
      bytes.store(next, at: node.offset)
      bytes.store(node.type, at: node.offset + 8)
      bytes.store(UInt32(node.length), at: node.offset + 12)
      next = address + UInt64(node.offset)
    }
    bytes.store(next, at: Offset.setupData)
    return bytes
  }

  private func storeE820(_ range: MemoryRange, into bytes: inout [UInt8], at offset: Int) {
    bytes.store(range.start, at: offset)
    bytes.store(range.size, at: offset + 8)
    bytes.store(range.kind.e820Type, at: offset + 16)
  }

  private func storeDescriptor(
    _ descriptor: EFIMemoryDescriptor, into bytes: inout [UInt8], at offset: Int
  ) {
    bytes.store(descriptor.type, at: offset)
    bytes.store(descriptor.physicalStart, at: offset + 8)
    bytes.store(descriptor.virtualStart, at: offset + 16)
    bytes.store(descriptor.pageCount, at: offset + 24)
    bytes.store(descriptor.attribute, at: offset + 32)
  }

  /// efi_info: the loader signature and descriptor format as the running
  /// kernel got them, the system table, and the runtime map built here.
  private func storeEFIInfo(_ efi: EFIHandover, memoryMap: UInt64, into bytes: inout [UInt8]) {
    let base = Offset.efiInfo
    let signature = runningEFIInfo(field: 0)
    // "EL64", the 64-bit EFI loader signature
    bytes.store(signature != 0 ? signature : 0x3436_4c45, at: base)
    bytes.store(UInt32(truncatingIfNeeded: efi.systemTable), at: base + 4)
    bytes.store(UInt32(descriptorSize), at: base + 8)
    let version = runningEFIInfo(field: 12)
    bytes.store(version != 0 ? version : 1, at: base + 12)
    bytes.store(UInt32(truncatingIfNeeded: memoryMap), at: base + 16)
    bytes.store(UInt32(efi.runtimeMap.count * descriptorSize), at: base + 20)
    bytes.store(UInt32(truncatingIfNeeded: efi.systemTable >> 32), at: base + 24)
    bytes.store(UInt32(truncatingIfNeeded: memoryMap >> 32), at: base + 28)
  }

  /// A 32-bit field of the running kernel's efi_info, or 0.
  private func runningEFIInfo(field: Int) -> UInt32 {
    guard let running = environment.runningBootParams, running.count >= X86BootParams.pageSize
    else { return 0 }
    return running.load32(at: Offset.efiInfo + field)
  }
}
