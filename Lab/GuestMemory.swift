import Foundation
import Glibc

// How the lab reads a guest's RAM after a handoff: QEMU's human monitor on a
// unix socket stops the guest and saves its physical memory to a file, and
// the host counts the 4 KiB pages that still hold what the first kernel
// wrote and freed.

/// What a guest's RAM still holds of a marker: pages made of nothing else,
/// and pages that hold it anywhere.
struct PatternCensus {
  /// Pages of guest RAM looked at.
  var pages = 0
  /// Pages that are the marker repeated, and nothing else.
  var patternPages = 0
  /// Pages that hold the marker at least once.
  var markedPages = 0
}

/// Guest RAM as QEMU's monitor offers it.
struct GuestMemory {
  static let pageSize = 4096

  /// The monitor's unix socket (`-monitor unix:PATH,server=on,wait=off`).
  let socket: URL

  /// pmemsave takes a size of at most 32 bits.
  static let chunkSize: UInt64 = 1 << 30

  /// Stops the guest and saves `ranges` into `directory` through
  /// `pmemsave`, a file per GiB; returns the files.
  func save(_ ranges: [(start: UInt64, size: UInt64)], into directory: URL) throws -> [URL] {
    let monitor = try MonitorConnection(path: socket.path)
    defer { monitor.close() }
    _ = try monitor.command(nil)
    _ = try monitor.command("stop")
    var files: [URL] = []
    var saved = false
    defer { if !saved { for file in files { try? FileManager.default.removeItem(at: file) } } }
    let name = socket.deletingPathExtension().lastPathComponent
    for range in ranges {
      var start = range.start
      while start < range.start + range.size {
        let size = min(Self.chunkSize, range.start + range.size - start)
        let file = directory.appendingPathComponent("\(name)-ram-\(String(start, radix: 16)).bin")
        try? FileManager.default.removeItem(at: file)
        let answer = try monitor.command(
          "pmemsave 0x\(String(start, radix: 16)) 0x\(String(size, radix: 16)) \"\(file.path)\"")
        files.append(file)
        let written =
          (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? UInt64) ?? 0
        guard written == size else {
          throw LabError.qemu("pmemsave wrote \(written) of \(size) bytes: \(answer)")
        }
        start += size
      }
    }
    saved = true
    return files
  }

  /// Counts the pages of `files` that hold `marker`, whose length divides
  /// the page size.
  static func census(of files: [URL], marker: [UInt8]) throws -> PatternCensus {
    precondition(pageSize % marker.count == 0, "the marker must tile a page")
    let pattern = [UInt8]((0..<pageSize / marker.count).map { _ in marker }.joined())
    var census = PatternCensus()
    for file in files {
      let handle = try FileHandle(forReadingFrom: file)
      defer { try? handle.close() }
      while let chunk = try handle.read(upToCount: 64 << 20), !chunk.isEmpty {
        chunk.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
          marker.withUnsafeBytes { needle in
            pattern.withUnsafeBytes { whole in
              var offset = 0
              while offset + pageSize <= bytes.count {
                let page = bytes.baseAddress! + offset
                census.pages += 1
                if memcmp(page, whole.baseAddress!, pageSize) == 0 {
                  census.patternPages += 1
                  census.markedPages += 1
                } else if contains(page, pageSize, needle) {
                  census.markedPages += 1
                }
                offset += pageSize
              }
            }
          }
        }
      }
    }
    return census
  }
}

extension GuestMemory {
  /// Whether `count` bytes at `start` hold `needle` anywhere: memchr for
  /// its first byte, memcmp for the rest (glibc's memmem needs _GNU_SOURCE).
  static func contains(_ start: UnsafeRawPointer, _ count: Int, _ needle: UnsafeRawBufferPointer)
    -> Bool
  {
    let first = Int32(needle[0])
    var cursor = start
    var remaining = count
    while remaining >= needle.count {
      guard let hit = memchr(cursor, first, remaining - needle.count + 1) else { return false }
      if memcmp(hit, needle.baseAddress!, needle.count) == 0 { return true }
      let skipped = UnsafeRawPointer(hit) - cursor + 1
      cursor = UnsafeRawPointer(hit) + 1
      remaining -= skipped
    }
    return false
  }
}

/// One connection to QEMU's human monitor: a command, then everything up to
/// the next `(qemu) ` prompt.
final class MonitorConnection {
  private let descriptor: Int32

  init(path: String) throws {
    descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw LabError.qemu("socket(AF_UNIX) failed: errno \(errno)") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      Glibc.close(descriptor)
      throw LabError.qemu("monitor socket path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard connected == 0 else {
      let error = errno
      Glibc.close(descriptor)
      throw LabError.qemu("cannot connect to the monitor at \(path): errno \(error)")
    }
  }

  /// Sends `text` (none: just reads the greeting) and returns the answer,
  /// up to the prompt; gives up after `timeout` seconds.
  func command(_ text: String?, timeout: Double = 120) throws -> String {
    if let text {
      let line = Array((text + "\n").utf8)
      let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
      guard written == line.count else { throw LabError.qemu("cannot write to the monitor") }
    }
    var answer: [UInt8] = []
    let prompt = Array("(qemu) ".utf8)
    let deadline = Date().addingTimeInterval(timeout)
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !answer.ends(with: prompt) {
      var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      let remaining = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
      guard remaining > 0, poll(&poller, 1, remaining) > 0 else {
        throw LabError.qemu("the monitor did not answer '\(text ?? "")' in time")
      }
      let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
      guard count > 0 else { throw LabError.qemu("the monitor closed its socket") }
      answer += buffer[0..<count]
    }
    // the monitor echoes the command with line-editing escapes: keep what follows
    let text = String(decoding: answer.dropLast(prompt.count), as: UTF8.self)
    let lines = text.split(separator: "\n").map {
      $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return lines.dropFirst(text == "" || !text.contains("\n") ? 0 : 1).joined(separator: " / ")
  }

  func close() { Glibc.close(descriptor) }
}

extension Array where Element == UInt8 {
  fileprivate func ends(with suffix: [UInt8]) -> Bool {
    count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
  }
}
