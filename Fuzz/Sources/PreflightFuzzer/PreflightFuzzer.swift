// Fuzzes `handoff check`'s reading of the machine: /proc/self/status, the
// kexec and lockdown files, the kernel's symbols and config, the IOMMU, and
// every PCI device's class, IDs, uevent, MSI vectors and reset methods, then
// the kernel against all of it. The report's verdict must follow from its
// items.
//
// Input (FuzzSections): the files of the machine, `@@ PATH` then contents;
// /boot/vmlinuz is the fuzz kernel unless the input gives one.
import FuzzSupport
import HandoffCore
import HandoffLinux

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPreflight(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let sections = FuzzSections(fuzzBytes(data, size))
  let system = MemorySystem(sections, defaults: ["/boot/vmlinuz": FuzzKernel.image])
  let request = LoadRequest(kernelPath: "/boot/vmlinuz", commandLine: .reuse)
  let report = Preflight(system: system, debug: { _ in }).run(request)

  // the worst item decides, and every item has its words
  let fails = report.count(.fail)
  let warnings = report.count(.warn)
  switch report.worst {
  case .fail: expect(fails > 0, "the verdict is fail without a failing item")
  case .warn: expect(fails == 0 && warnings > 0, "the verdict is warn, the items say otherwise")
  case .ok: expect(fails == 0 && warnings == 0, "the verdict is ok with items that are not")
  }
  for item in report.items {
    expect(!item.section.isEmpty && !item.item.isEmpty, "an item without a name")
  }
  expect(system.refusedCalls.isEmpty, "check made a kexec or reboot call")
  return 0
}
