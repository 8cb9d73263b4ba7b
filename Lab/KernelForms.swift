import Foundation

/// Makes the forms of a kernel image the lab hands to `handoff load`, from
/// the image Debian ships, with the tools a distribution would use.
enum KernelForms {
  /// The bytes of `image` in `form`.
  static func bytes(of image: URL, as form: KernelForm) throws -> [UInt8] {
    switch form {
    case .asShipped:
      return [UInt8](try Data(contentsOf: image))
    case .gzip:
      return try run("/bin/gzip", ["-9", "-n", "-c", image.path])
    }
  }

  /// What `tool` writes to standard output, or an error with its status.
  static func run(_ tool: String, _ arguments: [String]) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let bytes = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw LabError.tool(
        "\(tool) \(arguments.joined(separator: " ")) failed with status \(process.terminationStatus)"
      )
    }
    return [UInt8](bytes)
  }
}
