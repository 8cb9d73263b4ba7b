// `handoff exec --quiesce`: kexec resets no device, so before the jump the
// chosen PCI devices lose their driver and are reset through sysfs, and the
// next kernel meets them as a reset leaves them.
import HandoffCore

/// Which PCI devices to stop before a handoff, and how each is stopped.
public struct DeviceQuiesce: Equatable, Sendable {
  /// The kinds of device to stop. Bridges are never stopped: the devices
  /// behind them would go with them.
  public var kinds: [PCIDevice.Kind]

  /// Network and display, the devices a driver most often leaves running.
  /// Storage is left out: unbinding the disk the root file system is on
  /// loses what the sync after it would have written.
  public static let defaultKinds: [PCIDevice.Kind] = [.network, .display]

  public init(kinds: [PCIDevice.Kind] = DeviceQuiesce.defaultKinds) {
    self.kinds = kinds
  }

  /// The kinds in a comma list such as `network,storage`; the default
  /// kinds for an empty list. Throws `usage` for a name it does not know.
  public static func kinds(parsing list: String) throws(HandoffError) -> [PCIDevice.Kind] {
    if list.isEmpty { return defaultKinds }
    var kinds: [PCIDevice.Kind] = []
    for name in list.split(separator: ",", omittingEmptySubsequences: false) {
      let kind: PCIDevice.Kind
      switch name {
      case "network": kind = .network
      case "display": kind = .display
      case "storage": kind = .storage
      case "other": kind = .other
      default:
        throw .usage(
          "Unknown device class '\(name)' for '--quiesce': "
            + "expected network, display, storage or other")
      }
      if !kinds.contains(kind) { kinds.append(kind) }
    }
    return kinds
  }

  /// The devices of the chosen kinds, in bus order. Throws `unreadable`
  /// when /sys/bus/pci/devices cannot be listed.
  public func devices<System: SystemCalls>(on system: System) throws(HandoffError)
    -> [PCIDevice]
  {
    let addresses = try system.listDirectory("/sys/bus/pci/devices")
    let ordered = addresses.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    return ordered.map { PCIDevice.read($0, from: system) }.filter { kinds.contains($0.kind) }
  }

  /// Unbinds `device`'s driver, then resets it when the kernel can. A
  /// device whose driver stays bound is not reset under it.
  public func stop<System: SystemCalls>(_ device: PCIDevice, on system: System)
    -> DeviceQuiesceOutcome
  {
    let directory = "/sys/bus/pci/devices/\(device.address)/"
    var outcome = DeviceQuiesceOutcome(device: device)

    // the driver lets go of it: unbind takes the device's address
    if device.driver != nil {
      do throws(HandoffError) {
        try system.writeFile(directory + "driver/unbind", Array(device.address.utf8))
        outcome.unbound = true
      } catch {
        outcome.failure = Self.failure(of: error)
        return outcome
      }
    }

    // the kernel resets it with the first of its reset methods
    guard !device.resetMethods.isEmpty else { return outcome }
    do throws(HandoffError) {
      try system.writeFile(directory + "reset", Array("1".utf8))
      outcome.reset = true
    } catch {
      outcome.failure = Self.failure(of: error)
    }
    return outcome
  }

  private static func failure(of error: HandoffError) -> SystemCallFailure {
    switch error {
    case .systemCall(let failure), .unreadable(_, let failure): return failure
    default: return SystemCallFailure(call: error.description, errno: Errno.EIO)
    }
  }
}

/// What stopping one device did, as `handoff exec --quiesce` reports it.
public struct DeviceQuiesceOutcome: Equatable, Sendable {
  public var device: PCIDevice
  /// Its driver was unbound.
  public var unbound = false
  /// It was reset.
  public var reset = false
  /// The write it refused: to its driver's `unbind` when `unbound` is
  /// false and it has a driver, else to its `reset`.
  public var failure: SystemCallFailure?

  public init(device: PCIDevice) {
    self.device = device
  }

  /// The device as the report names it: `0000:00:02.0 network 8086:10d3`.
  public var deviceName: String {
    "\(device.address) \(device.kind.rawValue) \(device.identifier)"
  }

  /// One line: `0000:00:02.0 network 8086:10d3: driver e1000e unbound, reset (flr)`.
  public var description: String {
    var text = deviceName + ": "
    if let driver = device.driver {
      guard unbound else {
        return text + "driver \(driver) not unbound: \(refusal), not reset"
      }
      text += "driver \(driver) unbound"
    } else {
      text += "no driver"
    }
    guard let method = device.resetMethods.first else { return text + ", no reset method" }
    if reset { return text + ", reset (\(method))" }
    return text + ", not reset (\(method)): \(refusal)"
  }

  private var refusal: String { failure?.description ?? "refused" }
}
