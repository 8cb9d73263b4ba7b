// Machines as the running kernel describes them, in the text it prints:
// the memory maps and EFI files a handoff reads, for tests of every layer.
import HandoffCore

/// Two QEMU q35 guests and one OVMF firmware, as /proc, /sys and
/// boot_params show them.
public enum MachineFixtures {
  /// /proc/iomem of a 1 GiB q35 guest under SeaBIOS, read as root, booted
  /// with `crashkernel=128M`. Twenty top-level ranges; the kernel's own
  /// ranges and the crash kernel sit nested inside RAM.
  public static let q35Iomem = """
    00000000-00000fff : Reserved
    00001000-0009fbff : System RAM
    0009fc00-0009ffff : Reserved
    000a0000-000bffff : PCI Bus 0000:00
    000c0000-000c99ff : Video ROM
    000ca000-000cadff : Adapter ROM
    000cb000-000cb5ff : Adapter ROM
    000f0000-000fffff : Reserved
      000f0000-000fffff : System ROM
    00100000-3ffdcfff : System RAM
      0e000000-0e8fffff : Kernel code
      0ea00000-0ef4bfff : Kernel rodata
      0f000000-0f3a1e7f : Kernel data
      0f9f4000-0fbfffff : Kernel bss
      33000000-3affffff : Crash kernel
    3ffdd000-3fffffff : Reserved
    40000000-afffffff : PCI Bus 0000:00
    b0000000-bfffffff : PCI ECAM 0000 [bus 00-ff]
      b0000000-bfffffff : Reserved
    c0000000-febfffff : PCI Bus 0000:00
      fd000000-fdffffff : 0000:00:01.0
      fe000000-fe003fff : 0000:00:02.0
        fe000000-fe003fff : virtio-pci-modern
      febd1000-febd1fff : 0000:00:1f.2
        febd1000-febd1fff : ahci
    fec00000-fec003ff : IOAPIC 0
    fed00000-fed003ff : HPET 0
      fed00000-fed003ff : PNP0103:00
    fed1c000-fed1ffff : Reserved
      fed1f410-fed1f414 : iTCO_wdt.0.auto
    fee00000-fee00fff : pnp 00:04
    feffc000-feffffff : Reserved
    fffc0000-ffffffff : Reserved
    100000000-8ffffffff : PCI Bus 0000:00

    """

  /// The same file as a reader without CAP_SYS_ADMIN sees it: every
  /// address printed as zero.
  public static let unprivilegedIomem = """
    00000000-00000000 : Reserved
    00000000-00000000 : System RAM
    00000000-00000000 : Reserved
    00000000-00000000 : System RAM
      00000000-00000000 : Kernel code

    """

  /// /sys/firmware/memmap of a 6 GiB q35 guest under SeaBIOS as
  /// `START END TYPE` lines, ends inclusive: 2 GiB of RAM below the PCI
  /// hole and 4 GiB above 4 GiB.
  public static let sixGiBMemmap = """
    0x0 0x9fbff System RAM
    0x9fc00 0x9ffff Reserved
    0xf0000 0xfffff Reserved
    0x100000 0x7ffdbfff System RAM
    0x7ffdc000 0x7fffffff Reserved
    0xb0000000 0xbfffffff Reserved
    0xfed1c000 0xfed1ffff Reserved
    0xfeffc000 0xfeffffff Reserved
    0xfffc0000 0xffffffff Reserved
    0x100000000 0x1ffffffff System RAM

    """

  /// /sys/firmware/memmap of a 1 GiB q35 guest under OVMF, with its ACPI
  /// tables, ACPI NVS and the boot services ranges Linux gave back as RAM.
  public static let oneGiBEFIMemmap = """
    0x0 0x9ffff System RAM
    0x100000 0x7fffff System RAM
    0x800000 0x807fff ACPI Non-volatile Storage
    0x808000 0x80afff System RAM
    0x80b000 0x80bfff ACPI Non-volatile Storage
    0x80c000 0x810fff System RAM
    0x811000 0x8fffff ACPI Non-volatile Storage
    0x900000 0x3e8ebfff System RAM
    0x3e8ec000 0x3eb6bfff Reserved
    0x3eb6c000 0x3eb7dfff ACPI Tables
    0x3eb7e000 0x3ebfffff ACPI Non-volatile Storage
    0x3ec00000 0x3ff1ffff System RAM
    0x3ff20000 0x3fffffff Reserved
    0xb0000000 0xbfffffff Reserved

    """

