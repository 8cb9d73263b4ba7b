// Fuzzes what Handoff reads from the running machine: the memory map from
// /sys/firmware/memmap and /proc/iomem, boot_params, the EFI runtime map
// and systab, the kexec status files and what a refusal is explained with,
// a crash kernel's notes and /proc/kcore. Then the boot_params a plan
// builds from all of it, and the ELF core header a crash kernel would get.
//
// Input (FuzzSections): the files of the machine, `@@ PATH` then contents;
// a non-empty first preamble line is a memory map file to read instead, as
// `handoff plan --memmap FILE` does; a file /fuzz/scrub asks the plan for a
// scrub of free RAM.
import FuzzSupport
import HandoffCore
import HandoffLinux

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMachine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let sections = FuzzSections(fuzzBytes(data, size))
  let system = MemorySystem(sections)
  let memoryMapFile = sections.preambleText.first.flatMap { $0.isEmpty ? nil : $0 }
  let reader = MachineReader(system: system, debug: { _ in })

  // what status and the hints read
  _ = KexecStatus.read(from: system).lockedDown
  let diagnosis = Diagnosis(system: system)
  for call in ["kexec_load(entry: 0x0)", "kexec_file_load(kernel_fd: 3)", "reboot(0)"] {
    _ = diagnosis.explain(SystemCallFailure(call: call, errno: system.refusal))
  }

  // the machine, and the boot_params and plan made for it
  let environment: X86BootEnvironment
  do {
    environment = try reader.x86Environment(memoryMapFile: memoryMapFile)
  } catch {
    _ = error.description
    return 0
  }
  checkCrashDumpHeader(reader, map: environment.memoryMap)
  if let efi = environment.efi {
    expect(
      environment.runningBootParams.map { $0.count >= 4096 } == true,
      "EFI state without a whole boot_params")
    _ = efi.runtimeMap.count
  }
  guard let image = try? KernelImage.read(path: "fuzz", bytes: FuzzKernel.image).bzImage() else {
    fatalError("the fuzz kernel image does not read")
  }
  let commandLine = "console=ttyS0"
  let bootParams = X86BootParams(
    image: image, imageBytes: FuzzKernel.image, commandLine: commandLine,
    environment: environment)
  let built = bootParams.build(at: 0x7000_0000, initrd: (0x7f00_0000, 0x10_0000))
  expect(built.count == bootParams.size, "boot_params is not the size it announced")
  do {
    let plan = try X86LoadPlanner(
      image: image, imageBytes: FuzzKernel.image, initrd: [1, 2, 3], commandLine: commandLine,
      environment: environment, options: PlanOptions(scrub: system.files["/fuzz/scrub"] != nil)
    ).plan()
    checkPlan(plan, image: image, environment: environment)
  } catch {
    _ = error.description
  }
  return 0
}

/// The core header a crash kernel of this machine would read: when one is
/// built, its program headers must cover every note and dumped range.
func checkCrashDumpHeader(_ reader: MachineReader<MemorySystem>, map: MemoryMap) {
  guard let header = try? reader.crashDumpHeader(map: map, machine: 62) else { return }
  let bytes = header.bytes
  let count = Int(bytes[56]) | Int(bytes[57]) << 8
  let loads = header.memory.count + (header.layout?.kernelText == nil ? 0 : 1)
  expect(
    count == header.cpuNotes.count + (header.vmcoreinfo == nil ? 0 : 1) + loads,
    "the core header's e_phnum does not count its notes and ranges")
  expect(bytes.count == 64 + 56 * count, "the core header is not its program headers' size")
}
