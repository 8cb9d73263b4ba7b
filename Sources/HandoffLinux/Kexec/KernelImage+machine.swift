import HandoffCore

extension KernelImage {
  /// Throws `unsupportedImage` for a kernel of another architecture than
  /// the running machine's; an x86 bzImage counts as this machine's, as its
  /// 64-bit entry is checked later.
  func requireRunningArchitecture() throws(HandoffError) {
    let running = KernelArchitecture.running
    if architecture != running, architecture != .x86 {
      throw .unsupportedImage(
        path: path,
        reason: "it is a kernel for \(architecture.rawValue), and this machine runs "
          + running.rawValue)
    }
  }
}
