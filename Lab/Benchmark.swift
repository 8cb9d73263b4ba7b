import Foundation

// handoff-lab bench: Debian's kexec-tools and Handoff load and boot the same
// next kernel and initramfs, in alternating QEMU runs, and the medians are
// compared against the project's goals.

/// One way of loading and booting the next kernel that the benchmark times.
/// Handoff and kexec-tools alternate in the cases' order, so a drift in the
/// host's speed reaches both; each round starts one case further along.
enum BenchmarkVariant: String, CaseIterable {
  case handoff
  case kexecTools = "kexec-tools"
  case handoffNoVerify = "handoff-no-verify"
  case kexecToolsNoChecks = "kexec-tools-no-checks"
  case handoffScrub = "handoff-scrub"

  /// The commands the guest runs, as the table names them.
  var label: String {
    switch self {
    case .handoff: return "handoff load"
    case .kexecTools: return "kexec -l"
    case .handoffNoVerify: return "handoff load --no-verify"
    case .kexecToolsNoChecks: return "kexec -l -i"
    case .handoffScrub: return "handoff load --scrub"
    }
  }

  /// What checks the segments before the jump.
  var verification: String {
    switch self {
    case .handoff, .handoffScrub: return "xxh64"
    case .kexecTools: return "SHA-256"
    case .handoffNoVerify, .kexecToolsNoChecks: return "none"
    }
  }

  /// The scrub's variant needs a purgatory that scrubs and a TSC to time
  /// it: x86_64's.
  func runs(on architecture: GuestArchitecture) -> Bool {
    self != .handoffScrub || architecture == .x86_64
  }

  var isHandoff: Bool { self == .handoff || self == .handoffNoVerify || self == .handoffScrub }

  /// The guest's RAM: the scrub's gets more, so that there is much to zero.
  var memoryMiB: Int { self == .handoffScrub ? 2048 : 1024 }

  /// How long a run may take: a scrub under TCG zeroes slowly, and its
  /// guest first zeroes as much again with memset.
  var timeoutSeconds: Double { self == .handoffScrub ? 400 : 150 }
}

/// What one run measured.
struct BenchmarkSample {
  let variant: BenchmarkVariant
  let round: Int
  /// From `LAB: load-start` to `LAB: loaded`, on the host's clock.
  let loadSeconds: Double
  /// The loader's own CPU time, from busybox `time` in the guest.
  let userSeconds: Double
  let systemSeconds: Double
  /// ru_maxrss of the loader: its peak resident set, in KiB.
  let maxRSSKiB: Int
  /// The same for busybox alone under busybox `time`: the least any
  /// report can show, since the loader's process starts in the memory of
  /// busybox `time` (vfork), whose peak counts too.
  let rssFloorKiB: Int
  /// From `LAB: exec` to the next kernel's `Linux version` line, on the host.
  let execToNextKernel: Double
  /// The scrub's and memset's figures, for `handoff load --scrub`.
  let scrub: ScrubSample?
  /// What else the host ran meanwhile.
  var host = HostShare()

