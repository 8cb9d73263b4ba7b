import HandoffCore
import HandoffTestSupport
import Testing

/// Files that are not bootable bzImages, each refused with the field and
/// offset that rule it out.
@Suite("Damaged and unbootable images")
struct BadImageTests {
  /// What a refusal must say. `saying` is a word the error's explanation
  /// must contain; the rest must match exactly.
  enum Refusal: Sendable {
    case empty
    case truncated(field: String, offset: Int)
    case invalid(field: String, offset: Int, value: UInt64, saying: String)
    case unsupported(saying: String)
  }

  struct BadImage: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var refusal: Refusal
    var testDescription: String { name }

    /// Whether the file still carries the "HdrS" that marks a setup header.
    var keepsSetupHeader: Bool {
      bytes.count > 0x206 && bytes[0x202..<0x206].elementsEqual("HdrS".utf8)
    }

    /// Whether the file still ends its boot sector with the 0xaa55 boot_flag.
    var keepsBootSector: Bool {
      bytes.count >= 0x200 && bytes[0x1fe..<0x200].elementsEqual([0x55, 0xaa])
    }

    init(_ name: String, _ refusal: Refusal, change: (inout HandmadeBzImage) -> Void) {
      var made = HandmadeBzImage()
      change(&made)
      self.init(name, bytes: made.bytes, refusal)
    }

