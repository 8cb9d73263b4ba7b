// Scrubbing: zeroing the RAM the loader found free, so that the next kernel
// cannot read what the old one left behind. relocate_kernel's page tables,
// GDT, IDT and stack all sit in that free RAM, so the purgatory first moves
// onto page tables of its own, built in its segment past the bss.

@_extern(c, "purgatory_cpuid")
func purgatoryCPUID(_ leaf: UInt32, _ subleaf: UInt32, _ registers: UnsafeMutableRawPointer)

@_extern(c, "purgatory_read_cr4")
func purgatoryReadCR4() -> UInt64

@_extern(c, "purgatory_write_cr3")
func purgatoryWriteCR3(_ root: UInt64)

// rep stosb when `bytes`, else rep stosq over a multiple of 8 bytes
@_extern(c, "purgatory_zero")
func purgatoryZero(_ start: UInt64, _ size: UInt64, _ bytes: Bool)

// the time stamp counter, to say how long the zeroing took
@_extern(c, "purgatory_rdtsc")
func purgatoryRDTSC() -> UInt64

/// What the CPU offers the scrub.
struct Processor {
  /// CR4.LA57: the old kernel ran 5-level paging, which cannot be turned
  /// off in long mode, so the purgatory's tables have five levels too.
  var fiveLevels: Bool
  /// CPUID pdpe1gb: 1 GiB pages.
  var gigabytePages: Bool
  /// CPUID erms: rep stosb is the fast way to zero.
  var fastStrings: Bool

  static func current() -> Processor {
    let basic = cpuid(0).eax
    let extended = cpuid(0x8000_0000).eax
    return Processor(
      fiveLevels: purgatoryReadCR4() & (1 << 12) != 0,
      gigabytePages: extended >= 0x8000_0001 && cpuid(0x8000_0001).edx & (1 << 26) != 0,
      fastStrings: basic >= 7 && cpuid(7).ebx & (1 << 9) != 0)
  }

  static func cpuid(_ leaf: UInt32) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
    var registers: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    withUnsafeMutablePointer(to: &registers) {
      purgatoryCPUID(leaf, 0, UnsafeMutableRawPointer($0))
    }
    return registers
  }
}

/// Page tables that map `[0, end)` to itself with 2 MiB or 1 GiB pages,
/// writable and cacheable (the MTRRs keep the MMIO holes uncached), built in
/// `capacity` pages from `base`.
struct IdentityMap {
  static let pageSize: UInt64 = 0x1000
  static let present: UInt64 = 1 << 0
  static let writable: UInt64 = 1 << 1
  static let largePage: UInt64 = 1 << 7
  static let largeLeaf = present | writable | largePage
  static let addressMask: UInt64 = 0x000f_ffff_ffff_f000

  let base: UInt64
  let capacity: Int
  let levels: Int
  let gigabytePages: Bool
  private(set) var used = 0

  init(base: UInt64, capacity: Int, processor: Processor) {
    self.base = base
    self.capacity = capacity
    self.levels = processor.fiveLevels ? 5 : 4
    self.gigabytePages = processor.gigabytePages
  }

  /// The address space these levels reach.
  var reach: UInt64 { levels == 5 ? 1 << 57 : 1 << 48 }

  /// How many table pages a map of `[0, end)` takes.
  func pagesNeeded(end: UInt64) -> Int {
    let gigabytes = Int(truncatingIfNeeded: (end &+ (1 << 30) &- 1) >> 30)
    let directories = (gigabytes + 511) / 512
    let topLevel = levels == 5 ? 1 + (directories + 511) / 512 : 1
    return topLevel + directories + (gigabytePages ? 0 : gigabytes)
  }

  /// Builds the tables and returns the root's address, for CR3. The caller
  /// has checked `pagesNeeded(end:)` against the capacity.
  mutating func build(end: UInt64) -> UInt64 {
    let root = allocate()
    var address: UInt64 = 0
    while address < end {
      var table = root
      if levels == 5 { table = next(table, index(address, shift: 48)) }
      let directoryPointers = next(table, index(address, shift: 39))

      // one 1 GiB page, or one directory of 2 MiB pages up to `end`
      if gigabytePages {
        set(directoryPointers, index(address, shift: 30), address | Self.largeLeaf)
        address += 1 << 30
        continue
      }
      let directory = next(directoryPointers, index(address, shift: 30))
      repeat {
        set(directory, index(address, shift: 21), address | Self.largeLeaf)
        address += 1 << 21
      } while address < end && address & ((1 << 30) - 1) != 0
    }
    return root
  }

