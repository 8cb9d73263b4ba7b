import Foundation

/// The CPU a scenario's guests run on: which QEMU, which machine and
/// console, and which of the cache's kernels, busybox and handoff binaries.
enum GuestArchitecture: String {
  case x86_64, aarch64, riscv64

  /// Debian's name for it, as the cache's folders use it.
  var debianName: String {
    switch self {
    case .x86_64: return "amd64"
    case .aarch64: return "arm64"
    case .riscv64: return "riscv64"
    }
  }

  var qemu: String { "/usr/bin/qemu-system-\(rawValue)" }

  /// The serial console's device as the kernel names it.
  /// The file name of Debian's kernel in the cache: riscv64 ships vmlinux.
  var kernelFile: String { self == .riscv64 ? "vmlinux" : "vmlinuz" }

  var console: String {
    switch self {
    case .x86_64, .riscv64: return "ttyS0"
    case .aarch64: return "ttyAMA0"
    }
  }

  /// The machine, before any scenario adds to it: q35; arm64's virt board
  /// with a Cortex-A57, whose kernel QEMU boots directly with a DTB of its
  /// own making; riscv64's virt board, where QEMU's OpenSBI starts the
  /// kernel in S-mode with such a DTB.
  func machineArguments(_ scenario: Scenario) -> [String] {
    switch self {
    case .x86_64:
      var machine = scenario.machine == .plain ? "q35" : "q35,kernel-irqchip=split"
      // OVMF's Secure Boot build keeps its variables behind SMM
      if scenario.firmware == .ovmfSecureBoot { machine += ",smm=on" }
      return ["-M", machine]
    case .aarch64:
      return ["-M", "virt", "-cpu", "cortex-a57"]
    case .riscv64:
      return ["-M", "virt"]
    }
  }
}
