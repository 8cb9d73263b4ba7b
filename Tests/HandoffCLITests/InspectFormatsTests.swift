import Foundation
import HandoffCore
import HandoffTestSupport
import Testing

/// `handoff inspect` of every format but bzImage: golden text and JSON of
/// handmade images, and Debian's arm64 and riscv64 kernels.
@Suite("handoff inspect of other formats")
struct InspectFormatsTests {
  static let banner = "6.99.0-handmade (test@handoff) (gcc 14) #1 SMP PREEMPT_DYNAMIC 2026"

  static func inspect(_ path: String, _ bytes: [UInt8], json: Bool = false) -> CommandRun {
    let system = RecordingSystem(files: [path: .file(bytes)])
    return CommandRun(["handoff", "inspect", path] + (json ? ["--json"] : []), on: system)
  }

  @Test("An ELF vmlinux shows its machine, entry and PT_LOAD program headers")
  func elfText() {
    let run = Self.inspect("/boot/vmlinux", HandmadeELF().bytes)
    #expect(run.status == 0)
    #expect(run.error == "")
    #expect(
      run.output == """
        file:              /boot/vmlinux
        format:            ELF vmlinux
        architecture:      x86_64
        kernel version:    \(Self.banner)
        file size:         12288 bytes
        e_machine:         62 (EM_X86_64)
        e_type:            ET_EXEC
        e_entry:           0x1000040
        PT_LOAD 0:         offset 0x1000 vaddr 0xffffffff81000000 paddr 0x1000000 filesz 0x1000 \
        memsz 0x1000 RE
        PT_LOAD 2:         offset 0x2000 vaddr 0xffffffff81200000 paddr 0x1200000 filesz 0x800 \
        memsz 0x3000 RW
        64-bit handoff:    yes

        """)
  }

  @Test("An ELF vmlinux's JSON carries the program headers under the kernel's names")
  func elfJSON() {
    let run = Self.inspect("/boot/vmlinux", HandmadeELF().bytes, json: true)
    #expect(
      run.output
        == "{\"file\": \"/boot/vmlinux\", \"format\": \"ELF vmlinux\", \"architecture\": "
        + "\"x86_64\", \"kernel_version\": \"\(Self.banner)\", \"file_size\": 12288, "
        + "\"e_machine\": 62, \"e_machine_name\": \"EM_X86_64\", \"e_type\": 2, \"e_entry\": "
        + "16777280, \"load_segments\": [{\"index\": 0, \"p_offset\": 4096, \"p_vaddr\": "
        + "18446744071578845184, \"p_paddr\": 16777216, \"p_filesz\": 4096, \"p_memsz\": 4096, "
        + "\"p_flags\": 5, \"p_align\": 2097152}, {\"index\": 2, \"p_offset\": 8192, "
        + "\"p_vaddr\": 18446744071580942336, \"p_paddr\": 18874368, \"p_filesz\": 2048, "
        + "\"p_memsz\": 12288, \"p_flags\": 6, \"p_align\": 2097152}], \"bootable_64\": true, "
        + "\"refusal\": null}\n")
  }

  @Test("An arm64 Image shows its header, flags and EFI stub")
  func arm64Text() {
    let run = Self.inspect("/boot/Image", HandmadeImage(.arm64).bytes)
    #expect(run.status == 0)
    #expect(
      run.output == """
        file:              /boot/Image
        format:            arm64 Image
        architecture:      arm64
        kernel version:    \(Self.banner)
        file size:         8704 bytes
        compression:       none
        text_offset:       0x0
        image_size:        0x40000 (262144 bytes)
        flags:             0xa (little-endian, 4K pages, anywhere in physical memory)
        EFI stub:          PE32+ for arm64 at 0x40, entry 0x1000, 1 section
        64-bit handoff:    yes

        """)
  }

  @Test("An arm64 Image's JSON carries the header, flags and the stub's sections")
  func arm64JSON() {
    let run = Self.inspect("/boot/Image", HandmadeImage(.arm64).bytes, json: true)
    #expect(
      run.output
        == "{\"file\": \"/boot/Image\", \"format\": \"arm64 Image\", \"architecture\": "
        + "\"arm64\", \"kernel_version\": \"\(Self.banner)\", \"file_size\": 8704, "
        + "\"compression\": null, \"unpacked_size\": 8704, \"text_offset\": 0, \"image_size\": "
        + "262144, \"flags\": 10, \"flags_names\": [\"little-endian\", \"4K pages\", "
        + "\"anywhere in physical memory\"], \"efi_stub\": {\"pe_offset\": 64, \"machine\": "
        + "43620, \"architecture\": \"arm64\", \"entry_point\": 4096, \"image_base\": 0, "
        + "\"size_of_image\": 8192, \"subsystem\": 10, \"sections\": [{\"name\": \".text\", "
        + "\"offset\": 512, \"size\": 8192, \"raw_size\": 8192, \"virtual_address\": 4096, "
        + "\"virtual_size\": 8192}]}, \"bootable_64\": true, \"refusal\": null}\n")
  }

  @Test("A gzip-compressed riscv64 Image shows the compression and the Image inside")
  func riscvGzipText() throws {
    let packed = try Compressor.gzip(HandmadeImage(.riscv64).bytes)
    let run = Self.inspect("/boot/Image.gz", packed)
    #expect(run.status == 0)
    #expect(
      run.output == """
        file:              /boot/Image.gz
        format:            riscv64 Image
        architecture:      riscv64
        kernel version:    \(Self.banner)
        file size:         \(packed.count) bytes
        compression:       gzip, unpacked to 8704 bytes
        header version:    0.2
        text_offset:       0x200000
        image_size:        0x40000 (262144 bytes)
        flags:             0x0 (little-endian)
        EFI stub:          PE32+ for riscv64 at 0x40, entry 0x1000, 1 section
        64-bit handoff:    yes

        """)
  }

  @Test("A zboot image shows its compression, payload and the Image inside, indented")
  func zbootText() throws {
    let packed = try Compressor.gzip(HandmadeImage(.arm64).bytes)
    let run = Self.inspect(
      "/boot/vmlinuz.efi", HandmadeZboot(payload: packed, compressionType: "gzip").bytes)
    #expect(run.status == 0)
    #expect(
      run.output == """
        file:              /boot/vmlinuz.efi
        format:            EFI zboot image
        architecture:      arm64
        kernel version:    \(Self.banner)
        file size:         1536 bytes
        compression:       gzip
        payload:           \(packed.count) bytes at 0x400, unpacked to 8704 bytes
        EFI stub:          PE32+ for arm64 at 0x40, entry 0x1000, 2 sections
        64-bit handoff:    yes

        zboot payload:
          format:            arm64 Image
          architecture:      arm64
          kernel version:    \(Self.banner)
          file size:         8704 bytes
          compression:       none
          text_offset:       0x0
          image_size:        0x40000 (262144 bytes)
          flags:             0xa (little-endian, 4K pages, anywhere in physical memory)
          EFI stub:          PE32+ for arm64 at 0x40, entry 0x1000, 1 section

        """)
  }

  @Test("A zstd zboot image's JSON names the header's type and nests the payload's image")
  func zbootJSON() throws {
    let inner = HandmadeImage(.riscv64).bytes
    let packed = try Compressor.zstd(inner)
    var made = HandmadeZboot(payload: packed, compressionType: "zstd22")
    made.machine = 0x5064
    let run = Self.inspect("/boot/vmlinuz.efi", made.bytes, json: true)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["format"] as? String == "EFI zboot image")
    #expect(object["architecture"] as? String == "riscv64")
    #expect(object["compression"] as? String == "zstd")
    #expect(object["compression_type"] as? String == "zstd22")
    #expect(object["payload_offset"] as? Int == made.payloadOffset)
    #expect(object["payload_size"] as? Int == packed.count)
    #expect(object["unpacked_size"] as? Int == inner.count)
    #expect((object["efi_stub"] as? [String: Any])?["machine"] as? Int == 0x5064)
    let payload = try #require(object["payload"] as? [String: Any])
    #expect(payload["file"] as? String == "/boot/vmlinuz.efi (zboot payload)")
    #expect(payload["format"] as? String == "riscv64 Image")
    #expect(payload["header_version"] as? String == "0.2")
    #expect(payload["text_offset"] as? Int == 0x20_0000)
    #expect(payload["bootable_64"] == nil)
    #expect(object["bootable_64"] as? Bool == true)
  }

  @Test("A UKI shows its sections, what they say, and the bzImage in .linux")
  func ukiText() {
    let run = Self.inspect("/efi/debian.efi", HandmadeUKI(linux: HandmadeBzImage().bytes).bytes)
    #expect(run.status == 0)
    #expect(
      run.output == """
        file:              /efi/debian.efi
        format:            unified kernel image
        architecture:      x86_64
        kernel version:    6.99.0-handmade (test@handoff) #1 SMP
        file size:         9216 bytes
        os release:        Debian GNU/Linux 13 (trixie)
        uname:             6.99.0-handmade
        cmdline:           root=/dev/vda1 ro console=ttyS0
        initrd:            9 bytes
        devicetree:        (none)
        EFI stub:          PE32+ for x86_64 at 0x40, entry 0x1000, 6 sections
        section .text:     1024 bytes at 0x400, virtual address 0x1000
        section .osrel:    77 bytes at 0x800, virtual address 0x2000
        section .cmdline:  33 bytes at 0xa00, virtual address 0x3000
        section .uname:    15 bytes at 0xc00, virtual address 0x4000
        section .initrd:   9 bytes at 0xe00, virtual address 0x5000
        section .linux:    5120 bytes at 0x1000, virtual address 0x6000
        64-bit handoff:    yes

        .linux:
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

        """)
  }

  @Test("A UKI's JSON lists each section and nests the kernel in .linux")
  func ukiJSON() throws {
    let run = Self.inspect(
      "/efi/debian.efi", HandmadeUKI(linux: HandmadeBzImage().bytes).bytes, json: true)
    #expect(run.output.filter { $0 == "\n" }.count == 1)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["format"] as? String == "unified kernel image")
    #expect(object["pretty_name"] as? String == "Debian GNU/Linux 13 (trixie)")
    #expect(object["os_release"] as? String == String(HandmadeUKI.osRelease.dropLast()))
    #expect(object["cmdline"] as? String == HandmadeUKI.commandLine)
    #expect(object["uname"] as? String == "6.99.0-handmade")
    #expect(object["initrd_size"] as? Int == 9)
    #expect(object["devicetree_size"] is NSNull)
    let stub = try #require(object["efi_stub"] as? [String: Any])
    let sections = try #require(stub["sections"] as? [[String: Any]])
    #expect(
      sections.compactMap { $0["name"] as? String }
        == [".text", ".osrel", ".cmdline", ".uname", ".initrd", ".linux"])
    #expect(
      sections.compactMap { $0["offset"] as? Int } == [0x400, 0x800, 0xa00, 0xc00, 0xe00, 0x1000])
    #expect(sections.compactMap { $0["size"] as? Int } == [1024, 77, 33, 15, 9, 5120])
    let linux = try #require(object["linux"] as? [String: Any])
    #expect(linux["format"] as? String == "bzImage")
    #expect(linux["boot_protocol"] as? String == "2.15")
    #expect(linux["file"] as? String == "/efi/debian.efi (.linux)")
    #expect(object["bootable_64"] as? Bool == true)
    #expect(object["refusal"] is NSNull)
  }

  @Test(
    "Debian's arm64 and riscv64 kernels inspect as Images with their release",
    .enabled(
      if: LabKernel.foreignPresent,
      "the lab's arm64 and riscv64 kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.arm64 + LabKernel.riscv64)
  func realKernel(kernel: LabKernel) throws {
    let run = Self.inspect(kernel.imagePath, try kernel.image(), json: true)
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    let arm64 = kernel.architecture == "arm64"
    #expect(object["format"] as? String == (arm64 ? "arm64 Image" : "riscv64 Image"))
    #expect(object["architecture"] as? String == kernel.architecture)
    let version = try #require(object["kernel_version"] as? String)
    #expect(version.hasPrefix(try kernel.release() + " "))
    #expect(object["compression"] is NSNull)
    #expect((object["image_size"] as? Int ?? 0) > 0)
    #expect(
      (object["efi_stub"] as? [String: Any])?["architecture"] as? String == kernel.architecture)
    #expect(object["bootable_64"] as? Bool == true)
  }
}
