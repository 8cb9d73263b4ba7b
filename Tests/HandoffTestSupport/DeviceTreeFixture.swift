import CHandoffFDT

/// Device trees made by hand with libfdt's sequential writer, shaped like
/// the one QEMU's arm64 virt machine hands its kernel.
public enum DeviceTreeFixture {
  /// The old initrd /chosen names and /memreserve/ keeps.
  public static let runningInitrd: (start: UInt64, end: UInt64) = (0x4800_0000, 0x4810_0000)

  /// A virt-like tree: RAM at 1 GiB, a PL011 at 0x9000000 named by
  /// stdout-path, and /chosen as the running kernel left it: its command
  /// line, its initrd, a spent kaslr-seed and a crash kernel's properties.
  /// Each of `reservedMemory` becomes a node under /reserved-memory, as
  /// OpenSBI's own region does on riscv64; a size of 0 a node with only a
  /// `size`, placed by the kernel. `uartProperties` go into the UART's node.
  /// With `uefi`, /chosen also carries what the EFI stub leaves there: the
  /// system table and the memory map.
  public static func virt(
    memory: (base: UInt64, size: UInt64) = (0x4000_0000, 0x4000_0000), uart: String = "arm,pl011",
    reservedMemory: [(address: UInt64, size: UInt64)] = [], uartProperties: [String: UInt32] = [:],
    uefi: Bool = false
  ) -> [UInt8] {
    var writer = Writer()
    writer.reservation(runningInitrd.start, runningInitrd.end - runningInitrd.start)
    writer.begin("")
    writer.cells("#address-cells", [2])
    writer.cells("#size-cells", [2])
    writer.string("compatible", "linux,dummy-virt")
    writer.begin("chosen")
    writer.string("bootargs", "console=ttyAMA0 root=/dev/vda")
    writer.string("stdout-path", "/pl011@9000000")
    writer.u64("linux,initrd-start", runningInitrd.start)
    writer.u64("linux,initrd-end", runningInitrd.end)
    writer.u64("kaslr-seed", 0)
    writer.cells("linux,elfcorehdr", [0, 0x7000_0000, 0, 0x1000])
    if uefi {
      writer.u64("linux,uefi-system-table", 0x7ff8_0018)
      writer.u64("linux,uefi-mmap-start", 0x4166_1018)
      writer.cells("linux,uefi-mmap-size", [0x1e0])
      writer.cells("linux,uefi-mmap-desc-size", [0x30])
      writer.cells("linux,uefi-mmap-desc-ver", [1])
    }
    writer.end()
    writer.begin("memory@\(String(memory.base, radix: 16))")
    writer.string("device_type", "memory")
    writer.cells(
      "reg",
      [
        UInt32(memory.base >> 32), UInt32(truncatingIfNeeded: memory.base),
        UInt32(memory.size >> 32), UInt32(truncatingIfNeeded: memory.size),
      ])
    writer.end()
    if !reservedMemory.isEmpty {
      writer.begin("reserved-memory")
      writer.cells("#address-cells", [2])
      writer.cells("#size-cells", [2])
      writer.property("ranges", [])
      for region in reservedMemory {
        writer.begin("region@\(String(region.address, radix: 16))")
        if region.size == 0 {
          writer.cells("size", [0, 0x10_0000])
        } else {
          writer.cells(
            "reg",
            [
              UInt32(region.address >> 32), UInt32(truncatingIfNeeded: region.address),
              UInt32(region.size >> 32), UInt32(truncatingIfNeeded: region.size),
            ])
        }
        writer.end()
      }
      writer.end()
    }
    writer.begin("pl011@9000000")
    writer.property("compatible", Array(uart.utf8) + [0] + Array("arm,primecell".utf8) + [0])
    writer.cells("reg", [0, 0x900_0000, 0, 0x1000])
    for (name, value) in uartProperties.sorted(by: { $0.key < $1.key }) {
      writer.cells(name, [value])
    }
    writer.end()
    writer.end()
    return writer.finish()
  }

  /// libfdt's sequential writer over a fixed buffer; every call must succeed.
  struct Writer {
    var buffer = [UInt8](repeating: 0, count: 0x4000)
    var reservations: [(UInt64, UInt64)] = []
    var started = false

    mutating func reservation(_ address: UInt64, _ size: UInt64) {
      reservations.append((address, size))
    }

    mutating func startIfNeeded() {
      guard !started else { return }
      started = true
      let size = Int32(buffer.count)
      check(buffer.withUnsafeMutableBytes { fdt_create($0.baseAddress, size) })
      for (address, size) in reservations {
        check(
          buffer.withUnsafeMutableBytes { fdt_add_reservemap_entry($0.baseAddress, address, size) })
      }
      check(buffer.withUnsafeMutableBytes { fdt_finish_reservemap($0.baseAddress) })
    }

    mutating func begin(_ name: String) {
      startIfNeeded()
      check(buffer.withUnsafeMutableBytes { fdt_begin_node($0.baseAddress, name) })
    }

    mutating func end() {
      check(buffer.withUnsafeMutableBytes { fdt_end_node($0.baseAddress) })
    }

    mutating func property(_ name: String, _ value: [UInt8]) {
      let length = Int32(value.count)
      check(
        buffer.withUnsafeMutableBytes { tree in
          value.withUnsafeBytes { fdt_property(tree.baseAddress, name, $0.baseAddress, length) }
        })
    }

    mutating func string(_ name: String, _ value: String) {
      property(name, Array(value.utf8) + [0])
    }

    mutating func cells(_ name: String, _ values: [UInt32]) {
      property(
        name,
        values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        })
    }

    mutating func u64(_ name: String, _ value: UInt64) {
      cells(name, [UInt32(value >> 32), UInt32(truncatingIfNeeded: value)])
    }

    mutating func finish() -> [UInt8] {
      check(buffer.withUnsafeMutableBytes { fdt_finish($0.baseAddress) })
      let total = Int(buffer.withUnsafeBytes { handoff_fdt_totalsize($0.baseAddress) })
      return Array(buffer[..<total])
    }

    func check(_ result: Int32) {
      precondition(result == 0, "libfdt refused the fixture: \(result)")
    }
  }
}
