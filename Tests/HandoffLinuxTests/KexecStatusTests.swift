import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// What the kernel says about kexec in /sys and /proc, as KexecStatus reads it.
@Suite("Kexec status")
struct KexecStatusTests {
  @Test(
    "The active lockdown mode is the bracketed word",
    arguments: [
      ("[none] integrity confidentiality\n", "none"),
      ("none [integrity] confidentiality\n", "integrity"),
      ("none integrity [confidentiality]\n", "confidentiality"),
      ("none [integrity] confidentiality", "integrity"),
    ])
  func lockdownMode(file: String, mode: String) {
    let system = RecordingSystem()
    system.setText(SystemPaths.lockdown, file)
    let status = KexecStatus.read(from: system)
    #expect(status.lockdown == mode)
    #expect(status.lockedDown == (mode != "none"))
  }

  @Test("A lockdown file without a bracketed word, or none at all, says nothing")
  func lockdownUnknown() {
    let system = RecordingSystem()
    #expect(KexecStatus.read(from: system).lockdown == nil)
    system.setText(SystemPaths.lockdown, "none integrity confidentiality\n")
    let status = KexecStatus.read(from: system)
    #expect(status.lockdown == nil)
    #expect(!status.lockedDown)
  }

  @Test(
    "A flag file reads 1 as true, 0 as false, and anything else as unknown",
    arguments: [
      ("1\n", Bool?.some(true)), ("0\n", false), ("1", true), ("0", false), ("2\n", nil),
      ("", nil), ("yes\n", nil),
    ])
  func flags(text: String, value: Bool?) {
    let system = RecordingSystem()
    for path in [
      SystemPaths.kexecLoaded, SystemPaths.kexecCrashLoaded, SystemPaths.kexecLoadDisabled,
    ] {
      system.setText(path, text)
    }
    let status = KexecStatus.read(from: system)
    #expect(status.kernelLoaded == value)
    #expect(status.crashKernelLoaded == value)
    #expect(status.kexecLoadDisabled == value)
  }

  @Test("Each field comes from its own file")
  func eachFieldItsFile() {
    let system = RecordingSystem()
    system.setText(SystemPaths.kexecLoaded, "1\n")
    system.setText(SystemPaths.kexecCrashLoaded, "0\n")
    system.setText(SystemPaths.kexecCrashSize, "268435456\n")
    system.setText(SystemPaths.lockdown, "[none] integrity confidentiality\n")
    system.setText(SystemPaths.kexecLoadDisabled, "1\n")
    #expect(
      KexecStatus.read(from: system)
        == KexecStatus(
          kernelLoaded: true, crashKernelLoaded: false, crashRegionSize: 268_435_456,
          lockdown: "none", kexecLoadDisabled: true))
  }

  @Test("The files in /sys/kernel/kexec/ come first, their older names after")
  func newerDirectoryFirst() {
    let system = RecordingSystem()
    system.setText("/sys/kernel/kexec/loaded", "1\n")
    system.setText(SystemPaths.kexecLoaded, "0\n")
    system.setText("/sys/kernel/kexec/crash_size", "134217728\n")
    system.setText(SystemPaths.kexecCrashLoaded, "1\n")
    let status = KexecStatus.read(from: system)
    #expect(status.kernelLoaded == true)
    #expect(status.crashRegionSize == 134_217_728)
    #expect(status.crashKernelLoaded == true, "from the older name, the newer one being absent")
  }

  @Test("A machine that says nothing gives a status of unknowns")
  func nothingKnown() {
    let system = RecordingSystem()
    system.files[SystemPaths.kexecLoaded] = .unopenable(Errno.EACCES)
    #expect(KexecStatus.read(from: system) == KexecStatus())
    #expect(system.kexecCalls == [])
  }

  @Test("The paths are the kernel's own")
  func paths() {
    #expect(SystemPaths.kexecLoaded == "/sys/kernel/kexec_loaded")
    #expect(SystemPaths.kexecCrashLoaded == "/sys/kernel/kexec_crash_loaded")
    #expect(SystemPaths.kexecCrashSize == "/sys/kernel/kexec_crash_size")
    #expect(SystemPaths.lockdown == "/sys/kernel/security/lockdown")
    #expect(SystemPaths.kexecLoadDisabled == "/proc/sys/kernel/kexec_load_disabled")
    #expect(SystemPaths.commandLine == "/proc/cmdline")
    #expect(SystemPaths.processStatus == "/proc/self/status")
  }
}

/// The fake itself: a test is only as good as the system it runs against.
@Suite("Recording fake")
struct RecordingSystemTests {
  @Test("Descriptors are the lowest free numbers above 2, and a double close is EBADF")
  func descriptors() throws {
    let system = RecordingSystem(files: ["/a": .file([1]), "/b": .file([2])])
    let first = try system.openFile("/a")
    let second = try system.openFile("/b")
    system.close(first)
    let third = try system.openFile("/b")
    #expect([first, second, third] == [3, 4, 3])
    #expect(system.openDescriptors == [3, 4])

    system.close(third)
    system.close(third)
    #expect(system.openDescriptors == [4])
    #expect(system.calls.suffix(2) == ["close(3) = 0", "close(3) = EBADF"])
  }

  @Test("readText drops trailing newlines, spaces and NULs")
  func readText() {
    let system = RecordingSystem(files: ["/t": .file(Array("1 \n\n".utf8) + [0])])
    #expect(system.readText("/t") == "1")
    #expect(system.readText("/missing") == nil)
  }

  @Test("An injected failure names the call the real one would show")
  func injectedFailure() {
    let system = RecordingSystem(files: ["/a": .file([1])])
    system.fail("read", with: Errno.EIO, path: "/a")
    #expect(
      throws: HandoffError.unreadable(
        path: "/a", failure: SystemCallFailure(call: "read(fd: 3, count: 1)", errno: Errno.EIO))
    ) {
      _ = try system.readFile("/a")
    }
    #expect(system.openDescriptors == [])
  }
}
