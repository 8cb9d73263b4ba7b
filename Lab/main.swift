import Foundation

// handoff-lab: boots Debian's kernels in QEMU and hands off between them with
// the static handoff binary, judging each scenario from the serial console.

let usage = """
  USAGE: handoff-lab list
         handoff-lab run [<scenario> ...] [--echo]
         handoff-lab demo [--echo]
         handoff-lab bench [--arch x86_64|aarch64] [--rounds N] [--variant NAME ...] [--echo]

  run boots every scenario, or the ones named; --echo shows the guests' consoles.
  bench times Handoff against Debian's kexec-tools on x86_64 or arm64 guests,
  N rounds (5 unless told), every variant or the ones named (no scrub on arm64):
  \(BenchmarkVariant.allCases.map(\.rawValue).joined(separator: ", ")).
  Kernels and busybox come from 'make setup'; the guest binary from 'make static'.
  """

var arguments = Array(CommandLine.arguments.dropFirst())
let echo = arguments.contains("--echo")
arguments.removeAll { $0 == "--echo" }
let paths = LabPaths.fromEnvironment()
let lab = Lab(paths: paths, echo: echo)

switch arguments.first {
case "list":
  // names in a column as wide as the longest, and a space
  let width = (Scenario.all.map(\.name.count).max() ?? 0) + 1
  for scenario in Scenario.all {
    print(scenario.name.padding(toLength: width, withPad: " ", startingAt: 0) + scenario.summary)
  }
case "run":
  let names = Array(arguments.dropFirst())
  let unknown = names.filter { name in !Scenario.all.contains { $0.name == name } }
  if !unknown.isEmpty {
    FileHandle.standardError.write(
      Data("unknown scenario: \(unknown.joined(separator: ", "))\n".utf8))
    exit(64)
  }
  let chosen = names.isEmpty ? Scenario.all : Scenario.all.filter { names.contains($0.name) }
  exit(lab.runAll(chosen) ? 0 : 1)
case "demo":
  exit(lab.demo() ? 0 : 1)
case "bench":
  guard let options = BenchmarkOptions(Array(arguments.dropFirst())) else {
    let names = BenchmarkVariant.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(
      Data(
        ("bench takes --arch x86_64 or aarch64, --rounds N, N at least 1, and --variant NAME, "
          + "one of \(names) (handoff-scrub on x86_64 only)\n").utf8))
    exit(64)
  }
  exit(Benchmark(paths: paths, echo: echo, options: options).run() ? 0 : 1)
default:
  print(usage)
  exit(arguments.isEmpty ? 0 : 64)
}
