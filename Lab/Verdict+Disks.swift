// The disks' judgement: what the host wrote reads back the same in every
// kernel, and what one kernel writes just before its handoff reaches the next.
import Foundation

extension Verdict {
  /// Every stage must read each disk back whole with the SHA-256 of what
  /// the host wrote (`LAB: disk=` lines).
  mutating func judgeDisks(_ plan: ChainPlan, disks: [GuestDisk], lines: [ConsoleLine]) {
    guard !disks.isEmpty, !plan.scenario.carriesData else { return }
    let parts = Self.stageParts(lines)
    var intact = 0
    for (index, stage) in plan.stages.enumerated() where index < parts.count {
      let name = "stage \(index) (\(stage.kernel.release))"
      var damaged = false
      for disk in disks {
        let prefix = "LAB: disk=\(disk.bus.device) sha256="
        let read = parts[index].first { $0.text.hasPrefix(prefix) }?.text.dropFirst(prefix.count)
        if read.map(String.init) != disk.sha256 {
          failures.append(
            "\(name) read \(disk.bus.device) as \(read.map(String.init) ?? "nothing"), "
              + "the host wrote \(disk.sha256)")
          damaged = true
        }
      }
      if !damaged { intact += 1 }
    }
    for disk in disks {
      evidence.append(
        "\(disk.bus.device): \(disk.bytes >> 20) MiB, sha256 \(disk.sha256), read back whole "
          + "by \(intact) of \(plan.stages.count) stages")
    }
  }

  /// Each stage that hands off writes fresh bytes to the disk just before
  /// `handoff exec` (`LAB: wrote=`), leaving them to its sync (`debug:
  /// sync`); the next stage must read the same back (`LAB: carried=`).
  mutating func judgeCarriedData(_ plan: ChainPlan, lines: [ConsoleLine]) {
    guard plan.scenario.carriesData else { return }
    let parts = Self.stageParts(lines)
    func value(_ key: String, in stage: Int) -> String? {
      guard stage < parts.count else { return nil }
      let prefix = "LAB: \(key)="
      return parts[stage].first { $0.text.hasPrefix(prefix) }.map {
        String($0.text.dropFirst(prefix.count))
      }
    }
    for index in 1..<plan.stages.count where index < parts.count {
      let name = "stage \(index) (\(plan.stages[index].kernel.release))"
      guard let wrote = value("wrote", in: index - 1) else {
        failures.append("stage \(index - 1) wrote nothing before its handoff")
        continue
      }
      let synced = parts[index - 1].drop { !$0.text.hasPrefix("LAB: wrote=") }
        .contains { $0.text == "debug: sync" }
      if !synced { failures.append("stage \(index - 1)'s handoff exec did not say it synced") }
      let carried = value("carried", in: index)
      if carried != wrote {
        failures.append(
          "\(name) read \(carried ?? "nothing") where the stage before wrote \(wrote)")
      } else {
        evidence.append("\(name) read back the 1 MiB the stage before wrote: sha256 \(wrote)")
      }
    }
  }
}
