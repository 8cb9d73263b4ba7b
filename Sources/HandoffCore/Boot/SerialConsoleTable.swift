// The UART ACPI's Serial Port Console Redirection table (SPCR) names: on a
// machine that describes its hardware through ACPI, the running DTB is the
// EFI stub's, with no stdout-path, and this is where the console is found.

/// The SPCR's console UART, as /sys/firmware/acpi/tables/SPCR holds it.
public enum SerialConsoleTable {
  /// Where the table keeps the UART's interface type, and its base address
  /// as an ACPI Generic Address Structure: address space, register bit
  /// width, bit offset, access size, then the 64-bit address.
  static let interfaceTypeOffset = 36
  static let baseAddressOffset = 40
  static let length = 52

  /// Interface types a PL011 driver serves: the PL011 itself and the SBSA
  /// generic UART, its subset of 32-bit registers.
  static let pl011Types: [UInt8] = [0x03, 0x0d, 0x0e]
  /// Interface types of a 16550: full, a subset, or one the address
  /// structure describes.
  static let ns16550Types: [UInt8] = [0x00, 0x01, 0x12]

  /// The register base of the table's UART when it is of the kind
  /// `compatible` names (`arm,pl011` or `ns16550a`) and in system memory,
  /// a 16550 with byte-wide registers one address apart; nil otherwise,
  /// and for a table that is not an SPCR.
  public static func uart(_ table: [UInt8], compatible: String) -> UInt64? {
    guard table.count >= length, table.starts(with: Array("SPCR".utf8)) else { return nil }
    let reader = LittleEndianReader(path: "SPCR", bytes: table)
    let type = table[interfaceTypeOffset]
    let addressSpace = table[baseAddressOffset]
    let bitWidth = table[baseAddressOffset + 1]
    guard addressSpace == 0, let base = try? reader.u64("base address", at: 44), base != 0
    else { return nil }
    switch compatible {
    case "arm,pl011":
      return pl011Types.contains(type) ? base : nil
    case "ns16550a":
      return ns16550Types.contains(type) && (bitWidth == 0 || bitWidth == 8) ? base : nil
    default:
      return nil
    }
  }
}
