/// The start of a /proc/kcore: an ELF64 core file header, one PT_NOTE and
/// a PT_LOAD per entry of `loads` (virtual address, physical address,
/// size; a physical address of all ones for memory outside RAM and the
/// kernel text, as the kernel writes it).
public func handmadeKcore(_ loads: [(UInt64, UInt64, UInt64)], type: UInt16 = 4) -> [UInt8] {
  var file = [UInt8](repeating: 0, count: 64 + 56 * (loads.count + 1))
  file.replaceSubrange(0..<7, with: [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])
  put(&file, type, at: 16)
  put(&file, UInt64(64), at: 32)
  put(&file, UInt16(56), at: 54)
  put(&file, UInt16(loads.count + 1), at: 56)
  put(&file, UInt32(4), at: 64)
  for (index, load) in loads.enumerated() {
    let entry = 64 + 56 * (index + 1)
    put(&file, UInt32(1), at: entry)
    put(&file, load.0, at: entry + 16)
    put(&file, load.1, at: entry + 24)
    put(&file, load.2, at: entry + 40)
  }
  return file
}

/// arm64 6.1's /proc/kcore on QEMU virt with 1 GiB: vmalloc without a
/// physical address, the kernel text at its image address, and the
/// linear map in two blocks.
public let arm64Kcore = handmadeKcore([
  (0xffff_8000_0800_0000, .max, 0x7bdf_b000_0000),
  (0xffff_d9a8_c6a0_0000, 0x4020_0000, 0x1b3_0000),
  (0xffff_0000_0000_0000, 0x4000_0000, 0x3000_0000),
  (0xffff_0000_3000_0000, 0x7000_0000, 0x1000_0000),
])
