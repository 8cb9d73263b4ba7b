// Finds the Debian kernels lab/setup.sh caches, so tests can read real
// kernel images without a network.
import Foundation

/// One cached kernel: `kernels/<suite>/vmlinuz` for the lab's own amd64
/// kernels, `kernels/<architecture>/<suite>/<file>` for the others, each
/// with its `release` beside it.
public struct LabKernel: Sendable, CustomStringConvertible {
  /// The Debian suite it came from, such as `trixie`.
  public let suite: String
  /// `arm64` or `riscv64`; nil for the amd64 kernels the lab boots.
  public let architecture: String?
  /// The kernel's file name in its directory: `vmlinuz`, or `vmlinux` for riscv64.
  public let fileName: String

  public init(_ suite: String) {
    self.suite = suite
    self.architecture = nil
    self.fileName = "vmlinuz"
  }

  public init(_ architecture: String, _ suite: String, file: String) {
    self.suite = suite
    self.architecture = architecture
    self.fileName = file
  }

  public var directory: String {
    LabKernel.cache + "/kernels/" + (architecture.map { $0 + "/" } ?? "") + suite
  }
  public var imagePath: String { directory + "/" + fileName }
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

  public var description: String {
    architecture.map { $0 + " " + suite } ?? suite
  }

  /// The three generations setup.sh fetches.
  public static let all = [LabKernel("bookworm"), LabKernel("trixie"), LabKernel("sid")]

  /// Whether every kernel the lab fetches is cached.
  public static var allPresent: Bool { all.allSatisfy(\.isPresent) }

  /// Debian's arm64 kernels, plain Images named vmlinuz.
  public static let arm64 = [
    LabKernel("arm64", "bookworm", file: "vmlinuz"), LabKernel("arm64", "trixie", file: "vmlinuz"),
  ]

  /// Debian's riscv64 kernels, PE files named vmlinux that carry an Image header.
  public static let riscv64 = [
    LabKernel("riscv64", "trixie", file: "vmlinux"), LabKernel("riscv64", "sid", file: "vmlinux"),
  ]

  /// Whether every arm64 and riscv64 kernel is cached.
  public static var foreignPresent: Bool { (arm64 + riscv64).allSatisfy(\.isPresent) }

  /// The cache directory, found the way lab/setup.sh chooses it.
  public static var cache: String {
    let environment = ProcessInfo.processInfo.environment
    if let cache = environment["HANDOFF_LAB_CACHE"], !cache.isEmpty { return cache }
    if let base = environment["XDG_CACHE_HOME"], !base.isEmpty { return base + "/handoff-lab" }
    return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/handoff-lab"
  }
}
