import HandoffCore
import HandoffLinux

/// `handoff check`: whether a handoff is expected to work, before loading.
enum CheckCommand {
  /// Everything is ok.
  static let expectedToWork: Int32 = 0
  /// Some item warns: a handoff may work, or may leave something behind.
  static let risky: Int32 = 1
  /// Some item fails: a handoff will not work as things stand.
  static let willFail: Int32 = 2

  static let options = LoadCommand.requestOptions + [InspectCommand.jsonOption, debugOption]

  static let help = CommandHelp(
    name: "check",
    abstract: "Check, before loading, whether a handoff is expected to work.",
    usage: "handoff check [<kernel>] [--initrd <file> ...] "
      + "[--cmdline <text> | --append <text> | --reuse-cmdline] [--json]",
    arguments: [
      (
        "<kernel>",
        "The kernel to hand off to, a bzImage. Without it, only this machine and its "
          + "devices are checked."
      )
    ],
    options: options,
    discussion: [
      "One line per item, ok, warn or fail, with the reason: who is asking (root,",
      "CAP_SYS_BOOT), what the running kernel allows (kexec_load, kexec_file_load,",
      "lockdown, Secure Boot), the kernel against this machine (architecture, entry,",
      "boot protocol, EFI handover, where its segments would go), and the PCI devices",
      "the next kernel inherits as this one leaves them. Nothing is loaded.",
      "",
      "EXIT STATUS:",
      "  0  every item is ok: a handoff is expected to work",
      "  1  some item warns: a handoff is risky",
      "  2  some item fails: a handoff will fail",
      "  64 the command line was wrong",
      "",
      "EXAMPLES:",
      "  handoff check",
      "  handoff check /boot/vmlinuz-6.12.48+deb13-amd64 \\",
      "    --initrd /boot/initrd.img-6.12.48+deb13-amd64 --reuse-cmdline --json",
    ])

  static func run<System: SystemCalls>(_ scanned: ScannedArguments, _ context: Context<System>)
    throws(HandoffError) -> Int32
  {
    var request: LoadRequest? = nil
    if scanned.positionals.isEmpty {
      for key in ["--initrd", "--cmdline", "--append", "--reuse-cmdline"] where scanned.has(key) {
        throw .usage("'\(key)' needs a '<kernel>' to check")
      }
    } else {
      request = try LoadCommand.request(from: scanned)
    }
    let report = Preflight(system: context.system, debug: { context.debug($0) }).run(request)
    context.console.output(scanned.has("--json") ? json(report) + "\n" : text(report))
    switch report.worst {
    case .ok: return expectedToWork
    case .warn: return risky
    case .fail: return willFail
    }
  }

  /// The verdict in a few words, as the last text line and in the JSON.
  static func result(_ report: PreflightReport) -> String {
    switch report.worst {
    case .ok: return "ok"
    case .warn: return "risky"
    case .fail: return "will fail"
    }
  }

  /// Each section's name, then its items as `STATUS ITEM DETAIL` in
  /// aligned columns, then the verdict.
  static func text(_ report: PreflightReport) -> String {
    var width = 12
    for item in report.items where item.item.count + 2 > width { width = item.item.count + 2 }
    var lines: [String] = []
    for section in report.sections {
      if !lines.isEmpty { lines.append("") }
      lines.append(section)
      for item in report.items where item.section == section {
        lines.append(
          padded(item.status.rawValue, 5) + padded(item.item, width) + item.detail)
      }
    }
    lines.append("")
    let warnings = report.count(.warn)
    let failures = report.count(.fail)
    switch report.worst {
    case .ok:
      lines.append("result: ok, a handoff is expected to work")
    case .warn:
      lines.append("result: risky, \(counted(warnings, "item warns", "items warn"))")
    case .fail:
      lines.append(
        "result: will fail, \(counted(failures, "item fails", "items fail")), "
          + "\(counted(warnings, "item warns", "items warn"))")
    }
    return joined(lines, "\n") + "\n"
  }

  static func json(_ report: PreflightReport) -> String {
    var items: [JSONObject] = []
    for item in report.items {
      var object = JSONObject()
      object.add("section", item.section)
      object.add("item", item.item)
      object.add("status", item.status.rawValue)
      object.add("detail", item.detail)
      items.append(object)
    }
    var object = JSONObject()
    object.add("result", result(report))
    object.add("items", objects: items)
    return object.text
  }

  private static func counted(_ count: Int, _ one: String, _ many: String) -> String {
    count == 1 ? "1 \(one)" : "\(count) \(many)"
  }

  private static func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
  }
}
