import Foundation
import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// `handoff load`, `exec`, `unload` and `status` against the recording fake.
/// Loads ask for kexec_file_load by name: what they check is the same
/// whichever call the default picks.
@Suite("handoff load, exec, unload and status")
struct LoadExecCommandTests {
  static let fileLoad = "--syscall=kexec_file_load"

  @Test(
    "An option's value may follow it or be joined to it with =",
    arguments: [
      ["--initrd", "/boot/initrd.img", "--cmdline", "console=ttyS0 root=/dev/vda1"],
      ["--initrd=/boot/initrd.img", "--cmdline=console=ttyS0 root=/dev/vda1"],
      ["--cmdline=console=ttyS0 root=/dev/vda1", "--initrd", "/boot/initrd.img"],
    ])
  func valueSpellings(options: [String]) throws {
    let system = machine()
    let run = CommandRun(["handoff", "load", "/boot/vmlinuz", Self.fileLoad] + options, on: system)
    #expect(run.status == 0)
    #expect(run.output == "")
    #expect(run.error == "")

    let load = try #require(system.fileLoads.first)
    #expect(system.fileLoads.count == 1)
    #expect(load.initrd == system.descriptor(openedFor: "/boot/initrd.img"))
    #expect(load.kernel == system.descriptor(openedFor: "/boot/vmlinuz"))
    #expect(load.commandLine == Array("console=ttyS0 root=/dev/vda1".utf8) + [0])
    #expect(load.flags == 0)
    #expect(system.openDescriptors == [])
  }

  @Test(
    "Each command line option gives the kernel its command line",
    arguments: [
      ([String](), ""),
      (["--cmdline", "quiet"], "quiet"),
      (["--append", "quiet"], "root=/dev/vda1 ro quiet"),
      (["--reuse-cmdline"], "root=/dev/vda1 ro"),
      (["--cmdline", ""], ""),
    ])
  func commandLines(options: [String], expected: String) {
    let system = machine()
    let run = CommandRun(["handoff", "load", "/boot/vmlinuz", Self.fileLoad] + options, on: system)
    #expect(run.status == 0)
    #expect(system.fileLoads.map(\.commandLine) == [Array(expected.utf8) + [0]])
  }

  @Test("--initrd given twice concatenates the files in the order given")
  func twoInitrds() throws {
    let system = machine()
    let run = CommandRun.handoff(
      "load", "/boot/vmlinuz", "--initrd", "/boot/ucode.cpio", "--initrd=/boot/initrd.img",
      Self.fileLoad, on: system)
    #expect(run.status == 0)
    let load = try #require(system.fileLoads.first)
    #expect(system.memoryFileContents(load.initrd) == Array("microcodeinitramfs".utf8))
  }

  @Test("--syscall kexec_file_load loads through kexec_file_load alone")
  func syscallOption() {
    let system = machine()
    let run = CommandRun.handoff(
      "load", "/boot/vmlinuz", "--syscall", "kexec_file_load", on: system)
    #expect(run.status == 0)
    #expect(system.fileLoads.count == 1)
    #expect(system.calls(named: "kexec_load") == [])
  }

  @Test("--syscall with a value it does not know is a usage error")
  func unknownSyscall() {
    let system = machine()
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--syscall", "kexec", on: system)
    #expect(run.status == 64)
    #expect(run.error.hasPrefix("Error: The value 'kexec' is invalid for '--syscall <syscall>'"))
    #expect(run.error.contains("kexec_file_load"))
    #expect(system.kexecCalls == [])
  }

