extension MemoryMap {
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
        + crashKernel.coalesced().subtracting(coreHeader.start, coreHeader.end))
  }
}