  /// Reads one run's console; throws a sentence saying what is missing.
  init(
    variant: BenchmarkVariant, round: Int, lines: [ConsoleLine], nextRelease: String,
    timedOut: Bool
  ) throws(BenchmarkError) {
    self.variant = variant
    self.round = round

    func index(from start: Int = 0, _ matches: (String) -> Bool) -> Int? {
      lines[min(start, lines.count)...].firstIndex { matches($0.text) }
    }
    func required(_ what: String, from start: Int = 0, _ matches: (String) -> Bool)
      throws(BenchmarkError) -> Int
    {
      guard let found = index(from: start, matches) else {
        let errors = lines.filter { $0.text.hasPrefix("Error:") || $0.text.contains("failed") }
        let detail = errors.isEmpty ? "" : " (" + errors.map(\.text).joined(separator: " / ") + ")"
        throw .run("no \(what)\(timedOut ? ", timed out" : "")\(detail)")
      }
      return found
    }

    // the first kernel: which loader it ran, and how long the load took
    let named = try required("LAB: variant line") { $0.hasPrefix("LAB: variant=") }
    guard lines[named].text == "LAB: variant=\(variant.rawValue)" else {
      throw .run("the guest ran '\(lines[named].text)'")
    }
    let floor = try required("RSS floor line") { $0.hasPrefix("LAB: rss-floor-kb=") }
    let start = try required("'LAB: load-start'", from: floor) { $0 == "LAB: load-start" }
    let loaded = try required("'LAB: loaded'", from: start) { $0 == "LAB: loaded" }
    let rusage = try required("busybox time report", from: start) {
      $0.hasPrefix("LAB: rusage ")
    }
    if variant.isHandoff,
      let note = index(from: start, { $0.hasPrefix("Note:") && $0.contains("kexec_file_load") })
    {
      throw .run("handoff fell back to kexec_file_load: \(lines[note].text)")
    }
    let report = Self.fields(lines[rusage].text)
    guard let rss = report["max_rss_kb"].flatMap({ Int($0) }),
      let user = report["user"].flatMap({ Double($0) }),
      let system = report["sys"].flatMap({ Double($0) }),
      let floorKiB = Int(lines[floor].text.dropFirst("LAB: rss-floor-kb=".count))
    else {
      throw .run("unreadable report '\(lines[rusage].text)' or '\(lines[floor].text)'")
    }

    // the hop: from the exec command to the next kernel's first line
    let exec = try required("'LAB: exec'", from: loaded) { $0 == "LAB: exec" }
    if let halted = index(from: exec, { $0.hasPrefix("handoff purgatory: segment") }) {
      throw .run("the purgatory halted: \(lines[halted].text)")
    }
    let first = try required("next kernel's 'Linux version' line", from: exec + 1) {
      $0.contains("Linux version") && !$0.hasPrefix("LAB:")
    }
    let version = try required("'LAB: version=' from the next kernel", from: first) {
      $0.hasPrefix("LAB: version=")
    }
    guard lines[version].text.contains(nextRelease) else {
      throw .run("the next kernel is not \(nextRelease): \(lines[version].text)")
    }
    _ = try required("'LAB: end' from the next kernel", from: version) { $0 == "LAB: end" }

    loadSeconds = lines[loaded].time - lines[start].time
    userSeconds = user
    systemSeconds = system
    maxRSSKiB = rss / Self.busyboxMaxRSSFactor
    rssFloorKiB = floorKiB / Self.busyboxMaxRSSFactor
    execToNextKernel = lines[first].time - lines[exec].time
    scrub = variant == .handoffScrub ? try ScrubSample(lines: lines) : nil
  }

  /// busybox 1.35's `time -f %M` takes ru_maxrss for a count of pages and
  /// multiplies it by the page size in KiB, though Linux gives it in KiB
  /// already: on x86_64 it prints four times the peak. The lab divides it
  /// back (checked on the host against wait4 called directly).
  static let busyboxMaxRSSFactor = 4096 / 1024

  /// The `key=value` words of a report line.
  static func fields(_ line: String) -> [String: String] {
    var fields: [String: String] = [:]
    for word in line.split(separator: " ") {
      let parts = word.split(separator: "=", maxSplits: 1)
      if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
    }
    return fields
  }
}

/// Why a benchmark run gave no sample.
enum BenchmarkError: Error, CustomStringConvertible {
  case run(String)

  var description: String {
    switch self {
    case .run(let what): return what
    }
  }
}

/// What `handoff-lab bench` was asked to run.
struct BenchmarkOptions {
  var rounds = 5
  /// In the order of `BenchmarkVariant.allCases`; every one the guest's
  /// architecture runs unless named.
  var variants = BenchmarkVariant.allCases
  /// The guests' CPU: x86_64 on q35, or aarch64 on the virt board.
  var architecture = GuestArchitecture.x86_64

  /// Reads `--rounds N`, `--arch x86_64|aarch64` and any number of
  /// `--variant NAME`, each also as `--option=value`; nil for anything
  /// else, a count below 1, an unknown variant or architecture, or a
  /// variant the architecture does not run.
  init?(_ arguments: [String]) {
    var named: [BenchmarkVariant] = []
    var index = 0
    while index < arguments.count {
      var parts = arguments[index].split(separator: "=", maxSplits: 1).map(String.init)
      if parts.count == 1, index + 1 < arguments.count {
        index += 1
        parts.append(arguments[index])
      }
      guard parts.count == 2 else { return nil }
      switch parts[0] {
      case "--rounds":
        guard let value = Int(parts[1]), value > 0 else { return nil }
        rounds = value
      case "--variant":
        guard let variant = BenchmarkVariant(rawValue: parts[1]) else { return nil }
        named.append(variant)
      case "--arch":
        guard let architecture = GuestArchitecture(rawValue: parts[1]),
          architecture != .riscv64
        else { return nil }
        self.architecture = architecture
      default:
        return nil
      }
      index += 1
    }
    let runs = BenchmarkVariant.allCases.filter { $0.runs(on: architecture) }
    if named.contains(where: { !$0.runs(on: architecture) }) { return nil }
    variants = named.isEmpty ? runs : runs.filter(named.contains)
  }
}

