// A stand-in for the running kernel: tests load, unload and boot against it
// and read back every call Handoff made, errno paths included.
import HandoffCore
import HandoffLinux

/// A `SystemCalls` that never touches the real system. Files come from an
/// in-memory table, descriptors are numbers it hands out itself, and every
/// call is kept as a line of text the way strace would show it:
/// `open("/boot/vmlinuz", O_RDONLY) = 3`.
///
/// `readFile` is recorded as the open, read and close the real one makes;
/// the fstat that tells a regular file from a directory is not shown.
public final class RecordingSystem: SystemCalls {
  /// What a path in the file table holds.
  public enum Entry: Equatable, Sendable {
    case file([UInt8])
    case directory
    /// Opening the path fails with this errno.
    case unopenable(Int32)
  }

  /// One `kexec_file_load(2)` call, with the command line bytes it carried.
  public struct FileLoadCall: Equatable, Sendable {
    public var kernel: Int32
    public var initrd: Int32
    public var commandLine: [UInt8]
    public var flags: UInt

    public init(kernel: Int32, initrd: Int32, commandLine: [UInt8], flags: UInt) {
      self.kernel = kernel
      self.initrd = initrd
      self.commandLine = commandLine
      self.flags = flags
    }
  }

  /// One `kexec_load(2)` call: the entry point, the segments and the flags.
  public struct SegmentLoadCall: Equatable, Sendable {
    public var entry: UInt64
    public var segments: [KexecSegment]
    public var flags: UInt

    public init(entry: UInt64, segments: [KexecSegment], flags: UInt) {
      self.entry = entry
      self.segments = segments
      self.flags = flags
    }
  }

  /// The files the fake serves, by path.
  public var files: [String: Entry] = [:]
  /// What `geteuid(2)` answers.
  public var effectiveUser: UInt32 = 0
  /// What `getrandom(2)` fills buffers with, repeated; empty for a pool
  /// that is not ready yet.
  public var randomPattern: [UInt8] = [0x5a, 0xa5]

  /// Every call so far, in order, with its result.
  public private(set) var calls: [String] = []
  /// Every `kexec_file_load` call, successful or not.
  public private(set) var fileLoads: [FileLoadCall] = []
  /// Every `kexec_load` call's segments.
  public private(set) var loads: [[KexecSegment]] = []
  /// Every `kexec_load` call, successful or not, with its entry and flags.
  public private(set) var segmentLoads: [SegmentLoadCall] = []
  /// Every `writeFile` the file took, in order: the path and the text written.
  public private(set) var writes: [(path: String, text: String)] = []

  private var failures: [(call: String, path: String?, errno: Int32, spared: Int)] = []
  private var descriptors: [Int32: String] = [:]
  private var memoryFiles: [Int32: [UInt8]] = [:]

  public init(files: [String: Entry] = [:]) {
    self.files = files
  }

  /// Makes later calls of `call` (a system call's name, such as `open` or
  /// `kexec_file_load`) fail with `errno`; for `open` and `read`, only
  /// those of `path` when one is given. The first `after` matching calls
  /// still succeed; for `write` too.
  public func fail(_ call: String, with errno: Int32, path: String? = nil, after: Int = 0) {
    failures.append((call, path, errno, after))
  }

  /// Puts a small text file in the table, such as /proc/cmdline.
  public func setText(_ path: String, _ text: String) {
    files[path] = .file(Array(text.utf8))
  }

  /// The descriptors opened and not yet closed, lowest first.
  public var openDescriptors: [Int32] { descriptors.keys.sorted() }

  /// The calls whose text starts with `name(`, such as every `kexec_file_load`.
  public func calls(named name: String) -> [String] {
    calls.filter { $0.hasPrefix(name + "(") }
  }

  /// Every kexec call: `kexec_file_load` and `kexec_load`.
  public var kexecCalls: [String] {
    calls(named: "kexec_file_load") + calls(named: "kexec_load")
  }

  /// The descriptor the last `open` of `path` returned.
  public func descriptor(openedFor path: String) -> Int32? {
    let prefix = "open(\"\(path)\", O_RDONLY) = "
    guard let line = calls.last(where: { $0.hasPrefix(prefix) }) else { return nil }
    return Int32(line.dropFirst(prefix.count))
  }

