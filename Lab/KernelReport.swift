/// Finds the first oops, BUG, warning or panic a guest kernel printed, so a
/// failed scenario shows its cause and not only the console's last lines.
enum KernelReport {
  /// Phrases that open a kernel's report of something gone wrong.
  static let openings = [
    "BUG:", "Oops:", "general protection fault", "Kernel panic", "WARNING:", "kernel BUG at",
    "watchdog: BUG", "rcu: INFO:", "Unable to handle kernel",
  ]

  /// The lines from the first report's opening to its end marker (or 40
  /// lines on), or nil when the kernel reported nothing.
  static func first(in lines: [String], limit: Int = 40) -> [String]? {
    guard
      let start = lines.firstIndex(where: { line in
        openings.contains { line.contains($0) }
      })
    else { return nil }
    var report: [String] = []
    for line in lines[start...].prefix(limit) {
      report.append(line)
      if line.contains("---[ end trace") || line.contains("---[ end Kernel panic") { break }
    }
    return report
  }
}