/// Boots the benchmark's guests round after round and reports the medians.
struct Benchmark {
  let paths: LabPaths
  let echo: Bool
  let options: BenchmarkOptions

  var architecture: GuestArchitecture { options.architecture }

  /// What both loaders give the next kernel.
  var nextCommandLine: String {
    "console=\(architecture.console) panic=-1 handoff.bench=next"
  }

  /// The two generations each architecture's bench boots: the oldest
  /// Debian kernel the lab has for it, and the newest.
  var suites: (first: Suite, next: Suite) {
    architecture == .aarch64 ? (.bookworm, .trixie) : (.bookworm, .sid)
  }

  /// Runs every round and prints the table; false when a run failed or the
  /// guests could not be built.
  func run() -> Bool {
    do {
      return try measure()
    } catch {
      print("bench: could not run: \(error)")
      return false
    }
  }

  private func measure() throws -> Bool {
    let first = try LabKernel.find(suites.first, in: paths, architecture: architecture)
    let next = try LabKernel.find(suites.next, in: paths, architecture: architecture)
    let handoffPath = paths.handoffBinary(architecture).path
    guard let handoff = FileManager.default.contents(atPath: handoffPath) else {
      throw LabError.missing("the static handoff binary (\(handoffPath)); run 'make static'")
    }
    let busyboxPath = paths.busybox(architecture).path
    guard let busybox = FileManager.default.contents(atPath: busyboxPath) else {
      throw LabError.missing("busybox (\(busyboxPath)); run 'make setup'")
    }
    let kexecTools = try KexecToolsFiles.forGuest(architecture, paths: paths)
    let memsetRate =
      options.variants.contains(.handoffScrub) ? try MemsetRateProgram.build(in: paths.work) : nil
    let others = [GuestArchitecture.x86_64, .aarch64, .riscv64].filter { $0 != architecture }
      .map { other in
        let path = paths.handoffBinary(other).path
        let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        return (path: path, bytes: size)
      }

    // one initramfs for every run
    let guest = BenchmarkGuest(
      busybox: [UInt8](busybox), handoff: [UInt8](handoff), kexecTools: kexecTools,
      memsetRate: memsetRate)
    let nextKernel = [UInt8](try Data(contentsOf: next.image))
    let nextInitrd = guest.nextInitramfs()
    let initramfs = guest.firstInitramfs(
      nextKernel: nextKernel, nextInitrd: nextInitrd, nextCommandLine: nextCommandLine)
    try FileManager.default.createDirectory(at: paths.work, withIntermediateDirectories: true)
    let initrd = paths.work.appendingPathComponent("bench.cpio")
    try Data(initramfs).write(to: initrd)

    let rounds = options.rounds
    let setup = BenchmarkSetup(
      firstRelease: first.release, nextRelease: next.release, rounds: rounds,
      variants: options.variants,
      nextKernelBytes: nextKernel.count, nextInitrdBytes: nextInitrd.count,
      initramfsBytes: initramfs.count, handoffBytes: handoff.count, kexecTools: kexecTools,
      handoffPath: handoffPath, otherHandoffs: others, architecture: architecture)
    setup.printHeader()

    var samples: [BenchmarkSample] = []
    var failures: [String] = []
    for round in 1...rounds {
      // each round starts one further along, so no variant always runs first
      let order = options.variants
      let start = (round - 1) % order.count
      for variant in order[start...] + order[..<start] {
        let tag = "round \(round)/\(rounds) \(variant.rawValue)"
        do {
          let watch = HostWatch()
          var sample = try runOnce(variant, round: round, first: first, next: next, initrd: initrd)
          sample.host = watch.stop()
          samples.append(sample)
          print(
            tag.padding(toLength: 34, withPad: " ", startingAt: 0)
              + String(
                format: "load %.2f s (user %.2f, sys %.2f), exec to next kernel %.2f s, "
                  + "max RSS %.1f MiB",
                sample.loadSeconds, sample.userSeconds, sample.systemSeconds,
                sample.execToNextKernel, Double(sample.maxRSSKiB) / 1024)
              + (sample.host.isShared ? " [\(sample.host)]" : ""))
        } catch {
          failures.append("\(tag): \(error)")
          print("\(tag) FAILED: \(error)")
        }
        fflush(nil)
      }
    }

    BenchmarkReport(setup: setup, samples: samples, failures: failures).print()
    return failures.isEmpty
  }

