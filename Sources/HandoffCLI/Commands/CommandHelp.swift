/// A subcommand's help: what it does, how it is called, and its options,
/// rendered in the OVERVIEW / USAGE / ARGUMENTS / OPTIONS shape.
struct CommandHelp {
  var name: String
  var abstract: String
  var usage: String
  var arguments: [(name: String, help: String)] = []
  var options: [OptionSpec]
  /// Lines shown after the options, such as examples.
  var discussion: [String] = []
  /// The program the user typed: `handoff`, or `kexec` for kexec-tools' command line.
  var program = "handoff"

  /// The full `--help` text.
  var text: String {
    var lines = ["OVERVIEW: \(abstract)", "", wrapped("USAGE: " + usage, indent: 9), ""]
    if !arguments.isEmpty {
      lines.append("ARGUMENTS:")
      for argument in arguments { lines.append(row(argument.name, argument.help)) }
      lines.append("")
    }
    lines.append("OPTIONS:")
    for option in options where !option.hidden {
      var spelling = joined(option.names, ", ")
      if let value = option.valueName {
        spelling += option.valueOptional ? "[=<\(value)>]" : " <\(value)>"
      }
      lines.append(row(spelling, option.help))
    }
    lines.append(row("-h, --help", "Show help information."))
    if !discussion.isEmpty {
      lines.append("")
      lines += discussion
    }
    return joined(lines, "\n") + "\n"
  }

  /// The lines a usage error prints after its `Error:` line.
  var usageReminder: String {
    "Usage: \(usage)\n  See '\(commandPath) --help' for more information.\n"
  }

  private var commandPath: String {
    name.isEmpty ? program : "\(program) \(name)"
  }

  /// `text` broken at spaces into lines of at most 80 columns, the later
  /// ones indented by `indent`.
  private func wrapped(_ text: String, indent: Int) -> String {
    var result = ""
    var column = 0
    for word in text.split(separator: " ") {
      if column > indent, column + 1 + word.count > 80 {
        result += "\n" + String(repeating: " ", count: indent)
        column = indent
      } else if column > 0 {
        result += " "
        column += 1
      }
      result += word
      column += word.count
    }
    return result
  }

  /// `left` in a 26-column gutter, then `right` wrapped to 80 columns.
  private func row(_ left: String, _ right: String) -> String {
    let gutter = 26
    let margin = String(repeating: " ", count: gutter)
    var result = "  " + left
    var column = result.count
    if column >= gutter {
      result += "\n" + margin
    } else {
      result += String(repeating: " ", count: gutter - column)
    }
    column = gutter
    var firstWord = true
    for word in right.split(separator: " ") {
      if !firstWord, column + 1 + word.count > 80 {
        result += "\n" + margin
        column = gutter
        firstWord = true
      }
      if !firstWord {
        result += " "
        column += 1
      }
      result += word
      column += word.count
      firstWord = false
    }
    return result
  }
}

/// `--debug`, which every subcommand accepts.
let debugOption = OptionSpec(
  ["--debug"], help: "Print what is being done, step by step, to standard error.")
