// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "Handoff",
  products: [
    .library(name: "HandoffCore", targets: ["HandoffCore"]),
    .library(name: "HandoffLinux", targets: ["HandoffLinux"]),
    // for the fuzz package in Fuzz/, which drives the command line in memory
    .library(name: "HandoffCLI", targets: ["HandoffCLI"]),
    .executable(name: "handoff", targets: ["handoff"]),
  ],
  targets: [
    .target(name: "CHandoffShims"),
    // zlib and zstd from Debian (zlib1g-dev, libzstd-dev), for compressed kernel images
    .target(
      name: "CHandoffCompression",
      linkerSettings: [.linkedLibrary("z"), .linkedLibrary("zstd")]),
    // libfdt from Debian (libfdt-dev) for the arm64 and riscv64 DTB edits
    .target(name: "CHandoffFDT", linkerSettings: [.linkedLibrary("fdt")]),
    .target(name: "HandoffCore", dependencies: ["CHandoffCompression", "CHandoffFDT"]),
    .target(name: "HandoffLinux", dependencies: ["HandoffCore", "CHandoffShims"]),
    .target(name: "HandoffCLI", dependencies: ["HandoffCore", "HandoffLinux", "CHandoffShims"]),
    .executableTarget(name: "handoff", dependencies: ["HandoffCLI", "CHandoffShims"]),
    .executableTarget(name: "handoff-lab", dependencies: ["HandoffCore"], path: "Lab"),
    .target(
      name: "HandoffTestSupport", dependencies: ["HandoffCore", "HandoffLinux", "CHandoffFDT"],
      path: "Tests/HandoffTestSupport"),
    .testTarget(name: "HandoffCoreTests", dependencies: ["HandoffCore", "HandoffTestSupport"]),
    .testTarget(name: "HandoffLinuxTests", dependencies: ["HandoffLinux", "HandoffTestSupport"]),
    .testTarget(name: "HandoffCLITests", dependencies: ["HandoffCLI", "HandoffTestSupport"]),
  ]
)
