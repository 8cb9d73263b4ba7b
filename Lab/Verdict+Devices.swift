// The device chain's judgement: after every handoff each device has its
// driver again and DMA remapping is on, and before every handoff each
// device was unbound and reset.
import Foundation

extension Verdict {
  /// Every stage must show each of the machine's devices with its driver
  /// bound (`LAB: device=` lines) and IOMMU groups (`LAB: iommu-groups=`),
  /// and every stage that hands off must print a `quiesce:` line for each
  /// device saying its driver was unbound and the device reset.
  mutating func judgeDevices(_ plan: ChainPlan, lines: [ConsoleLine]) {
    let devices = plan.scenario.machine.boundDevices
    guard !devices.isEmpty else { return }
    let parts = Self.stageParts(lines)
    for (index, stage) in plan.stages.enumerated() where index < parts.count {
      let part = parts[index].map(\.text)
      let name = "stage \(index) (\(stage.kernel.release))"

      // each device's drivers, as the guest listed them
      var unbound: [String] = []
      for device in devices {
        let line = part.first { $0.hasPrefix("LAB: device=") && $0.contains(" id=\(device.id) ") }
        let drivers = line?.components(separatedBy: " drivers=").last?.split(separator: ",") ?? []
        if !drivers.contains(Substring(device.driver)) {
          unbound.append(
            "\(device.name) (\(line == nil ? "absent" : drivers.joined(separator: ",")))")
        }
      }
      if !unbound.isEmpty {
        failures.append("\(name) has no driver bound to \(unbound.joined(separator: ", "))")
      }

      // DMA remapping puts every device in an IOMMU group
      let groups =
        part.first { $0.hasPrefix("LAB: iommu-groups=") }
        .flatMap { Int($0.dropFirst("LAB: iommu-groups=".count)) } ?? 0
      if groups == 0 { failures.append("\(name) has no IOMMU groups: DMA remapping is off") }

      var summary =
        "\(name): \(devices.map(\.driver).joined(separator: " ")) bound, "
        + "\(groups) IOMMU groups"
      if index + 1 < plan.stages.count {
        // each device stopped before the jump, and how it was reset
        var methods: [String] = []
        for device in devices {
          let line = part.first {
            $0.hasPrefix("quiesce: ") && $0.contains(" \(device.id): driver ")
              && $0.contains(" unbound, reset (")
          }
          guard let line, let method = line.components(separatedBy: "reset (").last else {
            failures.append(
              "\(name) printed no 'quiesce:' line saying \(device.name) was "
                + "unbound and reset")
            continue
          }
          methods.append("\(device.name) \(method.dropLast())")
        }
        summary += "; unbound and reset: " + methods.joined(separator: ", ")
      }
      evidence.append(summary)
    }
  }
}
