import HandoffCore

/// The calls Handoff makes into the running kernel. `LinuxSystemCalls` makes
/// them for real; host tests replace it with a recording fake, so no test
/// ever loads or boots a kernel outside a virtual machine.
public protocol SystemCalls {
  /// Reads the whole of a regular file, such as a kernel image or a file in
  /// /proc or /sys.
  func readFile(_ path: String) throws(HandoffError) -> [UInt8]

  /// Reads at most the first `count` bytes of a file, for files whose
  /// whole is huge, such as the ELF header of /proc/kcore.
  func readFile(_ path: String, prefix count: Int) throws(HandoffError) -> [UInt8]

  /// Opens a regular file read-only and returns its descriptor.
  func openFile(_ path: String) throws(HandoffError) -> Int32

  /// Returns a read-only descriptor of an anonymous in-memory file holding
  /// `contents`; nothing holds it open for writing.
  func openMemoryFile(name: String, contents: [UInt8]) throws(HandoffError) -> Int32

  func close(_ descriptor: Int32)

  /// The corresponding system call is `kexec_file_load(2)`. `commandLine`
  /// ends with its NUL.
  func kexecFileLoad(
    kernel: Int32, initrd: Int32, commandLine: [UInt8], flags: UInt
  ) throws(HandoffError)

  /// The corresponding system call is `kexec_load(2)`.
  func kexecLoad(entry: UInt64, segments: [KexecSegment], flags: UInt) throws(HandoffError)

  /// The corresponding system call is `sync(2)`.
  func sync()

  /// Boots the loaded kernel; returns only by throwing. The corresponding
  /// system call is `reboot(2)` with LINUX_REBOOT_CMD_KEXEC.
  func rebootIntoLoadedKernel() throws(HandoffError)

  /// The corresponding system call is `geteuid(2)`.
  func effectiveUserID() -> UInt32

  /// `count` random bytes, or none when the kernel's pool is not ready. The
  /// corresponding system call is `getrandom(2)` with GRND_NONBLOCK.
  func randomBytes(count: Int) -> [UInt8]

  /// The names in a directory, such as /sys/bus/pci/devices, without "."
  /// and "..", in the order the kernel gives them. Throws `unreadable` when
  /// the directory cannot be opened or read. The corresponding calls are
  /// `opendir(3)` and `readdir(3)`.
  func listDirectory(_ path: String) throws(HandoffError) -> [String]

  /// Writes `bytes` to an existing file in one call, such as a PCI
  /// device's address to its driver's `unbind` in sysfs. Throws
  /// `systemCall` with the open or the write that failed. The
  /// corresponding calls are `open(2)` with O_WRONLY and `write(2)`.
  func writeFile(_ path: String, _ bytes: [UInt8]) throws(HandoffError)
}

/// One segment of a `kexec_load(2)` call: bytes to copy to a physical range.
public struct KexecSegment: Equatable, Sendable {
  public var bytes: [UInt8]
  public var destination: UInt64
  public var memorySize: UInt64

  public init(bytes: [UInt8], destination: UInt64, memorySize: UInt64) {
    self.bytes = bytes
    self.destination = destination
    self.memorySize = memorySize
  }
}

/// Flags of `kexec_load(2)`: the architecture sits in the high 16 bits,
/// as its ELF machine number.
public enum KexecLoadFlags {
  public static let architectureX86_64: UInt = 62 << 16
  public static let architectureAArch64: UInt = 183 << 16
  public static let architectureRISCV: UInt = 243 << 16
  /// KEXEC_ON_CRASH: the crash kernel, not the one `exec` boots.
  public static let onCrash: UInt = 0x1

  /// The flag for kernels of `architecture`; nil where kexec_load has none.
  public static func architecture(_ architecture: KernelArchitecture) -> UInt? {
    switch architecture {
    case .x86_64: return architectureX86_64
    case .arm64: return architectureAArch64
    case .riscv64: return architectureRISCV
    case .x86: return nil
    }
  }
}

extension KernelArchitecture {
  /// The architecture this program was built for, which is the running
  /// kernel's.
  public static var running: KernelArchitecture {
    #if arch(arm64)
      return .arm64
    #elseif arch(riscv64)
      return .riscv64
    #else
      return .x86_64
    #endif
  }
}

/// Flags of `kexec_file_load(2)`.
public enum KexecFileFlags {
  public static let unload: UInt = 0x1
  /// The kernel to boot on a panic, into the region crashkernel= reserved.
  public static let onCrash: UInt = 0x2
  public static let noInitramfs: UInt = 0x4
}

extension SystemCalls {
  /// For a system that cannot list directories: every listing fails with
  /// ENOSYS, which reads as "cannot tell".
  public func listDirectory(_ path: String) throws(HandoffError) -> [String] {
    throw .unreadable(
      path: path, failure: SystemCallFailure(call: "opendir(\"\(path)\")", errno: Errno.ENOSYS))
  }

  /// The contents of a small text file such as /sys/kernel/kexec_loaded,
  /// without trailing whitespace; nil when it cannot be read.
  public func readText(_ path: String) -> String? {
    guard let bytes = try? readFile(path) else { return nil }
    var end = bytes.count
    while end > 0, bytes[end - 1] == 0x0a || bytes[end - 1] == 0x20 || bytes[end - 1] == 0 {
      end -= 1
    }
    return String(decoding: bytes[0..<end], as: UTF8.self)
  }
}
