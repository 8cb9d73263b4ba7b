import Foundation
import HandoffCore
import Testing

/// The initramfs writer, checked by reading its archives back with a newc
/// reader written here and, where it is installed, with GNU cpio.
@Suite("cpio newc writer")
struct CpioWriterTests {
  /// A small initramfs touching every kind of entry the writer makes.
  static func sampleArchive() -> [UInt8] {
    var writer = CpioWriter()
    writer.addDirectory("dev")
    writer.addCharacterDevice("dev/console", major: 5, minor: 1)
    writer.addDirectory("bin", mode: 0o700)
    writer.addFile("bin/sh", contents: Array("#!/bin/busybox sh\n".utf8), mode: 0o755)
    writer.addSymlink("init", target: "bin/sh")
    writer.addFile("empty", contents: [])
    writer.addFile("odd", contents: [1, 2, 3, 4, 5])
    return writer.finish()
  }

  @Test("Every entry reads back with its name, mode, size and data")
  func entriesReadBack() throws {
    let entries = try NewcReader.entries(of: Self.sampleArchive())

    #expect(
      entries.map(\.name) == [
        "dev", "dev/console", "bin", "bin/sh", "init", "empty", "odd", "TRAILER!!!",
      ])
    #expect(
      entries.map(\.mode) == [
        0o040755, 0o020600, 0o040700, 0o100755, 0o120777, 0o100644, 0o100644, 0,
      ])
    #expect(entries.map(\.data.count) == [0, 0, 0, 18, 6, 0, 5, 0])
    #expect(entries[3].data == Array("#!/bin/busybox sh\n".utf8))
    #expect(entries[4].data == Array("bin/sh".utf8))
    #expect(entries[6].data == [1, 2, 3, 4, 5])
  }

  @Test("Devices carry their numbers, directories two links, and inodes are distinct")
  func headerFields() throws {
    let entries = try NewcReader.entries(of: Self.sampleArchive())
    let console = entries[1]
    #expect(console.rdevMajor == 5)
    #expect(console.rdevMinor == 1)
    #expect(entries.filter { $0.mode & 0o170000 == 0o040000 }.allSatisfy { $0.links == 2 })
    #expect(entries.filter { $0.mode & 0o170000 == 0o100000 }.allSatisfy { $0.links == 1 })
    #expect(entries.allSatisfy { $0.uid == 0 && $0.gid == 0 && $0.check == 0 })

    let inodes = entries.dropLast().map(\.inode)
    #expect(Set(inodes).count == inodes.count)
    #expect(!inodes.contains(0))
    #expect(entries.last?.inode == 0)
  }

  @Test("Headers and data start on four-byte boundaries and the archive ends with the trailer")
  func alignment() throws {
    let archive = Self.sampleArchive()
    let entries = try NewcReader.entries(of: archive)
    #expect(archive.count % 4 == 0)
    for entry in entries {
      #expect(entry.headerOffset % 4 == 0, "\(entry.name) header at \(entry.headerOffset)")
      #expect(entry.dataOffset % 4 == 0, "\(entry.name) data at \(entry.dataOffset)")
    }
    let trailer = try #require(entries.last)
    #expect(trailer.name == "TRAILER!!!")
    #expect(trailer.nextOffset == archive.count)
  }

  @Test("An empty archive is the trailer alone")
  func emptyArchive() throws {
    let archive = CpioWriter().finish()
    let entries = try NewcReader.entries(of: archive)
    #expect(entries.map(\.name) == ["TRAILER!!!"])
    // 110 header bytes and 11 of name, padded to 124
    #expect(archive.count == 124)
  }

  @Test(
    "GNU cpio lists the entries the writer wrote",
    .enabled(if: Cpio.path != nil, "cpio is not installed"))
  func cpioListsEntries() throws {
    let listing = try Cpio.run(["-t"], input: Self.sampleArchive())
    #expect(listing == "dev\ndev/console\nbin\nbin/sh\ninit\nempty\nodd\n")
  }

  @Test(
    "GNU cpio sees the device, the symlink and the modes",
    .enabled(if: Cpio.path != nil, "cpio is not installed"))
  func cpioSeesKinds() throws {
    let lines = try Cpio.run(["-tv"], input: Self.sampleArchive())
      .split(separator: "\n")
    try #require(lines.count == 7)
    #expect(lines[0].hasPrefix("drwxr-xr-x"))
    #expect(lines[1].hasPrefix("crw-------"))
    #expect(lines[1].contains("5,"))
    #expect(lines[2].hasPrefix("drwx------"))
    #expect(lines[3].hasPrefix("-rwxr-xr-x"))
    #expect(lines[4].hasPrefix("lrwxrwxrwx"))
    #expect(lines[4].hasSuffix("init -> bin/sh"))
    #expect(lines[6].hasPrefix("-rw-r--r--"))
  }
}

