// The two PE containers of kernels, built around a kernel the test chose:
// an EFI zboot image and a unified kernel image.

/// An EFI zboot image: "zimg" and the payload's place and compression in
/// the MS-DOS header, a stub section, and the payload in a data section.
public struct HandmadeZboot: Sendable {
  /// The compressed Image.
  public var payload: [UInt8]
  /// The header's compression type: `gzip`, `zstd22`, ...
  public var compressionType: String
  public var machine: UInt16 = 0xaa64
  /// Bytes after the payload in its section, such as the size the build appends.
  public var afterPayload: [UInt8] = []
  /// What the header says, when it should differ from where the payload is.
  public var claimedOffset: UInt32? = nil
  public var claimedSize: UInt32? = nil

  public init(payload: [UInt8], compressionType: String) {
    self.payload = payload
    self.compressionType = compressionType
  }

  var pe: HandmadePE {
    HandmadePE(
      machine: machine,
      sections: [
        HandmadePE.Section(".text", [UInt8](repeating: 0x90, count: 0x200)),
        HandmadePE.Section(".data", payload + afterPayload),
      ])
  }

  /// Where the payload sits in the file.
  public var payloadOffset: Int { pe.dataOffsets[1] }

  public var bytes: [UInt8] {
    var pe = self.pe
    var header = [UInt8](repeating: 0, count: 0x3a)  // offsets 2 to 0x3c
    header.replaceSubrange(2..<6, with: Array("zimg".utf8))
    put(&header, claimedOffset ?? UInt32(payloadOffset), at: 6)
    put(&header, claimedSize ?? UInt32(payload.count), at: 10)
    let type = Array(compressionType.utf8.prefix(31))
    header.replaceSubrange(22..<22 + type.count, with: type)
    put(&header, UInt32(0x8182_23cd), at: 0x36)  // LINUX_PE_MAGIC at 0x38
    pe.dosHeader = header
    return pe.bytes
  }
}

/// A unified kernel image: a stub section, then .osrel, .cmdline, .uname,
/// .initrd and .linux, as ukify lays them out.
public struct HandmadeUKI: Sendable {
  public var machine: UInt16 = 0x8664
  public var sections: [HandmadePE.Section]

  public static let osRelease =
    "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n"
  public static let commandLine = "root=/dev/vda1 ro console=ttyS0"

  public init(linux: [UInt8], initrd: [UInt8] = Array("initramfs".utf8)) {
    sections = [
      HandmadePE.Section(".text", [UInt8](repeating: 0xcc, count: 0x400)),
      HandmadePE.Section(".osrel", Array(HandmadeUKI.osRelease.utf8)),
      HandmadePE.Section(".cmdline", Array((HandmadeUKI.commandLine + "\n").utf8) + [0]),
      HandmadePE.Section(".uname", Array("6.99.0-handmade".utf8)),
      HandmadePE.Section(".initrd", initrd),
      HandmadePE.Section(".linux", linux),
    ]
  }

  public var bytes: [UInt8] {
    HandmadePE(machine: machine, sections: sections).bytes
  }
}
