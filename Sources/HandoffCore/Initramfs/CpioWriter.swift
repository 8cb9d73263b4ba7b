/// Writes a cpio archive in the "newc" format (magic 070701), the format the
/// kernel unpacks into its initramfs.
public struct CpioWriter {
  private var output: [UInt8] = []
  private var nextInode: UInt32 = 1

  public init() {}

  /// Adds a directory; parents are not added implicitly.
  public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) {
    append(path: path, mode: 0o040000 | mode, contents: [])
  }

  /// Adds a regular file with `contents`.
  public mutating func addFile(_ path: String, contents: [UInt8], mode: UInt32 = 0o644) {
    append(path: path, mode: 0o100000 | mode, contents: contents)
  }

  /// Adds a symbolic link at `path` pointing at `target`.
  public mutating func addSymlink(_ path: String, target: String) {
    append(path: path, mode: 0o120000 | 0o777, contents: Array(target.utf8))
  }

  /// Adds a character device node, such as /dev/console (5, 1).
  public mutating func addCharacterDevice(
    _ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600
  ) {
    append(path: path, mode: 0o020000 | mode, contents: [], device: (major, minor))
  }

  /// The archive, closed with the TRAILER!!! entry.
  public func finish() -> [UInt8] {
    var copy = self
    copy.append(path: "TRAILER!!!", mode: 0, contents: [], inode: 0)
    return copy.output
  }

  private mutating func append(
    path: String, mode: UInt32, contents: [UInt8], device: (UInt32, UInt32) = (0, 0),
    inode: UInt32? = nil
  ) {
    let name = Array(path.utf8) + [0]
    let fields: [UInt32] = [
      inode ?? nextInode, mode, 0, 0, mode & 0o170000 == 0o040000 ? 2 : 1, 0,
      UInt32(contents.count), 0, 0, device.0, device.1, UInt32(name.count), 0,
    ]
    if inode == nil { nextInode += 1 }
    output += Array("070701".utf8)
    for field in fields {
      output += Array(hexDigits(field, digits: 8).utf8)
    }
    output += name
    padToFour()
    output += contents
    padToFour()
  }

  private mutating func padToFour() {
    while output.count % 4 != 0 { output.append(0) }
  }
}