  func index(_ address: UInt64, shift: UInt64) -> Int {
    Int(truncatingIfNeeded: (address >> shift) & 511)
  }

  /// The table the entry at `index` of `table` points to; an empty entry
  /// gets a fresh table.
  mutating func next(_ table: UInt64, _ index: Int) -> UInt64 {
    let entry = entryPointer(table, index)
    if entry.pointee & Self.present == 0 {
      entry.pointee = allocate() | Self.present | Self.writable
    }
    return entry.pointee & Self.addressMask
  }

  func set(_ table: UInt64, _ index: Int, _ value: UInt64) {
    entryPointer(table, index).pointee = value
  }

  func entryPointer(_ table: UInt64, _ index: Int) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(table &+ UInt64(index) * 8))!
  }

  /// The next free page, zeroed: the kernel zero-fills a segment's tail,
  /// but a table must not trust what it did not write.
  mutating func allocate() -> UInt64 {
    precondition(used < capacity)
    let page = base + UInt64(used) * Self.pageSize
    used += 1
    purgatoryZero(page, Self.pageSize, false)
    return page
  }
}

/// Zeroes every scrub range, after checking that none touches a segment,
/// and after moving onto the purgatory's own page tables. `segment` is the
/// purgatory's own, page tables included.
func scrub(
  _ parameters: Parameters, _ serial: Serial, segment: (start: UInt64, end: UInt64),
  tables: UInt64
) {
  // nothing the next kernel or this purgatory needs may be zeroed, and all
  // of it must lie inside the identity map
  let end = parameters.identityMapEnd
  checkScrubRanges(parameters, serial, segment: segment, end: end)

  // page tables of our own, then off relocate_kernel's
  let processor = Processor.current()
  var map = IdentityMap(
    base: tables, capacity: Int(truncatingIfNeeded: parameters.pageTableBytes / 4096),
    processor: processor)
  if end > map.reach {
    serial.write("handoff purgatory: the identity map would end at ")
    serial.writeHex(end)
    serial.write(", beyond what its page tables reach; halting\r\n")
    halt()
  }
  let needed = map.pagesNeeded(end: end)
  if needed > map.capacity {
    serial.write("handoff purgatory: the page tables need ")
    serial.writeDecimal(UInt64(needed))
    serial.write(" pages, the segment has room for ")
    serial.writeDecimal(UInt64(map.capacity))
    serial.write("; halting\r\n")
    halt()
  }
  purgatoryWriteCR3(map.build(end: end))

  let total = scrubTotal(parameters)
  if parameters.announce {
    serial.write("handoff purgatory: scrubbing ")
    serial.writeDecimal(total)
    serial.write(" bytes in ")
    serial.writeDecimal(UInt64(parameters.scrubCount))
    serial.write(" ranges; identity map [0x0, ")
    serial.writeHex(end)
    serial.write(") in ")
    serial.write(map.gigabytePages ? "1 GiB" : "2 MiB")
    serial.write(" pages, ")
    serial.writeDecimal(UInt64(map.levels))
    serial.write(" levels\r\n")
  }

  // the zeroing alone, timed in TSC cycles for whoever knows their rate
  let started = purgatoryRDTSC()
  for index in 0..<parameters.scrubCount {
    let range = parameters.scrubRange(index)
    purgatoryZero(range.start, range.size, processor.fastStrings)
  }
  let cycles = purgatoryRDTSC() &- started
  if parameters.announce {
    serial.write("handoff purgatory: scrubbed ")
    serial.writeDecimal(total)
    serial.write(" bytes with rep ")
    serial.write(processor.fastStrings ? "stosb" : "stosq")
    serial.write(" in ")
    serial.writeDecimal(cycles)
    serial.write(" TSC cycles\r\n")
  }
}
