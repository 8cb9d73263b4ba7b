// The memory a crash kernel is loaded into and may use: the regions
// crashkernel= reserved, which the panicked kernel never touched.

extension MemoryMap {
  /// The regions crashkernel= reserved, the main one first, then the low
  /// one `crashkernel=X,high` adds below 4 GiB. kexec_load takes a crash
  /// kernel's segments in the main region only, and the crash kernel reads
  /// the first region its DTB lists as the main one; the kernel always puts
  /// the main region above the low one.
  ///
  /// Throws `crashKernelUnavailable` when nothing is reserved, or when a
  /// scrub is asked for too.
  public func crashKernelRegions(scrub: Bool) throws(HandoffError) -> [MemoryRange] {
    if scrub {
      throw .crashKernelUnavailable(reason: "a crash kernel must find the old memory intact")
    }
    let regions = crashKernelRAM
    guard let main = regions.last else {
      throw .crashKernelUnavailable(
        reason: "the memory map shows no 'Crash kernel' region: the running kernel reserved "
          + "none, which takes crashkernel= on its command line")
    }
    return [main] + regions.dropLast()
  }

  /// The reserved regions, as far as the map calls them RAM: a map that
  /// nests a region under anything else does not make it memory.
  public var crashKernelRAM: [MemoryRange] { crashKernel.intersected(with: ram) }

  /// The map an x86_64 crash kernel gets as its e820 table, the one the
  /// running kernel writes for kexec_file_load: of RAM only the first MiB
  /// (the real-mode trampoline's, which no kernel keeps data in since 5.8)
  /// and the reserved regions less the ELF core header, so the crash
  /// kernel never writes over the panicked kernel's memory; every range
  /// that is not RAM (ACPI tables and NVS, reserved) as the firmware told.
  public func x86CrashKernelMap(coreHeader: MemoryRange) -> MemoryMap {
    let firstMiB = [MemoryRange(start: 0, end: SegmentPlacer.lowMemoryEnd, kind: .ram)]
    return MemoryMap(
      ranges: ranges.filter { $0.kind != .ram } + ram.intersected(with: firstMiB)
        + crashKernelRAM.subtracting(coreHeader.start, coreHeader.end))
  }
}
