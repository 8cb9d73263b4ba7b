// The devices the next kernel inherits: kexec calls each driver's shutdown
// hook and resets no device, so one its driver leaves running keeps its DMA
// and interrupts going into the next kernel.
import HandoffCore

extension Preflight {
  func checkDevices(into report: inout PreflightReport) {
    let section = "devices"

    // the IOMMU: a unit under /sys/class/iommu, or groups the kernel made
    let units = system.names(in: "/sys/class/iommu") ?? []
    let groups = system.names(in: "/sys/kernel/iommu_groups") ?? []
    if units.isEmpty && groups.isEmpty {
      report.add(section, "iommu", .ok, "off")
    } else {
      report.add(
        section, "iommu", .ok,
        "on" + (units.isEmpty ? "" : ": " + joinedPhrases(sortedNames(units)))
          + ", \(groups.count) groups")
    }

    let addresses: [String]
    do throws(HandoffError) {
      addresses = try system.listDirectory("/sys/bus/pci/devices")
    } catch {
      report.add(section, "pci", .warn, "unknown: \(error.description)")
      return
    }
    if addresses.isEmpty {
      report.add(section, "pci", .ok, "no PCI devices")
    }
    for address in sortedNames(addresses) {
      let device = PCIDevice.read(address, from: system)
      let (status, detail) = judge(device)
      report.add(section, address, status, detail)
    }
  }

  /// What a device is and does, and why the next kernel may find it busy.
  func judge(_ device: PCIDevice) -> (PreflightStatus, String) {
    var facts = ["\(device.kind.rawValue) \(device.identifier)"]
    facts.append(device.driver.map { "driver \($0)" } ?? "no driver")
    if let kind = device.messageInterruptKind {
      let count = device.messageInterrupts
      facts.append("\(kind) (\(count) \(count == 1 ? "vector" : "vectors"))")
    }
    facts.append(
      device.resetMethods.isEmpty
        ? "no reset method" : "reset " + joined(device.resetMethods, separator: " "))

    var risks: [String] = []
    if let driver = device.driver, device.kind == .network || device.kind == .display {
      risks.append("\(driver) may leave it running into the next kernel")
    }
    if device.resetMethods.isEmpty, device.kind != .bridge {
      risks.append(
        device.driver == nil
          ? "nothing can reset it, so the next kernel gets it as the firmware left it"
          : "nothing can reset it if its driver does not stop it")
    }
    let detail = joined(facts, separator: ", ")
    if risks.isEmpty { return (.ok, detail) }
    return (.warn, detail + ": " + joined(risks, separator: "; "))
  }

  /// Names in byte order, which for PCI addresses is bus order.
  private func sortedNames(_ names: [String]) -> [String] {
    names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  private func joined(_ parts: [String], separator: String) -> String {
    var result = ""
    for (index, part) in parts.enumerated() {
      if index > 0 { result += separator }
      result += part
    }
    return result
  }
}
