import HandoffCore

/// Which system call loads the kernel.
public enum SyscallChoice: String, Equatable, Sendable {
  /// kexec_load with Handoff's purgatory; kexec_file_load when the kernel
  /// refuses kexec_load (lockdown, IMA, no CONFIG_KEXEC).
  case auto
  case kexecLoad = "kexec_load"
  case kexecFileLoad = "kexec_file_load"
}

/// What a load did, for the command line to report.
public struct LoadOutcome: Equatable, Sendable {
  /// The system call that loaded the kernel.
  public var syscall: SyscallChoice
  /// Why auto mode fell back to kexec_file_load, in one sentence; nil when it did not.
  public var fallbackReason: String?
}

/// Loads a kernel through the system call asked for, falling back from
/// kexec_load to kexec_file_load in auto mode when the kernel refuses the former.
public struct Loader<System: SystemCalls> {
  public let system: System
  public let debug: (String) -> Void
  /// Told why, just before auto mode tries kexec_file_load in place of kexec_load.
  public let fallingBack: (String) -> Void

  public init(
    system: System, debug: @escaping (String) -> Void = { _ in },
    fallingBack: @escaping (String) -> Void = { _ in }
  ) {
    self.system = system
    self.debug = debug
    self.fallingBack = fallingBack
  }

  public func load(_ request: LoadRequest, syscall: SyscallChoice, options: PlanOptions)
    throws(HandoffError) -> LoadOutcome
  {
    switch syscall {
    case .kexecFileLoad:
      if options.scrub {
        throw .scrubUnavailable(
          reason: "kexec_file_load runs the running kernel's purgatory, which does not scrub; "
            + "only kexec_load runs Handoff's")
      }
      try FileLoader(system: system, debug: debug).load(request)
      return LoadOutcome(syscall: .kexecFileLoad, fallbackReason: nil)
    case .kexecLoad:
      try SegmentLoader(system: system, debug: debug).load(request, options: options)
      return LoadOutcome(syscall: .kexecLoad, fallbackReason: nil)
    case .auto:
      do {
        try SegmentLoader(system: system, debug: debug).load(request, options: options)
        return LoadOutcome(syscall: .kexecLoad, fallbackReason: nil)
      } catch .systemCall(let failure) {
        guard let reason = fallbackReason(failure) else { throw .systemCall(failure) }
        debug("\(failure.description); \(reason)")
        return try loadThroughFile(request, because: reason, options: options)
      } catch .unsupportedMemoryMap(let source, let problem) {
        // without a memory map Handoff cannot place segments; the kernel can
        return try loadThroughFile(
          request, because: "Handoff cannot read the memory map (\(source): \(problem))",
          options: options)
      }
    }
  }

  private func loadThroughFile(
    _ request: LoadRequest, because reason: String, options: PlanOptions
  ) throws(HandoffError) -> LoadOutcome {
    // a scrub asked for is not silently dropped
    if options.scrub {
      throw .scrubUnavailable(
        reason: "\(reason), and kexec_file_load runs the running kernel's purgatory, which "
          + "does not scrub; nothing was loaded")
    }
    fallingBack(reason)
    try FileLoader(system: system, debug: debug).load(request)
    return LoadOutcome(syscall: .kexecFileLoad, fallbackReason: reason)
  }

  /// Why kexec_load's refusal leaves kexec_file_load worth trying; nil when
  /// the refusal would stop it too (not root, kexec_load_disabled, which
  /// disables both calls) or says the image is bad.
  func fallbackReason(_ failure: SystemCallFailure) -> String? {
    let status = KexecStatus.read(from: system)
    switch failure.errno {
    case Errno.EPERM:
      if status.kexecLoadDisabled == true { return nil }
      if let lockdown = status.lockdown, lockdown != "none" {
        return "kexec_load is refused under lockdown (\(lockdown))"
      }
      return nil
    case Errno.EACCES:
      // under Secure Boot IMA refuses kexec_load before lockdown would
      if let lockdown = status.lockdown, lockdown != "none" {
        return "kexec_load is refused under lockdown (\(lockdown)) and by IMA, which needs a "
          + "file to appraise"
      }
      return "kexec_load is refused by IMA, which needs a file to appraise"
    case Errno.ENOSYS:
      return "the running kernel has no kexec_load"
    default:
      return nil
    }
  }
}
