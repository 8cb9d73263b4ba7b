import Foundation
import HandoffCore
import HandoffLinux
import HandoffTestSupport
import Testing

/// `handoff check`: its help, its report as text and JSON, and its exit
/// status for each verdict.
@Suite("handoff check")
struct CheckCommandTests {
  static let checkHelp = """
    OVERVIEW: Check, before loading, whether a handoff is expected to work.

    USAGE: handoff check [<kernel>] [--initrd <file> ...] [--cmdline <text> |
             --append <text> | --reuse-cmdline] [--json]

    ARGUMENTS:
      <kernel>                The kernel to hand off to, a bzImage. Without it, only
                              this machine and its devices are checked.

    OPTIONS:
      --initrd <file>         An initramfs for the new kernel. Give it more than
                              once to concatenate several in order, such as a
                              microcode archive and then the main initramfs.
      --cmdline <text>        The new kernel's command line, exactly.
      --append <text>         Text added to the running kernel's command line.
      --reuse-cmdline         Give the new kernel the running kernel's command line.
      --dtb <file>            arm64 and riscv64: the device tree the new kernel's
                              starts from, instead of the running kernel's
                              /sys/firmware/fdt.
      --json                  Print one JSON object instead of text.
      --debug                 Print what is being done, step by step, to standard
                              error.
      -h, --help              Show help information.

    One line per item, ok, warn or fail, with the reason: who is asking (root,
    CAP_SYS_BOOT), what the running kernel allows (kexec_load, kexec_file_load,
    lockdown, Secure Boot), the kernel against this machine (architecture, entry,
    boot protocol, EFI handover, where its segments would go), and the PCI devices
    the next kernel inherits as this one leaves them. Nothing is loaded.

    EXIT STATUS:
      0  every item is ok: a handoff is expected to work
      1  some item warns: a handoff is risky
      2  some item fails: a handoff will fail
      64 the command line was wrong

    EXAMPLES:
      handoff check
      handoff check /boot/vmlinuz-6.12.48+deb13-amd64 \\
        --initrd /boot/initrd.img-6.12.48+deb13-amd64 --reuse-cmdline --json

    """

  /// A machine as CheckedMachine describes it, with a kernel and an initrd.
  static func system(_ machine: CheckedMachine = CheckedMachine()) -> RecordingSystem {
    let system = RecordingSystem(files: [
      "/boot/vmlinuz": .file(HandmadeBzImage().bytes),
      "/boot/initrd.img": .file(Array(repeating: 0xa5, count: 0x1_2345)),
    ])
    machine.serve(on: system)
    return system
  }

  @Test("handoff check --help and handoff help check print the check help")
  func help() {
    let run = CommandRun.handoff("check", "--help")
    #expect(run.status == 0)
    #expect(run.output == Self.checkHelp)
    #expect(CommandRun.handoff("help", "check").output == Self.checkHelp)
  }

