import Foundation

// Debian's kexec-tools for the benchmark's guests: the host's own for the
// x86_64 guest, and for a guest of another architecture the packages
// `make setup` unpacked into the cache.

/// Debian's kexec-tools as a guest carries it: /sbin/kexec and every shared
/// object it loads, each at the path the dynamic loader looks in.
struct KexecToolsFiles {
  struct File {
    /// The absolute path in the guest (on the host too, for the host's own).
    let path: String
    let contents: [UInt8]
  }

  static let binaryPath = "/sbin/kexec"

  let binary: File
  /// The dynamic loader and the libraries.
  let libraries: [File]

  var librariesSize: Int { libraries.reduce(0) { $0 + $1.contents.count } }

  /// The kexec-tools `architecture`'s guests carry: the host's for x86_64,
  /// the cache's unpacked packages for the others.
  static func forGuest(_ architecture: GuestArchitecture, paths: LabPaths) throws
    -> KexecToolsFiles
  {
    switch architecture {
    case .x86_64:
      return try fromHost()
    default:
      return try fromRoot(
        paths.cache.appendingPathComponent(architecture.debianName + "/kexec-tools/root"))
    }
  }

  /// Reads /sbin/kexec and what it links against from the host; symbolic
  /// links are followed, so each library is carried as one regular file.
  static func fromHost() throws -> KexecToolsFiles {
    guard let binary = FileManager.default.contents(atPath: binaryPath) else {
      throw LabError.missing("Debian's kexec-tools (\(binaryPath)); run 'make setup'")
    }
    var libraries: [File] = []
    for path in try sharedObjects(of: binaryPath) {
      guard let contents = FileManager.default.contents(atPath: path) else {
        throw LabError.missing("\(path), which \(binaryPath) links against")
      }
      libraries.append(File(path: path, contents: [UInt8](contents)))
    }
    return KexecToolsFiles(
      binary: File(path: binaryPath, contents: [UInt8](binary)), libraries: libraries)
  }

  /// Reads sbin/kexec (or usr/sbin/kexec) under `root`, where Debian's
  /// packages of another architecture were unpacked, with its program
  /// interpreter and every library it needs, directly or through another,
  /// found in root's library directories. No ldd can run a foreign
  /// binary, so readelf names them.
  static func fromRoot(_ root: URL) throws -> KexecToolsFiles {
    let candidates = ["sbin/kexec", "usr/sbin/kexec"].map { root.appendingPathComponent($0) }
    guard
      let binaryFile = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }),
      let binary = FileManager.default.contents(atPath: binaryFile.path)
    else {
      throw LabError.missing("kexec-tools under \(root.path); run 'make setup'")
    }
    let interpreter = try ElfDynamicInfo.read(binaryFile).interpreter
    guard let interpreter else {
      throw LabError.tool("\(binaryFile.path) names no program interpreter")
    }
    var libraries = [File(path: interpreter, contents: try contents(of: interpreter, in: root))]

    // the libraries the binary needs, and those they need in turn
    let directories = libraryDirectories(in: root)
    var wanted = try ElfDynamicInfo.read(binaryFile).needed
    var found: Set<String> = [(interpreter as NSString).lastPathComponent]
    while let name = wanted.first {
      wanted.removeFirst()
      guard !found.contains(name) else { continue }
      found.insert(name)
      guard
        let directory = directories.first(where: {
          FileManager.default.fileExists(atPath: root.path + $0 + "/" + name)
        })
      else {
        throw LabError.missing("\(name), which kexec-tools needs, under \(root.path)")
      }
      let path = directory + "/" + name
      libraries.append(File(path: path, contents: try contents(of: path, in: root)))
      wanted += try ElfDynamicInfo.read(URL(fileURLWithPath: root.path + path)).needed
    }
    return KexecToolsFiles(
      binary: File(path: binaryPath, contents: [UInt8](binary)), libraries: libraries)
  }

  /// The guest paths the dynamic loader searches that exist under `root`.
  private static func libraryDirectories(in root: URL) -> [String] {
    let children =
      (try? FileManager.default.contentsOfDirectory(atPath: root.path + "/lib")) ?? []
    let multiarch = children.filter { $0.hasSuffix("-linux-gnu") }.sorted()
    return (multiarch.map { "/lib/" + $0 } + multiarch.map { "/usr/lib/" + $0 } + ["/lib"])
      .filter { FileManager.default.fileExists(atPath: root.path + $0) }
  }

  /// The bytes of guest path `path` under `root`, its symbolic links
  /// followed inside `root` (an absolute target means root's, not the
  /// host's).
  private static func contents(of path: String, in root: URL) throws -> [UInt8] {
    var current = path
    for _ in 0..<8 {
      let host = root.path + current
      guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: host) else {
        guard let data = FileManager.default.contents(atPath: host) else {
          throw LabError.missing("\(host), which kexec-tools needs")
        }
        return [UInt8](data)
      }
      current =
        target.hasPrefix("/")
        ? target
        : ((current as NSString).deletingLastPathComponent as NSString)
          .appendingPathComponent(target)
    }
    throw LabError.tool("\(root.path + path): too many symbolic links")
  }

  /// The paths `ldd` prints for `binary`: "libc.so.6 => /lib/.../libc.so.6
  /// (0x...)" for a library, the path alone for the dynamic loader. The vDSO
  /// has no file and is left out.
  private static func sharedObjects(of binary: String) throws -> [String] {
    let output = try text("/usr/bin/ldd", [binary])
    var paths: [String] = []
    for line in output.split(separator: "\n") {
      let words = line.split { $0 == " " || $0 == "\t" }.map(String.init)
      if let arrow = words.firstIndex(of: "=>") {
        let path = arrow + 1 < words.count ? words[arrow + 1] : ""
        guard path.hasPrefix("/") else {
          throw LabError.missing("\(words[0]), which \(binary) links against (ldd: \(line))")
        }
        paths.append(path)
      } else if let path = words.first, path.hasPrefix("/") {
        paths.append(path)
      }
    }
    return paths
  }
}

/// What `tool` writes to standard output, as text.
private func text(_ tool: String, _ arguments: [String]) throws -> String {
  String(decoding: try KernelForms.run(tool, arguments), as: UTF8.self)
}

/// What readelf says of a dynamically linked ELF file of any architecture:
/// its program interpreter and the shared objects it needs.
struct ElfDynamicInfo {
  let interpreter: String?
  let needed: [String]

  static func read(_ file: URL) throws -> ElfDynamicInfo {
    let headers = try text("/usr/bin/readelf", ["--program-headers", "--wide", file.path])
    let dynamic = try text("/usr/bin/readelf", ["--dynamic", "--wide", file.path])
    let interpreter = headers.split(separator: "\n").lazy.compactMap { line -> String? in
      guard let range = line.range(of: "Requesting program interpreter: ") else { return nil }
      return String(line[range.upperBound...].prefix { $0 != "]" })
    }.first
    let needed = dynamic.split(separator: "\n").compactMap { line -> String? in
      guard line.contains("(NEEDED)"), let open = line.lastIndex(of: "["),
        let close = line.lastIndex(of: "]")
      else { return nil }
      return String(line[line.index(after: open)..<close])
    }
    return ElfDynamicInfo(interpreter: interpreter, needed: needed)
  }
}
