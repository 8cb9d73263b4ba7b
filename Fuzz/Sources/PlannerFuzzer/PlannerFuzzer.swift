// Fuzzes the x86_64 planner: a fuzzed memory map and a real kernel header
// (with some of its fields overridden), an initrd, a command line and EFI
// state, planned and then checked. A plan that does not fit is fine; a
// crash, a hang or a plan that breaks a placement rule is not.
//
// Input (FuzzSections): the preamble is the memory map, /proc/iomem or
// `START END TYPE` lines. Optional sections, each `NAME=HEX` lines:
//   @@ header   relocatable, kernel_alignment, pref_address, init_size,
//               xloadflags, initrd_addr_max, cmdline_size (setup header fields)
//   @@ load     initrd (bytes, at most 1 MiB), cmdline (bytes), rng (seed
//               bytes), acpi (RSDP), corrupt (segment index), verify, scrub,
//               crash (a crash kernel, in the preamble's Crash kernel region)
//   @@ efi      descriptors (count, at most 64), base, stride, pages, type
//               (of the runtime regions), memdesc_size, systab
// and `@@ kernel-ram`, a second /proc/iomem whose System RAM is the running
// kernel's view of RAM next to the firmware's map.
import FuzzSupport
import HandoffCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlanner(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let sections = FuzzSections(fuzzBytes(data, size))
  let text = String(decoding: Array(sections.preamble.joined(separator: [0x0a])), as: UTF8.self)
  guard var map = try? MemoryMapParser.parse(text, source: "fuzz") else { return 0 }
  if let kernelRAM = sections.text("kernel-ram") {
    map.kernelRAM = (try? MemoryMapParser.parseIomem(kernelRAM, source: "fuzz"))?.ram
  }

  // the kernel, with the header fields the input overrides
  let header = FuzzSettings(sections.text("header"))
  var imageBytes = FuzzKernel.image
  let fields: [(String, Int, Int)] = [
    ("relocatable", 0x234, 1), ("kernel_alignment", 0x230, 4), ("pref_address", 0x258, 8),
    ("init_size", 0x260, 4), ("xloadflags", 0x236, 2), ("initrd_addr_max", 0x22c, 4),
    ("cmdline_size", 0x238, 4),
  ]
  for (name, offset, width) in fields {
    guard let value = header[name] else { continue }
    for index in 0..<width {
      imageBytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))
    }
  }
  guard let image = try? KernelImage.read(path: "fuzz", bytes: imageBytes).bzImage() else {
    return 0
  }

  // what is loaded with it
  let load = FuzzSettings(sections.text("load"))
  let initrd = load["initrd"].map { [UInt8](repeating: 0xa5, count: Int(min($0, 1 << 20))) }
  let commandLine = String(repeating: "x", count: Int(min(load["cmdline"] ?? 13, 1 << 16)))
  var options = PlanOptions(verify: load["verify"] != 0)
  options.corruptSegment = load["corrupt"].map { Int(truncatingIfNeeded: $0) }
  options.scrub = (load["scrub"] ?? 0) != 0

  // the machine: EFI state as the running kernel's boot_params and sysfs show it
  let efiSettings = FuzzSettings(sections.text("efi"))
  var environment = X86BootEnvironment(
    memoryMap: map, acpiRSDP: load["acpi"],
    rngSeed: [UInt8](repeating: 0x5a, count: Int(min(load["rng"] ?? 32, 512))))
  if sections.text("efi") != nil {
    var running = [UInt8](repeating: 0, count: 4096)
    FuzzKernel.put(&running, UInt32(0x3436_4c45), at: 0x1c0)
    FuzzKernel.put(
      &running, UInt32(truncatingIfNeeded: efiSettings["memdesc_size"] ?? 48), at: 0x1c8)
    environment.runningBootParams = running
    let count = Int(min(efiSettings["descriptors"] ?? 4, 64))
    let base = efiSettings["base"] ?? 0x7e00_0000
    let stride = efiSettings["stride"] ?? 0x1_0000
    let map = (0..<count).map { index in
      EFIMemoryDescriptor(
        type: efiSettings["type"].map { UInt32(truncatingIfNeeded: $0) } ?? 5 + UInt32(index % 2),
        physicalStart: base &+ UInt64(index) &* stride,
        virtualStart: 0xffff_ffff_0000_0000 + UInt64(index) << 16,
        pageCount: efiSettings["pages"] ?? 16, attribute: 0x8000_0000_0000_000f)
    }
    environment.efi = EFIHandover(
      systemTable: efiSettings["systab"] ?? 0x7f00_0018, firmwareVendor: 0x7f00_0100,
      runtimeServices: 0x7f00_0200, configurationTables: 0x7f00_0300, smbios: 0x7f01_0000,
      runtimeMap: map)
  }

  // a crash kernel reads the rest of RAM through a core header
  let crash = (load["crash"] ?? 0) != 0
  let crashDump =
    crash
    ? CrashDumpHeader(
      machine: 62, cpuNotes: [CrashDumpHeader.Note(address: 0x9_f000, size: 0x1a8)],
      vmcoreinfo: nil,
      memory: CrashDumpHeader.dumpedMemory(ram: map.ram, without: map.crashKernel), layout: nil)
    : nil

  do {
    let plan = try X86LoadPlanner(
      image: image, imageBytes: imageBytes, initrd: initrd, commandLine: commandLine,
      environment: environment, options: options, crashDump: crashDump
    ).plan()
    checkPlan(plan, image: image, environment: environment, crash: crash)
  } catch {
    _ = error.description
  }
  return 0
}
