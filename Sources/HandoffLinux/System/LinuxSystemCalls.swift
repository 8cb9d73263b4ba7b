import CHandoffShims
import HandoffCore

/// The real system calls of the running Linux kernel.
public struct LinuxSystemCalls: SystemCalls {
  public init() {}

  public func readFile(_ path: String) throws(HandoffError) -> [UInt8] {
    let descriptor = try openFile(path)
    defer { close(descriptor) }

    // read straight into a buffer of the size fstat reports; files of /proc
    // and /sys report 0 or a page, so the buffer grows when it fills
    var size: Int64 = 0
    _ = handoff_file_kind(descriptor, &size)
    var contents = [UInt8](repeating: 0, count: Int(max(size, 0)) + 4096)
    var filled = 0
    while true {
      if filled == contents.count {
        contents += [UInt8](repeating: 0, count: contents.count)
      }
      let count = contents.withUnsafeMutableBytes { buffer in
        handoff_read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
      }
      if count < 0 {
        throw .unreadable(
          path: path,
          failure: failure("read(fd: \(descriptor), count: \(contents.count - filled))"))
      }
      if count == 0 { break }
      filled += count
    }
    contents.removeSubrange(filled...)
    return contents
  }

  public func readFile(_ path: String, prefix count: Int) throws(HandoffError) -> [UInt8] {
    let descriptor = try openFile(path)
    defer { close(descriptor) }
    var contents = [UInt8](repeating: 0, count: max(count, 0))
    var filled = 0
    while filled < contents.count {
      let read = contents.withUnsafeMutableBytes { buffer in
        handoff_read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
      }
      if read < 0 {
        throw .unreadable(
          path: path,
          failure: failure("read(fd: \(descriptor), count: \(contents.count - filled))"))
      }
      if read == 0 { break }
      filled += read
    }
    contents.removeSubrange(filled...)
    return contents
  }

  public func openFile(_ path: String) throws(HandoffError) -> Int32 {
    let descriptor = handoff_open_read(path)
    if descriptor < 0 {
      throw .unreadable(path: path, failure: failure("open(\"\(path)\", O_RDONLY)"))
    }
    var size: Int64 = 0
    let kind = handoff_file_kind(descriptor, &size)
    if kind == Int32(HANDOFF_FILE_REGULAR) { return descriptor }
    let error: HandoffError =
      kind < 0
      ? .unreadable(path: path, failure: failure("fstat(fd: \(descriptor))"))
      : .notARegularFile(
        path: path, kind: kind == Int32(HANDOFF_FILE_DIRECTORY) ? "a directory" : "a device or pipe"
      )
    close(descriptor)
    throw error
  }

  public func openMemoryFile(name: String, contents: [UInt8]) throws(HandoffError) -> Int32 {
    let writer = handoff_memfd_create(name)
    if writer < 0 { throw .systemCall(failure("memfd_create(\"\(name)\", MFD_CLOEXEC)")) }
    defer { close(writer) }
    var written = 0
    while written < contents.count {
      let count = contents.withUnsafeBytes { buffer in
        handoff_write(writer, buffer.baseAddress! + written, buffer.count - written)
      }
      if count <= 0 {
        throw .systemCall(failure("write(fd: \(writer), count: \(contents.count - written))"))
      }
      written += count
    }
    // a second, read-only descriptor: the kernel refuses files open for writing
    let path = "/proc/self/fd/\(writer)"
    let reader = handoff_open_read(path)
    if reader < 0 { throw .systemCall(failure("open(\"\(path)\", O_RDONLY)")) }
    return reader
  }

  public func close(_ descriptor: Int32) {
    _ = handoff_close(descriptor)
  }

  public func kexecFileLoad(
    kernel: Int32, initrd: Int32, commandLine: [UInt8], flags: UInt
  ) throws(HandoffError) {
    let result = commandLine.withUnsafeBufferPointer { buffer in
      buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { text in
        handoff_kexec_file_load(kernel, initrd, UInt(buffer.count), text, flags)
      }
    }
    if result != 0 {
      throw .systemCall(
        failure(
          KexecCallText.kexecFileLoad(
            kernel: kernel, initrd: initrd, commandLineLength: commandLine.count, flags: flags)))
    }
  }

  public func kexecLoad(entry: UInt64, segments: [KexecSegment], flags: UInt) throws(HandoffError) {
    var raw: [handoff_kexec_segment] = []
    let result = withSegmentPointers(segments, index: 0, into: &raw) { table in
      table.withUnsafeBufferPointer { pointer in
        handoff_kexec_load(UInt(entry), UInt(pointer.count), pointer.baseAddress, flags)
      }
    }
    if result != 0 {
      throw .systemCall(
        failure(KexecCallText.kexecLoad(entry: entry, segments: segments.count, flags: flags)))
    }
  }

  public func sync() {
    handoff_sync()
  }

  public func rebootIntoLoadedKernel() throws(HandoffError) {
    _ = handoff_reboot_kexec()
    throw .systemCall(failure("reboot(LINUX_REBOOT_CMD_KEXEC)"))
  }

  public func effectiveUserID() -> UInt32 {
    UInt32(handoff_geteuid())
  }

  public func randomBytes(count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let filled = bytes.withUnsafeMutableBytes { buffer in
      handoff_getrandom(buffer.baseAddress, buffer.count)
    }
    return filled == count ? bytes : []
  }

  public func listDirectory(_ path: String) throws(HandoffError) -> [String] {
    // the names, NUL after each; a directory that grew between two calls
    // needs a third
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let needed = buffer.withUnsafeMutableBytes { bytes in
        handoff_list_directory(path, bytes.baseAddress, bytes.count)
      }
      if needed < 0 {
        throw .unreadable(path: path, failure: failure("opendir(\"\(path)\")"))
      }
      if needed > buffer.count {
        buffer = [UInt8](repeating: 0, count: needed + 1024)
        continue
      }
      return buffer[0..<needed].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
  }

  public func writeFile(_ path: String, _ bytes: [UInt8]) throws(HandoffError) {
    let descriptor = handoff_open_write(path)
    if descriptor < 0 { throw .systemCall(failure("open(\"\(path)\", O_WRONLY)")) }
    defer { close(descriptor) }

    // a sysfs attribute takes its value in one write, or refuses it whole
    let count = bytes.withUnsafeBytes { buffer in
      handoff_write(descriptor, buffer.baseAddress, buffer.count)
    }
    if count != bytes.count {
      let call = "write(\"\(path)\", count: \(bytes.count))"
      throw .systemCall(count < 0 ? failure(call) : SystemCallFailure(call: call, errno: Errno.EIO))
    }
  }

  /// Keeps every segment's bytes pinned while the table of raw pointers to
  /// them is in use.
  private func withSegmentPointers(
    _ segments: [KexecSegment], index: Int, into table: inout [handoff_kexec_segment],
    _ body: ([handoff_kexec_segment]) -> Int
  ) -> Int {
    if index == segments.count { return body(table) }
    let segment = segments[index]
    return segment.bytes.withUnsafeBytes { buffer in
      table.append(
        handoff_kexec_segment(
          buf: buffer.baseAddress, bufsz: buffer.count, mem: UInt(segment.destination),
          memsz: Int(segment.memorySize)))
      return withSegmentPointers(segments, index: index + 1, into: &table, body)
    }
  }

  private func failure(_ call: String) -> SystemCallFailure {
    SystemCallFailure(call: call, errno: handoff_errno())
  }
}
