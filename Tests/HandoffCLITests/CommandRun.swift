// Runs the command line against the recording fake and keeps what it wrote.
import HandoffCLI
import HandoffTestSupport

/// One run of `handoff` or `kexec`: its exit status and both streams.
struct CommandRun {
  var status: Int32
  var output: String
  var error: String

  /// Runs `arguments` (the program's name first) against `system`.
  init(_ arguments: [String], on system: RecordingSystem = RecordingSystem()) {
    var output = ""
    var error = ""
    let console = Console(output: { output += $0 }, error: { error += $0 })
    status = runHandoff(arguments: arguments, system: system, console: console)
    self.output = output
    self.error = error
  }

  /// Runs `handoff` with `arguments`.
  static func handoff(_ arguments: String..., on system: RecordingSystem = RecordingSystem())
    -> CommandRun
  {
    CommandRun(["handoff"] + arguments, on: system)
  }

  /// Runs the kexec-tools spelling, as /sbin/kexec, with `arguments`.
  static func kexec(_ arguments: String..., on system: RecordingSystem = RecordingSystem())
    -> CommandRun
  {
    CommandRun(["/sbin/kexec"] + arguments, on: system)
  }
}

/// A machine with a bootable kernel, an initrd, and /proc and /sys saying
/// nothing is loaded and nothing is locked down.
func machine(kexecLoaded: String? = "0\n") -> RecordingSystem {
  let system = RecordingSystem(files: [
    "/boot/vmlinuz": .file(HandmadeBzImage().bytes),
    "/boot/initrd.img": .file(Array("initramfs".utf8)),
    "/boot/ucode.cpio": .file(Array("microcode".utf8)),
  ])
  system.setText("/proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro\n")
  if let kexecLoaded { system.setText("/sys/kernel/kexec_loaded", kexecLoaded) }
  system.setText("/sys/kernel/security/lockdown", "[none] integrity confidentiality\n")
  return system
}
