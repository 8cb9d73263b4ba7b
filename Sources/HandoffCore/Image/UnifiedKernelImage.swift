/// A unified kernel image (UKI): an EFI stub, usually systemd-stub, in a PE
/// file whose sections carry the kernel (.linux), its initrd (.initrd) and
/// command line (.cmdline), the os-release (.osrel) and uname (.uname) of
/// the system it boots, and maybe a devicetree (.dtb).
///
/// A multi-profile UKI repeats sections after each `.profile` section; only
/// the base profile, the sections before the first `.profile`, is read.
public struct UnifiedKernelImage: Equatable, Sendable {
  /// The file the image was read from, for error messages.
  public let path: String
  /// Size of the whole file in bytes.
  public let fileSize: Int
  /// The stub's PE headers and every section.
  public let pe: PEFile
  /// The kernel in .linux: a bzImage on x86_64, an Image or zboot image on
  /// arm64 and riscv64.
  public let kernel: KernelImage
  /// The bytes of .linux.
  public let kernelBytes: [UInt8]
  /// The bytes of .initrd, nil without one.
  public let initrd: [UInt8]?
  /// The text of .cmdline without trailing NULs and blanks, nil without one.
  public let commandLine: String?
  /// The text of .osrel: the os-release file of the system it boots.
  public let osRelease: String?
  /// The text of .uname: the kernel's release, such as `6.12.48+deb13-amd64`.
  public let uname: String?
  /// The bytes of .dtb, nil without one.
  public let devicetree: [UInt8]?

  /// Every section of the PE file, in table order.
  public var sections: [PESection] { pe.sections }

  /// The name the os-release text gives the system for display:
  /// PRETTY_NAME, or else NAME, or else ID, without quotes; nil when it has
  /// none of them, or no .osrel.
  public var prettyName: String? {
    osReleaseField("PRETTY_NAME") ?? osReleaseField("NAME") ?? osReleaseField("ID")
  }

  /// The value of `key` in the os-release text, without its quotes.
  public func osReleaseField(_ key: String) -> String? {
    guard let osRelease else { return nil }
    let prefix = key + "="
    for line in osRelease.split(separator: "\n") where line.hasPrefix(prefix) {
      var value = line.dropFirst(prefix.count)
      if value.count >= 2, let first = value.first, first == "\"" || first == "'",
        value.last == first
      {
        value = value.dropFirst().dropLast()
      }
      return String(value)
    }
    return nil
  }

  /// Whether the PE file `pe` has a .linux section, which makes it a UKI.
  static func recognises(_ pe: PEFile) -> Bool {
    pe.section(named: ".linux") != nil
  }

  /// Reads the UKI in `bytes`, which came from `path`, and the kernel in
  /// its .linux section.
  ///
  /// Throws `unsupportedImage` when the PE file has no .linux section or
  /// that section holds something other than a bzImage, Image or zboot
  /// image, and what the PE reader and the kernel's reader throw.
  public init(
    path: String, bytes: [UInt8], limit: Int = Unpacked.defaultLimit
  ) throws(HandoffError) {
    try self.init(path: path, bytes: bytes, pe: try PEFile(path: path, bytes: bytes), limit: limit)
  }

  init(path: String, bytes: [UInt8], pe: PEFile, limit: Int) throws(HandoffError) {
    self.path = path
    fileSize = bytes.count
    self.pe = pe

    // the base profile: every section before the first .profile
    var base: [PESection] = []
    for section in pe.sections {
      if section.name == ".profile" { break }
      base.append(section)
    }
    func data(_ name: String) -> [UInt8]? {
      base.first { $0.name == name }.map { Array($0.data(in: bytes)) }
    }
    func text(_ name: String) -> String? {
      data(name).map(UnifiedKernelImage.trimmedText)
    }

    guard let linux = data(".linux") else {
      throw .unsupportedImage(
        path: path, reason: "it is a PE file without a .linux section before any .profile")
    }
    kernelBytes = linux
    kernel = try KernelImage.read(
      path: path + " (.linux)", bytes: linux, limit: limit, inside: .uki)
    initrd = data(".initrd")
    commandLine = text(".cmdline")
    osRelease = text(".osrel")
    uname = text(".uname")
    devicetree = data(".dtb")
  }

  /// Text without the NULs and blanks at its end that tools leave there.
  static func trimmedText(_ bytes: [UInt8]) -> String {
    var end = bytes.count
    while end > 0, [0, 0x20, 0x0a, 0x0d, 0x09].contains(bytes[end - 1]) { end -= 1 }
    return String(decoding: bytes[0..<end], as: UTF8.self)
  }
}
