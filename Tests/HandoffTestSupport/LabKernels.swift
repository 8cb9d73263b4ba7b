// Finds the Debian kernels lab/setup.sh caches, so tests can read real
// bzImages without a network.
import Foundation

/// One cached kernel: `kernels/<suite>/vmlinuz` with its `release` beside it.
public struct LabKernel: Sendable, CustomStringConvertible {
  /// The Debian suite it came from, such as `trixie`.
  public let suite: String

  public init(_ suite: String) {
    self.suite = suite
  }

  public var directory: String { LabKernel.cache + "/kernels/" + suite }
  public var imagePath: String { directory + "/vmlinuz" }
  public var releasePath: String { directory + "/release" }

  /// Whether both the image and its release file are there.
  public var isPresent: Bool {
    FileManager.default.isReadableFile(atPath: imagePath)
      && FileManager.default.isReadableFile(atPath: releasePath)
  }

  /// The image's bytes.
  public func image() throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: imagePath)))
  }

  /// The release string, such as `6.12.48+deb13-cloud-amd64`, without its newline.
  public func release() throws -> String {
    let text = try String(contentsOfFile: releasePath, encoding: .utf8)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  public var description: String { suite }

  /// The three generations setup.sh fetches.
  public static let all = [LabKernel("bookworm"), LabKernel("trixie"), LabKernel("sid")]

  /// Whether every kernel the lab fetches is cached.
  public static var allPresent: Bool { all.allSatisfy(\.isPresent) }

  /// The cache directory, found the way lab/setup.sh chooses it.
  public static var cache: String {
    let environment = ProcessInfo.processInfo.environment
    if let cache = environment["HANDOFF_LAB_CACHE"], !cache.isEmpty { return cache }
    if let base = environment["XDG_CACHE_HOME"], !base.isEmpty { return base + "/handoff-lab" }
    return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/handoff-lab"
  }
}
