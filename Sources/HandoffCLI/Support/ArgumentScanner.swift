import HandoffCore

/// One option a command accepts.
struct OptionSpec {
  /// Every spelling, such as `["--initrd", "--ramdisk"]` or `["-l", "--load"]`.
  var names: [String]
  /// The value's name in help text, such as `file`; nil for a flag.
  var valueName: String?
  /// The help sentence.
  var help: String
  /// Left out of help: options for the lab, not for users.
  var hidden: Bool
  /// The value may be left out, and is given only as `--opt=value`.
  var valueOptional: Bool

  init(
    _ names: [String], value: String? = nil, help: String, hidden: Bool = false,
    valueOptional: Bool = false
  ) {
    self.names = names
    self.valueName = value
    self.help = help
    self.hidden = hidden
    self.valueOptional = valueOptional
  }

  /// The option's first spelling: the key it is stored under.
  var key: String { names[0] }
}

/// The result of scanning a command line against a list of options.
struct ScannedArguments {
  var positionals: [String] = []
  /// Every option seen, in order, with its value (empty for flags).
  var options: [(key: String, value: String)] = []

  func has(_ key: String) -> Bool {
    options.contains { $0.key == key }
  }

  /// The last value given for `key`.
  func value(_ key: String) -> String? {
    options.last { $0.key == key }?.value
  }

  /// Every value given for `key`, in order.
  func values(_ key: String) -> [String] {
    options.filter { $0.key == key }.map { $0.value }
  }
}

/// Splits arguments into options and positionals. Accepts `--opt value`,
/// `--opt=value`, `-o value`, and `--` before positionals that start with `-`.
func scan(_ arguments: ArraySlice<String>, options: [OptionSpec]) throws(HandoffError)
  -> ScannedArguments
{
  var result = ScannedArguments()
  var index = arguments.startIndex
  var onlyPositionals = false
  while index < arguments.endIndex {
    let argument = arguments[index]
    index += 1
    if onlyPositionals || argument == "-" || !argument.hasPrefix("-") {
      result.positionals.append(argument)
      continue
    }
    if argument == "--" {
      onlyPositionals = true
      continue
    }

    // split --name=value
    var name = argument
    var inlineValue: String? = nil
    if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
      name = String(argument[..<equals])
      inlineValue = String(argument[argument.index(after: equals)...])
    }
    guard let spec = options.first(where: { $0.names.contains(name) }) else {
      throw .usage("Unknown option '\(name)'")
    }

    if spec.valueOptional {
      result.options.append((spec.key, inlineValue ?? ""))
    } else if let valueName = spec.valueName {
      if let inlineValue {
        result.options.append((spec.key, inlineValue))
      } else if index < arguments.endIndex {
        result.options.append((spec.key, arguments[index]))
        index += 1
      } else {
        throw .usage("Missing value for '\(name) <\(valueName)>'")
      }
    } else {
      if inlineValue != nil { throw .usage("Option '\(name)' takes no value") }
      result.options.append((spec.key, ""))
    }
  }
  return result
}
