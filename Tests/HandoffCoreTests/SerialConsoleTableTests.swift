import HandoffCore
import Testing

/// ACPI's SPCR as the purgatory's UART: QEMU's arm64 virt board under EDK2,
/// and tables that name a UART the purgatory cannot drive.
@Suite("The SPCR's console UART")
struct SerialConsoleTableTests {
  /// /sys/firmware/acpi/tables/SPCR of QEMU's virt board under Debian's
  /// AAVMF: a PL011 at 0x9000000, in system memory.
  static let qemuVirt: [UInt8] = [
    0x53, 0x50, 0x43, 0x52, 0x50, 0x00, 0x00, 0x00, 0x02, 0xcb, 0x42, 0x4f, 0x43, 0x48, 0x53, 0x20,
    0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20, 0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43,
    0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
    0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x21, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x02, 0x00, 0x00,
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]

  /// The QEMU table with its interface type, address space and register
  /// width replaced.
  static func table(type: UInt8 = 0x03, space: UInt8 = 0, width: UInt8 = 8) -> [UInt8] {
    var table = qemuVirt
    table[36] = type
    table[40] = space
    table[41] = width
    return table
  }

  @Test("QEMU's PL011 is the arm64 purgatory's UART, and no 16550")
  func qemuPL011() {
    #expect(SerialConsoleTable.uart(Self.qemuVirt, compatible: "arm,pl011") == 0x900_0000)
    #expect(SerialConsoleTable.uart(Self.qemuVirt, compatible: "ns16550a") == nil)
  }

  @Test("An SBSA generic UART is driven as a PL011")
  func sbsa() {
    #expect(SerialConsoleTable.uart(Self.table(type: 0x0e), compatible: "arm,pl011") == 0x900_0000)
  }

  @Test("A 16550 with byte-wide registers in memory is the riscv64 purgatory's UART")
  func ns16550() {
    #expect(SerialConsoleTable.uart(Self.table(type: 0x00), compatible: "ns16550a") == 0x900_0000)
    #expect(SerialConsoleTable.uart(Self.table(type: 0x12), compatible: "ns16550a") == 0x900_0000)
  }

  @Test(
    "A UART the purgatory cannot drive, or a table that is no SPCR, gives none",
    arguments: [
      table(type: 0x12, width: 32), table(space: 1), table(type: 0x0f),
      Array(qemuVirt.prefix(48)), [UInt8](repeating: 0, count: 0x50),
    ])
  func refused(table: [UInt8]) {
    for compatible in ["arm,pl011", "ns16550a"] {
      #expect(SerialConsoleTable.uart(table, compatible: compatible) == nil)
    }
  }
}
