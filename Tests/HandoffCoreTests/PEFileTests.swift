import HandoffCore
import HandoffTestSupport
import Testing

/// The PE/COFF reader that EFI stubs, zboot images and UKIs share: the
/// headers and section table of a handmade PE32+ file, and the ways one
/// can be wrong.
@Suite("PE/COFF files")
struct PEFileTests {
  static let path = "/boot/efi/EFI/Linux/handmade.efi"

  static let made = HandmadePE(
    machine: 0x8664,
    sections: [
      HandmadePE.Section(".text", [UInt8](repeating: 0xcc, count: 0x300)),
      HandmadePE.Section(".cmdline", Array("quiet\n".utf8)),
      HandmadePE.Section(".bss", [], virtualSize: 0x2000),
    ])

  @Test("The headers and every section are read")
  func fields() throws {
    let bytes = Self.made.bytes
    let pe = try PEFile(path: Self.path, bytes: bytes)
    #expect(pe.headerOffset == 0x40)
    #expect(pe.machine == 0x8664)
    #expect(pe.architecture == .x86_64)
    #expect(pe.entryPoint == 0x1000)
    #expect(pe.sectionAlignment == 0x1000)
    #expect(pe.fileAlignment == 0x200)
    #expect(pe.sizeOfHeaders == 0x200)
    #expect(pe.subsystem == 10)
    #expect(pe.sections.map(\.name) == [".text", ".cmdline", ".bss"])
    #expect(pe.sections.map(\.rawOffset) == [0x200, 0x600, 0x800])
    #expect(pe.sections.map(\.rawSize) == [0x400, 0x200, 0])
    #expect(pe.sections.map(\.virtualAddress) == [0x1000, 0x2000, 0x3000])
    let cmdline = try #require(pe.section(named: ".cmdline"))
    #expect(cmdline.dataSize == 6)
    #expect(Array(cmdline.data(in: bytes)) == Array("quiet\n".utf8))
    #expect(cmdline.data(in: bytes).startIndex == 0x600)
    #expect(pe.section(named: ".linux") == nil)
  }

  @Test("A section's data is its VirtualSize, or all the file holds when that is larger")
  func dataSize() {
    let section = { (virtualSize: UInt32, rawSize: UInt32) in
      PESection(
        name: ".x", virtualSize: virtualSize, virtualAddress: 0x1000, rawSize: rawSize,
        rawOffset: 0x200, characteristics: 0)
    }
    #expect(section(0x123, 0x200).dataSize == 0x123)
    #expect(section(0x2000, 0x200).dataSize == 0x200)
    #expect(section(0, 0x200).dataSize == 0x200)
  }

  @Test(
    "Machines name architectures, and unknown ones none",
    arguments: [
      (UInt16(0x8664), KernelArchitecture?.some(.x86_64)), (0xaa64, .arm64), (0x5064, .riscv64),
      (0x014c, .x86), (0x01c4, nil),
    ])
  func machines(machine: UInt16, architecture: KernelArchitecture?) {
    #expect(KernelArchitecture(peMachine: machine) == architecture)
  }

  struct Bad: Sendable, CustomTestStringConvertible {
    var name: String
    var error: HandoffError
    /// Where to cut the file off, after the change.
    var cut: Int? = nil
    var change: @Sendable (inout HandmadePE) -> Void
    var testDescription: String { name }
  }

  static let bad: [Bad] = [
    Bad(
      name: "e_lfanew past the end of the file",
      error: .truncated(path: path, field: "PE signature", offset: 0x10000, fileSize: 0x800),
      cut: 0x800
    ) { $0.peOffset = 0x10000 },
    Bad(
      name: "a signature other than PE",
      error: .invalidField(
        path: path, field: "PE signature", offset: 0x40, value: 0x454e,
        expected: "0x4550 (\"PE\\0\\0\")")
    ) { $0.signature = Array("NE\0\0".utf8) },
    Bad(
      name: "a PE32 optional header",
      error: .invalidField(
        path: path, field: "optional header Magic", offset: 0x58, value: 0x10b,
        expected: "0x20b (PE32+)")
    ) { $0.optionalMagic = 0x10b },
    Bad(
      name: "an optional header too small for PE32+",
      error: .invalidField(
        path: path, field: "SizeOfOptionalHeader", offset: 0x54, value: 96,
        expected: "at least 112, the fixed part of a PE32+ optional header")
    ) { $0.optionalHeaderSize = 96 },
    Bad(
      name: "a section table past the end of the file",
      error: .truncated(path: path, field: "section table", offset: 0x148, fileSize: 0x800)
    ) { $0.claimedSectionCount = 200 },
    Bad(
      name: "a section whose data lies past the end of the file",
      error: .truncated(path: path, field: "section .text", offset: 0x200, fileSize: 0x500),
      cut: 0x500
    ) { $0.sections = [HandmadePE.Section(".text", [UInt8](repeating: 1, count: 0x300))] },
  ]

  @Test("A bad PE file is refused naming the field and its offset", arguments: bad)
  func refused(bad: Bad) {
    var made = Self.made
    bad.change(&made)
    let bytes = bad.cut.map { Array(made.bytes.prefix($0)) } ?? made.bytes
    #expect(throws: bad.error) { _ = try PEFile(path: Self.path, bytes: bytes) }
  }

  @Test("A file without MZ is not a PE file")
  func notMZ() {
    var bytes = Self.made.bytes
    bytes[0] = 0x7f
    #expect(
      throws: HandoffError.invalidField(
        path: Self.path, field: "e_magic", offset: 0, value: 0x5a7f,
        expected: "0x5a4d (\"MZ\"; not a PE file)")
    ) {
      _ = try PEFile(path: Self.path, bytes: bytes)
    }
  }
}
