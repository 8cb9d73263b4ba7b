import HandoffCore
import HandoffTestSupport
import Testing

/// The ELF vmlinux reader: the file header and PT_LOAD program headers of a
/// handmade vmlinux, and every way one can be wrong, named by field.
@Suite("ELF vmlinux")
struct ELFImageTests {
  static let path = "/boot/vmlinux"

  @Test("The file header and the PT_LOAD program headers are read, the PT_NOTE skipped")
  func fields() throws {
    let made = HandmadeELF()
    let image = try ELFImage(path: Self.path, bytes: made.bytes)
    #expect(image.machine == .x86_64)
    #expect(image.machine.architecture == .x86_64)
    #expect(image.typeName == "ET_EXEC")
    #expect(image.entry == 0x100_0040)
    #expect(image.fileSize == 0x3000)
    #expect(image.kernelVersion?.hasPrefix("6.99.0-handmade (test@handoff)") == true)
    #expect(
      image.loadSegments == [
        ELFProgramHeader(
          index: 0, flags: 5, offset: 0x1000, virtualAddress: 0xffff_ffff_8100_0000,
          physicalAddress: 0x100_0000, fileSize: 0x1000, memorySize: 0x1000,
          alignment: 0x20_0000),
        ELFProgramHeader(
          index: 2, flags: 6, offset: 0x2000, virtualAddress: 0xffff_ffff_8120_0000,
          physicalAddress: 0x120_0000, fileSize: 0x800, memorySize: 0x3000,
          alignment: 0x20_0000),
      ])
    #expect(image.loadSegments.map(\.flagsText) == ["RE", "RW"])
  }

  @Test(
    "arm64 and riscv64 vmlinux files are read with their machine, ET_DYN too",
    arguments: [(UInt16(183), ELFMachine.aarch64), (243, .riscv)])
  func otherMachines(value: UInt16, machine: ELFMachine) throws {
    var made = HandmadeELF()
    made.machine = value
    made.type = 3
    made.entry = 0xffff_ffff_8100_0000  // virtual, as arm64's is
    let image = try ELFImage(path: Self.path, bytes: made.bytes)
    #expect(image.machine == machine)
    #expect(image.typeName == "ET_DYN")
  }

  struct Bad: Sendable, CustomTestStringConvertible {
    var name: String
    var error: HandoffError
    var change: @Sendable (inout HandmadeELF) -> Void
    var testDescription: String { name }
  }

  static func invalid(_ field: String, _ offset: Int, _ value: UInt64, _ expected: String)
    -> HandoffError
  {
    .invalidField(path: path, field: field, offset: offset, value: value, expected: expected)
  }

  static let bad: [Bad] = [
    Bad(
      name: "a 32-bit ELF file",
      error: invalid("EI_CLASS", 4, 1, "2 (ELFCLASS64; Handoff reads 64-bit kernels only)")
    ) { $0.elfClass = 1 },
    Bad(
      name: "a big-endian ELF file",
      error: invalid("EI_DATA", 5, 2, "1 (ELFDATA2LSB, little-endian)")
    ) { $0.byteOrder = 2 },
    Bad(
      name: "a relocatable object",
      error: invalid("e_type", 0x10, 1, "2 (ET_EXEC) or 3 (ET_DYN): an executable kernel")
    ) { $0.type = 1 },
    Bad(
      name: "a machine Handoff does not read",
      error: invalid("e_machine", 0x12, 40, "62 (EM_X86_64), 183 (EM_AARCH64) or 243 (EM_RISCV)")
    ) { $0.machine = 40 },
    Bad(
      name: "program headers of the wrong size",
      error: invalid("e_phentsize", 0x36, 32, "56, the size of an Elf64_Phdr")
    ) { $0.programHeaderSize = 32 },
    Bad(
      name: "PN_XNUM program headers",
      error: invalid(
        "e_phnum", 0x38, 0xffff, "fewer than 0xffff program headers (PN_XNUM is not read)")
    ) { $0.claimedCount = 0xffff },
    Bad(
      name: "a program header table past the end of the file",
      error: .truncated(path: path, field: "program headers", offset: 0x2fc0, fileSize: 0x3000)
    ) { $0.programHeaderOffset = 0x2fc0 },
    Bad(
      name: "no PT_LOAD at all",
      error: invalid("e_phnum", 0x38, 1, "at least one PT_LOAD program header")
    ) { $0.segments = [$0.segments[1]] },
    Bad(
      name: "a segment whose data lies past the end of the file",
      error: .truncated(
        path: path, field: "segment of program header 2", offset: 0x2000, fileSize: 0x3000)
    ) { $0.segments[2].fileSize = 0x1001 },
    Bad(
      name: "p_filesz larger than p_memsz",
      error: invalid(
        "p_filesz of program header 2", 0x40 + 2 * 56 + 0x20, 0x800, "at most p_memsz, 0x400")
    ) { $0.segments[2].memorySize = 0x400 },
    Bad(
      name: "a physical range that wraps",
      error: invalid(
        "p_paddr of program header 2", 0x40 + 2 * 56 + 0x18, 0xffff_ffff_ffff_f000,
        "a range that does not wrap past 2^64")
    ) { $0.segments[2].physicalAddress = 0xffff_ffff_ffff_f000 },
    Bad(
      name: "segments that overlap in physical memory",
      error: invalid(
        "p_paddr of program header 2", 0x40 + 2 * 56 + 0x18, 0x100_0800,
        "no overlap with program header 0 at [0x1000000, 0x1001000)")
    ) { $0.segments[2].physicalAddress = 0x100_0800 },
    Bad(
      name: "an entry outside every segment",
      error: invalid("e_entry", 0x18, 0x4000_0000, "an address inside a PT_LOAD segment")
    ) { $0.entry = 0x4000_0000 },
  ]

  @Test("A bad vmlinux is refused naming the field, its offset and value", arguments: bad)
  func refused(bad: Bad) {
    var made = HandmadeELF()
    bad.change(&made)
    #expect(throws: bad.error) { _ = try ELFImage(path: Self.path, bytes: made.bytes) }
  }

  @Test("A file cut inside the ELF header is truncated, and an empty one empty")
  func short() {
    #expect(
      throws: HandoffError.truncated(path: Self.path, field: "e_type", offset: 0x10, fileSize: 8)
    ) {
      _ = try ELFImage(path: Self.path, bytes: Array(HandmadeELF().bytes.prefix(8)))
    }
    #expect(throws: HandoffError.emptyFile(path: Self.path)) {
      _ = try ELFImage(path: Self.path, bytes: [])
    }
  }
}
