import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// Which system call a load goes through: auto mode tries kexec_load and
/// falls back to kexec_file_load only when the kernel refuses the former
/// for a reason the latter does not share.
@Suite("Choosing the kexec system call")
struct LoaderTests {
  static let request = LoadRequest(
    kernelPath: "/boot/vmlinuz", initrdPaths: ["/boot/initrd.img"], commandLine: .replace("quiet"))

  /// A root shell on a 6 GiB BIOS machine, nothing locked down.
  static func machine(lockdown: String = "[none] integrity confidentiality\n") -> RecordingSystem {
    let system = RecordingSystem(files: [
      "/boot/vmlinuz": .file(HandmadeBzImage().bytes),
      "/boot/initrd.img": .file(Array("initramfs".utf8)),
    ])
    system.setText("/proc/cmdline", "root=/dev/vda1 ro\n")
    system.setText("/sys/kernel/security/lockdown", lockdown)
    system.setText("/proc/sys/kernel/kexec_load_disabled", "0\n")
    system.serveFirmwareMemmap(MachineFixtures.sixGiBMemmap)
    return system
  }

  /// The kexec calls in the order they were made, by name.
  static func order(_ system: RecordingSystem) -> [String] {
    system.calls.compactMap { call in
      if call.hasPrefix("kexec_load(") { return "kexec_load" }
      if call.hasPrefix("kexec_file_load(") { return "kexec_file_load" }
      return nil
    }
  }

  /// The machine booted with crashkernel=128M, and what its kernel exports
  /// for a dump: one CPU's notes and vmcoreinfo.
  static func crashMachine() -> RecordingSystem {
    let system = RecordingSystem(files: [
      "/boot/vmlinuz": .file(HandmadeBzImage().bytes),
      "/boot/initrd.img": .file(Array("initramfs".utf8)),
    ])
    system.setText("/proc/cmdline", "root=/dev/vda1 ro crashkernel=128M\n")
    system.setText("/sys/kernel/security/lockdown", "[none] integrity confidentiality\n")
    system.setText("/proc/sys/kernel/kexec_load_disabled", "0\n")
    system.setText("/proc/iomem", MachineFixtures.q35Iomem)
    system.setText("/sys/kernel/kexec_crash_size", "134217728\n")
    system.setText("/sys/devices/system/cpu/possible", "0\n")
    system.setText("/sys/devices/system/cpu/cpu0/crash_notes", "3fc17000\n")
    system.setText("/sys/devices/system/cpu/cpu0/crash_notes_size", "424\n")
    system.setText("/sys/kernel/vmcoreinfo", "e9c0000 1000\n")
    return system
  }

  @Test("A crash kernel goes through kexec_load in auto mode, into the reserved region")
  func crashKernel() throws {
    let system = Self.crashMachine()
    var request = Self.request
    request.crash = true
    let outcome = try Loader(system: system).load(request, syscall: .auto, options: PlanOptions())
    #expect(outcome.syscall == .kexecLoad)
    #expect(outcome.fallbackReason == nil)
    #expect(Self.order(system) == ["kexec_load"])
    let call = try #require(system.segmentLoads.first)
    #expect(call.flags == KexecLoadFlags.architectureX86_64 | KexecLoadFlags.onCrash)
    for segment in call.segments {
      #expect(segment.destination >= 0x3300_0000)
      #expect(segment.destination + segment.memorySize <= 0x3b00_0000)
    }
    #expect(call.segments.count == 5, "kernel, boot_params, initrd, elfcorehdr, purgatory")
  }

  @Test("A crash kernel asked for through kexec_file_load goes there")
  func crashKernelThroughFile() throws {
    let system = Self.crashMachine()
    var request = Self.request
    request.crash = true
    let outcome = try Loader(system: system).load(
      request, syscall: .kexecFileLoad, options: PlanOptions())
    #expect(outcome.syscall == .kexecFileLoad)
    #expect(Self.order(system) == ["kexec_file_load"])
    #expect(system.fileLoads.map(\.flags) == [0x2])
  }

  @Test("Under lockdown auto mode loads a crash kernel through kexec_file_load")
  func crashKernelUnderLockdown() throws {
    let system = Self.crashMachine()
    system.setText("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    var request = Self.request
    request.crash = true
    let outcome = try Loader(system: system).load(request, syscall: .auto, options: PlanOptions())
    #expect(outcome.syscall == .kexecFileLoad)
    #expect(outcome.fallbackReason?.contains("lockdown") == true)
    #expect(Self.order(system) == ["kexec_load", "kexec_file_load"])
    #expect(system.fileLoads.map(\.flags) == [0x2])
  }

  @Test("Auto mode loads through kexec_load when the kernel takes it")
  func autoKexecLoad() throws {
    let system = Self.machine()
    let outcome = try Loader(system: system).load(
      Self.request, syscall: .auto, options: PlanOptions())
    #expect(outcome.syscall == .kexecLoad)
    #expect(outcome.fallbackReason == nil)
    #expect(Self.order(system) == ["kexec_load"])
  }

  struct Refusal: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var errno: Int32
    var lockdown = "[none] integrity confidentiality\n"
    var kexecLoadDisabled = "0\n"
    var reason: String
  }

