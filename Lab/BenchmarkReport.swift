import Foundation

// What `handoff-lab bench` prints: the set-up, the medians of each variant,
// the ratios beside the project's goals, and the loaders' sizes.

/// What every run of one benchmark shares.
struct BenchmarkSetup {
  let firstRelease: String
  let nextRelease: String
  let rounds: Int
  let variants: [BenchmarkVariant]
  let nextKernelBytes: Int
  let nextInitrdBytes: Int
  let initramfsBytes: Int
  let handoffBytes: Int
  let kexecTools: KexecToolsFiles
  let handoffPath: String
  /// The static builds for the other architectures, which the bench does
  /// not run: their paths, and their sizes when they were built.
  let otherHandoffs: [(path: String, bytes: Int?)]
  let architecture: GuestArchitecture

  func printHeader() {
    print(
      "Handoff bench: Debian \(firstRelease) loads and boots \(nextRelease), "
        + "\(rounds) round\(rounds == 1 ? "" : "s") of \(variants.count) "
        + "run\(variants.count == 1 ? "" : "s")")
    print(
      "  QEMU \(machine) under TCG, \(memory), 1 vCPU; one initramfs "
        + "(\(mebibytes(initramfsBytes))) carries both loaders")
    print(
      "  next kernel \(mebibytes(nextKernelBytes)), next initramfs \(mebibytes(nextInitrdBytes)),"
        + " the same for every run")
    print("  runs: " + variants.map(\.rawValue).joined(separator: ", "))
    fflush(nil)
  }

  /// The board and what boots the first kernel.
  var machine: String {
    architecture == .x86_64 ? "q35 with SeaBIOS" : "virt with a Cortex-A57 and no firmware"
  }

  /// The guests' RAM: the scrub's guest has more than the others.
  var memory: String {
    let scrub = BenchmarkVariant.handoffScrub
    let others = variants.first { $0 != scrub }.map { "\($0.memoryMiB) MiB" }
    let scrubbing = variants.contains(scrub) ? "\(scrub.memoryMiB) MiB for \(scrub.rawValue)" : nil
    return [others, scrubbing].compactMap { $0 }.joined(separator: ", ")
  }
}

/// A ratio of two variants' medians; with a `limit`, a goal the project
/// set, met when the ratio of all runs stays at or below it.
struct BenchmarkRatio {
  let text: String
  /// Over all runs, and over the runs that had the host to themselves.
  let value: Double?
  let quietValue: Double?
  var limit: Double? = nil

  /// The ratios, and the goal with pass or MISS when there is one.
  var row: String {
    func cell(_ value: Double?) -> String {
      right(value.map { String(format: "%.3fx", $0) } ?? "-", 8)
    }
    var row = pad(text, 59) + cell(value) + cell(quietValue)
    if let limit {
      let verdict = value.map { $0 <= limit ? "pass" : "MISS" } ?? "n/a"
      row += right(String(format: "<= %.1fx", limit), 10) + "   " + verdict
    }
    return row
  }
}

/// The medians of every variant, the ratios and the goals.
struct BenchmarkReport {
  let setup: BenchmarkSetup
  let samples: [BenchmarkSample]
  let failures: [String]

