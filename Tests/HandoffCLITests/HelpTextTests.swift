import HandoffTestSupport
import Testing

/// The help and usage errors, held word for word: a change to them shows up
/// here and has to be made on purpose.
@Suite("Help and usage errors")
struct HelpTextTests {
  static let overview = """
    OVERVIEW: Boot a new Linux kernel from the running one, without firmware.

    USAGE: handoff <subcommand>

    OPTIONS:
      --version               Show the version.
      -h, --help              Show help information.

    SUBCOMMANDS:
      inspect   Print what a kernel image's header says.
      load      Load a kernel to boot later with 'handoff exec'.
      plan      Show where kexec_load would place each segment, without loading.
      exec      Boot the loaded kernel now, without going through firmware.
      unload    Unload the kernel staged by 'handoff load'.
      status    Show what is loaded, and what would stop a load.
      check     Check, before loading, whether a handoff is expected to work.

      See 'handoff help <subcommand>' for detailed help.

    """

  static let loadHelp = """
    OVERVIEW: Load a kernel to boot later with 'handoff exec'.

    USAGE: handoff load <kernel> [--initrd <file> ...] [--cmdline <text> | --append
             <text> | --reuse-cmdline] [--syscall <syscall>] [--crash]

    ARGUMENTS:
      <kernel>                The kernel image to load: an x86_64 bzImage or ELF
                              vmlinux, an arm64 or riscv64 Image (plain, compressed
                              or as an ELF vmlinux), an EFI zboot image, or a
                              unified kernel image holding one.

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
      --crash                 Load the kernel to boot when this one panics (a crash
                              kernel), into the memory crashkernel= reserved, with
                              an ELF core header the crash kernel reads /proc/vmcore
                              from: through kexec_load Handoff writes it, through
                              kexec_file_load the running kernel does. 'handoff
                              exec' does not boot it.
      --syscall <syscall>     The system call that loads the kernel: auto (the
                              default: kexec_load, or kexec_file_load when the
                              kernel refuses kexec_load), kexec_load or
                              kexec_file_load.
      --no-verify             Do not check the segments' digests in the purgatory
                              before the jump.
      --scrub                 Zero the RAM the running kernel leaves free, in the
                              purgatory before the jump, and say so on the serial
                              port. Needs kexec_load.
      --debug                 Print what is being done, step by step, to standard
                              error.
      -h, --help              Show help information.

    Through kexec_load, Handoff places the segments itself, and its own purgatory
    checks each segment's digest before the jump: a damaged segment stops the
    handoff with a message on the serial port. Through kexec_file_load the running
    kernel places them and brings its own purgatory; it is the only call allowed
    under lockdown, and needs an image signed with a key the kernel trusts.

    With --scrub the purgatory then zeroes all RAM that both /sys/firmware/memmap
    and /proc/iomem call System RAM, except the segments, the EFI runtime regions,
    a crash kernel's reservation and the first MiB, so the new kernel finds none
    of the old one's data there. 'handoff plan --scrub' lists those ranges.

    EXAMPLES:
      handoff load /boot/vmlinuz-6.12.48+deb13-amd64 \\
        --initrd /boot/initrd.img-6.12.48+deb13-amd64 --reuse-cmdline
      handoff load vmlinuz --initrd ucode.cpio --initrd main.cpio --cmdline 'console=ttyS0'

    """

  static let inspectHelp = """
    OVERVIEW: Print what a kernel image's header says.

    USAGE: handoff inspect <image> [--json]

    ARGUMENTS:
      <image>                 The kernel image to read, such as
                              /boot/vmlinuz-6.1.0-40-amd64: a bzImage, an ELF
                              vmlinux, an arm64 or riscv64 Image (plain, gzip or
                              zstd), an EFI zboot image or a unified kernel image.

    OPTIONS:
      --json                  Print one JSON object instead of text.
      --debug                 Print what is being done, step by step, to standard
                              error.
      -h, --help              Show help information.

    """

  @Test("handoff --help prints the overview and exits 0", arguments: ["--help", "-h"])
  func overviewHelp(flag: String) {
    let run = CommandRun.handoff(flag)
    #expect(run.status == 0)
    #expect(run.output == Self.overview)
    #expect(run.error == "")
  }

  @Test("handoff with no arguments prints the overview and exits 64")
  func noArguments() {
    let run = CommandRun.handoff()
    #expect(run.status == 64)
    #expect(run.output == Self.overview)
  }

  @Test("handoff load --help prints the load help and exits 0", arguments: ["--help", "-h"])
  func loadHelp(flag: String) {
    let run = CommandRun.handoff("load", flag)
    #expect(run.status == 0)
    #expect(run.output == Self.loadHelp)
    #expect(run.error == "")
  }

  @Test("handoff help load prints the same text as handoff load --help")
  func helpSubcommand() {
    #expect(CommandRun.handoff("help", "load").output == Self.loadHelp)
    #expect(CommandRun.handoff("help", "inspect").output == Self.inspectHelp)
    #expect(CommandRun.handoff("help").output == Self.overview)
  }