  /// The contents of the last in-memory file handed out as `descriptor`,
  /// kept after it is closed.
  public func memoryFileContents(_ descriptor: Int32) -> [UInt8]? {
    memoryFiles[descriptor]
  }

  // MARK: SystemCalls

  public func readFile(_ path: String) throws(HandoffError) -> [UInt8] {
    let descriptor = try openFile(path)
    defer { close(descriptor) }
    let contents = fileContents(path)
    let call = "read(fd: \(descriptor), count: \(contents.count))"
    if let errno = injected("read", path: path) {
      calls.append("\(call) = \(Errno.name(errno))")
      throw .unreadable(path: path, failure: SystemCallFailure(call: call, errno: errno))
    }
    calls.append("\(call) = \(contents.count)")
    return contents
  }

  public func readFile(_ path: String, prefix count: Int) throws(HandoffError) -> [UInt8] {
    Array(try readFile(path).prefix(count))
  }

  public func openFile(_ path: String) throws(HandoffError) -> Int32 {
    let call = "open(\"\(path)\", O_RDONLY)"
    var errno = injected("open", path: path)
    if errno == nil {
      switch files[path] {
      case .unopenable(let value): errno = value
      case nil: errno = Errno.ENOENT
      default: break
      }
    }
    if let errno {
      calls.append("\(call) = \(Errno.name(errno))")
      throw .unreadable(path: path, failure: SystemCallFailure(call: call, errno: errno))
    }
    let descriptor = allocate(path)
    calls.append("\(call) = \(descriptor)")

    // the real call opens a directory, finds out with fstat, and closes it
    if files[path] == .directory {
      close(descriptor)
      throw .notARegularFile(path: path, kind: "a directory")
    }
    return descriptor
  }

  public func openMemoryFile(name: String, contents: [UInt8]) throws(HandoffError) -> Int32 {
    let create = "memfd_create(\"\(name)\", MFD_CLOEXEC)"
    if let errno = injected("memfd_create", path: nil) {
      calls.append("\(create) = \(Errno.name(errno))")
      throw .systemCall(SystemCallFailure(call: create, errno: errno))
    }
    let writer = allocate("memfd:\(name)")
    calls.append("\(create) = \(writer)")
    calls.append("write(fd: \(writer), count: \(contents.count)) = \(contents.count)")

    // like the real one: a read-only descriptor, then the writer closed
    let path = "/proc/self/fd/\(writer)"
    let reader = allocate(path)
    calls.append("open(\"\(path)\", O_RDONLY) = \(reader)")
    memoryFiles[reader] = contents
    close(writer)
    return reader
  }

  public func close(_ descriptor: Int32) {
    if descriptors.removeValue(forKey: descriptor) == nil {
      calls.append("close(\(descriptor)) = EBADF")
    } else {
      calls.append("close(\(descriptor)) = 0")
    }
  }

  public func kexecFileLoad(
    kernel: Int32, initrd: Int32, commandLine: [UInt8], flags: UInt
  ) throws(HandoffError) {
    fileLoads.append(
      FileLoadCall(kernel: kernel, initrd: initrd, commandLine: commandLine, flags: flags))
    let call = KexecCallText.kexecFileLoad(
      kernel: kernel, initrd: initrd, commandLineLength: commandLine.count, flags: flags)
    try finish(call, name: "kexec_file_load")
    showLoaded(flags & KexecFileFlags.unload == 0)
  }

  public func kexecLoad(entry: UInt64, segments: [KexecSegment], flags: UInt) throws(HandoffError) {
    loads.append(segments)
    segmentLoads.append(SegmentLoadCall(entry: entry, segments: segments, flags: flags))
    let call = KexecCallText.kexecLoad(entry: entry, segments: segments.count, flags: flags)
    try finish(call, name: "kexec_load")
    showLoaded(!segments.isEmpty)
  }

  public func sync() {
    calls.append("sync()")
  }

  public func rebootIntoLoadedKernel() throws(HandoffError) {
    try finish("reboot(LINUX_REBOOT_CMD_KEXEC)", name: "reboot")
  }

  public func effectiveUserID() -> UInt32 {
    calls.append("geteuid() = \(effectiveUser)")
    return effectiveUser
  }

  public func randomBytes(count: Int) -> [UInt8] {
    let call = "getrandom(count: \(count), GRND_NONBLOCK)"
    guard !randomPattern.isEmpty else {
      calls.append("\(call) = EAGAIN")
      return []
    }
    calls.append("\(call) = \(count)")
    return (0..<count).map { randomPattern[$0 % randomPattern.count] }
  }