  @Test("--debug writes what was loaded to standard error, each line marked")
  func debugLines() {
    let system = machine()
    let run = CommandRun.handoff("load", "/boot/vmlinuz", Self.fileLoad, "--debug", on: system)
    #expect(run.status == 0)
    #expect(run.output == "")
    let lines = run.error.split(separator: "\n")
    #expect(lines.allSatisfy { $0.hasPrefix("debug: ") }, "\(lines)")
    #expect(lines.contains("debug: cmdline: \"\" (0 bytes)"))
    #expect(
      lines.contains(
        "debug: kexec_file_load(kernel_fd: 3, initrd_fd: -1, cmdline_len: 1, flags: 0x4)"))
    #expect(lines.last == "debug: loaded /boot/vmlinuz; boot it with 'handoff exec'")
  }

  @Test("A refused load prints the call with its errno, then a hint, and exits 1")
  func refusedLoad() {
    let system = machine()
    system.effectiveUser = 1000
    system.fail("kexec_file_load", with: Errno.EPERM)
    let run = CommandRun.handoff(
      "load", "/boot/vmlinuz", Self.fileLoad, "--cmdline", "quiet", on: system)
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: kexec_file_load(kernel_fd: 3, initrd_fd: -1, cmdline_len: 6, flags: 0x4) = EPERM
        Hint: Handoff is not running as root: loading and booting a kernel needs CAP_SYS_BOOT.

        """)
    #expect(system.openDescriptors == [])
  }

  @Test(
    "A refused load's hint matches its errno",
    arguments: [
      (Errno.EKEYREJECTED, "signature"), (Errno.ENOEXEC, "bzImage"), (Errno.EBUSY, "in progress"),
    ])
  func refusedLoadHints(errno: Int32, phrase: String) throws {
    let system = machine()
    system.fail("kexec_file_load", with: errno)
    let run = CommandRun.handoff("load", "/boot/vmlinuz", Self.fileLoad, on: system)
    #expect(run.status == 1)
    let lines = run.error.split(separator: "\n")
    try #require(lines.count == 2)
    #expect(lines[0].hasPrefix("Error: kexec_file_load("))
    #expect(lines[0].hasSuffix(") = " + Errno.name(errno)))
    #expect(lines[1].hasPrefix("Hint: "))
    #expect(lines[1].contains(phrase))
  }

  @Test("A load that fails before the kernel is asked has no hint line and makes no kexec call")
  func badFileNoHint() {
    let system = machine()
    let run = CommandRun.handoff(
      "load", "/boot/vmlinuz", Self.fileLoad, "--initrd", "/boot/none", on: system)
    #expect(run.status == 1)
    #expect(
      run.error
        == "Error: /boot/none: cannot read: open(\"/boot/none\", O_RDONLY) = ENOENT\n")
    #expect(system.kexecCalls == [])
  }

  @Test("exec with nothing loaded exits 1, says so, and neither syncs nor reboots")
  func execNothingLoaded() {
    let system = machine(kexecLoaded: "0\n")
    let run = CommandRun.handoff("exec", on: system)
    #expect(run.status == 1)
    #expect(run.output == "")
    #expect(
      run.error == "Error: no kernel is loaded; load one first\n")
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == [])
  }

  @Test("exec with a kernel loaded syncs, then reboots into it")
  func execLoaded() {
    let system = machine(kexecLoaded: "1\n")
    let run = CommandRun.handoff("exec", on: system)
    #expect(run.status == 0)
    #expect(run.error == "")
    #expect(
      system.calls.filter { $0.hasPrefix("sync(") || $0.hasPrefix("reboot(") } == [
        "sync()", "reboot(LINUX_REBOOT_CMD_KEXEC) = 0",
      ])
    #expect(system.kexecCalls == [])
  }

  @Test("exec refuses, and neither syncs nor reboots, when kexec_loaded cannot be read")
  func execUnknown() {
    let system = machine(kexecLoaded: nil)
    let run = CommandRun.handoff("exec", "--debug", on: system)
    #expect(run.status == 1)
    #expect(
      run.error
        == "Error: cannot tell whether a kernel is loaded: /sys/kernel/kexec_loaded cannot be "
        + "read (is sysfs mounted on /sys?); not booting\n")
    #expect(system.calls(named: "sync") == [])
    #expect(system.calls(named: "reboot") == [])
  }

  @Test("A refused reboot prints the call and the hint, after the sync")
  func execRefused() {
    let system = machine(kexecLoaded: "1\n")
    system.fail("reboot", with: Errno.EINVAL)
    let run = CommandRun.handoff("exec", on: system)
    #expect(run.status == 1)
    #expect(
      run.error == "Error: reboot(LINUX_REBOOT_CMD_KEXEC) = EINVAL\nHint: No kernel is loaded.\n")
    #expect(system.calls(named: "sync") == ["sync()"])
  }

  @Test("unload asks kexec_file_load to unload")
  func unload() {
    let system = machine()
    let run = CommandRun.handoff("unload", on: system)
    #expect(run.status == 0)
    #expect(
      system.kexecCalls == [
        "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x1) = 0"
      ])
  }

  @Test("status prints each thing the kernel says, aligned")
  func statusText() {
    let system = machine(kexecLoaded: "1\n")
    system.setText("/sys/kernel/kexec_crash_loaded", "0\n")
    system.setText("/sys/kernel/kexec_crash_size", "268435456\n")
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.setText("/proc/sys/kernel/kexec_load_disabled", "0\n")
    let run = CommandRun.handoff("status", on: system)
    #expect(run.status == 0)
    #expect(
      run.output == """
        kernel loaded:        yes
        crash kernel loaded:  no
        crash region:         268435456 bytes
        lockdown:             integrity
        kexec_load disabled:  no

        """)
  }

  @Test("status says unknown for what the kernel does not say")
  func statusUnknown() {
    let run = CommandRun.handoff("status")
    #expect(run.status == 0)
    #expect(
      run.output == """
        kernel loaded:        unknown
        crash kernel loaded:  unknown
        crash region:         unknown
        lockdown:             unknown
        kexec_load disabled:  unknown

        """)
  }

  @Test("status --json prints the same facts as JSON, with null for unknown")
  func statusJSON() throws {
    let system = machine(kexecLoaded: "1\n")
    system.setText("/sys/kernel/kexec_crash_size", "0\n")
    system.setText("/sys/kernel/security/lockdown", "none integrity [confidentiality]\n")
    system.setText("/proc/sys/kernel/kexec_load_disabled", "1\n")
    let run = CommandRun.handoff("status", "--json", on: system)
    #expect(run.status == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["kernel_loaded"] as? Bool == true)
    #expect(object["crash_kernel_loaded"] is NSNull)
    #expect(object["crash_region_size"] as? Int == 0)
    #expect(object["lockdown"] as? String == "confidentiality")
    #expect(object["kexec_load_disabled"] as? Bool == true)
    #expect(object.count == 5)
  }
}
