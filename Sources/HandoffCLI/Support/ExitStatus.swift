/// The process exit statuses of `handoff`.
public enum ExitStatus {
  public static let success: Int32 = 0
  /// The command ran and failed: a bad image, a refused system call.
  public static let failure: Int32 = 1
  /// The command line was wrong (EX_USAGE).
  public static let usage: Int32 = 64
}