  /// Lists what the table holds under `path`: a path is a directory when it
  /// is one in the table or other paths lie beneath it. Recorded as
  /// `opendir("/sys/bus/pci/devices") = 3 entries`; `fail("opendir", ...)`
  /// makes it fail.
  public func listDirectory(_ path: String) throws(HandoffError) -> [String] {
    let call = "opendir(\"\(path)\")"
    var errno = injected("opendir", path: path)
    var names: [String] = []
    let prefix = path.hasSuffix("/") ? path : path + "/"
    for key in files.keys.sorted() where key.hasPrefix(prefix) {
      let rest = key.dropFirst(prefix.count)
      guard let name = rest.split(separator: "/").first.map(String.init) else { continue }
      if names.last != name, !names.contains(name) { names.append(name) }
    }
    if errno == nil {
      switch files[path] {
      case .unopenable(let value): errno = value
      case .file: errno = Errno.ENOTDIR
      case nil where names.isEmpty: errno = Errno.ENOENT
      default: break
      }
    }
    if let errno {
      calls.append("\(call) = \(Errno.name(errno))")
      throw .unreadable(path: path, failure: SystemCallFailure(call: call, errno: errno))
    }
    calls.append("\(call) = \(names.count) entries")
    return names
  }

  /// Writes to a file in the table; recorded as the open, write and close
  /// the real one makes. The file keeps its contents, as a sysfs attribute
  /// does. `fail("open", ...)` or `fail("write", ...)`, with a path or
  /// without, makes it fail; a path not in the table fails with ENOENT.
  public func writeFile(_ path: String, _ bytes: [UInt8]) throws(HandoffError) {
    let open = "open(\"\(path)\", O_WRONLY)"
    var errno = injected("open", path: path)
    if errno == nil {
      switch files[path] {
      case .unopenable(let value): errno = value
      case .directory: errno = Errno.EISDIR
      case nil: errno = Errno.ENOENT
      case .file: break
      }
    }
    if let errno {
      calls.append("\(open) = \(Errno.name(errno))")
      throw .systemCall(SystemCallFailure(call: open, errno: errno))
    }
    let descriptor = allocate(path)
    calls.append("\(open) = \(descriptor)")
    defer { close(descriptor) }

    let write = "write(\"\(path)\", count: \(bytes.count))"
    if let errno = injected("write", path: path) {
      calls.append("\(write) = \(Errno.name(errno))")
      throw .systemCall(SystemCallFailure(call: write, errno: errno))
    }
    calls.append("\(write) = \(bytes.count)")
    writes.append((path, String(decoding: bytes, as: UTF8.self)))
  }

  // MARK: Bookkeeping

  /// The lowest free descriptor above standard error, as the kernel hands out.
  private func allocate(_ path: String) -> Int32 {
    var descriptor: Int32 = 3
    while descriptors[descriptor] != nil { descriptor += 1 }
    descriptors[descriptor] = path
    return descriptor
  }

  /// Keeps /sys/kernel/kexec_loaded and /sys/kernel/kexec/loaded current
  /// after a load or an unload, as the kernel does, when the table has
  /// those files at all.
  private func showLoaded(_ loaded: Bool) {
    for path in [SystemPaths.kexecLoaded, SystemPaths.kexecDirectory + "loaded"] {
      guard case .file = files[path] else { continue }
      setText(path, loaded ? "1\n" : "0\n")
    }
  }

  private func fileContents(_ path: String) -> [UInt8] {
    if case .file(let bytes) = files[path] { return bytes }
    return []
  }

  private func injected(_ call: String, path: String?) -> Int32? {
    for index in failures.indices where failures[index].call == call {
      guard failures[index].path == nil || failures[index].path == path else { continue }
      if failures[index].spared > 0 {
        failures[index].spared -= 1
        return nil
      }
      return failures[index].errno
    }
    return nil
  }

  /// Records a call that returns 0 or fails with an injected errno.
  private func finish(_ call: String, name: String) throws(HandoffError) {
    if let errno = injected(name, path: nil) {
      calls.append("\(call) = \(Errno.name(errno))")
      throw .systemCall(SystemCallFailure(call: call, errno: errno))
    }
    calls.append("\(call) = 0")
  }
}
