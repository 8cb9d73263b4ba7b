import Foundation

/// What one hop measured: from a stage's `handoff load` to the next kernel.
struct HopTiming {
  /// Seconds from the load's start to its success, on the host's clock.
  let loadSeconds: Double
  /// Seconds from `handoff exec` to the next kernel's first console line.
  let execToNextKernel: Double
  /// Seconds from `handoff exec` to the next stage's init reporting its
  /// marker: the whole boot, drivers included; nil when it never did.
  let execToNextStage: Double?
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
        var given = commandLine.trimmingCharacters(in: .whitespaces)
        // a crash kernel's command line starts with where its ELF core header is
        if plan.scenario.hop == .crash, index > 0, given.hasPrefix("elfcorehdr=") {
          let word = given.prefix { $0 != " " }
          evidence.append("crash kernel's command line begins \(word)")
          given = given.dropFirst(word.count).trimmingCharacters(in: .whitespaces)
        }
        let expected = plan.commandLine(stage: index)
        if index == 0 ? !given.hasPrefix(expected) : given != expected {
          failures.append("\(name) has command line '\(commandLine)'")
        }
        cursor = line
      }
      if plan.scenario.firmware.isEFI {
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
      let nextStage = find(from: firstLine, { $0.hasPrefix("LAB: stage=") })
      hops.append(
        HopTiming(
          loadSeconds: lines[loaded].time - lines[loadStart].time,
          execToNextKernel: lines[firstLine].time - lines[exec].time,
          execToNextStage: nextStage.map { lines[$0].time - lines[exec].time }))
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

extension Verdict {
  /// A load a hop script expects the kernel to refuse, as the console told it.
  struct Attempt {
    let name: String
    let refused: Bool
    /// The `Note:`, `Error:` and `Hint:` lines Handoff printed for it.
    let messages: [String]

    func message(_ prefix: String) -> String? { messages.first { $0.hasPrefix(prefix) } }
  }

  /// The attempts in `lines`, each from `LAB: attempt=NAME` to its outcome.
  static func attempts(in lines: ArraySlice<ConsoleLine>) -> [Attempt] {
    let outcomes = ["LAB: attempt-refused": true, "LAB: attempt-loaded": false]
    var attempts: [Attempt] = []
    var current: (name: String, messages: [String])?
    for line in lines.map(\.text) {
      if line.hasPrefix("LAB: attempt=") {
        current = (String(line.dropFirst("LAB: attempt=".count)), [])
      } else if let refused = outcomes[line], let open = current {
        attempts.append(Attempt(name: open.name, refused: refused, messages: open.messages))
        current = nil
      } else if ["Note:", "Error:", "Hint:"].contains(where: { line.hasPrefix($0) }) {
        current?.messages.append(line)
      }
    }
    return attempts
  }

  /// What each `handoff status` in `lines` said in its row named `row`.
  static func statusRows(_ row: String, in lines: ArraySlice<ConsoleLine>) -> [String] {
    lines.compactMap { line in
      guard line.text.hasPrefix(row + ":") else { return nil }
      return line.text.dropFirst(row.count + 1).trimmingCharacters(in: .whitespaces)
    }
  }

  /// Judges what the first stage's hop script showed before `handoff exec`.
  mutating func judgeHop(_ plan: ChainPlan, lines: [ConsoleLine]) {
    let exec = lines.firstIndex { $0.text == "LAB: exec" } ?? lines.count
    let hop = lines[..<exec]
    switch plan.scenario.hop {
    case .standard: return
    case .signatureChecks: judgeSignatureChecks(hop, lines: lines)
    case .loadDisabled: judgeLoadDisabled(hop)
    case .crash:
      judgeCrash(
        hop, lines: lines[exec...], panicked: plan.stages[0].kernel.release,
        syscall: plan.scenario.syscall == "kexec_file_load" ? "kexec_file_load" : "kexec_load")
    }
  }

  /// A crash kernel: loaded as one through `syscall` (and not as the
  /// kernel exec boots), booted by the panic, and finding the old kernel's
  /// memory in /proc/vmcore: its vmcoreinfo naming `release`, the kernel
  /// that panicked, and its RAM holding that kernel's command line.
  private mutating func judgeCrash(
    _ hop: ArraySlice<ConsoleLine>, lines after: ArraySlice<ConsoleLine>, panicked release: String,
    syscall: String
  ) {
    // --debug prints the call it makes
    let calls = hop.filter {
      $0.text.hasPrefix("debug: kexec_load(") || $0.text.hasPrefix("debug: kexec_file_load(")
    }
    if calls.count == 1, calls[0].text.hasPrefix("debug: \(syscall)(") {
      evidence.append("loaded with \(calls[0].text.dropFirst("debug: ".count))")
    } else {
      failures.append(
        "the crash kernel was to be loaded through \(syscall); the calls: \(calls.map(\.text))")
    }
    let states = hop.filter {
      $0.text.hasPrefix("LAB: crash-loaded=") || $0.text.hasPrefix("LAB: loaded=")
    }
    .map(\.text)
    if states == ["LAB: crash-loaded=1", "LAB: loaded=0"] {
      evidence.append("after 'handoff load --crash': kexec_crash_loaded 1, kexec_loaded 0")
    } else {
      failures.append("after 'handoff load --crash' the first kernel said \(states)")
    }
    if let panic = after.first(where: { $0.text.contains("Kernel panic") }) {
      evidence.append(panic.text)
    }
    guard let vmcore = after.first(where: { $0.text.hasPrefix("LAB: vmcore=") }),
      let size = UInt64(vmcore.text.dropFirst("LAB: vmcore=".count)), size > 0
    else {
      failures.append("the crash kernel found no /proc/vmcore")
      return
    }
    evidence.append("the crash kernel's /proc/vmcore: \(size >> 20) MiB")
    // the core header points at the right notes and the right RAM
    if after.contains(where: { $0.text == "LAB: vmcore-release=\(release)" }) {
      evidence.append("its vmcoreinfo note names the panicked kernel, \(release)")
    } else {
      failures.append("the crash kernel's vmcoreinfo does not name \(release)")
    }
    if after.contains(where: { $0.text == "LAB: vmcore-stage0-cmdline=1" }) {
      evidence.append("its RAM holds the panicked kernel's command line")
    } else {
      failures.append("the panicked kernel's command line is nowhere in /proc/vmcore")
    }
  }

  /// Secure Boot: the first kernel locks itself down and trusts the lab's
  /// key; unsigned and Debian-signed images are refused with the reason in
  /// words, and a refusal leaves what was loaded before in place.
  private mutating func judgeSignatureChecks(
    _ hop: ArraySlice<ConsoleLine>, lines: [ConsoleLine]
  ) {
    func first(containing text: String) -> ConsoleLine? {
      hop.first { $0.text.contains(text) }
    }

    // the first kernel booted under Secure Boot and locked itself down
    if let line = first(containing: "Kernel is locked down from EFI Secure Boot") {
      evidence.append(line.text)
    } else {
      failures.append("the first kernel did not say it is locked down from EFI Secure Boot")
    }
    let modes = hop.filter { $0.text.hasPrefix("LAB: lockdown=") }.map(\.text)
    guard let lockdown = modes.first,
      let mode = ["integrity", "confidentiality"].first(where: { lockdown.contains("[\($0)]") })
    else {
      failures.append("the first kernel's lockdown is '\(modes.first ?? "unknown")'")
      return
    }
    evidence.append(lockdown)
    if let line = first(containing: "Loaded X.509 cert 'Handoff lab Secure Boot") {
      evidence.append(line.text)
    } else {
      failures.append("the first kernel did not load the lab's db certificate")
    }

    // every refusal says why in words, with the call and its errno above
    let attempts = Self.attempts(in: hop)
    let names = ["unsigned-first", "unsigned-after", "debian-after"]
    if attempts.map(\.name) != names {
      failures.append("the attempts were \(attempts.map(\.name)), expected \(names)")
    }
    let words = [
      "The kernel is locked down (\(mode))", "signed with a key it trusts",
      "secondary trusted keyring", "platform keyring",
      "the certificates in the firmware's Secure Boot db",
    ]
    for attempt in attempts {
      guard attempt.refused else {
        failures.append("the \(attempt.name) kernel was loaded")
        continue
      }
      guard let error = attempt.message("Error: kexec_file_load("),
        let hint = attempt.message("Hint: ")
      else {
        failures.append("the \(attempt.name) refusal printed no kexec_file_load error and hint")
        continue
      }
      let missing = words.filter { !hint.contains($0) }
      if !missing.isEmpty {
        failures.append("the \(attempt.name) hint does not say \(missing): \(hint)")
      }
      evidence.append("\(attempt.name): \(error)")
      if attempt.name == names[0] {
        evidence.append("\(attempt.name): \(hint)")
        if let note = attempt.message("Note: ") { evidence.append("\(attempt.name): \(note)") }
      }
    }

    // nothing loaded after the first refusal; the signed kernel after the last
    let loaded = Self.statusRows("kernel loaded", in: hop)
    if loaded != ["no", "yes"] {
      failures.append("handoff status said 'kernel loaded' \(loaded), expected [no, yes]")
    } else {
      evidence.append(
        "handoff status: kernel loaded: no after the first refusal, yes after the last")
    }

    // the signed kernel itself: auto mode fell back and said so
    if let start = hop.firstIndex(where: { $0.text == "LAB: load-start" }),
      let note = hop[start...].first(where: {
        $0.text.hasPrefix("Note: kexec_load is refused under lockdown (\(mode))")
      })
    {
      evidence.append("signed: " + note.text)
    } else {
      failures.append("loading the signed kernel printed no Note about kexec_file_load")
    }

    // the next kernel learns of Secure Boot from boot_params and locks down too
    let next = lines[hop.endIndex...].first { $0.text.hasPrefix("LAB: lockdown=") }
    if let next, next.text.contains("[\(mode)]") {
      evidence.append("next kernel: " + next.text)
    } else {
      failures.append("the next kernel's lockdown is '\(next?.text ?? "unknown")'")
    }
  }

  /// kexec_load_disabled: each system call is refused naming it, auto mode
  /// does not fall back to a call that is refused as well, and the kernel
  /// loaded before stays loaded.
  private mutating func judgeLoadDisabled(_ hop: ArraySlice<ConsoleLine>) {
    guard let set = hop.first(where: { $0.text == "LAB: kexec_load_disabled=1" }) else {
      failures.append("the first stage could not set kexec_load_disabled")
      return
    }
    evidence.append(set.text)

    let attempts = Self.attempts(in: hop)
    let expected = [
      ("kexec_load", "Error: kexec_load("), ("kexec_file_load", "Error: kexec_file_load("),
      ("auto", "Error: kexec_load("),
    ]
    if attempts.map(\.name) != expected.map(\.0) {
      failures.append("the attempts were \(attempts.map(\.name)), expected \(expected.map(\.0))")
    }
    for (attempt, (_, call)) in zip(attempts, expected) {
      guard attempt.refused else {
        failures.append("the load through \(attempt.name) succeeded with kexec_load_disabled set")
        continue
      }
      guard let error = attempt.message(call), let hint = attempt.message("Hint: "),
        hint.contains("kexec_load_disabled is 1")
      else {
        failures.append(
          "the \(attempt.name) refusal did not print '\(call)' and a hint naming "
            + "kexec_load_disabled: \(attempt.messages)")
        continue
      }
      if let note = attempt.message("Note: ") {
        failures.append("auto mode fell back to a call kexec_load_disabled refuses too: \(note)")
      }
      evidence.append("\(attempt.name): \(error)")
      if attempt.name == "kexec_load" { evidence.append("\(attempt.name): \(hint)") }
    }

    let loaded = Self.statusRows("kernel loaded", in: hop)
    let disabled = Self.statusRows("kexec_load disabled", in: hop)
    if loaded != ["yes"] || disabled != ["yes"] {
      failures.append(
        "handoff status said 'kernel loaded' \(loaded) and 'kexec_load disabled' \(disabled)")
    } else {
      evidence.append("handoff status: kernel loaded: yes, kexec_load disabled: yes")
    }
  }
}

extension Verdict {
  /// On q35 with devices, the `handoff check` report the first stage prints
  /// before it loads (`LAB: check:` lines) must list virtio-net with its
  /// driver, e1000e with none (the cloud kernel has no e1000e driver), and
  /// the IOMMU as on.
  mutating func judgePreflight(_ plan: ChainPlan, lines: [ConsoleLine]) {
    guard plan.scenario.machine == .devices else { return }
    let prefix = "LAB: check: "
    // each line as its words: status, item, then the detail
    let report = lines.filter { $0.text.hasPrefix(prefix) }.map {
      $0.text.dropFirst(prefix.count).split(separator: " ").map(String.init)
    }
    guard !report.isEmpty else {
      failures.append("the first stage printed no 'handoff check' report")
      return
    }
    let wanted: [(String, ([String]) -> Bool)] = [
      ("the IOMMU as on", { $0.count > 2 && $0[1] == "iommu" && $0[2].hasPrefix("on") }),
      (
        "virtio-net with the virtio-pci driver",
        { $0.joined(separator: " ").contains(" network 1af4:") && $0.contains("virtio-pci,") }
      ),
      (
        "e1000e (8086:10d3) with no driver",
        { $0.joined(separator: " ").contains(" network 8086:10d3, no driver") }
      ),
    ]
    for (what, matches) in wanted {
      if let words = report.first(where: matches) {
        evidence.append("handoff check: " + words.joined(separator: " "))
      } else {
        failures.append("handoff check did not list \(what)")
      }
    }
  }
}

extension Verdict {
  /// What each stage printed, from its `LAB: stage=` line to the next
  /// stage's: its report, its hop, and the next kernel's boot.
  static func stageParts(_ lines: [ConsoleLine]) -> [ArraySlice<ConsoleLine>] {
    let starts = lines.indices.filter { lines[$0].text.hasPrefix("LAB: stage=") }
    return starts.indices.map { index in
      lines[starts[index]..<(index + 1 < starts.count ? starts[index + 1] : lines.count)]
    }
  }
}

extension Verdict {
  /// With `handoff exec --quiesce`: each stage that hands off must print a
  /// `quiesce:` line for virtio-net (1af4) saying its driver was unbound
  /// and the device reset, and every stage, the first and each one after
  /// a quiesce, must show a network interface bound to virtio_net again
  /// (`LAB: net=` lines). A machine with devices of its own to check is
  /// judged by `judgeDevices` instead.
  mutating func judgeQuiesce(_ plan: ChainPlan, lines: [ConsoleLine]) {
    guard plan.scenario.execOptions.hasPrefix("--quiesce"),
      plan.scenario.machine.boundDevices.isEmpty
    else { return }
    let parts = Self.stageParts(lines)
    for (index, stage) in plan.stages.enumerated() where index < parts.count {
      let part = parts[index].map(\.text)
      let name = "stage \(index) (\(stage.kernel.release))"
      for line in part where line.hasPrefix("LAB: pci=") { evidence.append(line) }

      if let net = part.first(where: {
        $0.hasPrefix("LAB: net=") && $0.contains(" driver=virtio_net ")
      }) {
        evidence.append(net)
      } else {
        failures.append("\(name) shows no network interface bound to virtio_net")
      }
      guard index + 1 < plan.stages.count else { continue }
      if let line = part.first(where: {
        $0.hasPrefix("quiesce: ") && $0.contains(" network 1af4:")
          && $0.contains("driver virtio-pci unbound, reset (")
      }) {
        evidence.append(line)
      } else {
        failures.append(
          "\(name) printed no 'quiesce:' line saying virtio-net was unbound and reset")
      }
    }
  }
}
