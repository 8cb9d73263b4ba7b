// The smallest file the bzImage reader accepts, written field by field so a
// test can break exactly one of them.

/// A bzImage built byte by byte from the boot protocol's setup header: one
/// setup sector, a short protected-mode part holding a gzip magic as its
/// payload, and a version string. Every field can be changed before `bytes`
/// is read.
public struct HandmadeBzImage: Sendable {
  public var setupSectors: UInt8 = 1
  /// What `setup_sects` says, when it should differ from the sectors written.
  public var claimedSetupSectors: UInt8? = nil
  /// Bytes of protected-mode code after the setup sectors.
  public var kernelLength = 4096
  /// `syssize` in 16-byte paragraphs; nil for the one `kernelLength` implies.
  public var sysSize: UInt32? = nil
  public var bootFlag: UInt16 = 0xaa55
  public var header: [UInt8] = Array("HdrS".utf8)
  public var version: UInt16 = 0x020f
  public var kernelVersion = "6.99.0-handmade (test@handoff) #1 SMP"
  public var loadFlags: UInt8 = 0x01
  public var initrdAddressMax: UInt32 = 0x7fff_ffff
  public var kernelAlignment: UInt32 = 0x20_0000
  public var relocatable: UInt8 = 1
  /// XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G.
  public var xloadflags: UInt16 = 0x0003
  public var commandLineSize: UInt32 = 2047
  public var payloadOffset: UInt32 = 0x100
  public var payloadLength: UInt32 = 0x40
  public var preferredAddress: UInt64 = 0x100_0000
  public var initSize: UInt32 = 0x2_0000
  public var handoverOffset: UInt32 = 0x190
  /// The first two bytes of the file; real images start with the EFI stub's `MZ`.
  public var signature: [UInt8] = [0x4d, 0x5a]
  /// The short jump at 0x200 over the setup header; its second byte says
  /// where the header ends (0x202 plus it), here just past handover_offset.
  public var setupJump: [UInt8] = [0xeb, 0x66]

  /// Where the version string is placed, a file offset inside the setup code.
  public static let versionOffset = 0x300

  public init() {}

  /// The setup code's size: the boot sector and the setup sectors.
  public var setupLength: Int { (Int(setupSectors == 0 ? 4 : setupSectors) + 1) * 512 }

  public var bytes: [UInt8] {
    var file = [UInt8](repeating: 0, count: setupLength + kernelLength)
    file.replaceSubrange(0..<signature.count, with: signature)
    put(&file, claimedSetupSectors ?? setupSectors, at: 0x1f1)
    put(&file, sysSize ?? UInt32((kernelLength + 15) / 16), at: 0x1f4)
    put(&file, bootFlag, at: 0x1fe)
    file.replaceSubrange(0x200..<0x200 + setupJump.count, with: setupJump)
    file.replaceSubrange(0x202..<0x202 + header.count, with: header)
    put(&file, version, at: 0x206)
    put(&file, UInt16(HandmadeBzImage.versionOffset - 0x200), at: 0x20e)
    put(&file, loadFlags, at: 0x211)
    put(&file, initrdAddressMax, at: 0x22c)
    put(&file, kernelAlignment, at: 0x230)
    put(&file, relocatable, at: 0x234)
    put(&file, xloadflags, at: 0x236)
    put(&file, commandLineSize, at: 0x238)
    put(&file, payloadOffset, at: 0x248)
    put(&file, payloadLength, at: 0x24c)
    put(&file, preferredAddress, at: 0x258)
    put(&file, initSize, at: 0x260)
    put(&file, handoverOffset, at: 0x264)

    let text = Array(kernelVersion.utf8) + [0]
    let start = HandmadeBzImage.versionOffset
    file.replaceSubrange(start..<start + text.count, with: text)

    // a gzip member's magic where the payload starts, when it lies in the file
    let payload = setupLength + Int(payloadOffset)
    if payloadLength >= 2, payload + 2 <= file.count {
      file[payload] = 0x1f
      file[payload + 1] = 0x8b
    }
    return file
  }

  private func put<Value: FixedWidthInteger>(_ file: inout [UInt8], _ value: Value, at offset: Int)
  {
    for index in 0..<Value.bitWidth / 8 {
      file[offset + index] = UInt8(truncatingIfNeeded: value >> (index * 8))
    }
  }
}
