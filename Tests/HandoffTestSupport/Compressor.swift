// gzip and zstd through Debian's command-line tools, so the tests unpack
// data that another implementation packed.
import Foundation

/// Compresses bytes with the `gzip` and `zstd` programs.
public enum Compressor {
  public static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    try run(["gzip", "-c", "-n", "-6"], bytes)
  }

  /// zstd at `level`; 19 and more take long on a kernel.
  public static func zstd(_ bytes: [UInt8], level: Int = 3) throws -> [UInt8] {
    try run(["zstd", "-c", "-q", "-\(level)"], bytes)
  }

  struct Failed: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var description: String { "\(command.joined(separator: " ")) exited with \(status)" }
  }

  /// Runs `command` with `bytes` in a file and returns what it wrote.
  static func run(_ command: [String], _ bytes: [UInt8]) throws -> [UInt8] {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("handoff-compressor-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("input")
    let output = directory.appendingPathComponent("output")
    try Data(bytes).write(to: input)
    FileManager.default.createFile(atPath: output.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command + [input.path]
    process.standardOutput = try FileHandle(forWritingTo: output)
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw Failed(command: command, status: process.terminationStatus)
    }
    return Array(try Data(contentsOf: output))
  }
}