    init(_ name: String, bytes: [UInt8], _ refusal: Refusal) {
      self.name = name
      self.bytes = bytes
      self.refusal = refusal
    }
  }

  static let path = "/boot/vmlinuz-bad"

  /// Images the header reader itself refuses.
  static let unreadable: [BadImage] = [
    BadImage("an empty file", bytes: [], .empty),
    BadImage(
      "the first 100 bytes of an image", bytes: Array(HandmadeBzImage().bytes.prefix(100)),
      .truncated(field: "boot_flag", offset: 0x1fe)),
    BadImage(
      "a wrong boot_flag",
      .invalid(field: "boot_flag", offset: 0x1fe, value: 0x55aa, saying: "0xaa55")
    ) { $0.bootFlag = 0x55aa },
    BadImage(
      "a header magic other than HdrS",
      .invalid(field: "header", offset: 0x202, value: 0x5472_6448, saying: "HdrS")
    ) { $0.header = Array("HdrT".utf8) },
    BadImage(
      "setup_sects claiming more than the file holds",
      .truncated(field: "setup_sects", offset: 0)
    ) { $0.claimedSetupSectors = 200 },
    BadImage(
      "setup_sects claiming more than an old-protocol file holds",
      .truncated(field: "setup_sects", offset: 0)
    ) {
      $0.claimedSetupSectors = 200
      $0.version = 0x0202
    },
    BadImage(
      "syssize reaching past the end of the file",
      .truncated(field: "syssize", offset: 0x400)
    ) { $0.sysSize = 4096 / 16 + 1 },
    BadImage(
      "a kernel_alignment that is not a power of two",
      .invalid(field: "kernel_alignment", offset: 0x230, value: 0x30_0000, saying: "power of two")
    ) { $0.kernelAlignment = 0x30_0000 },
    BadImage(
      "a payload lying past the protected-mode code",
      .truncated(field: "payload_offset", offset: 0x400 + 0x2000)
    ) { $0.payloadOffset = 0x2000 },
  ]

  /// Images that read well but that a 64-bit kernel cannot hand off to.
  static let unbootable: [BadImage] = [
    BadImage("boot protocol 2.10", .unsupported(saying: "2.10")) { $0.version = 0x020a },
    BadImage("boot protocol 2.11", .unsupported(saying: "2.11")) { $0.version = 0x020b },
    BadImage(
      "no XLF_KERNEL_64",
      .invalid(field: "xloadflags", offset: 0x236, value: 0x2, saying: "XLF_KERNEL_64")
    ) { $0.xloadflags = 0x2 },
    BadImage(
      "no XLF_CAN_BE_LOADED_ABOVE_4G",
      .invalid(
        field: "xloadflags", offset: 0x236, value: 0x1, saying: "XLF_CAN_BE_LOADED_ABOVE_4G")
    ) { $0.xloadflags = 0x1 },
    BadImage(
      "no LOADED_HIGH",
      .invalid(field: "loadflags", offset: 0x211, value: 0x0, saying: "LOADED_HIGH")
    ) { $0.loadFlags = 0 },
    BadImage(
      "an init_size of 2 GiB",
      .invalid(field: "init_size", offset: 0x260, value: 0x8000_0000, saying: "at most 0x40000000")
    ) { $0.initSize = 0x8000_0000 },
    BadImage(
      "an init_size smaller than the code it decompresses",
      .invalid(field: "init_size", offset: 0x260, value: 0x800, saying: "4096 bytes")
    ) { $0.initSize = 0x800 },
  ]

  @Test("A damaged header is refused naming the field and its offset", arguments: unreadable)
  func damagedHeader(image: BadImage) throws {
    let error = try #require(
      refused { () throws(HandoffError) in
        _ = try BzImage(path: Self.path, bytes: image.bytes)
      })
    check(error, is: image.refusal, fileSize: image.bytes.count)
  }

  @Test(
    "KernelImage refuses a damaged bzImage that keeps its setup header or boot sector the same way",
    arguments: unreadable.filter { $0.keepsSetupHeader || $0.keepsBootSector || $0.bytes.isEmpty })
  func damagedThroughKernelImage(image: BadImage) throws {
    let error = try #require(
      refused { () throws(HandoffError) in
        _ = try KernelImage.read(path: Self.path, bytes: image.bytes)
      })
    check(error, is: image.refusal, fileSize: image.bytes.count)
  }

  @Test(
    "KernelImage refuses a file starting with MZ but without HdrS, a boot sector or PE headers",
    arguments: unreadable.filter {
      !$0.keepsSetupHeader && !$0.keepsBootSector && !$0.bytes.isEmpty
    })
  func headerlessThroughKernelImage(image: BadImage) throws {
    #expect(image.bytes.starts(with: [0x4d, 0x5a]))
    let error = try #require(
      refused { () throws(HandoffError) in
        _ = try KernelImage.read(path: Self.path, bytes: image.bytes)
      })
    check(
      error, is: .unsupported(saying: "no Linux setup header"),
      fileSize: image.bytes.count)
  }

  @Test(
    "An image a 64-bit kernel cannot hand off to reads, but requireBootable64 refuses it",
    arguments: unbootable)
  func unbootableImage(image: BadImage) throws {
    let bzImage = try BzImage(path: Self.path, bytes: image.bytes)
    let error = try #require(refused { () throws(HandoffError) in try bzImage.requireBootable64() })
    check(error, is: image.refusal, fileSize: image.bytes.count)
  }

  @Test("An old boot protocol is refused naming the oldest one that works")
  func oldProtocolNamesTheMinimum() throws {
    var made = HandmadeBzImage()
    made.version = 0x020a
    let image = try BzImage(path: Self.path, bytes: made.bytes)
    let error = try #require(refused { () throws(HandoffError) in try image.requireBootable64() })
    guard case .unsupportedImage(_, let reason) = error else {
      Issue.record("expected unsupportedImage, got \(error)")
      return
    }
    #expect(reason.contains("2.10"))
    #expect(reason.contains("2.12"))
  }

  @Test("A refusal reads as one line naming the file, the field and the offset in hex")
  func refusalText() throws {
    var made = HandmadeBzImage()
    made.kernelAlignment = 0x30_0000
    let error = try #require(
      refused { () throws(HandoffError) in
        _ = try BzImage(path: Self.path, bytes: made.bytes)
      })
    #expect(
      error.description
        == "/boot/vmlinuz-bad: kernel_alignment at offset 0x230 is 0x300000, "
        + "expected a power of two"
    )

    let truncated = HandoffError.truncated(
      path: Self.path, field: "syssize", offset: 0x400, fileSize: 100)
    #expect(
      truncated.description
        == "/boot/vmlinuz-bad: truncated: syssize at offset 0x400 lies past the end of the file "
        + "(100 bytes)")
  }

  /// The error `body` throws, or nil when it throws none.
  func refused(_ body: () throws(HandoffError) -> Void) -> HandoffError? {
    do {
      try body()
      return nil
    } catch {
      return error
    }
  }

  func check(_ error: HandoffError, is refusal: Refusal, fileSize: Int) {
    switch (refusal, error) {
    case (.empty, _):
      #expect(error == .emptyFile(path: Self.path))
    case (.truncated(let field, let offset), _):
      #expect(
        error == .truncated(path: Self.path, field: field, offset: offset, fileSize: fileSize))
    case (
      .invalid(let field, let offset, let value, let saying),
      .invalidField(let path, let actualField, let actualOffset, let actualValue, let expected)
    ):
      #expect(path == Self.path)
      #expect(actualField == field)
      #expect(actualOffset == offset)
      #expect(actualValue == value)
      #expect(expected.contains(saying), "\(expected) should mention \(saying)")
    case (.unsupported(let saying), .unsupportedImage(let path, let reason)):
      #expect(path == Self.path)
      #expect(reason.contains(saying), "\(reason) should mention \(saying)")
    default:
      Issue.record("expected \(refusal), got \(error)")
    }
  }
}
