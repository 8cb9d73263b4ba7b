import HandoffCore
import HandoffTestSupport
import Testing

/// Unified kernel images: the sections systemd-stub reads, the kernel in
/// .linux, and what the x86_64 loader takes out of one.
@Suite("Unified kernel images")
struct UnifiedKernelImageTests {
  static let path = "/boot/efi/EFI/Linux/debian.efi"

  @Test("The kernel, initrd, cmdline, os-release and uname are read out of their sections")
  func sections() throws {
    let linux = HandmadeBzImage().bytes
    let made = HandmadeUKI(linux: linux)
    let uki = try UnifiedKernelImage(path: Self.path, bytes: made.bytes)
    #expect(uki.kernel == .bzImage(try BzImage(path: Self.path + " (.linux)", bytes: linux)))
    #expect(uki.kernelBytes == linux)
    #expect(uki.initrd == Array("initramfs".utf8))
    #expect(uki.commandLine == HandmadeUKI.commandLine)
    #expect(uki.osRelease == HandmadeUKI.osRelease.dropLast(1) + "")
    #expect(uki.prettyName == "Debian GNU/Linux 13 (trixie)")
    #expect(uki.uname == "6.99.0-handmade")
    #expect(uki.devicetree == nil)
    #expect(
      uki.sections.map(\.name) == [".text", ".osrel", ".cmdline", ".uname", ".initrd", ".linux"])
  }

  @Test(
    "The display name is PRETTY_NAME, else NAME, else ID, unquoted",
    arguments: [
      ("PRETTY_NAME=\"Debian 13\"\nNAME=Debian\nID=debian\n", "Debian 13"),
      ("NAME='Debian GNU/Linux'\nID=debian\n", "Debian GNU/Linux"),
      ("ID=handoff-lab\n", "handoff-lab"),
      ("VERSION_ID=13\n", nil),
    ])
  func displayName(osRelease: String, expected: String?) throws {
    var made = HandmadeUKI(linux: HandmadeBzImage().bytes)
    made.sections[1] = HandmadePE.Section(".osrel", Array(osRelease.utf8))
    let uki = try UnifiedKernelImage(path: Self.path, bytes: made.bytes)
    #expect(uki.prettyName == expected)
  }

  @Test("The x86_64 loader gets the bzImage in .linux with the UKI's initrd and cmdline")
  func x86Kernel() throws {
    let linux = HandmadeBzImage().bytes
    let bytes = HandmadeUKI(linux: linux).bytes
    let kernel = try KernelImage.read(path: Self.path, bytes: bytes).x86Kernel(fileBytes: bytes)
    #expect(kernel.image == (try BzImage(path: Self.path + " (.linux)", bytes: linux)))
    #expect(kernel.bytes == linux)
    #expect(kernel.initrd == Array("initramfs".utf8))
    #expect(kernel.commandLine == HandmadeUKI.commandLine)
    #expect(kernel.fromUKI)

    let bare = HandmadeBzImage().bytes
    let plain = try KernelImage.read(path: "vmlinuz", bytes: bare).x86Kernel(fileBytes: bare)
    #expect(
      plain
        == X86Kernel(
          image: try BzImage(path: "vmlinuz", bytes: bare), bytes: bare, initrd: nil,
          commandLine: nil, fromUKI: false))
  }

  @Test("A UKI of an arm64 Image gives the x86_64 loader no kernel")
  func arm64() throws {
    var made = HandmadeUKI(linux: HandmadeImage(.arm64).bytes)
    made.machine = 0xaa64
    made.sections.append(HandmadePE.Section(".dtb", [0xd0, 0x0d, 0xfe, 0xed]))
    let bytes = made.bytes
    let image = try KernelImage.read(path: Self.path, bytes: bytes)
    guard case .uki(let uki) = image else {
      Issue.record("read as \(image.formatName)")
      return
    }
    #expect(uki.devicetree == [0xd0, 0x0d, 0xfe, 0xed])
    #expect(uki.pe.architecture == .arm64)
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path,
        reason: "it is a unified kernel image carrying an arm64 Image, not an x86 kernel")
    ) {
      _ = try image.x86Kernel(fileBytes: bytes)
    }
  }

  @Test("Only the base profile is read: sections after the first .profile are not")
  func profiles() throws {
    var made = HandmadeUKI(linux: HandmadeBzImage().bytes)
    made.sections.append(HandmadePE.Section(".profile", Array("ID=rescue\n".utf8)))
    made.sections.append(HandmadePE.Section(".cmdline", Array("rescue".utf8)))
    made.sections.append(HandmadePE.Section(".dtb", [1, 2, 3]))
    let uki = try UnifiedKernelImage(path: Self.path, bytes: made.bytes)
    #expect(uki.commandLine == HandmadeUKI.commandLine)
    #expect(uki.devicetree == nil)
    #expect(uki.sections.count == 9)
  }

  @Test("A UKI without .initrd or .cmdline has none")
  func optionalSections() throws {
    var made = HandmadeUKI(linux: HandmadeBzImage().bytes)
    made.sections.removeAll { $0.name == ".initrd" || $0.name == ".cmdline" }
    let bytes = made.bytes
    let kernel = try KernelImage.read(path: Self.path, bytes: bytes).x86Kernel(fileBytes: bytes)
    #expect(kernel.initrd == nil)
    #expect(kernel.commandLine == nil)
  }

  @Test("A .linux that holds an ELF vmlinux is refused: firmware cannot start one")
  func elfInside() {
    let made = HandmadeUKI(linux: HandmadeELF().bytes)
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path + " (.linux)",
        reason: "it is an ELF file, and a UKI's .linux holds a bzImage, an Image or an EFI zboot "
          + "image")
    ) {
      _ = try KernelImage.read(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("A damaged bzImage in .linux is refused naming the section")
  func damagedInside() {
    var linux = HandmadeBzImage()
    linux.kernelAlignment = 0x30_0000
    let made = HandmadeUKI(linux: linux.bytes)
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path + " (.linux)", field: "kernel_alignment", offset: 0x230,
        value: 0x30_0000, expected: "a power of two")
    ) {
      _ = try KernelImage.read(path: Self.path, bytes: made.bytes)
    }
  }

  @Test("A PE file without .linux is not a UKI")
  func noLinux() {
    let pe = HandmadePE(sections: [HandmadePE.Section(".text", [0xc3])])
    #expect(
      throws: HandoffError.unsupportedImage(
        path: Self.path, reason: "it is a PE file without a .linux section before any .profile")
    ) {
      _ = try UnifiedKernelImage(path: Self.path, bytes: pe.bytes)
    }
  }
}
