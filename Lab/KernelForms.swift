import Foundation
import HandoffCore

/// Makes the forms of a kernel image the lab hands to `handoff load`, from
/// the image Debian ships, with the tools a distribution would use.
enum KernelForms {
  /// The bytes of `image` in `form`.
  static func bytes(of image: URL, as form: KernelForm) throws -> [UInt8] {
    switch form {
    case .asShipped:
      return [UInt8](try Data(contentsOf: image))
    case .gzip:
      return try run("/bin/gzip", ["-9", "-n", "-c", image.path])
    case .elf:
      return try vmlinux(in: image)
    case .uki:
      preconditionFailure("a unified kernel image needs its initrd and command line")
    }
  }

  /// The ELF vmlinux inside a bzImage's payload, unpacked with Handoff's
  /// own readers (gzip and zstd payloads only).
  static func vmlinux(in image: URL) throws -> [UInt8] {
    let bytes = [UInt8](try Data(contentsOf: image))
    do {
      let bzImage = try BzImage(path: image.path, bytes: bytes)
      let start = bzImage.setupSize + Int(bzImage.payloadOffset)
      let payload = bytes[start..<start + Int(bzImage.payloadLength)]
      return try Unpacked.unpack(bzImage.payloadCompression, path: image.path, payload).bytes
    } catch {
      throw LabError.tool("unpacking the vmlinux in \(image.path): \(error)")
    }
  }

  /// systemd's EFI stub for `architecture`, from Debian's systemd-boot-efi
  /// (arm64's unpacked into the cache by `make setup`), and the objcopy
  /// that writes PE files of its machine.
  static func stub(_ architecture: GuestArchitecture, paths: LabPaths) throws -> (
    stub: String, objcopy: String
  ) {
    switch architecture {
    case .x86_64:
      return ("/usr/lib/systemd/boot/efi/linuxx64.efi.stub", "/usr/bin/objcopy")
    case .aarch64:
      let stub = paths.cache.appendingPathComponent("arm64/linuxaa64.efi.stub").path
      return (stub, "/usr/bin/aarch64-linux-gnu-objcopy")
    case .riscv64:
      throw LabError.missing("a systemd EFI stub for riscv64 in bookworm's systemd-boot-efi")
    }
  }

  /// A unified kernel image of `image`, `initrd` and `commandLine`, made
  /// the way distributions documented before ukify: objcopy adds them to
  /// systemd's stub as .linux, .initrd and .cmdline, with an .osrel, at
  /// virtual addresses past the stub's own sections.
  static func unifiedKernelImage(
    _ image: URL, initrd: [UInt8], commandLine: String, architecture: GuestArchitecture,
    paths: LabPaths
  ) throws -> [UInt8] {
    let (stub, objcopy) = try Self.stub(architecture, paths: paths)
    for tool in [stub, objcopy] where !FileManager.default.fileExists(atPath: tool) {
      throw LabError.missing("\(tool); run 'make setup'")
    }
    let directory = paths.work.appendingPathComponent("uki")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let parts = [
      ("osrel", Array("ID=debian\nPRETTY_NAME=\"Handoff lab\"\n".utf8), "0x20000"),
      ("cmdline", Array(commandLine.utf8), "0x30000"),
      ("initrd", initrd, "0x6000000"),
    ]
    var arguments: [String] = []
    for (name, bytes, address) in parts {
      let file = directory.appendingPathComponent(name)
      try Data(bytes).write(to: file)
      arguments += [
        "--add-section", ".\(name)=\(file.path)", "--change-section-vma", ".\(name)=\(address)",
      ]
    }
    arguments += [
      "--add-section", ".linux=\(image.path)", "--change-section-vma", ".linux=0x2000000",
    ]
    let output = directory.appendingPathComponent("uki.efi")
    _ = try run(objcopy, arguments + [stub, output.path])
    defer { try? FileManager.default.removeItem(at: directory) }
    return [UInt8](try Data(contentsOf: output))
  }

  /// What `tool` writes to standard output, or an error with its status.
  static func run(_ tool: String, _ arguments: [String]) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let bytes = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let command = ([tool] + arguments).joined(separator: " ")
      throw LabError.tool("\(command) failed with status \(process.terminationStatus)")
    }
    return [UInt8](bytes)
  }
}
