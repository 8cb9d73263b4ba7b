import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// Invoked as `kexec`, Handoff answers to kexec-tools' command line. Loads
/// ask for kexec_file_load with -s, as kexec-tools users do.
@Suite("kexec-tools command line")
struct KexecDialectTests {
  @Test(
    "kexec -l loads the kernel with its initrd and command line, and boots nothing",
    arguments: [
      ["-s", "-l", "/boot/vmlinuz", "--initrd=/boot/initrd.img", "--append=console=ttyS0 quiet"],
      [
        "--kexec-file-syscall", "--load", "/boot/vmlinuz", "--ramdisk", "/boot/initrd.img",
        "--command-line",
        "console=ttyS0 quiet",
      ],
      ["-ls", "/boot/vmlinuz", "--initrd=/boot/initrd.img", "--append=console=ttyS0 quiet"],
      ["-sl", "/boot/vmlinuz", "--initrd=/boot/initrd.img", "--append=console=ttyS0 quiet"],
      [
        "-l", "-s", "-x", "/boot/vmlinuz", "--initrd=/boot/initrd.img",
        "--append=console=ttyS0 quiet",
      ],
      [
        "-s", "-l", "--type=bzImage64", "/boot/vmlinuz", "--initrd=/boot/initrd.img",
        "--append=console=ttyS0 quiet",
      ],
    ])
  func load(arguments: [String]) throws {
    let system = machine()
    let run = CommandRun(["kexec"] + arguments, on: system)
    #expect(run.status == 0)
    #expect(run.output == "")
    #expect(run.error == "")

    let load = try #require(system.fileLoads.first)
    #expect(system.fileLoads.count == 1)
    #expect(load.kernel == system.descriptor(openedFor: "/boot/vmlinuz"))
    #expect(load.initrd == system.descriptor(openedFor: "/boot/initrd.img"))
    #expect(load.commandLine == Array("console=ttyS0 quiet".utf8) + [0])
    #expect(load.flags == 0)
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == [])
    #expect(system.openDescriptors == [])
  }

  @Test("kexec --dtb with an x86 kernel is a usage error, before any kexec call")
  func deviceTreeForX86() {
    let system = machine()
    let run = CommandRun(
      ["kexec", "-c", "-l", "--dtb=/root/board.dtb", "/boot/vmlinuz"], on: system)
    #expect(run.status == 64, "a usage error")
    #expect(run.error.contains("--dtb /root/board.dtb is for arm64 and riscv64 kernels"))
    #expect(system.kexecCalls == [])
  }

  @Test("--reuse-cmdline starts from the running command line and appends --append")
  func reuseCommandLine() {
    let system = machine()
    let run = CommandRun.kexec(
      "-ls", "/boot/vmlinuz", "--reuse-cmdline", "--append=console=ttyS0", on: system)
    #expect(run.status == 0)
    #expect(
      system.fileLoads.map(\.commandLine)
        == [Array("root=/dev/vda1 ro console=ttyS0".utf8) + [0]])
  }

  @Test("A kernel given without -l is loaded, and the user told how to boot it")
  func loadWithoutFlag() {
    let system = machine()
    let run = CommandRun.kexec("-s", "/boot/vmlinuz", on: system)
    #expect(run.status == 0)
    #expect(run.error == "Loaded; boot it with 'kexec -e'.\n")
    #expect(system.fileLoads.count == 1)
  }

  @Test("kexec -e syncs and reboots into the loaded kernel without loading one")
  func exec() {
    let system = machine(kexecLoaded: "1\n")
    let run = CommandRun.kexec("-e", on: system)
    #expect(run.status == 0)
    #expect(system.kexecCalls == [])
    #expect(
      system.calls.filter { $0.hasPrefix("sync(") || $0.hasPrefix("reboot(") } == [
        "sync()", "reboot(LINUX_REBOOT_CMD_KEXEC) = 0",
      ])
  }

  @Test("kexec -e -y reboots without syncing")
  func execNoSync() {
    let system = machine(kexecLoaded: "1\n")
    let run = CommandRun.kexec("-e", "-y", on: system)
    #expect(run.status == 0)
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == ["reboot(LINUX_REBOOT_CMD_KEXEC) = 0"])
  }

  @Test("kexec -e with nothing loaded exits 1 and neither syncs nor reboots")
  func execNothingLoaded() {
    let system = machine(kexecLoaded: "0\n")
    let run = CommandRun.kexec("-e", on: system)
    #expect(run.status == 1)
    #expect(run.error.hasPrefix("Error: no kernel is loaded"))
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == [])
  }

  @Test("kexec -f loads, syncs and reboots, in that order")
  func force() throws {
    let system = machine(kexecLoaded: "0\n")
    let run = CommandRun.kexec("-fs", "/boot/vmlinuz", "--append=quiet", on: system)
    #expect(run.status == 0)
    let order = system.calls.filter {
      $0.hasPrefix("kexec_file_load(") || $0.hasPrefix("sync(") || $0.hasPrefix("reboot(")
    }
    try #require(order.count == 3)
    #expect(order[0].hasPrefix("kexec_file_load("))
    #expect(order[1] == "sync()")
    #expect(order[2] == "reboot(LINUX_REBOOT_CMD_KEXEC) = 0")
  }

  @Test("kexec -u unloads through kexec_file_load", arguments: ["-u", "--unload"])
  func unload(flag: String) {
    let system = machine()
    let run = CommandRun.kexec(flag, on: system)
    #expect(run.status == 0)
    #expect(
      system.kexecCalls == [
        "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x1) = 0"
      ])
  }

  @Test("kexec -c never loads through kexec_file_load, even when kexec_load is refused")
  func kexecSyscallOnly() {
    let system = machine()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.kexec("-c", "-l", "/boot/vmlinuz", on: system)
    #expect(run.status != 0)
    #expect(run.error.hasPrefix("Error: "))
    #expect(system.calls(named: "kexec_file_load") == [])
  }

  @Test("A usage error names the problem, shows kexec's usage, and points to kexec --help")
  func usageErrorText() {
    let run = CommandRun.kexec("-l", on: machine())
    #expect(run.status == 64)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: Missing expected argument '<kernel>'
        Usage: kexec [-l <kernel> | -f <kernel>] [--initrd=<file>] [--append=<text>] \
        [--reuse-cmdline] | kexec -p <kernel> ... | kexec -e | kexec -u [-p]
          See 'kexec --help' for more information.

        """)
  }

  @Test(
    "Other kexec usage mistakes exit 64 and load nothing",
    arguments: [
      (["-l"], "Error: Missing expected argument '<kernel>'"),
      (["-l", "/boot/vmlinuz", "/boot/other"], "Error: Unexpected argument '/boot/other'"),
      (["-l", "/boot/vmlinuz", "--initrd"], "Error: Missing value for '--initrd <file>'"),
      (
        ["-p", "/boot/vmlinuz", "-e"],
        "Error: '-p' loads a kernel for a panic, and cannot be booted with '-e' or '-f'"
      ),
      (["-q", "/boot/vmlinuz"], "Error: Unknown option '-q'"),
    ])
  func usageErrors(arguments: [String], firstLine: String) {
    let system = machine()
    let run = CommandRun(["kexec"] + arguments, on: system)
    #expect(run.status == 64)
    #expect(run.error.hasPrefix(firstLine + "\nUsage: kexec "))
    #expect(run.error.hasSuffix("  See 'kexec --help' for more information.\n"))
    #expect(system.kexecCalls == [])
  }

  @Test("A refused kexec load prints the call and a hint, and exits 1")
  func refusedLoad() {
    let system = machine()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_file_load", with: Errno.EPERM)
    let run = CommandRun.kexec("-s", "-l", "/boot/vmlinuz", on: system)
    #expect(run.status == 1)
    let lines = run.error.split(separator: "\n")
    #expect(
      lines.first
        == "Error: kexec_file_load(kernel_fd: 3, initrd_fd: -1, cmdline_len: 1, flags: 0x4) = EPERM"
    )
    #expect(lines.count == 2)
    #expect(lines.last?.hasPrefix("Hint: The image's signature was not accepted") == true)
    #expect(lines.last?.contains("The kernel is locked down (integrity)") == true)
  }

  @Test("kexec --version and --help answer without touching the system")
  func versionAndHelp() {
    let system = machine()
    let version = CommandRun.kexec("-v", on: system)
    #expect(version.status == 0)
    #expect(version.output == "handoff 0.1.0 (kexec-tools command line)\n")
    let help = CommandRun.kexec("--help", on: system)
    #expect(help.status == 0)
    #expect(help.output.hasPrefix("OVERVIEW: Handoff, answering to kexec-tools' command line.\n"))
    #expect(help.output.contains("\n  -c, --kexec-syscall     Load through kexec_load."))
    #expect(help.output.contains("\n  -s, --kexec-file-syscall\n"))
    #expect(system.calls == [])
  }

  @Test("Only a program named kexec speaks kexec-tools' command line")
  func programName() {
    let system = machine()
    let run = CommandRun(["/usr/local/bin/handoff", "-l", "/boot/vmlinuz"], on: system)
    #expect(run.status == 64)
    #expect(run.error.hasPrefix("Error: Unknown subcommand '-l'\n"))
    #expect(system.kexecCalls == [])
  }
}
