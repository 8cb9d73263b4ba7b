// A machine made of a file table: what the fuzz targets run Handoff against.
// It makes no system call of its own, and refuses every kexec, reboot and
// write.
import HandoffCore
import HandoffLinux

/// A `SystemCalls` whose files come from a table. A path that is a prefix
/// of other paths (`/sys/firmware/memmap` of `/sys/firmware/memmap/0/start`)
/// reads and lists as a directory. `kexec_load`, `kexec_file_load` and the reboot are
/// always refused, with the errno in `/fuzz/errno` (EPERM when absent), so
/// the fallback and the diagnosis after a refusal are reached too.
public final class MemorySystem: SystemCalls {
  public var files: [String: [UInt8]]
  /// The errno every kexec and reboot call fails with.
  public let refusal: Int32
  /// Every kexec and reboot call asked for, each refused.
  public private(set) var refusedCalls: [String] = []
  private var nextDescriptor: Int32 = 3

  public init(files: [String: [UInt8]]) {
    self.files = files
    let errno = files["/fuzz/errno"].flatMap { Int32(String(decoding: $0, as: UTF8.self)) }
    refusal = errno.map { $0 == 0 ? Errno.EPERM : $0 } ?? Errno.EPERM
  }

  /// A system with the files of `sections` laid over `defaults`.
  public convenience init(_ sections: FuzzSections, defaults: [String: [UInt8]] = [:]) {
    var table = defaults
    for (path, contents) in sections.files {
      table[path] = path == SystemFiles.bootParams ? SystemFiles.bootParamsPage(contents) : contents
    }
    self.init(files: table)
  }

  public func readFile(_ path: String) throws(HandoffError) -> [UInt8] {
    if let contents = files[path] { return contents }
    if files.keys.contains(where: { $0.hasPrefix(path + "/") }) {
      throw .notARegularFile(path: path, kind: "a directory")
    }
    throw .unreadable(
      path: path,
      failure: SystemCallFailure(call: "open(\"\(path)\", O_RDONLY)", errno: Errno.ENOENT))
  }

  public func readFile(_ path: String, prefix count: Int) throws(HandoffError) -> [UInt8] {
    Array(try readFile(path).prefix(count))
  }

  /// The names one level below `path`, from the paths under it; a path
  /// with nothing under it does not exist.
  public func listDirectory(_ path: String) throws(HandoffError) -> [String] {
    let prefix = path.hasSuffix("/") ? path : path + "/"
    var names: [String] = []
    for file in files.keys.sorted() where file.hasPrefix(prefix) {
      guard let name = file.dropFirst(prefix.count).split(separator: "/").first else { continue }
      if !names.contains(String(name)) { names.append(String(name)) }
    }
    guard !names.isEmpty else {
      throw .unreadable(
        path: path, failure: SystemCallFailure(call: "opendir(\"\(path)\")", errno: Errno.ENOENT))
    }
    return names
  }

  public func openFile(_ path: String) throws(HandoffError) -> Int32 {
    _ = try readFile(path)
    return allocate()
  }

  public func openMemoryFile(name: String, contents: [UInt8]) throws(HandoffError) -> Int32 {
    allocate()
  }

  public func close(_ descriptor: Int32) {}

  public func kexecFileLoad(
    kernel: Int32, initrd: Int32, commandLine: [UInt8], flags: UInt
  ) throws(HandoffError) {
    try refuse(
      KexecCallText.kexecFileLoad(
        kernel: kernel, initrd: initrd, commandLineLength: commandLine.count, flags: flags))
  }

  public func kexecLoad(entry: UInt64, segments: [KexecSegment], flags: UInt) throws(HandoffError) {
    try refuse(KexecCallText.kexecLoad(entry: entry, segments: segments.count, flags: flags))
  }

  public func writeFile(_ path: String, _ bytes: [UInt8]) throws(HandoffError) {
    try refuse("write(\"\(path)\", count: \(bytes.count))")
  }

  public func sync() {}

  public func rebootIntoLoadedKernel() throws(HandoffError) {
    try refuse("reboot(LINUX_REBOOT_CMD_KEXEC)")
  }

  public func effectiveUserID() -> UInt32 {
    files["/fuzz/euid"].flatMap { UInt32(String(decoding: $0, as: UTF8.self)) } ?? 0
  }

  public func randomBytes(count: Int) -> [UInt8] {
    files["/fuzz/no-random"] == nil ? [UInt8](repeating: 0x5a, count: count) : []
  }

  private func refuse(_ call: String) throws(HandoffError) {
    refusedCalls.append(call)
    throw .systemCall(SystemCallFailure(call: call, errno: refusal))
  }

  private func allocate() -> Int32 {
    nextDescriptor += 1
    return nextDescriptor
  }
}

/// Files of /proc and /sys the targets fill in.
public enum SystemFiles {
  public static let bootParams = "/sys/kernel/boot_params/data"

  /// The running kernel's boot_params as the kernel exports it: one page.
  /// Fewer than 4096 bytes are laid at efi_info (0x1c0), the only part
  /// Handoff reads fields from, in an otherwise zero page.
  public static func bootParamsPage(_ contents: [UInt8]) -> [UInt8] {
    if contents.count >= 4096 { return contents }
    var page = [UInt8](repeating: 0, count: 4096)
    let count = min(contents.count, 4096 - 0x1c0)
    page.replaceSubrange(0x1c0..<0x1c0 + count, with: contents[0..<count])
    return page
  }
}