  @Test("The text report: sections, aligned columns, and the verdict last")
  func text() {
    let run = CommandRun.handoff(
      "check", "/boot/vmlinuz", "--initrd", "/boot/initrd.img", "--cmdline", "console=ttyS0",
      on: Self.system(CheckedMachine.q35WithDevices))
    #expect(run.error == "")
    #expect(run.status == 1)
    let expected = """
      machine
      ok   root                 euid 0
      ok   CAP_SYS_BOOT         effective (CapEff 000001ffffffffff)
      ok   kexec                built in; nothing is loaded
      ok   kexec_load           built in: __x64_sys_kexec_load is in /proc/kallsyms
      ok   kexec_file_load      built in: __x64_sys_kexec_file_load is in /proc/kallsyms
      ok   kexec_load_disabled  0
      ok   lockdown             none
      ok   Secure Boot          off: the machine did not boot through EFI
      ok   crash kernel         no region reserved
      ok   load path            kexec_load, with Handoff's purgatory checking every segment \
      before the jump

      kernel
      ok   image                /boot/vmlinuz: bzImage of 6.99.0-handmade, 5120 bytes
      ok   architecture         x86_64, as this machine
      ok   64-bit entry         XLF_KERNEL_64, loadable above 4 GiB
      ok   boot protocol        2.15
      ok   EFI handover         not needed: the machine did not boot through EFI
      ok   relocatable          yes, at any multiple of 0x200000
      ok   cmdline              13 bytes; the image takes up to 2046
      PLACEMENT
      ok   free memory          the load needs FREE; 782 MiB available

      devices
      ok   iommu                on: dmar0, 6 groups
      ok   0000:00:00.0         bridge 8086:29c0, no driver, no reset method
      warn 0000:00:01.0         network 1af4:1000, driver virtio-pci, MSI-X (3 vectors), no \
      reset method: virtio-pci may leave it running into the next kernel; nothing can reset \
      it if its driver does not stop it
      ok   0000:00:02.0         network 8086:10d3, no driver, reset pm
      warn 0000:00:03.0         display 1234:1111, driver bochs-drm, no reset method: \
      bochs-drm may leave it running into the next kernel; nothing can reset it if its \
      driver does not stop it
      ok   0000:00:04.0         storage 1b36:0010, driver nvme, MSI-X (5 vectors), reset flr bus
      ok   0000:00:1f.0         bridge 8086:2918, driver lpc_ich, no reset method
      warn 0000:00:1f.2         storage 8086:2922, driver ahci, MSI (1 vector), no reset \
      method: nothing can reset it if its driver does not stop it
      warn 0000:00:1f.3         other 8086:2930, no driver, no reset method: nothing can \
      reset it, so the next kernel gets it as the firmware left it

      result: risky, 4 items warn

      """
    let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
    let placement = lines.first { $0.hasPrefix("ok   placement ") }.map(String.init) ?? "?"
    let free =
      lines.first { $0.hasPrefix("ok   free memory ") }?
      .components(separatedBy: "needs ").last?.components(separatedBy: ";").first ?? "?"
    #expect(placement.hasPrefix("ok   placement            kernel at 0x1000000 and initrd at 0x"))
    #expect(
      run.output
        == expected.replacingOccurrences(of: "PLACEMENT", with: placement)
        .replacingOccurrences(of: "FREE", with: free))
  }

  @Test("--json prints one object: the result and every item with its section")
  func json() throws {
    var machine = CheckedMachine()
    machine.lockdown = "none [integrity] confidentiality"
    let run = CommandRun.handoff("check", "--json", on: Self.system(machine))
    #expect(run.status == 1)
    #expect(run.output.hasSuffix("}\n"))
    #expect(run.output.split(separator: "\n").count == 1)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    #expect(object["result"] as? String == "risky")
    let items = try #require(object["items"] as? [[String: String]])
    #expect(
      items.first == ["section": "machine", "item": "root", "status": "ok", "detail": "euid 0"])
    #expect(
      items.first { $0["item"] == "lockdown" }?["status"] == "warn")
    #expect(Set(items.compactMap { $0["section"] }) == ["machine", "devices"])
    #expect(items.allSatisfy { Set($0.keys) == ["section", "item", "status", "detail"] })
  }

  @Test("Exit status: 0 when every item is ok, 1 for a warning, 2 for a failure")
  func exitStatus() {
    let good = CommandRun.handoff("check", "/boot/vmlinuz", on: Self.system())
    #expect(good.status == 0)
    #expect(good.output.hasSuffix("\nresult: ok, a handoff is expected to work\n"))

    #expect(CommandRun.handoff("check", on: Self.system(.q35WithDevices)).status == 1)

    var nonRoot = CheckedMachine()
    nonRoot.effectiveUser = 1000
    nonRoot.capabilities = "0000000000000000"
    let failing = CommandRun.handoff("check", on: Self.system(nonRoot))
    #expect(failing.status == 2)
    #expect(failing.output.hasSuffix("\nresult: will fail, 2 items fail, 0 items warn\n"))
  }

  @Test("Usage errors: kernel options without a kernel, or two kernels")
  func usageErrors() {
    let noKernel = CommandRun.handoff("check", "--initrd", "/boot/initrd.img")
    #expect(noKernel.status == 64)
    #expect(
      noKernel.error
        == """
        Error: '--initrd' needs a '<kernel>' to check
        Usage: handoff check [<kernel>] [--initrd <file> ...] [--cmdline <text> | --append \
        <text> | --reuse-cmdline] [--json]
          See 'handoff check --help' for more information.

        """)
    let two = CommandRun.handoff("check", "/boot/vmlinuz", "/boot/initrd.img")
    #expect(two.status == 64)
    #expect(two.error.hasPrefix("Error: Unexpected argument '/boot/initrd.img'\n"))
  }
}
