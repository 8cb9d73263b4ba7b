import HandoffCore
import HandoffTestSupport
import Testing

/// `handoff exec --quiesce`: which devices lose their driver and are reset,
/// what is said about each, and when `--strict` stops the handoff.
@Suite("handoff exec --quiesce")
struct QuiesceCommandTests {
  static let devices = "/sys/bus/pci/devices/"

  /// `machine` served with a kernel loaded.
  static func system(_ machine: CheckedMachine = .q35WithDevices) -> RecordingSystem {
    let system = RecordingSystem()
    machine.serve(on: system)
    system.setText("/sys/kernel/kexec_loaded", "1\n")
    return system
  }

  /// A network card and a virtio-net device that both have a driver and a
  /// reset method, behind the host bridge.
  static var resettable: CheckedMachine {
    var machine = CheckedMachine()
    machine.devices = [
      .init("0000:00:00.0", class: "0x060000", "0x8086", "0x29c0"),
      .init("0000:00:02.0", class: "0x020000", "0x8086", "0x10d3", driver: "e1000e", reset: "pm"),
      .init(
        "0000:01:00.0", class: "0x020000", "0x1af4", "0x1041", driver: "virtio-pci",
        reset: "flr bus"),
    ]
    return machine
  }

  /// The writes, syncs and reboots, in order.
  static func steps(_ system: RecordingSystem) -> [String] {
    system.calls.filter {
      $0.hasPrefix("write(") || $0.hasPrefix("sync(") || $0.hasPrefix("reboot(")
    }
  }

