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

  /// The file name of Debian's kernel in the cache: riscv64 ships vmlinux.
  var kernelFile: String { self == .riscv64 ? "vmlinux" : "vmlinuz" }

  /// The serial console's device as the kernel names it.
  var console: String {
    switch self {
    case .x86_64, .riscv64: return "ttyS0"
    case .aarch64: return "ttyAMA0"
    }
  }

  /// Where a guest of `memoryMiB` has its RAM in physical memory: on q35
  /// below 4 GiB up to 2.75 GiB of it, with more 2 GiB below and the rest
  /// from 4 GiB on; on the virt boards in one piece, at 1 GiB on arm64 and
  /// at 2 GiB on riscv64.
  func ram(memoryMiB: Int) -> [(start: UInt64, size: UInt64)] {
    let size = UInt64(memoryMiB) << 20
    switch self {
    case .x86_64:
      if size < 0xb000_0000 { return [(0, size)] }
      return [(0, 0x8000_0000), (0x1_0000_0000, size - 0x8000_0000)]
    case .aarch64:
      return [(0x4000_0000, size)]
    case .riscv64:
      return [(0x8000_0000, size)]
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
