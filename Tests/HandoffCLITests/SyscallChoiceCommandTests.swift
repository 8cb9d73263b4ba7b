import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// Which system call `handoff load` and `kexec` go through, what the user
/// is told when auto mode falls back, and `--no-verify` / `-i`.
@Suite("Choosing the system call on the command line")
struct SyscallChoiceCommandTests {
  static let note =
    "Note: kexec_load is refused under lockdown (integrity); loading through kexec_file_load "
    + "instead, where the running kernel's purgatory runs, so Handoff's own segment check and "
    + "its serial report are not available.\n"

  /// The kexec calls in the order they were made, by name.
  static func order(_ system: RecordingSystem) -> [String] {
    system.calls.compactMap { call in
      if call.hasPrefix("kexec_load(") { return "kexec_load" }
      if call.hasPrefix("kexec_file_load(") { return "kexec_file_load" }
      return nil
    }
  }

  /// The purgatory's flags word in the one kexec_load call made.
  static func purgatoryFlags(_ system: RecordingSystem) throws -> UInt64 {
    let purgatory = try #require(system.segmentLoads.first?.segments.last)
    let offset = PurgatoryBlobX86_64.parametersOffset + 0x28
    return (0..<8).reduce(0) { $0 | UInt64(purgatory.bytes[offset + $1]) << (8 * $1) }
  }

  @Test(
    "handoff load goes through the call --syscall names, kexec_load by default",
    arguments: [
      ([String](), ["kexec_load"]),
      (["--syscall", "auto"], ["kexec_load"]),
      (["--syscall=kexec_load"], ["kexec_load"]),
      (["--syscall", "kexec_file_load"], ["kexec_file_load"]),
    ])
  func syscallValues(options: [String], calls: [String]) {
    let system = machineWithMemoryMap()
    let run = CommandRun(
      ["handoff", "load", "/boot/vmlinuz", "--initrd", "/boot/initrd.img"] + options, on: system)
    #expect(run.status == 0)
    #expect(run.output == "")
    #expect(run.error == "")
    #expect(Self.order(system) == calls)
    #expect(system.openDescriptors == [])
  }