  static let fallbacks = [
    Refusal(
      testDescription: "EPERM under lockdown", errno: Errno.EPERM,
      lockdown: "none [integrity] confidentiality\n",
      reason: "kexec_load is refused under lockdown (integrity)"),
    Refusal(
      testDescription: "EPERM under confidentiality lockdown", errno: Errno.EPERM,
      lockdown: "none integrity [confidentiality]\n",
      reason: "kexec_load is refused under lockdown (confidentiality)"),
    Refusal(
      testDescription: "ENOSYS", errno: Errno.ENOSYS,
      reason: "the running kernel has no kexec_load"),
    Refusal(
      testDescription: "EACCES from IMA", errno: Errno.EACCES,
      reason: "kexec_load is refused by IMA, which needs a file to appraise"),
    Refusal(
      testDescription: "EACCES from IMA under Secure Boot's lockdown", errno: Errno.EACCES,
      lockdown: "none [integrity] confidentiality\n",
      reason: "kexec_load is refused under lockdown (integrity) and by IMA, which needs a file "
        + "to appraise"),
  ]

  @Test(
    "Auto mode falls back to kexec_file_load when the kernel refuses kexec_load, and says why",
    arguments: fallbacks)
  func fallback(_ refusal: Refusal) throws {
    let system = Self.machine(lockdown: refusal.lockdown)
    system.setText("/proc/sys/kernel/kexec_load_disabled", refusal.kexecLoadDisabled)
    system.fail("kexec_load", with: refusal.errno)
    var lines: [String] = []
    let outcome = try Loader(system: system, debug: { lines.append($0) }).load(
      Self.request, syscall: .auto, options: PlanOptions())
    #expect(outcome.syscall == .kexecFileLoad)
    #expect(outcome.fallbackReason == refusal.reason)
    #expect(Self.order(system) == ["kexec_load", "kexec_file_load"])
    let load = try #require(system.fileLoads.first)
    #expect(load.commandLine == Array("quiet".utf8) + [0])
    #expect(
      lines.contains {
        $0.hasSuffix(" = \(Errno.name(refusal.errno)); \(refusal.reason)")
          && $0.hasPrefix("kexec_load(entry: ")
      }, "\(lines)")
    #expect(system.openDescriptors == [])
  }

  static let refusals = [
    Refusal(testDescription: "EPERM as root with no lockdown", errno: Errno.EPERM, reason: ""),
    Refusal(
      testDescription: "EPERM with lockdown none and nothing disabled", errno: Errno.EPERM,
      lockdown: "[none]\n", reason: ""),
    Refusal(testDescription: "EINVAL", errno: Errno.EINVAL, reason: ""),
    Refusal(testDescription: "ENOMEM", errno: Errno.ENOMEM, reason: ""),
    Refusal(testDescription: "EBUSY", errno: Errno.EBUSY, reason: ""),
    // kexec_load_disabled stops kexec_file_load as well, under lockdown or not
    Refusal(
      testDescription: "EPERM with kexec_load_disabled", errno: Errno.EPERM,
      kexecLoadDisabled: "1\n", reason: ""),
    Refusal(
      testDescription: "EPERM with kexec_load_disabled under lockdown", errno: Errno.EPERM,
      lockdown: "none [integrity] confidentiality\n", kexecLoadDisabled: "1\n", reason: ""),
  ]

  @Test(
    "Auto mode reports a refusal kexec_file_load would share, and does not fall back",
    arguments: refusals)
  func noFallback(_ refusal: Refusal) throws {
    let system = Self.machine(lockdown: refusal.lockdown)
    system.setText("/proc/sys/kernel/kexec_load_disabled", refusal.kexecLoadDisabled)
    system.fail("kexec_load", with: refusal.errno)
    let error = try #require(throws: HandoffError.self) {
      try Loader(system: system).load(Self.request, syscall: .auto, options: PlanOptions())
    }
    guard case .systemCall(let failure) = error else {
      Issue.record("expected the kexec_load failure, got \(error)")
      return
    }
    #expect(failure.call.hasPrefix("kexec_load("))
    #expect(failure.errno == refusal.errno)
    #expect(Self.order(system) == ["kexec_load"])
  }

  @Test("EPERM for a user who is not root is not a reason to fall back")
  func notRoot() throws {
    let system = Self.machine()
    system.files["/sys/kernel/security/lockdown"] = nil
    system.files["/proc/sys/kernel/kexec_load_disabled"] = nil
    system.effectiveUser = 1000
    system.fail("kexec_load", with: Errno.EPERM)
    #expect(throws: HandoffError.self) {
      try Loader(system: system).load(Self.request, syscall: .auto, options: PlanOptions())
    }
    #expect(system.fileLoads == [])
  }

  @Test("When the fallback is refused too, its own failure is what is reported, after the reason")
  func fallbackRefused() throws {
    let system = Self.machine(lockdown: "none [integrity] confidentiality\n")
    system.fail("kexec_load", with: Errno.EPERM)
    system.fail("kexec_file_load", with: Errno.EKEYREJECTED)
    var told: [(reason: String, callsBefore: Int)] = []
    let loader = Loader(
      system: system, fallingBack: { told.append(($0, system.fileLoads.count)) })
    let error = try #require(throws: HandoffError.self) {
      try loader.load(Self.request, syscall: .auto, options: PlanOptions())
    }
    #expect(told.map(\.reason) == ["kexec_load is refused under lockdown (integrity)"])
    #expect(told.map(\.callsBefore) == [0])
    // nothing was unloaded first: a kernel loaded before stays in place
    #expect(system.segmentLoads.allSatisfy { !$0.segments.isEmpty })
    #expect(system.fileLoads.allSatisfy { $0.flags & KexecFileFlags.unload == 0 })
    guard case .systemCall(let failure) = error else {
      Issue.record("expected the kexec_file_load failure, got \(error)")
      return
    }
    #expect(failure.call.hasPrefix("kexec_file_load("))
    #expect(failure.errno == Errno.EKEYREJECTED)
  }

  @Test("A plan that cannot be made stops auto mode before any kexec call")
  func planFails() throws {
    let system = Self.machine()
    for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
    system.setText("/proc/iomem", "00100000-00ffffff : System RAM\n")
    #expect(throws: HandoffError.self) {
      try Loader(system: system).load(Self.request, syscall: .auto, options: PlanOptions())
    }
    #expect(system.kexecCalls == [])
  }

  @Test(
    "Auto mode loads through kexec_file_load when the memory map cannot be read, and says why")
  func unreadableMemoryMap() throws {
    let system = Self.machine()
    for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
    system.setText("/proc/iomem", MachineFixtures.unprivilegedIomem)
    let outcome = try Loader(system: system).load(
      Self.request, syscall: .auto, options: PlanOptions())
    #expect(outcome.syscall == .kexecFileLoad)
    #expect(
      outcome.fallbackReason
        == "Handoff cannot read the memory map (/proc/iomem: all ranges read as zero; it must "
        + "be read as root)")
    #expect(Self.order(system) == ["kexec_file_load"])
  }

  @Test("kexec_load asked for by name fails when the memory map cannot be read")
  func explicitKexecLoadNoMap() throws {
    let system = Self.machine()
    for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
    #expect(throws: HandoffError.self) {
      try Loader(system: system).load(Self.request, syscall: .kexecLoad, options: PlanOptions())
    }
    #expect(system.kexecCalls == [])
  }

  @Test("kexec_load asked for by name never falls back", arguments: fallbacks)
  func explicitKexecLoad(_ refusal: Refusal) throws {
    let system = Self.machine(lockdown: refusal.lockdown)
    system.setText("/proc/sys/kernel/kexec_load_disabled", refusal.kexecLoadDisabled)
    system.fail("kexec_load", with: refusal.errno)
    #expect(throws: HandoffError.self) {
      try Loader(system: system).load(Self.request, syscall: .kexecLoad, options: PlanOptions())
    }
    #expect(Self.order(system) == ["kexec_load"])
  }

  @Test("kexec_load asked for by name loads through it when the kernel takes it")
  func explicitKexecLoadWorks() throws {
    let system = Self.machine()
    let outcome = try Loader(system: system).load(
      Self.request, syscall: .kexecLoad, options: PlanOptions())
    #expect(outcome.syscall == .kexecLoad)
    #expect(outcome.fallbackReason == nil)
    #expect(system.segmentLoads.count == 1)
  }

  @Test("kexec_file_load asked for by name is the only call made, even with no memory map")
  func explicitKexecFileLoad() throws {
    let system = Self.machine()
    for index in 0..<10 { system.files["/sys/firmware/memmap/\(index)/start"] = nil }
    let outcome = try Loader(system: system).load(
      Self.request, syscall: .kexecFileLoad, options: PlanOptions())
    #expect(outcome.syscall == .kexecFileLoad)
    #expect(outcome.fallbackReason == nil)
    #expect(Self.order(system) == ["kexec_file_load"])
  }

  @Test(
    "The --syscall spellings are the system calls' names",
    arguments: [
      ("auto", SyscallChoice.auto), ("kexec_load", .kexecLoad),
      ("kexec_file_load", .kexecFileLoad),
    ])
  func spellings(text: String, choice: SyscallChoice) {
    #expect(SyscallChoice(rawValue: text) == choice)
    #expect(choice.rawValue == text)
  }
}
