import Foundation

/// A line the guest wrote to its serial console, with the host's time.
struct ConsoleLine {
  /// Seconds since QEMU was started.
  let time: Double
  let text: String
}

/// Starts QEMU under TCG with the guest's serial console on a pipe, keeps
/// every line with the time it arrived, and stops the guest when it powers
/// off, when `done` says so, or when the time is up.
struct QemuRunner {
  let paths: LabPaths
  /// Echo console lines to standard error as they arrive.
  var echo = false

  /// QEMU's command line for `plan`, booting its first kernel with
  /// `initrd`, with `disks` as the machine's drives.
  func arguments(for plan: ChainPlan, initrd: URL, disks: [GuestDisk] = []) throws -> [String] {
    let first = plan.stages[0]
    var arguments = plan.scenario.architecture.machineArguments(plan.scenario)
    arguments += [
      // several vCPUs share one TCG thread: with a thread each, 7.x oopsed
      // now and then early in boot on an int3 that live code patching left
      // in sched_clock_cpu, which looks like a race between TCG's threads
      "-accel", plan.scenario.cpus > 1 ? "tcg,thread=single" : "tcg",
      "-m", "\(plan.scenario.memoryMiB)", "-smp", "\(plan.scenario.cpus)",
      "-nodefaults", "-display", "none", "-serial", "stdio",
      "-monitor", monitorSocket(for: plan).map { "unix:\($0.path),server=on,wait=off" } ?? "none",
      "-no-reboot",
      "-kernel", first.kernel.image.path, "-initrd", initrd.path,
      "-append", plan.commandLine(stage: 0),
    ]
    if plan.scenario.machine == .devices {
      arguments += [
        "-device", "intel-iommu,intremap=on",
        "-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0",
        "-netdev", "user,id=net1,restrict=on", "-device", "e1000e,netdev=net1",
        "-device", "bochs-display",
      ]
    }
    if plan.scenario.machine == .rootPortNetwork {
      arguments += [
        "-device", "intel-iommu,intremap=on",
        "-device", "pcie-root-port,id=port1,chassis=1,slot=1",
        "-netdev", "user,id=net0,restrict=on", "-device", "virtio-net-pci,netdev=net0,bus=port1",
      ]
    }
    if plan.scenario.machine == .deviceChain {
      // a root port each, so a reset reaches each device alone
      let ports = (1...6).map { "port\($0)" }
      arguments += ["-device", "intel-iommu,intremap=on"]
      for (index, port) in ports.enumerated() {
        arguments += [
          "-device", "pcie-root-port,id=\(port),chassis=\(index + 1),slot=\(index + 1)",
        ]
      }
      arguments += [
        "-netdev", "user,id=net0,restrict=on",
        "-device", "virtio-net-pci,netdev=net0,bus=\(ports[0])",
        "-netdev", "user,id=net1,restrict=on", "-device", "e1000e,netdev=net1,bus=\(ports[1])",
        "-device", "bochs-display,bus=\(ports[2])", "-device", "qemu-xhci,bus=\(ports[3])",
      ]
      for (index, disk) in disks.enumerated() {
        arguments += disk.qemuArguments(index: index, bus: ports[4 + index])
      }
    }
    if plan.scenario.machine == .virtioDisk {
      for (index, disk) in disks.enumerated() {
        arguments += disk.qemuArguments(index: index, bus: "pcie.0")
      }
    }
    if plan.scenario.firmware.isEFI {
      let secureBoot = plan.scenario.firmware == .ovmfSecureBoot
      var code = "/usr/share/OVMF/OVMF_CODE_4M" + (secureBoot ? ".secboot.fd" : ".fd")
      var template =
        secureBoot ? paths.enrolledVariables.path : "/usr/share/OVMF/OVMF_VARS_4M.fd"
      if plan.scenario.firmware == .aavmf {
        code = "/usr/share/AAVMF/AAVMF_CODE.fd"
        template = "/usr/share/AAVMF/AAVMF_VARS.fd"
      }
      for file in [code, template] where !FileManager.default.fileExists(atPath: file) {
        throw LabError.missing("the firmware's \(file); run 'make setup'")
      }
      if secureBoot {
        arguments += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
      }
      let variables = paths.work.appendingPathComponent("\(plan.scenario.name)-vars.fd")
      try? FileManager.default.removeItem(at: variables)
      try FileManager.default.copyItem(atPath: template, toPath: variables.path)
      arguments += [
        "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=\(code)",
        "-drive", "if=pflash,format=raw,unit=1,file=\(variables.path)",
      ]
    }
    return arguments
  }

