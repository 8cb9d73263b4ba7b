import HandoffCore

/// How a kexec system call reads in an error message or a debug line, the
/// same for the real calls and the recording fake.
public enum KexecCallText {
  public static func kexecFileLoad(
    kernel: Int32, initrd: Int32, commandLineLength: Int, flags: UInt
  ) -> String {
    "kexec_file_load(kernel_fd: \(kernel), initrd_fd: \(initrd), "
      + "cmdline_len: \(commandLineLength), flags: \(hex(flags)))"
  }

  public static func kexecLoad(entry: UInt64, segments: Int, flags: UInt) -> String {
    "kexec_load(entry: \(hex(entry)), segments: \(segments), flags: \(hex(flags)))"
  }
}
