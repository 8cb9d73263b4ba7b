/// What the running machine hands on to an x86 kernel besides its own
/// files: the memory map, the firmware's tables, and the running kernel's
/// own boot_params, from which the console and EFI details are copied.
public struct X86BootEnvironment: Equatable, Sendable {
  public var memoryMap: MemoryMap
  /// /sys/kernel/boot_params/data: the boot_params the running kernel got.
  public var runningBootParams: [UInt8]?
  /// Set when the running system booted through EFI with runtime services on.
  public var efi: EFIHandover?
  /// The ACPI RSDP's physical address, when the firmware told it.
  public var acpiRSDP: UInt64?
  /// Random bytes for the next kernel's RNG seed; empty for none.
  public var rngSeed: [UInt8]

  public init(
    memoryMap: MemoryMap, runningBootParams: [UInt8]? = nil, efi: EFIHandover? = nil,
    acpiRSDP: UInt64? = nil, rngSeed: [UInt8] = []
  ) {
    self.memoryMap = memoryMap
    self.runningBootParams = runningBootParams
    self.efi = efi
    self.acpiRSDP = acpiRSDP
    self.rngSeed = rngSeed
  }
}

/// The EFI state a kernel needs to keep using runtime services after a
/// handoff: the tables' addresses and the runtime regions at the virtual
/// addresses the first kernel mapped them to (/sys/firmware/efi).
public struct EFIHandover: Equatable, Sendable {
  public var systemTable: UInt64
  public var firmwareVendor: UInt64
  public var runtimeServices: UInt64
  public var configurationTables: UInt64
  public var smbios: UInt64
  public var runtimeMap: [EFIMemoryDescriptor]

  public init(
    systemTable: UInt64, firmwareVendor: UInt64, runtimeServices: UInt64,
    configurationTables: UInt64, smbios: UInt64, runtimeMap: [EFIMemoryDescriptor]
  ) {
    self.systemTable = systemTable
    self.firmwareVendor = firmwareVendor
    self.runtimeServices = runtimeServices
    self.configurationTables = configurationTables
    self.smbios = smbios
    self.runtimeMap = runtimeMap
  }
}

/// One entry of the EFI memory map (UEFI's EFI_MEMORY_DESCRIPTOR).
public struct EFIMemoryDescriptor: Equatable, Sendable {
  public var type: UInt32
  public var physicalStart: UInt64
  public var virtualStart: UInt64
  public var pageCount: UInt64
  public var attribute: UInt64

  public init(
    type: UInt32, physicalStart: UInt64, virtualStart: UInt64, pageCount: UInt64,
    attribute: UInt64
  ) {
    self.type = type
    self.physicalStart = physicalStart
    self.virtualStart = virtualStart
    self.pageCount = pageCount
    self.attribute = attribute
  }
}
