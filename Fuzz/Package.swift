// swift-tools-version:5.4
// Handoff's fuzz targets, a package of their own so the root package's
// `swift build` and `swift test` never build them: each has no `main` of its
// own and links only with `-sanitize=fuzzer`, which brings libFuzzer's.
// Build and run them with `make fuzz-smoke` or `make fuzz` (Fuzz/run.sh).
//
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's
// entry point to `<module>_main` and links `main` to it, which would take
// the place of libFuzzer's `main`.
import PackageDescription

/// One executable per fuzzer: the target name, and its folder in Sources.
let fuzzers = [
  ("fuzz-bzimage", "BzImageFuzzer"),
  ("fuzz-image", "ImageFuzzer"),
  ("fuzz-devicetree", "DeviceTreeFuzzer"),
  ("fuzz-memmap", "MemoryMapFuzzer"),
  ("fuzz-machine", "MachineFuzzer"),
  ("fuzz-cmdline", "CommandLineFuzzer"),
  ("fuzz-cli", "CLIFuzzer"),
  ("fuzz-planner", "PlannerFuzzer"),
  ("fuzz-preflight", "PreflightFuzzer"),
]

let handoff: [Target.Dependency] = [
  .product(name: "HandoffCore", package: "Handoff"),
  .product(name: "HandoffLinux", package: "Handoff"),
  .product(name: "HandoffCLI", package: "Handoff"),
]

let package = Package(
  name: "HandoffFuzz",
  dependencies: [.package(name: "Handoff", path: "..")],
  targets: [
    .target(name: "FuzzSupport", dependencies: handoff)
  ]
    + fuzzers.map { name, folder in
      .executableTarget(
        name: name, dependencies: ["FuzzSupport"] + handoff, path: "Sources/\(folder)",
        // the entry is LLVMFuzzerTestOneInput; libFuzzer owns main
        swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
