import Foundation
import HandoffCore
import Testing

/// The checked-in purgatories: their shape, and that each is what
/// scripts/build-purgatory.sh makes from today's sources.
@Suite("Purgatory blobs")
struct PurgatoryBlobTests {
  /// One architecture's checked-in blob and where its parts are.
  struct Blob: CustomStringConvertible, Sendable {
    let architecture: String
    let embeddedTarget: String
    let bytes: [UInt8]
    let entryOffset: Int
    let parametersOffset: Int
    let memorySize: Int
    /// The entry's first instruction, which masks interrupts: cli; cld,
    /// msr daifset, #0xf, or csrw sie, zero.
    let firstInstruction: [UInt8]

    var description: String { architecture }
  }

  static let blobs = [
    Blob(
      architecture: "x86_64", embeddedTarget: "x86_64-unknown-none-elf",
      bytes: PurgatoryBlobX86_64.bytes, entryOffset: PurgatoryBlobX86_64.entryOffset,
      parametersOffset: PurgatoryBlobX86_64.parametersOffset,
      memorySize: PurgatoryBlobX86_64.memorySize, firstInstruction: [0xfa, 0xfc]),
    Blob(
      architecture: "aarch64", embeddedTarget: "aarch64-none-none-elf",
      bytes: PurgatoryBlobAArch64.bytes, entryOffset: PurgatoryBlobAArch64.entryOffset,
      parametersOffset: PurgatoryBlobAArch64.parametersOffset,
      memorySize: PurgatoryBlobAArch64.memorySize, firstInstruction: [0xdf, 0x4f, 0x03, 0xd5]),
    Blob(
      architecture: "riscv64", embeddedTarget: "riscv64-none-none-eabi",
      bytes: PurgatoryBlobRISCV64.bytes, entryOffset: PurgatoryBlobRISCV64.entryOffset,
      parametersOffset: PurgatoryBlobRISCV64.parametersOffset,
      memorySize: PurgatoryBlobRISCV64.memorySize, firstInstruction: [0x73, 0x10, 0x40, 0x10]),
  ]

  @Test("The parameter block's magic and version sit at parametersOffset", arguments: blobs)
  func magicAtParametersOffset(blob: Blob) {
    let offset = blob.parametersOffset
    #expect(offset % 8 == 0)
    #expect(offset + PurgatoryParameters.size <= blob.bytes.count)
    #expect(Array(blob.bytes[offset..<offset + 8]) == Array("HNOFFTPG".utf8))
    #expect(word(blob.bytes, at: offset) == PurgatoryParameters.magic)
    #expect(word(blob.bytes, at: offset + 8) == PurgatoryParameters.version)
  }

  @Test(
    "The entry masks interrupts first, and the stack fits in a page-rounded memsz",
    arguments: blobs)
  func entryAndMemorySize(blob: Blob) {
    let entry = blob.entryOffset
    #expect(Array(blob.bytes[entry..<entry + blob.firstInstruction.count]) == blob.firstInstruction)
    #expect(blob.memorySize % 4096 == 0)
    #expect(blob.memorySize >= blob.bytes.count + 8192)
  }

  @Test(
    "The unpatched block asks for nothing: no kernel, no UART, no flags, no regions",
    arguments: blobs)
  func emptyBlock(blob: Blob) {
    let offset = blob.parametersOffset
    #expect(blob.bytes[offset + 16..<offset + PurgatoryParameters.size].allSatisfy { $0 == 0 })
  }

  // Building needs the Swift toolchain with its embedded standard library
  // for the architecture; a machine without one skips this test.
  @Test(
    "A fresh build gives the checked-in bytes and offsets",
    .enabled(if: PurgatoryBuild.toolchain != nil, "no Swift toolchain with Embedded Swift"),
    .timeLimit(.minutes(5)), arguments: blobs)
  func freshBuildMatches(blob: Blob) throws {
    let toolchain = try #require(PurgatoryBuild.toolchain)
    try #require(
      FileManager.default.fileExists(
        atPath: toolchain + "/lib/swift/embedded/" + blob.embeddedTarget),
      "the toolchain has no embedded standard library for \(blob.embeddedTarget)")
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("handoff-purgatory-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let fileName = "PurgatoryBlob+\(blob.architecture).swift"
    let generated = directory.appendingPathComponent(fileName)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [
      PurgatoryBuild.root + "/scripts/build-purgatory.sh", blob.architecture, directory.path,
      generated.path,
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
    #expect(fresh == blob.bytes, "run scripts/build-purgatory.sh and commit the result")
    let checkedIn = try String(
      contentsOfFile: PurgatoryBuild.root + "/Sources/HandoffCore/Purgatory/" + fileName,
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
      manager.fileExists(atPath: candidate + "/lib/swift/embedded")
    else { return nil }
    return candidate
  }
}