  /// The human monitor's unix socket, for scenarios that read guest RAM.
  func monitorSocket(for plan: ChainPlan) -> URL? {
    guard plan.scenario.residue != nil else { return nil }
    return paths.work.appendingPathComponent("\(plan.scenario.name).monitor")
  }

  /// Runs the guest and returns its console, and whether it timed out.
  /// `finished` ends the run early, a second after it first holds for a
  /// line; `whenFinished`, if given, runs right then instead, with the guest
  /// still there, and the run ends when it returns.
  func run(
    _ arguments: [String], architecture: GuestArchitecture = .x86_64, timeout: Double,
    finished: @escaping (String) -> Bool = { _ in false },
    whenFinished: (() -> Void)? = nil
  ) throws -> (lines: [ConsoleLine], timedOut: Bool) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: architecture.qemu)
    guard FileManager.default.isExecutableFile(atPath: architecture.qemu) else {
      throw LabError.missing("\(architecture.qemu); run 'make setup'")
    }
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice

    let collector = LineCollector(echo: echo, finished: finished)
    let start = Date()
    try process.run()
    let reader = Thread {
      let handle = pipe.fileHandleForReading
      while true {
        let data = handle.availableData
        if data.isEmpty { break }
        collector.append(data, at: Date().timeIntervalSince(start))
      }
      collector.finish(at: Date().timeIntervalSince(start))
    }
    reader.start()

    var timedOut = false
    while process.isRunning {
      if let whenFinished, collector.finishedAt != nil {
        whenFinished()
        process.terminate()
        break
      }
      if let finishedAt = collector.finishedAt, Date().timeIntervalSince(start) > finishedAt + 1 {
        process.terminate()
        break
      }
      if Date().timeIntervalSince(start) > timeout {
        timedOut = true
        process.terminate()
        break
      }
      Thread.sleep(forTimeInterval: 0.05)
    }
    process.waitUntilExit()
    collector.waitUntilFinished()
    return (collector.lines, timedOut)
  }
}

/// Splits the bytes QEMU writes into lines, under a lock, since a reader
/// thread fills it while the main thread waits.
final class LineCollector: @unchecked Sendable {
  private let lock = NSCondition()
  private var pending = Data()
  private var collected: [ConsoleLine] = []
  private var finished = false
  private let echo: Bool
  private let isFinishLine: (String) -> Bool
  private var finishedTime: Double?

  init(echo: Bool, finished: @escaping (String) -> Bool) {
    self.echo = echo
    self.isFinishLine = finished
  }

  /// When a line first met the `finished` condition.
  var finishedAt: Double? {
    lock.lock()
    defer { lock.unlock() }
    return finishedTime
  }

  var lines: [ConsoleLine] {
    lock.lock()
    defer { lock.unlock() }
    return collected
  }

  func append(_ data: Data, at time: Double) {
    lock.lock()
    defer { lock.unlock() }
    pending.append(data)
    while let newline = pending.firstIndex(of: 0x0a) {
      let line = pending[pending.startIndex..<newline].filter { $0 != 0x0d }
      pending.removeSubrange(pending.startIndex...newline)
      keep(String(decoding: line, as: UTF8.self), at: time)
    }
  }

  func finish(at time: Double) {
    lock.lock()
    if !pending.isEmpty {
      keep(String(decoding: pending.filter { $0 != 0x0d }, as: UTF8.self), at: time)
      pending.removeAll()
    }
    finished = true
    lock.broadcast()
    lock.unlock()
  }

  func waitUntilFinished() {
    lock.lock()
    while !finished { lock.wait() }
    lock.unlock()
  }

  private func keep(_ text: String, at time: Double) {
    collected.append(ConsoleLine(time: time, text: text))
    if finishedTime == nil, isFinishLine(text) { finishedTime = time }
    if echo {
      FileHandle.standardError.write(
        Data((String(format: "%7.2f | ", time) + text + "\n").utf8))
    }
  }
}