  func print() {
    // the medians
    Swift.print("")
    Swift.print(
      pad("median of each", 26) + pad("verify", 8) + right("load", 7) + right("user", 7)
        + right("sys", 6) + right("exec to next kernel", 22) + right("max RSS", 11)
        + right("runs", 7))
    for variant in setup.variants {
      let mine = samples.filter { $0.variant == variant }
      func cell(_ value: (BenchmarkSample) -> Double, _ format: String, _ width: Int) -> String {
        right(median(mine.map(value)).map { String(format: format, $0) } ?? "-", width)
      }
      Swift.print(
        pad(variant.label, 26) + pad(variant.verification, 8)
          + cell(\.loadSeconds, "%.2f s", 7) + cell(\.userSeconds, "%.2f", 7)
          + cell(\.systemSeconds, "%.2f", 6) + cell(\.execToNextKernel, "%.2f s", 22)
          + cell({ Double($0.maxRSSKiB) / 1024 }, "%.1f MiB", 11)
          + right("\(mine.count)/\(setup.rounds)", 7))
    }
    let floor = median(samples.map { Double($0.rssFloorKiB) / 1024 })
    for line in [
      "load: from 'LAB: load-start' to 'LAB: loaded'; exec to next kernel: from 'LAB: exec'",
      "to the next kernel's 'Linux version' line; both read off the serial console by the",
      "host's clock. user, sys and max RSS: busybox time -f '%U %S %M' around the load in",
      "the guest; max RSS is ru_maxrss from wait4 (busybox's %M divided by 4, which it",
      "wrongly multiplies by the page size in KiB): the loader's peak resident set, its",
      "binary and shared libraries included; busybox alone under busybox time reads "
        + (floor.map { String(format: "%.1f MiB", $0) } ?? "-") + ".",
    ] {
      Swift.print("  " + line)
    }

    let ratios = ratios
    let shared = samples.filter(\.host.isShared).count
    if shared > 0 {
      Swift.print(
        "  \(shared) of \(samples.count) runs shared the host's CPUs with other work (marked"
          + " above); their")
      Swift.print(
        "  times are longer than the loaders' own."
          + (ratios.isEmpty ? "" : " 'quiet' below leaves them out (2 runs or more each)."))
    }

    // the goals, then ratios shown for reference, when their variants ran
    if !ratios.isEmpty {
      Swift.print("")
      Swift.print(
        pad("ratio of medians", 59) + right("all", 8) + right("quiet", 8) + right("goal", 10)
          + "   result")
      for ratio in ratios { Swift.print(ratio.row) }
    }

    ScrubReport(
      samples: samples.compactMap(\.scrub), memoryMiB: BenchmarkVariant.handoffScrub.memoryMiB
    ).print()

    // the sizes
    let kexec = setup.kexecTools
    let kexecBytes = kexec.binary.contents.count
    let libraries = kexec.libraries.map { ($0.path as NSString).lastPathComponent }
    Swift.print("")
    Swift.print(
      "size  handoff " + right(kilobytes(setup.handoffBytes), 9)
        + "  \(setup.handoffPath), static (musl), needs no other file")
    for other in setup.otherHandoffs {
      Swift.print(
        "      handoff " + right(other.bytes.map(kilobytes) ?? "-", 9) + "  \(other.path), "
          + (other.bytes == nil ? "not built" : "static (musl)"))
    }
    Swift.print(
      "      kexec   " + right(kilobytes(kexecBytes), 9)
        + "  \(KexecToolsFiles.binaryPath), dynamic, and \(kilobytes(kexec.librariesSize)) in "
        + "\(libraries.count) libraries: \(libraries.joined(separator: " "))")
    Swift.print(
      "      kexec with its libraries " + kilobytes(kexecBytes + kexec.librariesSize)
        + String(
          format: ", %.1fx handoff",
          Double(kexecBytes + kexec.librariesSize) / Double(setup.handoffBytes)))

    if !failures.isEmpty {
      Swift.print("")
      Swift.print("\(failures.count) run\(failures.count == 1 ? "" : "s") failed:")
      for failure in failures { Swift.print("  \(failure)") }
    }
  }

  /// The project's goals first, then ratios with no goal; only those whose
  /// variants both ran.
  var ratios: [BenchmarkRatio] {
    let quiet = samples.filter { !$0.host.isShared }
    func make(
      _ text: String, _ value: (BenchmarkSample) -> Double, _ top: BenchmarkVariant,
      _ bottom: BenchmarkVariant, limit: Double? = nil
    ) -> BenchmarkRatio? {
      guard setup.variants.contains(top), setup.variants.contains(bottom) else { return nil }
      return BenchmarkRatio(
        text: text, value: ratio(value, top, bottom, in: samples),
        quietValue: ratio(value, top, bottom, in: quiet, least: 2), limit: limit)
    }
    return [
      make(
        "load, both verifying: handoff load / kexec -l", \.loadSeconds, .handoff,
        .kexecTools, limit: 0.5),
      make(
        "exec to next kernel, both verifying: handoff / kexec -l", \.execToNextKernel,
        .handoff, .kexecTools, limit: 0.6),
      make(
        "exec to next kernel: handoff (verifying) / kexec -l -i", \.execToNextKernel,
        .handoff, .kexecToolsNoChecks, limit: 1.2),
      make(
        "load, neither verifying: handoff --no-verify / kexec -l -i", \.loadSeconds,
        .handoffNoVerify, .kexecToolsNoChecks),
      make(
        "exec to next kernel, neither verifying: the same", \.execToNextKernel,
        .handoffNoVerify, .kexecToolsNoChecks),
      make(
        "max RSS of the load, both verifying: handoff / kexec -l",
        { Double($0.maxRSSKiB) }, .handoff, .kexecTools),
    ].compactMap { $0 }
  }

  /// The ratio of `top`'s median to `bottom`'s among `samples`; nil when
  /// either has fewer than `least` runs.
  private func ratio(
    _ value: (BenchmarkSample) -> Double, _ top: BenchmarkVariant, _ bottom: BenchmarkVariant,
    in samples: [BenchmarkSample], least: Int = 1
  ) -> Double? {
    let tops = samples.filter { $0.variant == top }.map(value)
    let bottoms = samples.filter { $0.variant == bottom }.map(value)
    guard tops.count >= least, bottoms.count >= least,
      let numerator = median(tops), let denominator = median(bottoms), denominator > 0
    else { return nil }
    return numerator / denominator
  }
}

/// The middle value, or the mean of the two middle values; nil for none.
func median(_ values: [Double]) -> Double? {
  guard !values.isEmpty else { return nil }
  let sorted = values.sorted()
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// `text` followed by spaces to `width` columns, or by one space when longer.
func pad(_ text: String, _ width: Int) -> String {
  text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
}

/// `text` after spaces, ending at column `width`.
func right(_ text: String, _ width: Int) -> String {
  String(repeating: " ", count: max(1, width - text.count)) + text
}

private func mebibytes(_ bytes: Int) -> String {
  String(format: "%.1f MiB", Double(bytes) / 1_048_576)
}

private func kilobytes(_ bytes: Int) -> String {
  String(format: "%.0f KiB", Double(bytes) / 1024)
}
