import HandoffCore
import Testing

/// How the next kernel's command line is made from the choice and the
/// running kernel's /proc/cmdline.
@Suite("Command line choice")
struct CommandLineChoiceTests {
  /// /proc/cmdline as a Debian system shows it after GRUB booted it.
  static let running = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-40-amd64 root=UUID=1234 ro quiet\n"

  @Test(
    "Each choice resolves against the running kernel's command line",
    arguments: [
      (CommandLineChoice.replace("console=ttyS0 root=/dev/vda1"), "console=ttyS0 root=/dev/vda1"),
      (.append("console=ttyS0"), "root=UUID=1234 ro quiet console=ttyS0"),
      (.reuse, "root=UUID=1234 ro quiet"),
      (.empty, ""),
      (.append(""), "root=UUID=1234 ro quiet"),
      (.replace("BOOT_IMAGE=/kept as given"), "BOOT_IMAGE=/kept as given"),
    ])
  func resolves(choice: CommandLineChoice, expected: String) {
    #expect(choice.resolve(running: Self.running) == expected)
  }

  @Test(
    "A running command line loses its trailing newline and BOOT_IMAGE=",
    arguments: [
      ("root=/dev/vda1 ro\n", "root=/dev/vda1 ro"),
      ("BOOT_IMAGE=/vmlinuz root=/dev/vda1\n", "root=/dev/vda1"),
      ("BOOT_IMAGE=(hd0,gpt2)/vmlinuz-linux rw\n", "rw"),
      ("BOOT_IMAGE=/vmlinuz\n", ""),
      ("", ""),
      ("\n", ""),
    ])
  func cleansRunning(running: String, expected: String) {
    #expect(CommandLineChoice.reuse.resolve(running: running) == expected)
  }

  @Test("Appending to an empty running command line gives the appended text alone")
  func appendToEmpty() {
    #expect(CommandLineChoice.append("quiet").resolve(running: "BOOT_IMAGE=/vmlinuz\n") == "quiet")
    #expect(CommandLineChoice.append("quiet").resolve(running: "") == "quiet")
  }

  @Test("Replace and empty ignore the running command line entirely")
  func replaceIgnoresRunning() {
    #expect(CommandLineChoice.replace("a=1").resolve(running: "b=2\n") == "a=1")
    #expect(CommandLineChoice.empty.resolve(running: "b=2\n") == "")
  }
}