  @Test(
    "A --syscall value it does not know is a usage error that lists the known ones",
    arguments: ["", "KEXEC_LOAD", "kexec", "file", "kexec-load"])
  func badSyscall(value: String) {
    let system = machineWithMemoryMap()
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--syscall", value, on: system)
    #expect(run.status == 64)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: The value '\(value)' is invalid for '--syscall <syscall>'; use auto, kexec_load \
        or kexec_file_load
        Usage: handoff load <kernel> [--initrd <file> ...] \
        [--cmdline <text> | --append <text> | --reuse-cmdline] [--syscall <syscall>] [--crash]
          See 'handoff load --help' for more information.

        """)
    #expect(system.kexecCalls == [])
  }

  @Test("--no-verify clears the purgatory's verify flag; without it the flag is set")
  func noVerify() throws {
    let checked = machineWithMemoryMap()
    #expect(CommandRun.handoff("load", "/boot/vmlinuz", on: checked).status == 0)
    #expect(try Self.purgatoryFlags(checked) & 1 == 1)

    let unchecked = machineWithMemoryMap()
    #expect(CommandRun.handoff("load", "/boot/vmlinuz", "--no-verify", on: unchecked).status == 0)
    #expect(try Self.purgatoryFlags(unchecked) & 1 == 0)
  }

  @Test("When auto mode falls back, a Note line on standard error says why and what is lost")
  func fallbackNote() throws {
    let system = machineWithMemoryMap()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--cmdline", "quiet", on: system)
    #expect(run.status == 0)
    #expect(run.output == "")
    #expect(run.error == Self.note)
    #expect(Self.order(system) == ["kexec_load", "kexec_file_load"])
    #expect(system.fileLoads.first?.commandLine == Array("quiet".utf8) + [0])
  }

  @Test("When the fallback is refused too, the Note line stands above its error and hint")
  func fallbackRefused() throws {
    let system = machineWithMemoryMap()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    system.fail("kexec_file_load", with: Errno.ENODATA)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", on: system)
    #expect(run.status == 1)
    let lines = run.error.split(separator: "\n", omittingEmptySubsequences: false)
    try #require(lines.count == 4, "\(run.error)")
    #expect(lines[0] + "\n" == Self.note)
    #expect(lines[1].hasPrefix("Error: kexec_file_load(kernel_fd: "))
    #expect(lines[1].hasSuffix(") = ENODATA"))
    #expect(
      lines[2].hasPrefix(
        "Hint: The image carries no signature. The kernel is locked down (integrity), so it "
          + "loads only an image signed with a key it trusts: one in its secondary trusted "
          + "keyring"))
    #expect(lines[3] == "")
  }

  @Test("With kexec_load_disabled set, auto mode does not fall back: both calls are refused")
  func loadDisabledNoFallback() throws {
    let system = machineWithMemoryMap()
    system.setText("/proc/sys/kernel/kexec_load_disabled", "1\n")
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", on: system)
    #expect(run.status == 1)
    #expect(!run.error.contains("Note:"))
    #expect(run.error.hasPrefix("Error: kexec_load(entry: "))
    #expect(
      run.error.contains("Hint: Loading is disabled (/proc/sys/kernel/kexec_load_disabled is 1)"))
    #expect(Self.order(system) == ["kexec_load"])
  }

  @Test("A refusal with no reason to fall back prints the kexec_load call, a hint, and exits 1")
  func noFallback() throws {
    let system = machineWithMemoryMap()
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", on: system)
    #expect(run.status == 1)
    let lines = run.error.split(separator: "\n")
    try #require(lines.count == 2, "\(run.error)")
    #expect(lines[0].hasPrefix("Error: kexec_load(entry: 0x"))
    #expect(lines[0].hasSuffix(", segments: 3, flags: 0x3e0000) = EPERM"))
    #expect(lines[1].hasPrefix("Hint: "))
    #expect(Self.order(system) == ["kexec_load"])
  }

  @Test("--syscall kexec_load under lockdown fails without trying kexec_file_load")
  func explicitKexecLoadLocked() {
    let system = machineWithMemoryMap()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--syscall", "kexec_load", on: system)
    #expect(run.status == 1)
    #expect(run.error.hasPrefix("Error: kexec_load(entry: "))
    #expect(!run.error.contains("Note:"))
    #expect(Self.order(system) == ["kexec_load"])
  }

  @Test(
    "kexec loads through kexec_load with -c, kexec_file_load with -s, and auto by default",
    arguments: [
      (["-l"], ["kexec_load"]),
      (["-a", "-l"], ["kexec_load"]),
      (["-c", "-l"], ["kexec_load"]),
      (["-lc"], ["kexec_load"]),
      (["--kexec-syscall", "--load"], ["kexec_load"]),
      (["-s", "-l"], ["kexec_file_load"]),
      (["--kexec-file-syscall", "-l"], ["kexec_file_load"]),
    ])
  func kexecFlags(flags: [String], calls: [String]) {
    let system = machineWithMemoryMap()
    let run = CommandRun(["kexec"] + flags + ["/boot/vmlinuz", "--append=quiet"], on: system)
    #expect(run.status == 0)
    #expect(run.error == "")
    #expect(Self.order(system) == calls)
  }

  @Test("kexec -i loads with the purgatory's check turned off", arguments: ["-i", "--no-checks"])
  func kexecNoChecks(flag: String) throws {
    let system = machineWithMemoryMap()
    let run = CommandRun.kexec(flag, "-l", "/boot/vmlinuz", on: system)
    #expect(run.status == 0)
    #expect(try Self.purgatoryFlags(system) & 1 == 0)
  }

  @Test("kexec -l falls back under lockdown with the same Note line")
  func kexecFallback() {
    let system = machineWithMemoryMap()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    let run = CommandRun.kexec("-l", "/boot/vmlinuz", on: system)
    #expect(run.status == 0)
    #expect(run.error == Self.note)
    #expect(Self.order(system) == ["kexec_load", "kexec_file_load"])
  }
}
