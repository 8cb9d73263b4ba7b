// arm64 and riscv64 Images written field by field, with or without the EFI
// stub's PE headers, for the Image readers and the containers around them.

/// An arm64 or riscv64 Image: the 64-byte header, and a body holding the
/// kernel's banner. With `efiStub` the header is also the MS-DOS header of
/// a PE file, as in Debian's kernels.
public struct HandmadeImage: Sendable {
  public enum Architecture: Sendable {
    case arm64, riscv64
  }

  public var architecture: Architecture
  public var textOffset: UInt64
  public var imageSize: UInt64 = 0x4_0000
  public var flags: UInt64
  /// riscv64 only: major << 16 | minor.
  public var headerVersion: UInt32 = 2
  /// The 4 bytes at 0x38; nil for the architecture's magic.
  public var magic: [UInt8]? = nil
  public var efiStub = true
  public var banner =
    "Linux version 6.99.0-handmade (test@handoff) (gcc 14) #1 SMP PREEMPT_DYNAMIC 2026\n"
  /// Bytes of the body after the header.
  public var bodyLength = 0x2000

  public init(_ architecture: Architecture) {
    self.architecture = architecture
    switch architecture {
    case .arm64:
      textOffset = 0
      flags = 0xa  // little-endian, 4K pages, anywhere in physical memory
    case .riscv64:
      textOffset = 0x20_0000
      flags = 0
    }
  }

  /// The release the banner names.
  public static let release = "6.99.0-handmade"

  /// The header's 0x3c bytes after code0's first two: what `efiStub`
  /// writes into the MS-DOS header, or what follows the first two bytes.
  var header: [UInt8] {
    var header = [UInt8](repeating: 0, count: 0x40)
    put(&header, textOffset, at: 0x08)
    put(&header, imageSize, at: 0x10)
    put(&header, flags, at: 0x18)
    switch architecture {
    case .arm64:
      header.replaceSubrange(0x38..<0x3c, with: magic ?? Array("ARMd".utf8))
    case .riscv64:
      put(&header, headerVersion, at: 0x20)
      header.replaceSubrange(0x30..<0x35, with: Array("RISCV".utf8))
      header.replaceSubrange(0x38..<0x3c, with: magic ?? [0x52, 0x53, 0x43, 0x05])
    }
    return header
  }

  var body: [UInt8] {
    var body = [UInt8](repeating: 0, count: bodyLength)
    let text = Array(banner.utf8)
    body.replaceSubrange(0x100..<0x100 + text.count, with: text)
    return body
  }

  public var bytes: [UInt8] {
    guard efiStub else {
      var file = header
      file[0] = 0x13  // a branch or jump instruction, no MZ
      return file + body
    }
    var pe = HandmadePE(
      machine: architecture == .arm64 ? 0xaa64 : 0x5064,
      sections: [HandmadePE.Section(".text", body)])
    pe.dosHeader = Array(header[2..<0x3c])
    return pe.bytes
  }
}
