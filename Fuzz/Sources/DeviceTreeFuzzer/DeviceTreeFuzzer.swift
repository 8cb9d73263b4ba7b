// Fuzzes the device tree path of the arm64 and riscv64 loaders: libfdt's
// checks as DeviceTree applies them, then the next kernel's /chosen edits,
// whose result must read back with the command line and initrd it was
// given, the console lookup the purgatory's UART comes from, and the
// /reserved-memory ranges a scrub keeps clear of. The same bytes also go
// to the SPCR reader, the purgatory's UART on machines booted with ACPI.
import FuzzSupport
import HandoffCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeviceTree(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = fuzzBytes(data, size)
  for compatible in ["arm,pl011", "ns16550a"] {
    let base = SerialConsoleTable.uart(bytes, compatible: compatible)
    expect(base != 0, "the SPCR reader named a UART at address 0")
  }
  guard let tree = try? DeviceTree(bytes, source: "fuzz") else { return 0 }
  _ = tree.memoryReservations
  if let reserved = tree.reservedMemory {
    expect(reserved.count <= bytes.count / 8, "more reserved ranges than the tree has cells for")
  }
  _ = tree.stringProperty("/chosen", "bootargs")
  for compatible in ["arm,pl011", "ns16550a"] {
    _ = NextKernelDeviceTree.console(in: tree, compatible: compatible)
  }

  let commandLine = "console=ttyAMA0 fuzz"
  let next: NextKernelDeviceTree
  do {
    next = try NextKernelDeviceTree(
      running: bytes, source: "fuzz", commandLine: commandLine,
      initrd: (0x4800_0000, 0x4810_0000), kaslrSeed: 0x1234, rngSeed: [1, 2, 3, 4])
  } catch {
    // a tree libfdt accepted may still have no room for /chosen's parent
    _ = error.description
    return 0
  }
  guard let edited = try? DeviceTree(next.blob, source: "fuzz (edited)") else {
    expect(false, "the edited tree does not read back")
    return 0
  }
  expect(
    edited.stringProperty("/chosen", "bootargs") == commandLine,
    "the edited tree lost its bootargs")
  expect(
    edited.property("/chosen", "linux,initrd-start") == [0, 0, 0, 0, 0x48, 0, 0, 0],
    "the edited tree lost its initrd start")
  return 0
}