  @Test("handoff inspect --help prints the inspect help")
  func inspectHelp() {
    let run = CommandRun.handoff("inspect", "--help")
    #expect(run.status == 0)
    #expect(run.output == Self.inspectHelp)
  }

  @Test(
    "Every subcommand's help has the overview, usage and options sections",
    arguments: ["inspect", "load", "plan", "exec", "unload", "status"])
  func everySubcommandHelp(name: String) {
    let run = CommandRun.handoff(name, "--help")
    #expect(run.status == 0)
    #expect(run.output.hasPrefix("OVERVIEW: "))
    #expect(run.output.contains("\n\nUSAGE: handoff \(name)"))
    #expect(run.output.contains("\nOPTIONS:\n"))
    #expect(run.output.contains("\n  -h, --help              Show help information.\n"))
  }

  @Test("handoff --version prints the version alone")
  func version() {
    let run = CommandRun.handoff("--version")
    #expect(run.status == 0)
    #expect(run.output == "0.1.0\n")
  }

  @Test("inspect with no image says which argument is missing, the usage, and exits 64")
  func missingArgument() {
    let run = CommandRun.handoff("inspect")
    #expect(run.status == 64)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: Missing expected argument '<image>'
        Usage: handoff inspect <image> [--json]
          See 'handoff inspect --help' for more information.

        """)
  }

  @Test("An unknown option is named, with the subcommand's usage, and exits 64")
  func unknownOption() {
    let run = CommandRun.handoff("load", "/boot/vmlinuz", "--initramfs", "x")
    #expect(run.status == 64)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: Unknown option '--initramfs'
        Usage: handoff load <kernel> [--initrd <file> ...] \
        [--cmdline <text> | --append <text> | --reuse-cmdline] [--syscall <syscall>] [--crash]
          See 'handoff load --help' for more information.

        """)
  }

  @Test("An unknown option spelled with a value is named without the value")
  func unknownOptionWithValue() {
    let run = CommandRun.handoff("inspect", "--format=json", "/boot/vmlinuz")
    #expect(run.status == 64)
    #expect(run.error.hasPrefix("Error: Unknown option '--format'\n"))
  }

  @Test("An unknown subcommand is named, with the top-level usage, and exits 64")
  func unknownSubcommand() {
    let run = CommandRun.handoff("boot", "/boot/vmlinuz")
    #expect(run.status == 64)
    #expect(run.output == "")
    #expect(
      run.error == """
        Error: Unknown subcommand 'boot'
        Usage: handoff <subcommand>
          See 'handoff --help' for more information.

        """)
  }

  @Test("help for an unknown subcommand is a usage error too")
  func helpForUnknown() {
    let run = CommandRun.handoff("help", "boot")
    #expect(run.status == 64)
    #expect(run.error.hasPrefix("Error: Unknown subcommand 'boot'\n"))
  }

  @Test(
    "Conflicting command line options are refused with exit 64 before anything is read",
    arguments: [
      (["--cmdline", "a", "--append", "b"], "'--cmdline' and '--append'"),
      (["--append=b", "--cmdline=a"], "'--cmdline' and '--append'"),
      (["--cmdline", "a", "--reuse-cmdline"], "'--cmdline' and '--reuse-cmdline'"),
      (["--append", "b", "--reuse-cmdline"], "'--append' and '--reuse-cmdline'"),
    ])
  func conflictingCommandLines(options: [String], named: String) {
    let system = machine()
    let run = CommandRun(["handoff", "load", "/boot/vmlinuz"] + options, on: system)
    #expect(run.status == 64)
    #expect(run.error.hasPrefix("Error: \(named) cannot be used together\nUsage: handoff load "))
    #expect(system.calls == [])
  }

  @Test(
    "Other usage mistakes exit 64 and touch nothing",
    arguments: [
      (["load"], "Error: Missing expected argument '<kernel>'"),
      (["load", "/boot/vmlinuz", "/boot/other"], "Error: Unexpected argument '/boot/other'"),
      (["load", "/boot/vmlinuz", "--initrd"], "Error: Missing value for '--initrd <file>'"),
      (
        ["load", "/boot/vmlinuz", "--reuse-cmdline=yes"],
        "Error: Option '--reuse-cmdline' takes no value"
      ),
      (["exec", "now"], "Error: Unexpected argument 'now'"),
      (["unload", "all"], "Error: Unexpected argument 'all'"),
      (["status", "x"], "Error: Unexpected argument 'x'"),
      (["inspect", "a", "b"], "Error: Unexpected argument 'b'"),
    ])
  func otherUsageErrors(arguments: [String], firstLine: String) {
    let system = machine()
    let run = CommandRun(["handoff"] + arguments, on: system)
    #expect(run.status == 64)
    #expect(run.error.hasPrefix(firstLine + "\nUsage: handoff "))
    #expect(run.error.hasSuffix(" --help' for more information.\n"))
    #expect(system.calls == [])
  }
}
