import Foundation

/// What one hop measured: from a stage's `handoff load` to the next kernel.
struct HopTiming {
  /// Seconds from the load's start to its success, on the host's clock.
  let loadSeconds: Double
  /// Seconds from `handoff exec` to the next kernel's first console line.
  let execToNextKernel: Double
}

/// The judgement of one scenario run, read off the serial console.
struct Verdict {
  var failures: [String] = []
  var hops: [HopTiming] = []
  /// The line that shows the last kernel running, and its command line.
  var evidence: [String] = []
  /// `LAB: version=` of each stage, in order.
  var versions: [ConsoleLine] = []
  var commandLines: [String] = []

  var passed: Bool { failures.isEmpty }

  /// Judges `lines` against `plan`: every stage must report its own marker,
  /// run its own kernel with the command line it was given, see EFI under
  /// OVMF, and hand off to the next.
  init(plan: ChainPlan, lines: [ConsoleLine], timedOut: Bool) {
    var cursor = 0

    func find(from start: Int, _ matches: (String) -> Bool) -> Int? {
      var index = start
      while index < lines.count {
        if matches(lines[index].text) { return index }
        index += 1
      }
      return nil
    }
    func value(_ key: String, from start: Int) -> (Int, String)? {
      guard let index = find(from: start, { $0.hasPrefix("LAB: \(key)=") }) else { return nil }
      return (index, String(lines[index].text.dropFirst("LAB: \(key)=".count)))
    }

    for (index, stage) in plan.stages.enumerated() {
      let name = "stage \(index) (\(stage.kernel.release))"
      guard let (markerLine, marker) = value("stage", from: cursor),
        marker == plan.marker(stage: index)
      else {
        failures.append("\(name) never reported its marker \(plan.marker(stage: index))")
        break
      }
      cursor = markerLine
      if let (line, version) = value("version", from: cursor) {
        versions.append(lines[line])
        if !version.contains(stage.kernel.release) {
          failures.append("\(name) runs '\(version)'")
        }
        cursor = line
      }
      if let (line, commandLine) = value("cmdline", from: cursor) {
        commandLines.append(commandLine)
        // the first stage's comes from QEMU, and OVMF's boot path adds initrd= to it
        let given = commandLine.trimmingCharacters(in: .whitespaces)
        let expected = plan.commandLine(stage: index)
        if index == 0 ? !given.hasPrefix(expected) : given != expected {
          failures.append("\(name) has command line '\(commandLine)'")
        }
        cursor = line
      }
      if plan.scenario.firmware == .ovmf {
        if value("efi", from: cursor)?.1 != "yes" {
          failures.append("\(name) does not see /sys/firmware/efi")
        }
        if let (_, count) = value("efivars", from: cursor), (Int(count) ?? 0) == 0 {
          failures.append("\(name) lists no EFI variables: runtime services are gone")
        }
      }

      if index + 1 == plan.stages.count {
        if find(from: cursor, { $0 == "LAB: end" }) == nil {
          failures.append("\(name) never finished")
        }
        break
      }

      // the hop to the next stage
      let loadStart = find(from: cursor, { $0 == "LAB: load-start" })
      let loaded = find(from: cursor, { $0 == "LAB: loaded" })
      let exec = find(from: cursor, { $0 == "LAB: exec" })
      let failed = find(from: cursor, { $0 == "LAB: handoff-failed" })
      guard let loadStart, let loaded, let exec, failed.map({ $0 > exec }) ?? true else {
        let errors = lines[cursor...].filter {
          $0.text.hasPrefix("Error:") || $0.text.hasPrefix("Hint:")
        }
        failures.append(
          "\(name) could not hand off: "
            + (errors.map(\.text).joined(separator: " / ").isEmpty
              ? "no 'LAB: exec' line" : errors.map(\.text).joined(separator: " / ")))
        break
      }
      let firstLine = find(
        from: exec + 1, { $0.contains("Linux version") && !$0.hasPrefix("LAB:") })
      if case .purgatoryRefuses(let segment) = plan.scenario.expectation {
        judgeRefusal(segment: segment, lines: lines[(exec + 1)...], nextKernel: firstLine)
        evidence += refusalEvidence
        return
      }
      guard let firstLine else {
        failures.append("the next kernel after \(name) printed nothing")
        break
      }
      if plan.scenario.initrdAbove4GiB {
        judgeInitrdAbove4GiB(lines[firstLine...], stage: index + 1)
      }
      hops.append(
        HopTiming(
          loadSeconds: lines[loaded].time - lines[loadStart].time,
          execToNextKernel: lines[firstLine].time - lines[exec].time))
      cursor = firstLine
    }

    if timedOut { failures.append("timed out") }
    if case .purgatoryRefuses = plan.scenario.expectation {
      failures.append("the purgatory was never reached")
    }
    if let last = versions.last { evidence.append(last.text) }
    if let last = commandLines.last { evidence.append("LAB: cmdline=" + last) }
  }

