import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// The kexec_file_load loader against the recording fake: what it passes
/// the kernel, and that a bad input stops it before any kexec call.
@Suite("Loading through kexec_file_load")
struct FileLoaderTests {
  static let kernel = "/boot/vmlinuz"
  /// An architecture other than this machine's.
  static let foreignArchitecture: KernelArchitecture =
    KernelArchitecture.running == .arm64 ? .riscv64 : .arm64
  static let running = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-40-amd64 root=/dev/vda1 ro quiet\n"

  /// A machine with a good kernel, three initrds and a running command line.
  static func machine() -> RecordingSystem {
    let system = RecordingSystem(files: [
      kernel: .file(HandmadeBzImage().bytes),
      "/boot/ucode.cpio": .file(Array("microcode".utf8)),
      "/boot/initrd.img": .file(Array("main initramfs".utf8)),
      "/boot/extra.cpio": .file(Array("extra".utf8)),
      "/boot": .directory,
      "/boot/empty.img": .file([]),
      "/boot/vmlinux": .file(HandmadeELF().bytes),
      "/boot/Image": .file(HandmadeImage(foreignArchitecture == .arm64 ? .arm64 : .riscv64).bytes),
    ])
    system.setText("/proc/cmdline", running)
    return system
  }

  @Test("One initrd is passed by its own descriptor, with flags 0 and a NUL-ended cmdline")
  func oneInitrd() throws {
    let system = Self.machine()
    try FileLoader(system: system).load(
      LoadRequest(
        kernelPath: Self.kernel, initrdPaths: ["/boot/initrd.img"],
        commandLine: .replace("console=ttyS0")))

    let initrd = try #require(system.descriptor(openedFor: "/boot/initrd.img"))
    let kernel = try #require(system.descriptor(openedFor: Self.kernel))
    #expect(
      system.fileLoads == [
        RecordingSystem.FileLoadCall(
          kernel: kernel, initrd: initrd, commandLine: Array("console=ttyS0".utf8) + [0],
          flags: 0)
      ])
    #expect(
      system.kexecCalls == [
        KexecCallText.kexecFileLoad(
          kernel: kernel, initrd: initrd, commandLineLength: 14, flags: 0x0) + " = 0"
      ])
    #expect(system.openDescriptors == [])
  }

  @Test("A load makes exactly these calls, in this order")
  func wholeTrace() throws {
    let system = Self.machine()
    try FileLoader(system: system).load(
      LoadRequest(
        kernelPath: Self.kernel, initrdPaths: ["/boot/initrd.img"], commandLine: .reuse))
    let size = HandmadeBzImage().bytes.count
    #expect(
      system.calls == [
        "open(\"/boot/vmlinuz\", O_RDONLY) = 3",
        "read(fd: 3, count: \(size)) = \(size)",
        "close(3) = 0",
        "open(\"/proc/cmdline\", O_RDONLY) = 3",
        "read(fd: 3, count: 64) = 64",
        "close(3) = 0",
        // whether the kernel fits: this machine shows no memory map, so the kernel decides
        "open(\"/proc/iomem\", O_RDONLY) = ENOENT",
        "open(\"/sys/firmware/memmap/0/start\", O_RDONLY) = ENOENT",
        "open(\"/boot/initrd.img\", O_RDONLY) = 3",
        "read(fd: 3, count: 14) = 14",
        "close(3) = 0",
        "open(\"/boot/initrd.img\", O_RDONLY) = 3",
        "open(\"/boot/vmlinuz\", O_RDONLY) = 4",
        "kexec_file_load(kernel_fd: 4, initrd_fd: 3, cmdline_len: 24, flags: 0x0) = 0",
        "close(4) = 0",
        "close(3) = 0",
      ])
    #expect(system.fileLoads.first?.commandLine == Array("root=/dev/vda1 ro quiet".utf8) + [0])
  }

  @Test("Several initrds become one in-memory file holding them in order")
  func severalInitrds() throws {
    let system = Self.machine()
    let paths = ["/boot/ucode.cpio", "/boot/initrd.img", "/boot/extra.cpio"]
    try FileLoader(system: system).load(
      LoadRequest(kernelPath: Self.kernel, initrdPaths: paths, commandLine: .empty))

    let load = try #require(system.fileLoads.first)
    #expect(system.fileLoads.count == 1)
    #expect(
      system.memoryFileContents(load.initrd)
        == Array("microcode".utf8) + Array("main initramfs".utf8) + Array("extra".utf8))
    #expect(
      system.calls(named: "memfd_create") == ["memfd_create(\"handoff-initrd\", MFD_CLOEXEC) = 3"])
    #expect(system.calls(named: "write") == ["write(fd: 3, count: 28) = 28"])
    #expect(load.flags == 0)
    #expect(load.commandLine == [0])
    #expect(system.openDescriptors == [])
  }

  @Test("No initrd means NO_INITRAMFS and an initrd descriptor of -1")
  func noInitrd() throws {
    let system = Self.machine()
    try FileLoader(system: system).load(
      LoadRequest(kernelPath: Self.kernel, commandLine: .replace("quiet")))
    let kernel = try #require(system.descriptor(openedFor: Self.kernel))
    #expect(
      system.fileLoads == [
        RecordingSystem.FileLoadCall(
          kernel: kernel, initrd: -1, commandLine: Array("quiet".utf8) + [0], flags: 0x4)
      ])
    #expect(
      system.kexecCalls == [
        "kexec_file_load(kernel_fd: \(kernel), initrd_fd: -1, cmdline_len: 6, flags: 0x4) = 0"
      ])
    #expect(system.openDescriptors == [])
  }

  @Test("Append adds to /proc/cmdline without its BOOT_IMAGE= and newline")
  func appendToRunning() throws {
    let system = Self.machine()
    try FileLoader(system: system).load(
      LoadRequest(kernelPath: Self.kernel, commandLine: .append("console=ttyS0,115200")))
    let text = "root=/dev/vda1 ro quiet console=ttyS0,115200"
    #expect(system.fileLoads.map(\.commandLine) == [Array(text.utf8) + [0]])
  }

  @Test("An unreadable /proc/cmdline counts as an empty running command line")
  func appendWithoutProcCmdline() throws {
    let system = Self.machine()
    system.files["/proc/cmdline"] = .unopenable(Errno.EACCES)
    try FileLoader(system: system).load(
      LoadRequest(kernelPath: Self.kernel, commandLine: .append("quiet")))
    #expect(system.fileLoads.map(\.commandLine) == [Array("quiet".utf8) + [0]])
  }

  @Test("The debug channel says what is loaded and the call it makes")
  func debugLines() throws {
    let system = Self.machine()
    var lines: [String] = []
    try FileLoader(system: system, debug: { lines.append($0) }).load(
      LoadRequest(kernelPath: Self.kernel, commandLine: .replace("quiet")))
    let size = HandmadeBzImage().bytes.count
    #expect(
      lines == [
        "kernel: /boot/vmlinuz, \(size) bytes, bzImage, boot protocol 2.15, "
          + HandmadeBzImage().kernelVersion,
        "cmdline: \"quiet\" (5 bytes)",
        "/proc/iomem: not a memory map Handoff can read: it lists no memory ranges; "
          + "the kernel alone checks that the kernel fits",
        "kexec_file_load(kernel_fd: 3, initrd_fd: -1, cmdline_len: 6, flags: 0x4)",
      ])
  }

  @Test("A UKI's .linux, .initrd and .cmdline go to the kernel as in-memory files and text")
  func unifiedKernelImage() throws {
    let system = Self.machine()
    let linux = HandmadeBzImage().bytes
    system.files["/boot/linux.efi"] = .file(
      HandmadeUKI(linux: linux, initrd: Array("uki initramfs".utf8)).bytes)
    try FileLoader(system: system).load(
      LoadRequest(kernelPath: "/boot/linux.efi", commandLine: .empty))

    let load = try #require(system.fileLoads.first)
    #expect(system.memoryFileContents(load.kernel) == linux)
    #expect(system.memoryFileContents(load.initrd) == Array("uki initramfs".utf8))
    #expect(load.commandLine == Array(HandmadeUKI.commandLine.utf8) + [0])
    #expect(load.flags == 0)
    #expect(
      system.calls(named: "memfd_create").map { $0.prefix { $0 != ")" } } == [
        "memfd_create(\"handoff-initrd\", MFD_CLOEXEC",
        "memfd_create(\"handoff-kernel\", MFD_CLOEXEC",
      ])
    // the UKI itself is opened once, to be read, and never handed over
    #expect(
      system.calls(named: "open").filter { $0.hasPrefix("open(\"/boot/linux.efi\"") }.count == 1)
    #expect(system.openDescriptors == [])
  }

  @Test("The request's own initrd and command line win over a UKI's")
  func unifiedKernelImageOverridden() throws {
    let system = Self.machine()
    system.files["/boot/linux.efi"] = .file(HandmadeUKI(linux: HandmadeBzImage().bytes).bytes)
    try FileLoader(system: system).load(
      LoadRequest(
        kernelPath: "/boot/linux.efi", initrdPaths: ["/boot/initrd.img"],
        commandLine: .replace("quiet")))

    let load = try #require(system.fileLoads.first)
    #expect(load.initrd == system.descriptor(openedFor: "/boot/initrd.img"))
    #expect(load.commandLine == Array("quiet".utf8) + [0])
    #expect(system.memoryFileContents(load.kernel) == HandmadeBzImage().bytes)
    #expect(system.openDescriptors == [])
  }

  @Test("A UKI's command line is held to its bzImage's cmdline_size")
  func unifiedKernelImageCommandLineTooLong() {
    let system = Self.machine()
    var made = HandmadeUKI(linux: HandmadeBzImage().bytes)
    let long = String(repeating: "a", count: 3000)
    made.sections[2] = HandmadePE.Section(".cmdline", Array(long.utf8))
    system.files["/boot/linux.efi"] = .file(made.bytes)
    #expect(
      throws: HandoffError.commandLineTooLong(
        length: 3000, limit: 2047, path: "/boot/linux.efi (.linux)")
    ) {
      try FileLoader(system: system).load(
        LoadRequest(kernelPath: "/boot/linux.efi", commandLine: .empty))
    }
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])
  }

  @Test("A failed memfd_create for a UKI's kernel closes its initrd")
  func unifiedKernelImageMemfdFailure() {
    let system = Self.machine()
    system.files["/boot/linux.efi"] = .file(HandmadeUKI(linux: HandmadeBzImage().bytes).bytes)
    system.fail("memfd_create", with: Errno.ENOMEM, after: 1)
    #expect(
      throws: HandoffError.systemCall(
        SystemCallFailure(
          call: "memfd_create(\"handoff-kernel\", MFD_CLOEXEC)", errno: Errno.ENOMEM))
    ) {
      try FileLoader(system: system).load(
        LoadRequest(kernelPath: "/boot/linux.efi", commandLine: .empty))
    }
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])
  }

  @Test("A crash kernel goes with KEXEC_FILE_ON_CRASH when memory is reserved for it")
  func crashKernel() throws {
    let system = Self.machine()
    system.setText("/sys/kernel/kexec_crash_size", "268435456\n")
    try FileLoader(system: system).load(
      LoadRequest(
        kernelPath: Self.kernel, initrdPaths: ["/boot/initrd.img"],
        commandLine: .replace("console=ttyS0"), crash: true))
    #expect(system.fileLoads.map(\.flags) == [0x2])
    #expect(system.openDescriptors == [])
  }

  @Test(
    "A crash kernel is refused before any kexec call when no memory is reserved",
    arguments: [("0\n", "is 0"), (nil, "cannot be read")])
  func crashKernelWithoutRegion(size: String?, said: String) {
    let system = Self.machine()
    if let size { system.setText("/sys/kernel/kexec_crash_size", size) }
    #expect(
      throws: HandoffError.crashKernelUnavailable(
        reason: "no memory is reserved for one (/sys/kernel/kexec_crash_size \(said)); boot "
          + "this kernel with crashkernel=SIZE, such as crashkernel=256M")
    ) {
      try FileLoader(system: system).load(
        LoadRequest(kernelPath: Self.kernel, commandLine: .empty, crash: true))
    }
    #expect(system.kexecCalls == [])
  }

  /// A request that must fail before the kernel is asked anything.
  struct BadRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var request: LoadRequest
    var error: HandoffError
    var testDescription: String { name }
  }

  static let badRequests: [BadRequest] = [
    BadRequest(
      name: "a missing kernel",
      request: LoadRequest(kernelPath: "/boot/nothing", commandLine: .empty),
      error: .unreadable(
        path: "/boot/nothing",
        failure: SystemCallFailure(call: "open(\"/boot/nothing\", O_RDONLY)", errno: Errno.ENOENT))
    ),
    BadRequest(
      name: "a kernel that is a directory",
      request: LoadRequest(kernelPath: "/boot", commandLine: .empty),
      error: .notARegularFile(path: "/boot", kind: "a directory")),
    BadRequest(
      name: "a kernel that is not a kernel",
      request: LoadRequest(kernelPath: "/boot/initrd.img", commandLine: .empty),
      error: .truncated(path: "/boot/initrd.img", field: "boot_flag", offset: 0x1fe, fileSize: 14)
    ),
    BadRequest(
      name: "an empty initrd",
      request: LoadRequest(
        kernelPath: kernel, initrdPaths: ["/boot/empty.img"], commandLine: .empty),
      error: .emptyFile(path: "/boot/empty.img")),
    BadRequest(
      name: "an empty initrd after a good one",
      request: LoadRequest(
        kernelPath: kernel, initrdPaths: ["/boot/ucode.cpio", "/boot/empty.img"],
        commandLine: .empty),
      error: .emptyFile(path: "/boot/empty.img")),
    BadRequest(
      name: "a missing second initrd",
      request: LoadRequest(
        kernelPath: kernel, initrdPaths: ["/boot/ucode.cpio", "/boot/missing.img"],
        commandLine: .empty),
      error: .unreadable(
        path: "/boot/missing.img",
        failure: SystemCallFailure(
          call: "open(\"/boot/missing.img\", O_RDONLY)", errno: Errno.ENOENT))),
    BadRequest(
      name: "a command line longer than cmdline_size allows",
      request: LoadRequest(
        kernelPath: kernel, initrdPaths: ["/boot/initrd.img"],
        commandLine: .replace(String(repeating: "a", count: 2047))),
      error: .commandLineTooLong(length: 2047, limit: 2047, path: kernel)),
    BadRequest(
      name: "an appended command line that no longer fits",
      request: LoadRequest(
        kernelPath: kernel, commandLine: .append(String(repeating: "a", count: 2024))),
      error: .commandLineTooLong(length: 2048, limit: 2047, path: kernel)),
    BadRequest(
      name: "an x86_64 ELF vmlinux",
      request: LoadRequest(kernelPath: "/boot/vmlinux", commandLine: .empty),
      error: .unsupportedImage(
        path: "/boot/vmlinux",
        reason: "it is an ELF vmlinux, which the kernel's kexec_file_load does not read on "
          + "x86_64; Handoff loads it through kexec_load (--syscall kexec_load)")),
    BadRequest(
      name: "a kernel of another architecture",
      request: LoadRequest(kernelPath: "/boot/Image", commandLine: .empty),
      error: .unsupportedImage(
        path: "/boot/Image",
        reason: "it is a kernel for \(foreignArchitecture.rawValue), and this machine runs "
          + KernelArchitecture.running.rawValue)),
    BadRequest(
      name: "a device tree, which only kexec_load takes",
      request: LoadRequest(
        kernelPath: kernel, commandLine: .empty, deviceTreePath: "/boot/board.dtb"),
      error: .usage(
        "--dtb /boot/board.dtb needs kexec_load: kexec_file_load hands the next kernel the "
          + "running kernel's device tree and takes no other")),
  ]

  @Test("A bad input fails with its error and makes no kexec call", arguments: badRequests)
  func badInputMakesNoCall(bad: BadRequest) {
    let system = Self.machine()
    #expect(throws: bad.error) {
      try FileLoader(system: system).load(bad.request)
    }
    #expect(system.kexecCalls == [])
    #expect(system.fileLoads == [])
    #expect(system.openDescriptors == [], "left open: \(system.openDescriptors)")
    #expect(!system.calls.contains { $0.hasSuffix("= EBADF") }, "\(system.calls)")
  }

  @Test(
    "A kernel that a 64-bit kernel cannot boot is refused before any kexec call",
    arguments: [UInt16(0x020a), 0x020b])
  func oldProtocolMakesNoCall(version: UInt16) {
    let system = Self.machine()
    var made = HandmadeBzImage()
    made.version = version
    system.files[Self.kernel] = .file(made.bytes)
    #expect(throws: HandoffError.self) {
      try FileLoader(system: system).load(LoadRequest(kernelPath: Self.kernel, commandLine: .empty))
    }
    #expect(system.kexecCalls == [])
  }

  @Test(
    "Every descriptor is closed when kexec_file_load fails",
    arguments: [
      [String](), ["/boot/initrd.img"], ["/boot/ucode.cpio", "/boot/initrd.img"],
    ])
  func closedAfterRefusal(initrds: [String]) throws {
    let system = Self.machine()
    system.fail("kexec_file_load", with: Errno.EPERM)
    let error = #expect(throws: HandoffError.self) {
      try FileLoader(system: system).load(
        LoadRequest(kernelPath: Self.kernel, initrdPaths: initrds, commandLine: .empty))
    }
    let load = try #require(system.fileLoads.first)
    let call = KexecCallText.kexecFileLoad(
      kernel: load.kernel, initrd: load.initrd, commandLineLength: load.commandLine.count,
      flags: load.flags)
    #expect(error == .systemCall(SystemCallFailure(call: call, errno: Errno.EPERM)))
    #expect(system.fileLoads.count == 1)
    #expect(system.openDescriptors == [])
    #expect(!system.calls.contains { $0.hasSuffix("= EBADF") }, "\(system.calls)")
  }

  @Test(
    "The initrd is closed when the kernel cannot be opened after it",
    arguments: [["/boot/initrd.img"], ["/boot/ucode.cpio", "/boot/initrd.img"]])
  func initrdClosedWhenKernelOpenFails(initrds: [String]) {
    let system = Self.machine()
    // the first open, made to read the kernel, succeeds; the second does not
    system.fail("open", with: Errno.EACCES, path: Self.kernel, after: 1)
    #expect(
      throws: HandoffError.unreadable(
        path: Self.kernel,
        failure: SystemCallFailure(call: "open(\"/boot/vmlinuz\", O_RDONLY)", errno: Errno.EACCES))
    ) {
      try FileLoader(system: system).load(
        LoadRequest(kernelPath: Self.kernel, initrdPaths: initrds, commandLine: .empty))
    }
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])
  }

  @Test("A failed memfd_create stops the load before any kexec call")
  func memfdFailure() {
    let system = Self.machine()
    system.fail("memfd_create", with: Errno.ENOMEM)
    #expect(
      throws: HandoffError.systemCall(
        SystemCallFailure(
          call: "memfd_create(\"handoff-initrd\", MFD_CLOEXEC)", errno: Errno.ENOMEM))
    ) {
      try FileLoader(system: system).load(
        LoadRequest(
          kernelPath: Self.kernel, initrdPaths: ["/boot/ucode.cpio", "/boot/initrd.img"],
          commandLine: .empty))
    }
    #expect(system.kexecCalls == [])
    #expect(system.openDescriptors == [])
  }

  @Test(
    "A cached Debian kernel loads with its initrd",
    .enabled(if: LabKernel.allPresent, "the lab's kernels are missing: run lab/setup.sh"),
    arguments: LabKernel.all)
  func realKernelLoads(kernel: LabKernel) throws {
    let system = Self.machine()
    system.files[Self.kernel] = .file(try kernel.image())
    try FileLoader(system: system).load(
      LoadRequest(
        kernelPath: Self.kernel, initrdPaths: ["/boot/initrd.img"],
        commandLine: .replace("console=ttyS0")))
    let load = try #require(system.fileLoads.first)
    #expect(load.initrd == system.descriptor(openedFor: "/boot/initrd.img"))
    #expect(load.kernel == system.descriptor(openedFor: Self.kernel))
    #expect(load.flags == 0)
    #expect(system.openDescriptors == [])
  }
}