/// A reader of the newc format, enough to take the writer's output apart.
enum NewcReader {
  struct Entry {
    var name: String
    var inode: UInt32
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var links: UInt32
    var rdevMajor: UInt32
    var rdevMinor: UInt32
    var check: UInt32
    var data: [UInt8]
    var headerOffset: Int
    var dataOffset: Int
    var nextOffset: Int
  }

  struct Malformed: Error, CustomStringConvertible {
    var description: String
  }

  /// Every entry, the trailer included; throws at the first thing that is
  /// not newc.
  static func entries(of archive: [UInt8]) throws -> [Entry] {
    var entries: [Entry] = []
    var offset = 0
    while true {
      guard offset + 110 <= archive.count else {
        throw Malformed(description: "header at \(offset) runs past the end")
      }
      let magic = String(decoding: archive[offset..<offset + 6], as: UTF8.self)
      guard magic == "070701" else {
        throw Malformed(description: "magic \(magic) at \(offset)")
      }
      var fields: [UInt32] = []
      for index in 0..<13 {
        let start = offset + 6 + index * 8
        let text = String(decoding: archive[start..<start + 8], as: UTF8.self)
        guard let value = UInt32(text, radix: 16) else {
          throw Malformed(description: "field \(index) is \(text) at \(start)")
        }
        fields.append(value)
      }

      // name with its NUL, then padding; data, then padding
      let nameStart = offset + 110
      let nameSize = Int(fields[11])
      guard nameSize > 0, nameStart + nameSize <= archive.count,
        archive[nameStart + nameSize - 1] == 0
      else {
        throw Malformed(description: "name at \(nameStart) is not NUL-terminated")
      }
      let name = String(decoding: archive[nameStart..<nameStart + nameSize - 1], as: UTF8.self)
      let dataStart = roundUp(nameStart + nameSize)
      let dataSize = Int(fields[6])
      guard dataStart + dataSize <= archive.count else {
        throw Malformed(description: "data of \(name) runs past the end")
      }
      let next = roundUp(dataStart + dataSize)
      guard archive[nameStart + nameSize..<dataStart].allSatisfy({ $0 == 0 }),
        archive[dataStart + dataSize..<min(next, archive.count)].allSatisfy({ $0 == 0 })
      else {
        throw Malformed(description: "padding around \(name) is not zeros")
      }
      entries.append(
        Entry(
          name: name, inode: fields[0], mode: fields[1], uid: fields[2], gid: fields[3],
          links: fields[4], rdevMajor: fields[9], rdevMinor: fields[10], check: fields[12],
          data: Array(archive[dataStart..<dataStart + dataSize]), headerOffset: offset,
          dataOffset: dataStart, nextOffset: next))
      if name == "TRAILER!!!" { return entries }
      offset = next
    }
  }

  static func roundUp(_ value: Int) -> Int { (value + 3) & ~3 }
}

/// GNU cpio, when the machine has it.
enum Cpio {
  static var path: String? {
    let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
      .split(separator: ":")
    for directory in directories {
      let candidate = String(directory) + "/cpio"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Runs cpio with `arguments`, `input` on its standard input, and returns
  /// what it printed on standard output.
  static func run(_ arguments: [String], input: [UInt8]) throws -> String {
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("handoff-cpio-\(UUID().uuidString)")
    try Data(input).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: try #require(path))
    process.arguments = arguments
    process.standardInput = try FileHandle(forReadingFrom: file)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "cpio \(arguments) exited \(process.terminationStatus)")
    return String(decoding: data, as: UTF8.self)
  }
}