  private var refusalEvidence: [String] = []

  /// The purgatory must name the damaged segment, and no kernel may follow.
  private mutating func judgeRefusal(
    segment: Int, lines: ArraySlice<ConsoleLine>, nextKernel: Int?
  ) {
    let message = lines.first { $0.text.hasPrefix("handoff purgatory: segment \(segment) ") }
    if let message, message.text.contains("mismatch") {
      refusalEvidence.append(message.text)
    } else {
      failures.append("the purgatory did not report segment \(segment) as damaged")
    }
    if nextKernel != nil { failures.append("a kernel booted from damaged segments") }
  }

  /// The kernel's `RAMDISK: [mem 0x...-0x...]` line must start at or above 4 GiB.
  private mutating func judgeInitrdAbove4GiB(_ lines: ArraySlice<ConsoleLine>, stage: Int) {
    guard let line = lines.first(where: { $0.text.contains("RAMDISK: [mem 0x") }),
      let start = line.text.components(separatedBy: "[mem 0x").last?
        .components(separatedBy: "-").first,
      let address = UInt64(start, radix: 16)
    else {
      failures.append("stage \(stage) printed no RAMDISK line")
      return
    }
    if address < 0x1_0000_0000 {
      failures.append("stage \(stage)'s initrd is at 0x\(start), below 4 GiB")
    }
    evidence.append(line.text)
  }
}

extension Verdict {
  /// Judges what the host found in the last kernel's RAM of the marker the
  /// first stage wrote and freed, and keeps what the purgatory said about
  /// its scrub, with the time it took on the host's clock.
  mutating func judgeResidue(
    _ residue: Residue, census: Result<PatternCensus, Error>?, lines: [ConsoleLine]
  ) {
    guard lines.contains(where: { $0.text == "LAB: filled=\(256 << 20)" }) else {
      failures.append("the first stage did not fill 256 MiB with the marker")
      return
    }
    if let plan = lines.first(where: {
      $0.text.hasPrefix("debug: scrub: ") && $0.text.contains(" ranges")
    }) {
      evidence.append(plan.text)
    }
    let scrubbing = lines.first { $0.text.hasPrefix("handoff purgatory: scrubbing ") }
    let scrubbed = lines.first { $0.text.hasPrefix("handoff purgatory: scrubbed ") }
    if let scrubbing { evidence.append(scrubbing.text) }
    if let scrubbing, let scrubbed {
      evidence.append(
        scrubbed.text
          + String(format: " (%.2f s between the two lines, TCG)", scrubbed.time - scrubbing.time))
    }

    let found: PatternCensus
    switch census {
    case nil:
      failures.append("the host never read the last kernel's RAM")
      return
    case .failure(let error):
      failures.append("reading the guest's RAM failed: \(error)")
      return
    case .success(let census):
      found = census
    }
    evidence.append(
      "guest RAM after the handoff: \(found.patternPages) of \(found.pages) pages hold only the "
        + "marker (\(found.patternPages * 4 / 1024) MiB), \(found.markedPages) hold it somewhere")
    switch residue {
    case .survives(let atLeast):
      if found.patternPages < atLeast {
        failures.append(
          "only \(found.patternPages) pages of the marker survived the unscrubbed handoff, "
            + "expected at least \(atLeast)")
      }
    case .gone:
      if scrubbed == nil { failures.append("the purgatory never said it scrubbed") }
      if found.markedPages > 0 {
        failures.append("\(found.markedPages) pages still hold the marker after the scrub")
      }
    }
  }
}