/// Unloading, and the fallback for kernels without kexec_file_load.
@Suite("Unloading")
struct UnloadTests {
  @Test("Unload asks kexec_file_load with KEXEC_FILE_UNLOAD and no files")
  func unloadThroughFileLoad() throws {
    let system = RecordingSystem()
    try FileLoader(system: system).unload()
    #expect(
      system.calls == [
        "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x1) = 0"
      ])
  }

  @Test("Unloading the crash kernel adds the on-crash flag, in the fallback too")
  func unloadCrash() throws {
    let system = RecordingSystem()
    system.fail("kexec_file_load", with: Errno.ENOSYS)
    try FileLoader(system: system).unload(crash: true)
    #expect(
      system.calls == [
        "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x3) = ENOSYS",
        "kexec_load(entry: 0x0, segments: 0, flags: 0x1) = 0",
      ])
  }

  @Test("Unload falls back to kexec_load with no segments when kexec_file_load is ENOSYS")
  func unloadFallsBack() throws {
    let system = RecordingSystem()
    system.fail("kexec_file_load", with: Errno.ENOSYS)
    try FileLoader(system: system).unload()
    #expect(
      system.calls == [
        "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x1) = ENOSYS",
        "kexec_load(entry: 0x0, segments: 0, flags: 0x0) = 0",
      ])
    #expect(system.loads == [[]])
  }

  @Test(
    "Unload reports any other errno without falling back", arguments: [Errno.EPERM, Errno.EBUSY])
  func unloadDoesNotFallBack(errno: Int32) {
    let system = RecordingSystem()
    system.fail("kexec_file_load", with: errno)
    #expect(
      throws: HandoffError.systemCall(
        SystemCallFailure(
          call: "kexec_file_load(kernel_fd: -1, initrd_fd: -1, cmdline_len: 0, flags: 0x1)",
          errno: errno))
    ) {
      try FileLoader(system: system).unload()
    }
    #expect(system.calls(named: "kexec_load") == [])
  }

  @Test("A failed fallback reports the kexec_load call")
  func fallbackFails() {
    let system = RecordingSystem()
    system.fail("kexec_file_load", with: Errno.ENOSYS)
    system.fail("kexec_load", with: Errno.EPERM)
    #expect(
      throws: HandoffError.systemCall(
        SystemCallFailure(
          call: "kexec_load(entry: 0x0, segments: 0, flags: 0x0)", errno: Errno.EPERM))
    ) {
      try FileLoader(system: system).unload()
    }
  }
}
