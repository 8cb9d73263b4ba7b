import HandoffCore
import HandoffLinux

/// `handoff plan`: the segments a kexec_load would use, without loading.
enum PlanCommand {
  static let options =
    LoadCommand.requestOptions + LoadCommand.purgatoryOptions + [
      OptionSpec(
        ["--crash"],
        help: "Plan a crash kernel: its segments in the memory crashkernel= reserved, and "
          + "the ELF core header its DTB (arm64, riscv64) or command line (x86_64) points at."),
      OptionSpec(
        ["--scrub"],
        help: "Plan a scrub too: list the RAM the purgatory would zero before the jump."),
      OptionSpec(
        ["--memmap"], value: "file",
        help: "Plan for another machine: a copy of its /proc/iomem, or of its "
          + "/sys/firmware/memmap as 'START END TYPE' lines."),
      InspectCommand.jsonOption,
      debugOption,
    ]

  static let help = CommandHelp(
    name: "plan",
    abstract: "Show where kexec_load would place each segment, without loading.",
    usage: "handoff plan <kernel> [--initrd <file> ...] "
      + "[--cmdline <text> | --append <text> | --reuse-cmdline] [--memmap <file>] "
      + "[--scrub | --crash] [--json]",
    arguments: [("<kernel>", "The kernel image to plan for, in any form 'load' takes.")],
    options: options)

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    var request = try LoadCommand.request(from: scanned)
    request.crash = scanned.has("--crash")
    let loader = SegmentLoader(system: context.system, debug: { context.debug($0) })
    let plan = try loader.plan(
      request, options: try LoadCommand.planOptions(from: scanned),
      memoryMapFile: scanned.value("--memmap"))
    context.console.output(scanned.has("--json") ? json(plan) + "\n" : text(plan))
    return ExitStatus.success
  }

  static func text(_ plan: LoadPlan) -> String {
    var lines = ["entry:        \(hex(plan.entry)) (purgatory)", "segments:"]
    for (index, segment) in plan.segments.enumerated() {
      lines.append(
        "  \(index)  " + padded(segment.role, 12) + padded(segment.rangeText, 28)
          + "\(segment.bytes.count) bytes, memsz \(segment.memorySize)")
    }
    let parameters = plan.purgatory
    lines.append("purgatory:")
    lines.append("  kernel entry  \(hex(parameters.kernelEntry))")
    lines.append(
      "  " + padded(plan.kernelArgumentRole, 14) + hex(parameters.kernelArgument))
    lines.append(
      "  verify        "
        + (parameters.verify ? "xxh64 of \(parameters.regions.count) segments" : "off"))
    for region in parameters.regions {
      lines.append(
        "    [\(hex(region.start)), \(hex(region.start + region.size)))  \(hex(region.digest))")
    }
    if let scrub = parameters.scrub {
      lines.append(
        "  scrub         \(scrub.totalBytes) bytes in \(scrub.ranges.count) ranges; identity map "
          + "[0x0, \(hex(scrub.identityMapEnd))), \(scrub.pageTableBytes) bytes of page tables")
      for range in scrub.ranges {
        lines.append("    " + padded(range.rangeText, 28) + "\(range.size) bytes")
      }
    } else {
      lines.append("  scrub         off")
    }
    lines.append(
      "  serial        " + (parameters.serial == 0 ? "none" : hex(parameters.serial)))
    if !plan.deviceTreeEdits.isEmpty {
      lines.append("dtb edits:")
      for edit in plan.deviceTreeEdits { lines.append("  " + edit) }
    }
    var free: [String] = []
    for range in plan.freeMemory { free.append(range.rangeText) }
    lines.append("free RAM:     " + joined(free, ", "))
    return joined(lines, "\n") + "\n"
  }

  static func json(_ plan: LoadPlan) -> String {
    var segments: [JSONObject] = []
    for segment in plan.segments {
      var object = JSONObject()
      object.add("role", segment.role)
      object.add("start", segment.destination)
      object.add("end", segment.destination + segment.memorySize)
      object.add("bytes", segment.bytes.count)
      object.add("memsz", segment.memorySize)
      segments.append(object)
    }
    var regions: [JSONObject] = []
    for region in plan.purgatory.regions {
      var object = JSONObject()
      object.add("start", region.start)
      object.add("size", region.size)
      object.add("digest", hex(region.digest))
      regions.append(object)
    }
    var purgatory = JSONObject()
    purgatory.add("kernel_entry", plan.purgatory.kernelEntry)
    purgatory.add(plan.kernelArgumentRole, plan.purgatory.kernelArgument)
    purgatory.add("serial", plan.purgatory.serial)
    purgatory.add("verify", plan.purgatory.verify)
    purgatory.add("digest", "xxh64")
    purgatory.add("regions", objects: regions)
    if let scrub = plan.purgatory.scrub {
      var ranges: [JSONObject] = []
      for range in scrub.ranges {
        var object = JSONObject()
        object.add("start", range.start)
        object.add("end", range.end)
        object.add("size", range.size)
        ranges.append(object)
      }
      var object = JSONObject()
      object.add("bytes", scrub.totalBytes)
      object.add("identity_map_end", scrub.identityMapEnd)
      object.add("page_table_bytes", scrub.pageTableBytes)
      object.add("ranges", objects: ranges)
      purgatory.add("scrub", object: object)
    } else {
      purgatory.add("scrub", nil as Bool?)
    }
    var object = JSONObject()
    object.add("entry", plan.entry)
    object.add("segments", objects: segments)
    object.add("purgatory", object: purgatory)
    if !plan.deviceTreeEdits.isEmpty { object.add("dtb_edits", strings: plan.deviceTreeEdits) }
    return object.text
  }

  private static func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
  }
}
