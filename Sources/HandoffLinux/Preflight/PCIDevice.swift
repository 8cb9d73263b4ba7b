// A PCI device as /sys/bus/pci/devices/ADDRESS describes it: what a handoff
// needs to know to tell whether the next kernel will find it quiet.
import HandoffCore

/// One PCI function and the state a handoff leaves it in.
public struct PCIDevice: Equatable, Sendable {
  /// What the class code's base class says the device is.
  public enum Kind: String, Equatable, Sendable {
    case storage, network, display, bridge, other
  }

  /// The address, such as `0000:00:02.0`.
  public var address: String
  /// The 24-bit class code: base class, subclass, programming interface.
  public var classCode: UInt32?
  public var vendor: UInt16?
  public var device: UInt16?
  /// The bound driver's name, from DRIVER= in its uevent; nil for none.
  public var driver: String?
  /// How many interrupt vectors it uses through MSI or MSI-X.
  public var messageInterrupts: Int
  /// `MSI` or `MSI-X`, when `messageInterrupts` is more than zero.
  public var messageInterruptKind: String?
  /// The reset methods the kernel can use on it, best first: flr, pm, bus...
  public var resetMethods: [String]

  public init(
    address: String, classCode: UInt32? = nil, vendor: UInt16? = nil, device: UInt16? = nil,
    driver: String? = nil, messageInterrupts: Int = 0, messageInterruptKind: String? = nil,
    resetMethods: [String] = []
  ) {
    self.address = address
    self.classCode = classCode
    self.vendor = vendor
    self.device = device
    self.driver = driver
    self.messageInterrupts = messageInterrupts
    self.messageInterruptKind = messageInterruptKind
    self.resetMethods = resetMethods
  }

  /// Storage (0x01), network (0x02), display (0x03), bridge (0x06) or other.
  public var kind: Kind {
    switch classCode.map({ $0 >> 16 }) {
    case 0x01: return .storage
    case 0x02: return .network
    case 0x03: return .display
    case 0x06: return .bridge
    default: return .other
    }
  }

  /// `vendor:device` in hex, as lspci prints it, such as `8086:10d3`.
  public var identifier: String {
    guard let vendor, let device else { return "????:????" }
    return hexDigits(vendor, digits: 4) + ":" + hexDigits(device, digits: 4)
  }

  /// Reads the device at /sys/bus/pci/devices/`address`.
  @inline(never)
  public static func read<System: SystemCalls>(_ address: String, from system: System)
    -> PCIDevice
  {
    let directory = "/sys/bus/pci/devices/\(address)/"
    var found = PCIDevice(address: address)
    found.classCode = system.text(directory + "class").flatMap(hexNumber).map {
      UInt32(truncatingIfNeeded: $0)
    }
    found.vendor = system.text(directory + "vendor").flatMap(hexNumber).map {
      UInt16(truncatingIfNeeded: $0)
    }
    found.device = system.text(directory + "device").flatMap(hexNumber).map {
      UInt16(truncatingIfNeeded: $0)
    }

    // the driver symlink names the driver; uevent says the same without readlink
    if let uevent = system.text(directory + "uevent") {
      for line in uevent.split(separator: "\n") where line.hasPrefix("DRIVER=") {
        found.driver = String(line.dropFirst("DRIVER=".count))
      }
    }

    // one file per vector, each saying msi or msix
    if let vectors = system.names(in: directory + "msi_irqs"), let first = vectors.first {
      found.messageInterrupts = vectors.count
      let mode = system.text(directory + "msi_irqs/" + first)
      found.messageInterruptKind = mode == "msix" ? "MSI-X" : "MSI"
    }
    if let methods = system.text(directory + "reset_method") {
      found.resetMethods = methods.split(separator: " ").map { String($0) }
    }
    return found
  }

  private static func hexNumber(_ text: String) -> UInt64? {
    let digits = text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
    return UInt64(String(digits), radix: 16)
  }
}
