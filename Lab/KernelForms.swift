import Foundation
import HandoffCore

/// Makes the forms of a kernel image the lab hands to `handoff load`, from
/// the image Debian ships, with the tools a distribution would use.
enum KernelForms {
  /// The bytes of `image`, a kernel for `architecture`, in `form`.
  static func bytes(
    of image: URL, as form: KernelForm, architecture: GuestArchitecture, paths: LabPaths
  ) throws -> [UInt8] {
    switch form {
    case .asShipped:
      return [UInt8](try Data(contentsOf: image))
    case .gzip:
      return try run("/bin/gzip", ["-9", "-n", "-c", image.path])
    case .elf where architecture == .x86_64:
      return try vmlinux(in: image)
    case .elf:
      return try linkedVmlinux(of: image, architecture: architecture, paths: paths)
    case .zboot:
      return try zboot(of: image, architecture: architecture)
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

  /// The image_size of the arm64 or riscv64 Image in `bytes`, read with
  /// Handoff's own readers.
  static func imageSize(of bytes: [UInt8], path: String) throws -> UInt64 {
    do {
      return try KernelImage.read(path: path, bytes: bytes).deviceTreeKernel(fileBytes: bytes)
        .imageSize
    } catch {
      throw LabError.tool("reading the Image header of \(path): \(error)")
    }
  }

  /// An ELF vmlinux around an arm64 or riscv64 Image, linked with
  /// binutils: objcopy makes the Image an object's `.image` section, and
  /// ld places it in one PT_LOAD at the address Debian's 6.12 kernels link
  /// at, entered at its start, with a bss that takes `p_memsz` to the
  /// header's image_size. The segments of a vmlinux from a kernel build
  /// lay out to the same Image.
  static func linkedVmlinux(
    of image: URL, architecture: GuestArchitecture, paths: LabPaths
  ) throws -> [UInt8] {
    let (format, machine, address): (String, String, String)
    switch architecture {
    case .aarch64:
      (format, machine, address) = ("elf64-littleaarch64", "aarch64", "0xffff800080000000")
    case .riscv64:
      (format, machine, address) = ("elf64-littleriscv", "riscv", "0xffffffff80000000")
    case .x86_64:
      preconditionFailure("an x86_64 vmlinux comes out of its bzImage")
    }
    let objcopy = "/usr/bin/\(architecture.rawValue)-linux-gnu-objcopy"
    let ld = "/usr/bin/\(architecture.rawValue)-linux-gnu-ld"
    for tool in [objcopy, ld] where !FileManager.default.fileExists(atPath: tool) {
      throw LabError.missing("\(tool); run 'make setup'")
    }
    let bytes = [UInt8](try Data(contentsOf: image))
    let bss = try imageSize(of: bytes, path: image.path) - UInt64(bytes.count)

    let directory = paths.work.appendingPathComponent("elf")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let object = directory.appendingPathComponent("image.o")
    _ = try run(
      objcopy,
      [
        "-I", "binary", "-O", format, "-B", machine, "--rename-section",
        ".data=.image,alloc,load,code,contents", image.path, object.path,
      ])
    let script = directory.appendingPathComponent("vmlinux.lds")
    let text = """
      ENTRY(_text)
      PHDRS { image PT_LOAD FLAGS(7); }
      SECTIONS {
        . = \(address);
        _text = .;
        .image : { *(.image) } :image
        .bss (NOLOAD) : { . = . + 0x\(String(bss, radix: 16)); } :image
      }

      """
    try Data(text.utf8).write(to: script)
    let output = directory.appendingPathComponent("vmlinux")
    _ = try run(
      ld,
      [
        "-T", script.path, "--no-warn-rwx-segments", "--build-id=none", "-o", output.path,
        object.path,
      ])
    return [UInt8](try Data(contentsOf: output))
  }

  /// An EFI zboot image of an arm64 Image, its payload compressed with
  /// zstd at zstd's default level and named `zstd22`, as the kernel's
  /// build names it.
  static func zboot(of image: URL, architecture: GuestArchitecture) throws -> [UInt8] {
    guard architecture == .aarch64 else {
      throw LabError.missing("a zboot writer for \(architecture.rawValue); the lab writes arm64's")
    }
    let size = try FileManager.default.attributesOfItem(atPath: image.path)[.size] as? Int ?? 0
    let payload = try run("/usr/bin/zstd", ["-q", "-c", image.path])
    return ZbootWriter(payload: payload, imageSize: size, compressionType: "zstd22").bytes
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
