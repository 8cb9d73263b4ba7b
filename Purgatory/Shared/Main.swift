// The part of Handoff's purgatory that decides. Each architecture's entry.S
// calls `purgatory_main` with a stack of its own and jumps to the new kernel
// when it returns. It checks every region's XXH64 digest against the one the
// loader stored, and halts with a line on the serial port instead of running
// a kernel whose memory changed after the load; then, when asked, it scrubs
// free RAM.
//
// Bare metal: no allocation, no runtime, physical addresses are the ones
// the code runs at, and only one CPU runs. Each architecture supplies
// `serialPut`, `halt` and `scrub`.

/// Checks the segments and scrubs free RAM as the parameter block asks;
/// returns only when the kernel may run. `tables` is where the segment's
/// room for page tables starts (past the bss), `image` where the blob starts.
@_cdecl("purgatory_main")
public func purgatoryMain(_ block: UnsafeRawPointer, _ tables: UInt, _ image: UInt) {
  let parameters = Parameters(block)
  let serial = Serial(base: parameters.serial)

  // a block the loader never filled in, or filled in for another layout
  guard parameters.isValid else {
    serial.write("handoff purgatory: the parameter block is not valid; halting\r\n")
    halt()
  }

  if parameters.verify {
    verifySegments(parameters, serial)
  } else if parameters.announce {
    serial.write("handoff purgatory: segments not verified\r\n")
  }

  if parameters.scrub {
    let segment = (start: UInt64(image), end: UInt64(tables) &+ parameters.pageTableBytes)
    scrub(parameters, serial, segment: segment, tables: UInt64(tables))
  }
}
