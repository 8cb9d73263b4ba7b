import Foundation
import HandoffCore
import Testing

/// The checked-in x86_64 purgatory: its shape, and that it is what
/// scripts/build-purgatory.sh makes from today's sources.
@Suite("x86_64 purgatory blob")
struct PurgatoryBlobTests {
  @Test("The parameter block's magic and version sit at parametersOffset")
  func magicAtParametersOffset() {
    let bytes = PurgatoryBlobX86_64.bytes
    let offset = PurgatoryBlobX86_64.parametersOffset
    #expect(offset % 8 == 0)
    #expect(offset + PurgatoryParameters.size <= bytes.count)
    #expect(Array(bytes[offset..<offset + 8]) == Array("HNOFFTPG".utf8))
    #expect(word(bytes, at: offset) == PurgatoryParameters.magic)
    #expect(word(bytes, at: offset + 8) == PurgatoryParameters.version)
  }

  @Test("The entry starts with cli; cld, and the stack fits in a page-rounded memsz")
  func entryAndMemorySize() {
    let bytes = PurgatoryBlobX86_64.bytes
    let entry = PurgatoryBlobX86_64.entryOffset
    #expect(Array(bytes[entry..<entry + 2]) == [0xfa, 0xfc])
    #expect(PurgatoryBlobX86_64.memorySize % 4096 == 0)
    #expect(PurgatoryBlobX86_64.memorySize >= bytes.count + 8192)
  }

  @Test("The unpatched block asks for nothing: no kernel, no port, no flags, no regions")
  func emptyBlock() {
    let bytes = PurgatoryBlobX86_64.bytes
    let offset = PurgatoryBlobX86_64.parametersOffset
    #expect(bytes[offset + 16..<offset + PurgatoryParameters.size].allSatisfy { $0 == 0 })
  }

  // Building needs the Swift toolchain with its embedded standard library
  // for x86_64-unknown-none-elf; a machine without one skips this test.
  @Test(
    "A fresh build gives the checked-in bytes and offsets",
    .enabled(
      if: PurgatoryBuild.toolchain != nil, "no Swift toolchain with Embedded Swift for x86_64"),
    .timeLimit(.minutes(5)))
  func freshBuildMatches() throws {
    let toolchain = try #require(PurgatoryBuild.toolchain)
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("handoff-purgatory-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let generated = directory.appendingPathComponent("PurgatoryBlob+x86_64.swift")

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [
      PurgatoryBuild.root + "/scripts/build-purgatory.sh", directory.path, generated.path,
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_TOOLCHAIN"] = toolchain
    process.environment = environment
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(
      process.terminationStatus == 0,
      "build-purgatory.sh failed: \(String(decoding: message, as: UTF8.self))")

    let fresh = Array(try Data(contentsOf: directory.appendingPathComponent("purgatory.bin")))
    #expect(
      fresh == PurgatoryBlobX86_64.bytes, "run scripts/build-purgatory.sh and commit the result")
    let checkedIn = try String(
      contentsOfFile: PurgatoryBuild.root
        + "/Sources/HandoffCore/Purgatory/PurgatoryBlob+x86_64.swift",
      encoding: .utf8)
    let freshSource = try String(contentsOf: generated, encoding: .utf8)
    #expect(
      freshSource == checkedIn, "the offsets or the text differ: rerun scripts/build-purgatory.sh")
  }

  private func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
  }
}

/// Where the purgatory's sources and a toolchain able to build them are.
enum PurgatoryBuild {
  /// The repository, three levels above this file.
  static let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  /// The toolchain's usr directory, chosen as the build script chooses it
  /// (SWIFT_TOOLCHAIN, else /opt/swift/usr), when it has Embedded Swift.
  static var toolchain: String? {
    let environment = ProcessInfo.processInfo.environment
    let candidate =
      environment["SWIFT_TOOLCHAIN"].flatMap { $0.isEmpty ? nil : $0 } ?? "/opt/swift/usr"
    let manager = FileManager.default
    guard manager.isExecutableFile(atPath: candidate + "/bin/swiftc"),
      manager.fileExists(atPath: candidate + "/lib/swift/embedded/x86_64-unknown-none-elf")
    else { return nil }
    return candidate
  }
}