  /// The EFI files of an OVMF guest: /sys/firmware/efi and its runtime map.
  public struct EFIFirmware: Sendable {
    public var systemTable: UInt64 = 0x3e9e_e018
    public var firmwareVendor: UInt64 = 0x3e9e_e098
    public var runtimeServices: UInt64 = 0x3e9e_bb98
    public var configurationTables: UInt64 = 0x3e9e_5698
    public var systab = "ACPI20=0x3eb7e014\nACPI=0x3eb7e000\nSMBIOS=0x3e9b9000\n"
    /// Each region: type, physical start, virtual start, pages, attribute.
    public var runtimeMap: [EFIMemoryDescriptor] = [
      EFIMemoryDescriptor(
        type: 5, physicalStart: 0x3e8e_c000, virtualStart: 0xffff_fffe_ff8e_c000,
        pageCount: 0xf0, attribute: 0x8000_0000_0000_000f),
      EFIMemoryDescriptor(
        type: 6, physicalStart: 0x3e9d_c000, virtualStart: 0xffff_fffe_ff9d_c000,
        pageCount: 0x190, attribute: 0x8000_0000_0000_000f),
      EFIMemoryDescriptor(
        type: 11, physicalStart: 0xffc0_0000, virtualStart: 0xffff_fffe_ffc0_0000,
        pageCount: 0x400, attribute: 0x8000_0000_0000_0001),
    ]

    public init() {}
  }

  /// The running kernel's boot_params (/sys/kernel/boot_params/data): a
  /// text console's screen_info, and for EFI the efi_info the firmware's
  /// loader filled in, with `descriptorSize` and `descriptorVersion`.
  public static func runningBootParams(
    efi: EFIFirmware? = nil, descriptorSize: UInt32 = 48, descriptorVersion: UInt32 = 1
  ) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 4096)
    // screen_info: cursor at column 0, row 24, mode 3, 80 columns, 25 lines,
    // an EGA/VGA console; then a recognisable pattern to the end
    let screen: [UInt8] = [0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x03, 0x50, 0x00, 0x00, 0x00, 0x00]
    for (index, byte) in screen.enumerated() { bytes[index] = byte }
    bytes[0x0e] = 25
    bytes[0x0f] = 0x22
    for index in 0x10..<0x40 { bytes[index] = UInt8(0x80 + index) }
    if let efi {
      put(&bytes, UInt32(0x3436_4c45), at: 0x1c0)
      put(&bytes, UInt32(truncatingIfNeeded: efi.systemTable), at: 0x1c4)
      put(&bytes, descriptorSize, at: 0x1c8)
      put(&bytes, descriptorVersion, at: 0x1cc)
      put(&bytes, UInt32(0x3e6f_1018), at: 0x1d0)
      put(&bytes, descriptorSize &* 90, at: 0x1d4)
      put(&bytes, UInt32(truncatingIfNeeded: efi.systemTable >> 32), at: 0x1d8)
      // secure_boot: disabled
      bytes[0x1ec] = 1
    }
    return bytes
  }

  static func put<Value: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: Value, at offset: Int)
  {
    for index in 0..<Value.bitWidth / 8 {
      bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
    }
  }
}

extension RecordingSystem {
  /// Serves /sys/firmware/memmap/N/{start,end,type} as the kernel prints
  /// them, one entry for each `START END TYPE` line of `dump`; or the same
  /// files under `root`, a copy of that directory.
  public func serveFirmwareMemmap(_ dump: String, under root: String = "/sys/firmware/memmap") {
    files[root] = .directory
    var index = 0
    for line in dump.split(separator: "\n") {
      let words = line.split(separator: " ", maxSplits: 2)
      setText("\(root)/\(index)/start", words[0] + "\n")
      setText("\(root)/\(index)/end", words[1] + "\n")
      setText("\(root)/\(index)/type", words[2] + "\n")
      index += 1
    }
  }

  /// Serves /sys/firmware/efi and its runtime map, numbers in hex with a
  /// `0x` as the kernel prints them, and the running boot_params.
  public func serveEFI(_ efi: MachineFixtures.EFIFirmware, bootParams: [UInt8]? = nil) {
    setText("/sys/firmware/efi/fw_vendor", hex(efi.firmwareVendor) + "\n")
    setText("/sys/firmware/efi/runtime", hex(efi.runtimeServices) + "\n")
    setText("/sys/firmware/efi/config_table", hex(efi.configurationTables) + "\n")
    setText("/sys/firmware/efi/systab", efi.systab)
    for (index, region) in efi.runtimeMap.enumerated() {
      let directory = "/sys/firmware/efi/runtime-map/\(index)/"
      setText(directory + "type", hex(region.type) + "\n")
      setText(directory + "phys_addr", hex(region.physicalStart) + "\n")
      setText(directory + "virt_addr", hex(region.virtualStart) + "\n")
      setText(directory + "num_pages", hex(region.pageCount) + "\n")
      setText(directory + "attribute", hex(region.attribute) + "\n")
    }
    files["/sys/kernel/boot_params/data"] = .file(
      bootParams ?? MachineFixtures.runningBootParams(efi: efi))
  }
}
