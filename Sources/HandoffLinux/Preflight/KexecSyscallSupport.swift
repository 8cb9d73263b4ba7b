// Whether the running kernel has kexec_load and kexec_file_load, found out
// without calling either: from its symbols, else from its configuration.

/// Whether a system call is built into the running kernel.
public enum SyscallPresence: Equatable, Sendable {
  /// Built in; the evidence says how Handoff knows.
  case present(String)
  /// Not built in: calling it gives ENOSYS.
  case absent(String)
  /// Nothing readable says.
  case unknown

  var isAbsent: Bool {
    if case .absent = self { return true }
    return false
  }
}

/// What the running kernel says about its two kexec system calls.
public struct KexecSyscallSupport: Equatable, Sendable {
  public var kexecLoad: SyscallPresence
  public var kexecFileLoad: SyscallPresence

  public init(kexecLoad: SyscallPresence, kexecFileLoad: SyscallPresence) {
    self.kexecLoad = kexecLoad
    self.kexecFileLoad = kexecFileLoad
  }

  /// Reads /proc/kallsyms; when it names neither call, the build
  /// configuration in /boot/config-RELEASE. /proc/config.gz is not read:
  /// it needs zlib, which the static build does not link yet.
  public static func read<System: SystemCalls>(from system: System) -> KexecSyscallSupport {
    if let symbols = try? system.readFile("/proc/kallsyms"),
      let support = fromKallsyms(symbols)
    {
      return support
    }
    if let release = system.text("/proc/sys/kernel/osrelease") {
      let path = "/boot/config-\(release)"
      if let text = system.text(path), let support = fromConfig(text, source: path) {
        return support
      }
    }
    return KexecSyscallSupport(kexecLoad: .unknown, kexecFileLoad: .unknown)
  }

  /// The prefixes the architectures' syscall wrappers put before
  /// `sys_NAME`; the 32-bit compat entries are left out.
  static let wrapperPrefixes = ["", "__x64_", "__arm64_", "__riscv_"]

  /// From /proc/kallsyms, whose lines read `ADDRESS TYPE NAME [MODULE]`. A
  /// call that is built in is a text symbol (T); one that is not is the weak
  /// stub (W) that returns ENOSYS. Nil when neither call is named, as when
  /// kallsyms is not built in.
  static func fromKallsyms(_ bytes: [UInt8]) -> KexecSyscallSupport? {
    let loadName = Array("sys_kexec_load".utf8)
    let fileName = Array("sys_kexec_file_load".utf8)
    var loadType: UInt8? = nil
    var fileType: UInt8? = nil
    var loadSymbol = ""
    var fileSymbol = ""

    var start = 0
    while start < bytes.count {
      var end = start
      while end < bytes.count, bytes[end] != 0x0a { end += 1 }
      defer { start = end + 1 }

      // the name: after the address, a space, the type and a space
      var space = start
      while space < end, bytes[space] != 0x20 { space += 1 }
      let nameStart = space + 3
      guard nameStart < end else { continue }
      var nameEnd = nameStart
      while nameEnd < end, bytes[nameEnd] != 0x09, bytes[nameEnd] != 0x20 { nameEnd += 1 }
      // every name looked for ends in "load"
      guard bytes[nameEnd - 1] == 0x64, nameEnd - nameStart >= loadName.count else { continue }

      let name = bytes[nameStart..<nameEnd]
      let type = bytes[space + 1]
      for (target, isFile) in [(loadName, false), (fileName, true)] {
        guard name.count >= target.count, name.suffix(target.count).elementsEqual(target),
          let prefix = wrapperPrefix(name.dropLast(target.count))
        else { continue }
        let symbol = prefix + String(decoding: target, as: UTF8.self)
        // a built-in symbol outranks a weak one of the same call
        if isFile {
          if fileType == nil || !isWeak(type) {
            fileType = type
            fileSymbol = symbol
          }
        } else if loadType == nil || !isWeak(type) {
          loadType = type
          loadSymbol = symbol
        }
      }
    }
    if loadType == nil && fileType == nil { return nil }

    func presence(_ type: UInt8?, _ symbol: String, _ name: String) -> SyscallPresence {
      guard let type else { return .absent("/proc/kallsyms has no \(name)") }
      return isWeak(type)
        ? .absent("/proc/kallsyms has only the weak stub \(symbol), which returns ENOSYS")
        : .present("\(symbol) is in /proc/kallsyms")
    }
    return KexecSyscallSupport(
      kexecLoad: presence(loadType, loadSymbol, "sys_kexec_load"),
      kexecFileLoad: presence(fileType, fileSymbol, "sys_kexec_file_load"))
  }

  private static func isWeak(_ type: UInt8) -> Bool {
    type == 0x57 || type == 0x77
  }

  private static func wrapperPrefix(_ bytes: ArraySlice<UInt8>) -> String? {
    for prefix in wrapperPrefixes where bytes.elementsEqual(prefix.utf8) { return prefix }
    return nil
  }

  /// From a kernel build configuration: CONFIG_KEXEC for kexec_load,
  /// CONFIG_KEXEC_FILE for kexec_file_load. Nil when `text` is no
  /// configuration at all.
  static func fromConfig(_ text: String, source: String) -> KexecSyscallSupport? {
    var load: Bool? = nil
    var file: Bool? = nil
    var isConfiguration = false
    for line in text.split(separator: "\n") {
      if line.hasPrefix("CONFIG_") || line.hasPrefix("# CONFIG_") { isConfiguration = true }
      switch line {
      case "CONFIG_KEXEC=y": load = true
      case "# CONFIG_KEXEC is not set": load = false
      case "CONFIG_KEXEC_FILE=y": file = true
      case "# CONFIG_KEXEC_FILE is not set": file = false
      default: break
      }
    }
    guard isConfiguration else { return nil }
    func presence(_ built: Bool?, _ option: String) -> SyscallPresence {
      built == true
        ? .present("\(option)=y in \(source)") : .absent("\(option) is not set in \(source)")
    }
    return KexecSyscallSupport(
      kexecLoad: presence(load, "CONFIG_KEXEC"), kexecFileLoad: presence(file, "CONFIG_KEXEC_FILE"))
  }
}
