/// The machine a kernel image is built for, named as `uname -m` names it
/// (but arm64, as the kernel's arch/ folder and Debian spell it).
public enum KernelArchitecture: String, Equatable, Sendable {
  /// A 32-bit x86 kernel: a bzImage without a 64-bit entry.
  case x86
  case x86_64
  case arm64
  case riscv64

  /// Booted with a device tree (arm64, riscv64) rather than boot_params.
  public var isDeviceTree: Bool { self == .arm64 || self == .riscv64 }

  /// The architecture of a PE file's COFF `Machine` field, nil for others.
  public init?(peMachine: UInt16) {
    switch peMachine {
    case 0x014c: self = .x86
    case 0x8664: self = .x86_64
    case 0xaa64: self = .arm64
    case 0x5064: self = .riscv64
    default: return nil
    }
  }
}