  /// Boots one guest for `variant` and reads its console.
  private func runOnce(
    _ variant: BenchmarkVariant, round: Int, first: LabKernel, next: LabKernel, initrd: URL
  ) throws -> BenchmarkSample {
    let runner = QemuRunner(paths: paths, echo: echo)
    let machine =
      architecture == .x86_64 ? ["-M", "q35"] : ["-M", "virt", "-cpu", "cortex-a57"]
    var arguments =
      machine + [
        "-accel", "tcg", "-m", "\(variant.memoryMiB)", "-smp", "1",
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-no-reboot",
        "-kernel", first.image.path, "-initrd", initrd.path,
        "-append",
        "console=\(architecture.console) panic=-1 handoff.bench=\(variant.rawValue)",
      ]
    // the scrub's guest has all its RAM resident on the host from the start,
    // as a real machine has: otherwise the scrub, the first to write most of
    // it, would also time the host's page faults, which memset-rate, whose
    // buffer is written once before timing, does not
    if variant == .handoffScrub { arguments.append("-mem-prealloc") }
    // the next kernel powers off by itself; a halted purgatory never does
    let (lines, timedOut) = try runner.run(
      arguments, architecture: architecture, timeout: variant.timeoutSeconds,
      finished: { $0 == "LAB: end" || $0.hasPrefix("handoff purgatory: segment") })
    let log = paths.work.appendingPathComponent(
      "bench-\(architecture.rawValue)-\(variant.rawValue)-\(round).log")
    try lines.map { String(format: "%7.2f | ", $0.time) + $0.text }.joined(separator: "\n")
      .write(to: log, atomically: true, encoding: .utf8)
    do {
      return try BenchmarkSample(
        variant: variant, round: round, lines: lines, nextRelease: next.release,
        timedOut: timedOut)
    } catch {
      throw BenchmarkError.run("\(error); console in \(log.path)")
    }
  }
}

/// What else ran on the host during one run. Under TCG the guest's clock is
/// the host's, so a guest that has to share the CPUs shows longer times.
struct HostShare: CustomStringConvertible {
  /// QEMU processes of others, seen when the run started or ended.
  var otherQemus = 0
  /// The share of the run's wall time in which some task waited for a CPU
  /// (/proc/pressure/cpu), when the kernel reports it.
  var cpuPressure: Double?

  /// Tasks waited for a CPU a quarter of the time or more; without pressure
  /// figures, another QEMU ran. Another QEMU alone may leave a CPU free.
  var isShared: Bool {
    if let cpuPressure { return cpuPressure >= 0.25 }
    return otherQemus > 0
  }

  var description: String {
    var parts: [String] = []
    if otherQemus > 0 { parts.append("\(otherQemus) other QEMU") }
    if let cpuPressure { parts.append(String(format: "CPU pressure %.0f%%", cpuPressure * 100)) }
    return "host shared: " + parts.joined(separator: ", ")
  }
}

/// Watches the host from before a guest starts until after it ended.
struct HostWatch {
  private let started = Date()
  private let pressureAtStart = HostWatch.cpuPressureTotal()
  private let qemusAtStart = HostWatch.qemuCount()

  /// Call once the guest's QEMU has exited, so every QEMU left is another's.
  func stop() -> HostShare {
    var share = HostShare(otherQemus: max(qemusAtStart, Self.qemuCount()))
    let seconds = Date().timeIntervalSince(started)
    if let before = pressureAtStart, let after = Self.cpuPressureTotal(), seconds > 0 {
      share.cpuPressure = Double(after &- before) / 1_000_000 / seconds
    }
    return share
  }

  /// Processes whose name starts with qemu-system.
  static func qemuCount() -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { entry in
      guard entry.allSatisfy(\.isNumber),
        let name = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8)
      else { return false }
      return name.hasPrefix("qemu-system")
    }.count
  }

  /// Microseconds some task has waited for a CPU since boot: the `total=` of
  /// the `some` line of /proc/pressure/cpu.
  static func cpuPressureTotal() -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8),
      let some = text.split(separator: "\n").first(where: { $0.hasPrefix("some ") }),
      let total = some.split(separator: " ").first(where: { $0.hasPrefix("total=") })
    else { return nil }
    return UInt64(total.dropFirst("total=".count))
  }
}
