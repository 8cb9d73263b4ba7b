import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// `handoff load` with a bad kernel, initrd or command line, through each
/// system call: one error naming the file, the field and the value, exit
/// status 1, no kexec call, no descriptor left open, and the kernel that
/// was loaded before still the one `handoff status` reports.
@Suite("Bad input leaves the loaded kernel as it was")
struct LoadRefusalTests {
  struct BadLoad: Sendable, CustomTestStringConvertible {
    var testDescription: String
    /// The arguments after `handoff load`.
    var arguments: [String]
    var change: @Sendable (RecordingSystem) -> Void = { _ in }
    /// What the error must say, each somewhere in its text.
    var saying: [String]
  }

  static func kernel(_ change: (inout HandmadeBzImage) -> Void) -> [UInt8] {
    var image = HandmadeBzImage()
    change(&image)
    return image.bytes
  }

  static let badLoads = [
    BadLoad(
      testDescription: "a setup header cut short", arguments: ["/boot/bad"],
      change: { $0.files["/boot/bad"] = .file(Array(HandmadeBzImage().bytes.prefix(0x220))) },
      saying: ["/boot/bad", "setup_sects", "544 bytes"]),
    BadLoad(
      testDescription: "a wrong header magic", arguments: ["/boot/bad"],
      change: { $0.files["/boot/bad"] = .file(kernel { $0.header = Array("HdrT".utf8) }) },
      saying: ["/boot/bad", "header", "0x202", "0x54726448", "HdrS"]),
    BadLoad(
      testDescription: "an absurd init_size", arguments: ["/boot/bad"],
      change: { $0.files["/boot/bad"] = .file(kernel { $0.initSize = 0xffff_f000 }) },
      saying: ["/boot/bad", "init_size", "0xfffff000"]),
    BadLoad(
      testDescription: "a kernel larger than memory", arguments: ["/boot/big"],
      change: { system in
        system.files["/boot/big"] = .file(
          kernel {
            $0.kernelLength = 0x180_0000
            $0.initSize = 0x200_0000
          })
        system.files["/proc/iomem"] = .file(Array("00100000-00ffffff : System RAM\n".utf8))
        for index in 0..<20 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
      },
      saying: ["no room for the kernel segment", "init_size 0x2000000 of /boot/big"]),
    BadLoad(
      testDescription: "a command line longer than cmdline_size",
      arguments: ["/boot/vmlinuz", "--cmdline", String(repeating: "x", count: 2047)],
      saying: ["/boot/vmlinuz", "cmdline_size", "2047"]),
    BadLoad(
      testDescription: "a missing initrd", arguments: ["/boot/vmlinuz", "--initrd", "/boot/none"],
      saying: ["/boot/none", "open(\"/boot/none\", O_RDONLY) = ENOENT"]),
    BadLoad(
      testDescription: "an unreadable initrd",
      arguments: ["/boot/vmlinuz", "--initrd", "/boot/secret.img"],
      change: { $0.files["/boot/secret.img"] = .unopenable(Errno.EACCES) },
      saying: ["/boot/secret.img", "open(\"/boot/secret.img\", O_RDONLY) = EACCES"]),
    BadLoad(
      testDescription: "a directory as the kernel", arguments: ["/boot"],
      change: { $0.files["/boot"] = .directory },
      saying: ["/boot", "not a regular file (a directory)"]),
    BadLoad(
      testDescription: "a directory as the initrd",
      arguments: ["/boot/vmlinuz", "--initrd", "/boot/efi"],
      change: { $0.files["/boot/efi"] = .directory },
      saying: ["/boot/efi", "not a regular file (a directory)"]),
    BadLoad(
      testDescription: "a zero-length kernel", arguments: ["/boot/empty"],
      change: { $0.files["/boot/empty"] = .file([]) },
      saying: ["/boot/empty", "file is empty"]),
    BadLoad(
      testDescription: "a zero-length initrd",
      arguments: ["/boot/vmlinuz", "--initrd", "/boot/initrd.img", "--initrd", "/boot/empty"],
      change: { $0.files["/boot/empty"] = .file([]) },
      saying: ["/boot/empty", "file is empty"]),
    BadLoad(
      testDescription: "an initrd on a file system that is gone",
      arguments: ["/boot/vmlinuz", "--initrd", "/mnt/nfs/initrd.img"],
      change: { system in
        system.setText("/mnt/nfs/initrd.img", "initramfs")
        system.fail("read", with: Errno.ESTALE, path: "/mnt/nfs/initrd.img")
      },
      saying: ["/mnt/nfs/initrd.img", "read(fd: ", "= ESTALE"]),
  ]

  static let syscalls = ["auto", "kexec_file_load"]

  @Test("A bad load fails alone and leaves status as it was", arguments: badLoads, syscalls)
  func refused(_ bad: BadLoad, syscall: String) {
    let system = machineWithMemoryMap(kexecLoaded: "1\n")
    bad.change(system)
    let before = CommandRun.handoff("status", "--json", on: system)

    let run = CommandRun(
      ["handoff", "load"] + bad.arguments + ["--syscall", syscall], on: system)
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(run.error.hasPrefix("Error: "), "\(run.error)")
    #expect(run.error.split(separator: "\n").count == 1, "\(run.error)")
    for words in bad.saying {
      #expect(run.error.contains(words), "\(run.error)")
    }
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])

    let after = CommandRun.handoff("status", "--json", on: system)
    #expect(after.output == before.output)
    #expect(after.output.contains("\"kernel_loaded\": true"), "\(after.output)")
  }
}
