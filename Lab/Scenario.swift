import Foundation

/// The firmware a guest boots under.
enum Firmware: String {
  case seabios, ovmf
}

/// The command line the previous stage loads and boots a kernel with.
enum LoaderDialect {
  /// `handoff load` and `handoff exec`.
  case handoff
  /// `kexec -l` and `kexec -e`, kexec-tools' spelling.
  case kexecTools
}

/// One stage of a chain: a kernel and how the stage before loads it.
struct Stage {
  let kernel: LabKernel
  var dialect: LoaderDialect
}

/// A named lab scenario: a chain of kernels in one VM run.
struct Scenario {
  let name: String
  let summary: String
  let firmware: Firmware
  let suites: [Suite]
  var memoryMiB: Int = 1024
  /// Stages loaded through the `kexec` spelling instead of `handoff`.
  var kexecDialectStages: [Int] = []

  static let all: [Scenario] = [
    Scenario(
      name: "bios-6.1-to-7.x", summary: "Debian 6.1 hands off to 7.x under SeaBIOS",
      firmware: .seabios, suites: [.bookworm, .sid]),
    Scenario(
      name: "bios-7.x-to-6.1", summary: "Debian 7.x hands off to 6.1 under SeaBIOS",
      firmware: .seabios, suites: [.sid, .bookworm]),
    Scenario(
      name: "efi-6.1-to-7.x",
      summary: "Debian 6.1 hands off to 7.x under OVMF; 7.x still sees EFI",
      firmware: .ovmf, suites: [.bookworm, .sid]),
    Scenario(
      name: "efi-7.x-to-6.1",
      summary: "Debian 7.x hands off to 6.1 under OVMF; 6.1 still sees EFI",
      firmware: .ovmf, suites: [.sid, .bookworm]),
    Scenario(
      name: "chain-6.1-6.12-7.x",
      summary: "Two hops, 6.1 to 6.12 to 7.x, in one VM run; the second through 'kexec -l'",
      firmware: .seabios, suites: [.bookworm, .trixie, .sid], kexecDialectStages: [2]),
  ]
}

/// A scenario made concrete: the kernels found, and a marker per stage that
/// only that stage's initramfs carries.
struct ChainPlan {
  let scenario: Scenario
  let stages: [Stage]
  let token: String

  init(_ scenario: Scenario, paths: LabPaths) throws {
    self.scenario = scenario
    var stages: [Stage] = []
    for (index, suite) in scenario.suites.enumerated() {
      let dialect: LoaderDialect =
        scenario.kexecDialectStages.contains(index) ? .kexecTools : .handoff
      stages.append(Stage(kernel: try LabKernel.find(suite, in: paths), dialect: dialect))
    }
    self.stages = stages
    self.token = String(UInt32.random(in: 0...UInt32.max), radix: 16)
  }

  func marker(stage: Int) -> String {
    "stage-\(stage)-\(token)"
  }

  /// The command line of stage `stage`; the first comes from QEMU, the rest
  /// from `handoff load --cmdline`.
  func commandLine(stage: Int) -> String {
    "console=ttyS0 panic=-1 handoff.scenario=\(scenario.name) handoff.stage=\(stage)"
  }
}
