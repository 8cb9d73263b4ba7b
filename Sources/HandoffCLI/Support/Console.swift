/// Where the command line writes: standard output and standard error. Tests
/// hand in closures that keep the text.
public struct Console {
  public var output: (String) -> Void
  public var error: (String) -> Void

  public init(output: @escaping (String) -> Void, error: @escaping (String) -> Void) {
    self.output = output
    self.error = error
  }

  /// Writes `line` and a newline to standard output.
  func say(_ line: String) { output(line + "\n") }

  /// Writes `line` and a newline to standard error.
  func warn(_ line: String) { error(line + "\n") }
}
