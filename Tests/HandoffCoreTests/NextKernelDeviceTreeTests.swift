import HandoffCore
import HandoffTestSupport
import Testing

@Suite("The next kernel's device tree")
struct NextKernelDeviceTreeTests {
  static let seed = [UInt8](repeating: 0x5a, count: 64)

  static func edited(
    commandLine: String = "console=ttyAMA0 handoff=1",
    initrd: (start: UInt64, end: UInt64)? = (0x7e00_0000, 0x7e80_0000)
  ) throws -> (NextKernelDeviceTree, DeviceTree) {
    let next = try NextKernelDeviceTree(
      running: DeviceTreeFixture.virt(), source: "/sys/firmware/fdt", commandLine: commandLine,
      initrd: initrd, kaslrSeed: 0x0123_4567_89ab_cdef, rngSeed: seed)
    return (next, try DeviceTree(next.blob, source: "next"))
  }

  @Test("/chosen gets the command line, the new initrd and fresh seeds")
  func chosenRewritten() throws {
    let (_, tree) = try Self.edited()
    #expect(tree.stringProperty("/chosen", "bootargs") == "console=ttyAMA0 handoff=1")
    #expect(
      tree.property("/chosen", "linux,initrd-start") == [0, 0, 0, 0, 0x7e, 0, 0, 0])
    #expect(
      tree.property("/chosen", "linux,initrd-end") == [0, 0, 0, 0, 0x7e, 0x80, 0, 0])
    #expect(
      tree.property("/chosen", "kaslr-seed") == [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef])
    #expect(tree.property("/chosen", "rng-seed") == Self.seed)
  }

  @Test("The running initrd's reservation and the crash kernel's properties are gone")
  func staleStateRemoved() throws {
    let (next, tree) = try Self.edited()
    #expect(tree.memoryReservations.isEmpty)
    #expect(tree.property("/chosen", "linux,elfcorehdr") == nil)
    #expect(
      next.edits.contains("delete /memreserve/ [0x48000000, 0x48100000) of the running initrd"))
    #expect(next.edits.contains("delete /chosen linux,elfcorehdr"))
  }

  @Test("Without an initrd the old bounds go; an empty command line drops bootargs")
  func noInitrdNoCommandLine() throws {
    let (next, tree) = try Self.edited(commandLine: "", initrd: nil)
    #expect(tree.property("/chosen", "linux,initrd-start") == nil)
    #expect(tree.property("/chosen", "linux,initrd-end") == nil)
    #expect(tree.property("/chosen", "bootargs") == nil)
    #expect(next.edits.contains("delete /chosen bootargs"))
  }

  @Test("Everything outside /chosen is kept: memory, the UART, the root's cells")
  func restKept() throws {
    let (_, tree) = try Self.edited()
    #expect(tree.stringProperty("/memory@40000000", "device_type") == "memory")
    #expect(tree.registerAddress("/pl011@9000000") == 0x900_0000)
    #expect(tree.property("/", "#address-cells") == [0, 0, 0, 2])
  }

  @Test("stdout-path names the UART the purgatory reports on, when it is the kind it drives")
  func consoleUART() throws {
    let pl011 = try DeviceTree(DeviceTreeFixture.virt(), source: "virt")
    #expect(NextKernelDeviceTree.console(in: pl011, compatible: "arm,pl011") == 0x900_0000)
    let other = try DeviceTree(DeviceTreeFixture.virt(uart: "ns16550a"), source: "virt")
    #expect(NextKernelDeviceTree.console(in: other, compatible: "arm,pl011") == nil)
    #expect(NextKernelDeviceTree.console(in: other, compatible: "ns16550a") == 0x900_0000)
  }

  @Test(
    "Bytes that are not a device tree are refused with the source named",
    arguments: [
      ([UInt8](repeating: 0, count: 64), "/sys/firmware/fdt: device tree: reading the header: "),
      ([UInt8](repeating: 0xd0, count: 8), "/sys/firmware/fdt: truncated: FDT header"),
    ])
  func badBlob(bytes: [UInt8], message: String) {
    #expect {
      _ = try DeviceTree(bytes, source: "/sys/firmware/fdt")
    } throws: { error in
      (error as? HandoffError)?.description.hasPrefix(message) == true
    }
  }

  @Test("A tree whose structure block does not parse is refused before any edit")
  func badStructure() {
    var blob = DeviceTreeFixture.virt()
    let structure = Int(blob[8]) << 24 | Int(blob[9]) << 16 | Int(blob[10]) << 8 | Int(blob[11])
    blob[structure + 3] = 7  // no token is 7
    #expect {
      _ = try DeviceTree(blob, source: "dtb")
    } throws: { error in
      (error as? HandoffError)?.description.hasPrefix("dtb: device tree: checking the structure: ")
        == true
    }
  }

  @Test("A property whose name lies outside the strings block is refused, not read through")
  func unresolvedPropertyName() {
    // the first property of the root (#address-cells): its nameoff, 8
    // bytes past its FDT_PROP token, which follows the root's empty name
    var blob = DeviceTreeFixture.virt()
    let structure = Int(blob[8]) << 24 | Int(blob[9]) << 16 | Int(blob[10]) << 8 | Int(blob[11])
    let nameOffset = structure + 8 + 8
    #expect(blob[structure + 11] == 3, "the root's first token after its name is FDT_PROP")
    blob[nameOffset] = 0x7f
    #expect {
      _ = try DeviceTree(blob, source: "dtb")
    } throws: { error in
      (error as? HandoffError)?.description
        == "dtb: device tree: checking the structure: a node's or a property's name cannot be "
        + "read"
    }
  }

  @Test("A totalsize past the end of the blob is refused, naming the field")
  func totalSizeTooLarge() {
    var blob = DeviceTreeFixture.virt()
    blob[4] = 0x7f
    #expect {
      _ = try DeviceTree(blob, source: "dtb")
    } throws: { error in
      guard case .invalidField(_, let field, let offset, _, _)? = error as? HandoffError else {
        return false
      }
      return field == "FDT totalsize" && offset == 4
    }
  }

  @Test(
    "A 16550 with its registers spaced or read as words is not used",
    arguments: [
      (["reg-shift": UInt32(2)], false), (["reg-io-width": 4], false),
      (["reg-shift": 0, "reg-io-width": 1], true),
    ])
  func spacedRegisters(properties: [String: UInt32], used: Bool) throws {
    let blob = DeviceTreeFixture.virt(uart: "ns16550a", uartProperties: properties)
    let tree = try DeviceTree(blob, source: "fdt")
    #expect((NextKernelDeviceTree.console(in: tree, compatible: "ns16550a") != nil) == used)
  }

}
