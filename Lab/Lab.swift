import Foundation

/// Runs scenarios and reports them.
struct Lab {
  let paths: LabPaths
  let echo: Bool

  /// Builds the guest, boots it and judges the console.
  func run(_ scenario: Scenario) throws -> (Verdict, ChainPlan, [ConsoleLine]) {
    let plan = try ChainPlan(scenario, paths: paths)
    let binary = paths.handoffBinary(scenario.architecture)
    guard let handoff = FileManager.default.contents(atPath: binary.path) else {
      throw LabError.missing("the static handoff binary (\(binary.path)); run 'make static'")
    }
    let busyboxPath = paths.busybox(scenario.architecture)
    guard let busybox = FileManager.default.contents(atPath: busyboxPath.path) else {
      throw LabError.missing("busybox (\(busyboxPath.path)); run 'make setup'")
    }
    try FileManager.default.createDirectory(at: paths.work, withIntermediateDirectories: true)

    let guest = GuestInitramfs(
      busybox: [UInt8](busybox), handoff: [UInt8](handoff), paths: paths)
    let initrd = paths.work.appendingPathComponent("\(scenario.name).cpio")
    try Data(try guest.build(plan, stage: 0)).write(to: initrd)

    let disks = try GuestDisk.make(for: plan, in: paths.work)
    defer { for disk in disks { try? FileManager.default.removeItem(at: disk.file) } }
    let runner = QemuRunner(paths: paths, echo: echo)
    let timeout = 60.0 + 90.0 * Double(plan.stages.count)

    // a halted purgatory never powers off: stop once it has spoken. A
    // residue scenario's last kernel waits for the host to read its RAM.
    var census: Result<PatternCensus, Error>? = nil
    let socket = runner.monitorSocket(for: plan)
    let readRAM = socket.map { socket in
      {
        census = Result {
          let files = try GuestMemory(socket: socket).save(
            scenario.architecture.ram(memoryMiB: scenario.memoryMiB), into: paths.work)
          defer { for file in files { try? FileManager.default.removeItem(at: file) } }
          return try GuestMemory.census(of: files, marker: Array(plan.residueMarker.utf8))
        }
      }
    }
    let (lines, timedOut) = try runner.run(
      try runner.arguments(for: plan, initrd: initrd, disks: disks),
      architecture: scenario.architecture,
      timeout: timeout,
      finished: {
        $0.hasPrefix("handoff purgatory: segment") || $0 == "LAB: holding for the host to read RAM"
      }, whenFinished: readRAM)
    let log = paths.work.appendingPathComponent("\(scenario.name).log")
    try lines.map { String(format: "%7.2f | ", $0.time) + $0.text }.joined(separator: "\n")
      .write(to: log, atomically: true, encoding: .utf8)
    var verdict = Verdict(plan: plan, lines: lines, timedOut: timedOut)
    verdict.judgeHop(plan, lines: lines)
    verdict.judgePreflight(plan, lines: lines)
    verdict.judgeQuiesce(plan, lines: lines)
    verdict.judgeDevices(plan, lines: lines)
    verdict.judgeDisks(plan, disks: disks, lines: lines)
    verdict.judgeCarriedData(plan, lines: lines)
    if let residue = scenario.residue {
      verdict.judgeResidue(residue, census: census, lines: lines)
    }
    return (verdict, plan, lines)
  }

  /// Runs every scenario in `scenarios`, printing one verdict each, and
  /// returns whether all passed.
  func runAll(_ scenarios: [Scenario]) -> Bool {
    var passed = 0
    var failed = 0
    for scenario in scenarios {
      let started = Date()
      do {
        let (verdict, plan, lines) = try run(scenario)
        let seconds = Date().timeIntervalSince(started)
        let kernels = plan.stages.map(\.kernel.release).joined(separator: " -> ")
        let firmware =
          scenario.architecture == .x86_64
          ? scenario.firmware.rawValue
          : "\(scenario.architecture.rawValue) virt, \(scenario.firmware.rawValue)"
        print(
          "\(verdict.passed ? "PASS" : "FAIL") \(scenario.name) (\(firmware), \(kernels)) "
            + String(format: "in %.1f s", seconds))
        for (index, hop) in verdict.hops.enumerated() {
          let stage = hop.execToNextStage.map { String(format: ", to its init %.2f s", $0) }
          print(
            String(
              format: "     hop %d: load %.2f s, exec to next kernel's first line %.2f s",
              index + 1, hop.loadSeconds, hop.execToNextKernel) + (stage ?? ""))
        }
        for line in verdict.evidence { print("     evidence: \(line)") }
        for failure in verdict.failures { print("     failure: \(failure)") }
        if verdict.passed {
          passed += 1
        } else {
          failed += 1
          if let report = KernelReport.first(in: lines.map(\.text)) {
            print("     the kernel's report:")
            for line in report { print("       | \(line)") }
          }
          print("     last console lines (whole log in \(paths.work.path)/\(scenario.name).log):")
          for line in lines.suffix(25) { print("       | \(line.text)") }
        }
      } catch {
        failed += 1
        print("FAIL \(scenario.name): \(error)")
      }
    }
    print("lab: \(passed) passed, \(failed) failed")
    return failed == 0
  }

  /// The main job: a 6.1 guest hands off to 7.x, told as a timeline.
  func demo() -> Bool {
    guard let scenario = Scenario.all.first(where: { $0.name == "bios-6.1-to-7.x" }) else {
      return false
    }
    print("Handoff demo: Debian 6.1 boots Debian 7.x with 'handoff', in QEMU (TCG, SeaBIOS, 1 GiB)")
    do {
      let (verdict, plan, lines) = try run(scenario)
      func at(_ predicate: (String) -> Bool) -> ConsoleLine? { lines.first { predicate($0.text) } }
      func row(_ time: Double?, _ text: String) {
        print((time.map { String(format: "%7.2f s  ", $0) } ?? "           ") + text)
      }
      row(0, "QEMU starts kernel A (\(plan.stages[0].kernel.release))")
      if let version = verdict.versions.first {
        row(version.time, "kernel A runs: " + version.text.dropFirst("LAB: version=".count))
      }
      if let hop = verdict.hops.first, let exec = at({ $0 == "LAB: exec" }) {
        row(
          exec.time - hop.loadSeconds, String(format: "handoff load took %.2f s", hop.loadSeconds))
        row(exec.time, "handoff exec")
        row(
          exec.time + hop.execToNextKernel,
          String(format: "kernel B's first console line, %.2f s after exec", hop.execToNextKernel))
      }
      if verdict.versions.count > 1 {
        let version = verdict.versions[1]
        row(version.time, "kernel B runs: " + version.text.dropFirst("LAB: version=".count))
        if verdict.commandLines.count > 1 {
          row(nil, "kernel B's cmdline: " + verdict.commandLines[1])
        }
      }
      print(
        verdict.passed
          ? "Handoff succeeded." : "Handoff FAILED: " + verdict.failures.joined(separator: "; "))
      return verdict.passed
    } catch {
      print("Handoff demo could not run: \(error)")
      return false
    }
  }
}
