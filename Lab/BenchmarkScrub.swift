import Foundation

// The scrub's throughput in the benchmark: the purgatory times its zeroing
// of free RAM in TSC cycles, and memset-rate zeroes as many bytes with a
// plain memset in the same guest's user space, timing it on the guest's
// CLOCK_MONOTONIC and measuring the TSC's rate over the same time.

/// What one `handoff load --scrub` run measured of the scrub and of memset.
struct ScrubSample {
  /// What the purgatory zeroed, as `handoff plan --scrub --json` said it
  /// would and the purgatory said it did.
  let bytes: Int
  /// The purgatory's zeroing, in TSC cycles, and the instruction it used.
  let cycles: Double
  let instruction: String
  /// From the purgatory's `scrubbing` line to its `scrubbed` line on the
  /// host's clock: the zeroing and one line written to the serial port, a
  /// check on the TSC's figure.
  let hostSeconds: Double
  /// memset-rate: as many bytes zeroed in passes over one buffer, whose
  /// pages it touched before timing.
  let memsetSeconds: Double
  /// TSC cycles per second of the guest's clock, over memset-rate's passes.
  let tscHertz: Double

  /// The purgatory's zeroing in seconds of the guest's clock.
  var seconds: Double { cycles / tscHertz }

  static let gibibyte = Double(1 << 30)

  var scrubRate: Double { Double(bytes) / Self.gibibyte / seconds }
  var memsetRate: Double { Double(bytes) / Self.gibibyte / memsetSeconds }

  /// Reads the guest's and the purgatory's lines; throws a sentence saying
  /// what is missing or does not agree.
  init(lines: [ConsoleLine]) throws(BenchmarkError) {
    func line(_ prefix: String) throws(BenchmarkError) -> ConsoleLine {
      guard let found = lines.first(where: { $0.text.hasPrefix(prefix) }) else {
        throw .run("no '\(prefix)' line")
      }
      return found
    }

    // what the plan said, and what memset-rate measured
    let plan = BenchmarkSample.fields(try line("LAB: scrub-plan ").text)
    let memsetLine = try line("LAB: memset ").text
    let memset = BenchmarkSample.fields(memsetLine)
    guard let planned = plan["bytes"].flatMap({ Int($0) }),
      let memsetBytes = memset["bytes"].flatMap({ Int($0) }),
      let nanoseconds = memset["ns"].flatMap({ Double($0) }),
      let memsetCycles = memset["tsc_cycles"].flatMap({ Double($0) }),
      nanoseconds > 0, memsetCycles > 0
    else {
      throw .run("unreadable scrub plan or memset report: '\(memsetLine)'")
    }

    // "handoff purgatory: scrubbed N bytes with rep stosq in C TSC cycles"
    let scrubbing = try line("handoff purgatory: scrubbing ")
    let scrubbed = try line("handoff purgatory: scrubbed ")
    let words = scrubbed.text.split(separator: " ").map(String.init)
    guard words.count == 12, let done = Int(words[3]), let cycles = Double(words[9]) else {
      throw .run("unreadable '\(scrubbed.text)'")
    }
    guard done == planned, memsetBytes == planned else {
      throw .run(
        "the plan named \(planned) bytes, the purgatory zeroed \(done), memset \(memsetBytes)")
    }

    bytes = done
    self.cycles = cycles
    instruction = words[6] + " " + words[7]
    hostSeconds = scrubbed.time - scrubbing.time
    memsetSeconds = nanoseconds / 1e9
    tscHertz = memsetCycles / memsetSeconds
  }
}

/// The report's lines on the scrub: the medians of the `--scrub` runs.
struct ScrubReport {
  let samples: [ScrubSample]
  let memoryMiB: Int

  func print() {
    guard let first = samples.first else { return }
    func figure(_ value: (ScrubSample) -> Double, _ format: String) -> String {
      median(samples.map(value)).map { String(format: format, $0) } ?? "-"
    }
    let zeroed = String(format: "%.2f GiB", Double(first.bytes) / ScrubSample.gibibyte)
    let runs = "\(samples.count) run\(samples.count == 1 ? "" : "s")"

    Swift.print("")
    Swift.print(
      pad("scrub in a \(memoryMiB) MiB guest, median of \(runs)", 48) + right("zeroed", 10)
        + right("time", 9) + right("rate", 13))
    Swift.print(
      pad("  the purgatory (\(first.instruction), timed by the TSC)", 48) + right(zeroed, 10)
        + right(figure(\.seconds, "%.2f s"), 9) + right(figure(\.scrubRate, "%.2f GiB/s"), 13))
    Swift.print(
      pad("  memset in user space (musl, static)", 48) + right(zeroed, 10)
        + right(figure(\.memsetSeconds, "%.2f s"), 9)
        + right(figure(\.memsetRate, "%.2f GiB/s"), 13))
    Swift.print(
      pad("  scrub / memset, the median of each run's ratio", 48)
        + right(figure({ $0.scrubRate / $0.memsetRate }, "%.3fx"), 32))
    for line in [
      "The purgatory reads the TSC before and after it zeroes the ranges `handoff plan",
      "--scrub` lists, and prints the cycles. memset-rate memsets as many bytes in passes",
      "over one buffer of at most 256 MiB, which it wrote once before timing, so no page",
      "fault counts, and times the passes on CLOCK_MONOTONIC and on the TSC; the TSC's",
      "rate there (\(figure({ $0.tscHertz / 1e6 }, "%.1f")) MHz) turns the purgatory's cycles "
        + "into seconds.",
      "On the host's clock the purgatory's lines before and after the zeroing came "
        + figure(\.hostSeconds, "%.2f s"),
      "apart, one console line included. This guest's RAM is resident on the host from",
      "the start (-mem-prealloc), so neither figure includes the host's page faults.",
    ] {
      Swift.print("  " + line)
    }
  }
}
