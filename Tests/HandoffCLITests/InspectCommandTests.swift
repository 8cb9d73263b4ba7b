import Foundation
import HandoffCore
import HandoffTestSupport
import Testing

/// `handoff inspect`: a kernel image's header in text and JSON, and bad
/// files named with the field that rules them out.
@Suite("handoff inspect")
struct InspectCommandTests {
  static let path = "/boot/vmlinuz-handmade"

  static func system(with made: HandmadeBzImage = HandmadeBzImage()) -> RecordingSystem {
    RecordingSystem(files: [path: .file(made.bytes)])
  }

  @Test("The text shows every header field, aligned, one per line")
  func text() {
    let run = CommandRun.handoff("inspect", Self.path, on: Self.system())
    #expect(run.status == 0)
    #expect(run.error == "")
    #expect(
      run.output == """
        file:              /boot/vmlinuz-handmade
        format:            bzImage
        architecture:      x86_64
        kernel version:    6.99.0-handmade (test@handoff) #1 SMP
        boot protocol:     2.15
        setup size:        1024 bytes (1 sector)
        kernel size:       4096 bytes
        payload:           gzip, 64 bytes at 0x100
        relocatable:       yes
        kernel_alignment:  0x200000
        pref_address:      0x1000000
        init_size:         0x20000 (131072 bytes)
        cmdline_size:      2047
        loadflags:         0x1 (LOADED_HIGH)
        xloadflags:        0x3 (XLF_KERNEL_64, XLF_CAN_BE_LOADED_ABOVE_4G)
        handover_offset:   0x190
        64-bit handoff:    yes

        """)
  }

  @Test("An image that cannot be handed off to is shown, with the reason it cannot")
  func unbootableShown() {
    var made = HandmadeBzImage()
    made.xloadflags = 0x2
    let run = CommandRun.handoff("inspect", Self.path, on: Self.system(with: made))
    #expect(run.status == 0)
    #expect(run.output.contains("\nxloadflags:        0x2 (XLF_CAN_BE_LOADED_ABOVE_4G)\n"))
    #expect(
      run.output.hasSuffix(
        "\n64-bit handoff:    no: /boot/vmlinuz-handmade: xloadflags at offset 0x236 is 0x2, "
          + "expected XLF_KERNEL_64 (bit 0) set: the image has no 64-bit entry point\n"))
  }

  @Test("--json prints one object, on one line, with the header's fields")
  func json() throws {
    let run = CommandRun.handoff("inspect", Self.path, "--json", on: Self.system())
    #expect(run.status == 0)
    #expect(run.output.hasSuffix("}\n"))
    #expect(run.output.filter { $0 == "\n" }.count == 1)

    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["file"] as? String == Self.path)
    #expect(object["format"] as? String == "bzImage")
    #expect(object["architecture"] as? String == "x86_64")
    #expect(object["kernel_version"] as? String == "6.99.0-handmade (test@handoff) #1 SMP")
    #expect(object["boot_protocol"] as? String == "2.15")
    #expect(object["setup_sects"] as? Int == 1)
    #expect(object["setup_size"] as? Int == 1024)
    #expect(object["kernel_size"] as? Int == 4096)
    #expect(object["payload_compression"] as? String == "gzip")
    #expect(object["payload_offset"] as? Int == 0x100)
    #expect(object["payload_length"] as? Int == 0x40)
    #expect(object["relocatable"] as? Bool == true)
    #expect(object["kernel_alignment"] as? Int == 0x20_0000)
    #expect(object["pref_address"] as? Int == 0x100_0000)
    #expect(object["init_size"] as? Int == 0x2_0000)
    #expect(object["cmdline_size"] as? Int == 2047)
    #expect(object["loadflags"] as? Int == 1)
    #expect(object["xloadflags"] as? Int == 3)
    #expect(
      object["xloadflags_names"] as? [String] == ["XLF_KERNEL_64", "XLF_CAN_BE_LOADED_ABOVE_4G"])
    #expect(object["handover_offset"] as? Int == 0x190)
    #expect(object["bootable_64"] as? Bool == true)
    #expect(object["refusal"] is NSNull)
    #expect(object.count == 22)
  }

  @Test("--json of an unbootable image says why, and a missing version string is null")
  func jsonRefusal() throws {
    var made = HandmadeBzImage()
    made.version = 0x020a
    var bytes = made.bytes
    bytes[0x20e] = 0
    bytes[0x20f] = 0
    let system = RecordingSystem(files: [Self.path: .file(bytes)])
    let run = CommandRun.handoff("inspect", "--json", Self.path, on: system)
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["bootable_64"] as? Bool == false)
    #expect(object["boot_protocol"] as? String == "2.10")
    #expect(object["kernel_version"] is NSNull)
    let refusal = try #require(object["refusal"] as? String)
    #expect(refusal.contains("2.10"))
  }

  @Test("--json keeps quotes and control characters in a path valid JSON")
  func jsonEscapes() throws {
    let path = "/tmp/a \"quoted\"\tname\\"
    let system = RecordingSystem(files: [path: .file(HandmadeBzImage().bytes)])
    let run = CommandRun.handoff("inspect", "--json", path, on: system)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["file"] as? String == path)
  }

  /// A file inspect must refuse, and what the one error line must say.
  struct BadFile: Sendable, CustomTestStringConvertible {
    var name: String
    var entry: RecordingSystem.Entry
    var message: String
    var testDescription: String { name }
  }

  static let badFiles: [BadFile] = [
    BadFile(
      name: "a missing file", entry: .unopenable(Errno.ENOENT),
      message:
        "/boot/vmlinuz-handmade: cannot read: open(\"/boot/vmlinuz-handmade\", O_RDONLY) = ENOENT"),
    BadFile(
      name: "a directory", entry: .directory,
      message: "/boot/vmlinuz-handmade: not a regular file (a directory)"),
    BadFile(
      name: "an empty file", entry: .file([]), message: "/boot/vmlinuz-handmade: file is empty"),
    BadFile(
      name: "a short file", entry: .file([UInt8](repeating: 0, count: 100)),
      message:
        "/boot/vmlinuz-handmade: truncated: boot_flag at offset 0x1fe lies past the end of the "
        + "file (100 bytes)"),
    BadFile(
      name: "a file without boot_flag", entry: .file([UInt8](repeating: 0, count: 4096)),
      message:
        "/boot/vmlinuz-handmade: boot_flag at offset 0x1fe is 0x0, expected 0xaa55 (not a Linux "
        + "kernel image)"),
    BadFile(
      name: "an ELF file of no class",
      entry: .file([0x7f, 0x45, 0x4c, 0x46] + [UInt8](repeating: 0, count: 60)),
      message:
        "/boot/vmlinuz-handmade: EI_CLASS at offset 0x4 is 0x0, expected 2 (ELFCLASS64; Handoff "
        + "reads 64-bit kernels only)"
    ),
    BadFile(
      name: "a damaged Image.gz",
      entry: .file([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 0xff, 0xff]),
      message:
        "/boot/vmlinuz-handmade: corrupt gzip data at offset 0xb: invalid block type"
    ),
  ]

  @Test("A bad file exits 1 with one line naming the file and what is wrong", arguments: badFiles)
  func badFile(bad: BadFile) {
    let system = RecordingSystem(files: [Self.path: bad.entry])
    let run = CommandRun.handoff("inspect", Self.path, on: system)
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(run.error == "Error: " + bad.message + "\n")
    #expect(system.openDescriptors == [])
  }

  @Test("A damaged field is named with its offset", arguments: [false, true])
  func damagedField(json: Bool) {
    var made = HandmadeBzImage()
    made.kernelAlignment = 0x1234
    let arguments = ["handoff", "inspect", Self.path] + (json ? ["--json"] : [])
    let run = CommandRun(arguments, on: Self.system(with: made))
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(
      run.error
        == "Error: /boot/vmlinuz-handmade: kernel_alignment at offset 0x230 is 0x1234, "
        + "expected a power of two\n")
  }

  @Test(
    "A cached Debian kernel inspects as bootable, with its release in the version",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func realKernel(kernel: LabKernel) throws {
    let system = RecordingSystem(files: [kernel.imagePath: .file(try kernel.image())])
    let run = CommandRun.handoff("inspect", "--json", kernel.imagePath, on: system)
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let version = try #require(object["kernel_version"] as? String)
    #expect(version.hasPrefix(try kernel.release() + " "))
    #expect(object["bootable_64"] as? Bool == true)
    #expect(object["payload_compression"] as? String != "unknown")
  }
}