  @Test("By default network and display devices are unbound, and reset when they can be")
  func defaultClasses() {
    let system = Self.system()
    let run = CommandRun.handoff("exec", "--quiesce", on: system)
    #expect(run.status == 0)
    #expect(
      run.error == """
        quiesce: 0000:00:01.0 network 1af4:1000: driver virtio-pci unbound, no reset method
        quiesce: 0000:00:02.0 network 8086:10d3: no driver, reset (pm)
        quiesce: 0000:00:03.0 display 1234:1111: driver bochs-drm unbound, no reset method

        """)
    #expect(
      system.writes.map(\.path) == [
        Self.devices + "0000:00:01.0/driver/unbind",
        Self.devices + "0000:00:02.0/reset",
        Self.devices + "0000:00:03.0/driver/unbind",
      ])
    #expect(system.writes.map(\.text) == ["0000:00:01.0", "1", "0000:00:03.0"])
    #expect(system.calls(named: "reboot") == ["reboot(LINUX_REBOOT_CMD_KEXEC) = 0"])
  }

  @Test("--quiesce=network,display is the default spelled out")
  func defaultSpelledOut() {
    let implicit = Self.system()
    let explicit = Self.system()
    let first = CommandRun.handoff("exec", "--quiesce", on: implicit)
    let second = CommandRun.handoff("exec", "--quiesce=display,network", on: explicit)
    #expect(first.error == second.error)
    #expect(implicit.calls == explicit.calls)
  }

  @Test("--quiesce=storage stops the disks alone; --quiesce=other never touches a bridge")
  func explicitClasses() {
    let system = Self.system()
    let run = CommandRun.handoff("exec", "--quiesce=storage", on: system)
    #expect(run.status == 0)
    #expect(
      run.error == """
        quiesce: 0000:00:04.0 storage 1b36:0010: driver nvme unbound, reset (flr)
        quiesce: 0000:00:1f.2 storage 8086:2922: driver ahci unbound, no reset method

        """)
    #expect(
      system.writes.map(\.path) == [
        Self.devices + "0000:00:04.0/driver/unbind",
        Self.devices + "0000:00:04.0/reset",
        Self.devices + "0000:00:1f.2/driver/unbind",
      ])

    let other = Self.system()
    let otherRun = CommandRun.handoff("exec", "--quiesce=other", on: other)
    #expect(otherRun.error == "quiesce: 0000:00:1f.3 other 8086:2930: no driver, no reset method\n")
    #expect(other.writes.isEmpty)
  }

  @Test("A device that refuses is reported with the errno, and the handoff goes on")
  func refusingWrite() {
    let system = Self.system()
    system.fail("write", with: Errno.EBUSY, path: Self.devices + "0000:00:01.0/driver/unbind")
    system.fail("write", with: Errno.ENOTTY, path: Self.devices + "0000:00:02.0/reset")
    let run = CommandRun.handoff("exec", "--quiesce=network", on: system)
    #expect(run.status == 0)
    #expect(
      run.error == """
        quiesce: 0000:00:01.0 network 1af4:1000: driver virtio-pci not unbound: \
        write("/sys/bus/pci/devices/0000:00:01.0/driver/unbind", count: 12) = EBUSY, not reset
        quiesce: 0000:00:02.0 network 8086:10d3: no driver, not reset (pm): \
        write("/sys/bus/pci/devices/0000:00:02.0/reset", count: 1) = ENOTTY

        """)
    #expect(Self.steps(system).suffix(2) == ["sync()", "reboot(LINUX_REBOOT_CMD_KEXEC) = 0"])
    #expect(system.openDescriptors == [])
  }

  @Test("--strict refuses before any write when a device of the classes has no reset method")
  func strictNoResetMethod() {
    let system = Self.system()
    let run = CommandRun.handoff("exec", "--quiesce", "--strict", on: system)
    #expect(run.status == 1)
    #expect(
      run.error
        == "Error: 0000:00:01.0 network 1af4:1000 has no reset method, and --strict wants every "
        + "device reset; nothing was unbound, not booting\n")
    #expect(system.calls(named: "open").filter { $0.contains("O_WRONLY") } == [])
    #expect(Self.steps(system) == [])
  }

  @Test("--strict stops at the first device that refuses: no sync, no reboot")
  func strictRefusal() {
    let system = Self.system(Self.resettable)
    system.fail("write", with: Errno.ENOTTY, path: Self.devices + "0000:00:02.0/reset")
    let run = CommandRun.handoff("exec", "--quiesce", "--strict", on: system)
    #expect(run.status == 1)
    #expect(
      run.error == """
        quiesce: 0000:00:02.0 network 8086:10d3: driver e1000e unbound, not reset (pm): \
        write("/sys/bus/pci/devices/0000:00:02.0/reset", count: 1) = ENOTTY
        Error: 0000:00:02.0 network 8086:10d3 refused: \
        write("/sys/bus/pci/devices/0000:00:02.0/reset", count: 1) = ENOTTY; \
        --strict stops here, not booting

        """)
    #expect(Self.steps(system).first == "sync()")
    #expect(Self.steps(system).dropFirst().allSatisfy { $0.hasPrefix("write(") })
    #expect(system.writes.map(\.path) == [Self.devices + "0000:00:02.0/driver/unbind"])
  }

  @Test("exec syncs, stops the devices, syncs again, then reboots")
  func order() {
    let system = Self.system(Self.resettable)
    let run = CommandRun.handoff("exec", "--quiesce", "--strict", on: system)
    #expect(run.status == 0)
    #expect(
      run.error == """
        quiesce: 0000:00:02.0 network 8086:10d3: driver e1000e unbound, reset (pm)
        quiesce: 0000:01:00.0 network 1af4:1041: driver virtio-pci unbound, reset (flr)

        """)
    #expect(
      Self.steps(system) == [
        "sync()",
        "write(\"/sys/bus/pci/devices/0000:00:02.0/driver/unbind\", count: 12) = 12",
        "write(\"/sys/bus/pci/devices/0000:00:02.0/reset\", count: 1) = 1",
        "write(\"/sys/bus/pci/devices/0000:01:00.0/driver/unbind\", count: 12) = 12",
        "write(\"/sys/bus/pci/devices/0000:01:00.0/reset\", count: 1) = 1",
        "sync()",
        "reboot(LINUX_REBOOT_CMD_KEXEC) = 0",
      ])
  }

  @Test("With nothing loaded no device is touched")
  func nothingLoaded() {
    let system = Self.system()
    system.setText("/sys/kernel/kexec_loaded", "0\n")
    let run = CommandRun.handoff("exec", "--quiesce", on: system)
    #expect(run.status == 1)
    #expect(system.writes.isEmpty)
  }

  @Test("When the devices cannot be listed, that is said and the handoff goes on")
  func unlistable() {
    let system = Self.system()
    system.fail("opendir", with: Errno.EACCES, path: "/sys/bus/pci/devices")
    let run = CommandRun.handoff("exec", "--quiesce", on: system)
    #expect(run.status == 0)
    #expect(
      run.error
        == "quiesce: no device stopped: /sys/bus/pci/devices: cannot read: "
        + "opendir(\"/sys/bus/pci/devices\") = EACCES\n")
    #expect(system.calls(named: "reboot") == ["reboot(LINUX_REBOOT_CMD_KEXEC) = 0"])
  }

  @Test(
    "A class it does not know, or --strict alone, is a usage error that touches nothing",
    arguments: [
      (
        ["--quiesce=network,sound"],
        "Error: Unknown device class 'sound' for '--quiesce': "
          + "expected network, display, storage or other"
      ),
      (
        ["--quiesce=network,"],
        "Error: Unknown device class '' for '--quiesce': "
          + "expected network, display, storage or other"
      ),
      (["--strict"], "Error: '--strict' needs '--quiesce'"),
    ])
  func usageErrors(options: [String], firstLine: String) {
    let system = Self.system()
    let run = CommandRun(["handoff", "exec"] + options, on: system)
    #expect(run.status == 64)
    #expect(
      run.error
        == firstLine + "\nUsage: handoff exec [--quiesce[=<classes>]] [--strict]\n"
        + "  See 'handoff exec --help' for more information.\n")
    #expect(system.calls == [])
  }

  static let execHelp = """
    OVERVIEW: Boot the loaded kernel now, without going through firmware.

    USAGE: handoff exec [--quiesce[=<classes>]] [--strict]

    OPTIONS:
      --quiesce[=<classes>]   Before the jump, unbind the driver of each PCI device
                              of these classes and reset the device through sysfs
                              when it can be reset, one line each on standard error.
                              A comma list of network, display, storage and other;
                              network,display when none is given. File systems are
                              synced before the first device is unbound, and again
                              after the last. Storage is never in the default: once
                              the disk the root file system is on is unbound,
                              nothing written after that sync reaches it. Bridges
                              are never touched.
      --strict                With --quiesce, refuse to boot, before unbinding
                              anything, when a device of those classes has no reset
                              method, and stop when a device refuses to be unbound
                              or reset. Without it, such devices are reported and
                              the handoff goes on.
      --debug                 Print what is being done, step by step, to standard
                              error.
      -h, --help              Show help information.

    File systems are synced first. Nothing else is shut down: stop services and
    unmount file systems before, or let the init system call 'handoff exec' last.
    With --quiesce the file systems are synced, the devices stopped, and the file
    systems synced again.

    """

  @Test("handoff exec --help says what --quiesce stops, and why storage is not in the default")
  func help() {
    let run = CommandRun.handoff("exec", "--help")
    #expect(run.status == 0)
    #expect(run.output == Self.execHelp)
  }
}
