import CHandoffFDT

/// A flattened device tree opened for editing through libfdt: properties
/// read, set and deleted by node path, memory reservations listed and
/// removed, and the result packed back into a blob.
public struct DeviceTree {
  /// Where the blob came from, for errors: /sys/firmware/fdt or a file.
  public let source: String
  /// The tree with room to grow; `blob` is the packed result.
  private var buffer: [UInt8]

  /// Opens `blob` with `room` bytes to spare for new properties.
  ///
  /// Throws `deviceTree` when the blob is not a device tree libfdt accepts.
  public init(_ blob: [UInt8], source: String, room: Int = 0x10000) throws(HandoffError) {
    self.source = source
    guard blob.count >= 40 else {
      throw .truncated(path: source, field: "FDT header", offset: 0, fileSize: blob.count)
    }
    let checked = blob.withUnsafeBytes { fdt_check_header($0.baseAddress) }
    guard checked == 0 else { throw Self.failure(source, "reading the header", checked) }
    let total = Int(blob.withUnsafeBytes { handoff_fdt_totalsize($0.baseAddress) })
    guard total <= blob.count else {
      throw .invalidField(
        path: source, field: "FDT totalsize", offset: 4, value: UInt64(total),
        expected: "at most the blob's \(blob.count) bytes")
    }
    // the whole structure, before any edit walks it: a tree from a file is
    // outside input
    guard blob.withUnsafeBytes({ Self.namesResolve($0.baseAddress) }) else {
      throw .deviceTree(
        source: source, operation: "checking the structure",
        reason: "a node's or a property's name cannot be read")
    }
    let structure = blob.withUnsafeBytes { fdt_check_full($0.baseAddress, total) }
    guard structure == 0 else { throw Self.failure(source, "checking the structure", structure) }
    buffer = [UInt8](repeating: 0, count: total + room)
    let size = Int32(buffer.count)
    let opened = blob.withUnsafeBytes { tree in
      buffer.withUnsafeMutableBytes { fdt_open_into(tree.baseAddress, $0.baseAddress, size) }
    }
    guard opened == 0 else { throw Self.failure(source, "opening the tree", opened) }
  }

  /// The packed blob, its totalsize exactly.
  public var blob: [UInt8] {
    var packed = buffer
    let total = packed.withUnsafeMutableBytes { bytes -> Int in
      _ = fdt_pack(bytes.baseAddress)
      return Int(handoff_fdt_totalsize(bytes.baseAddress))
    }
    return Array(packed[..<total])
  }

  /// The value of `name` in the node at `path`, or nil when either is absent.
  public func property(_ path: String, _ name: String) -> [UInt8]? {
    buffer.withUnsafeBytes { tree -> [UInt8]? in
      let node = Self.withCString(path) { fdt_path_offset(tree.baseAddress, $0) }
      guard node >= 0 else { return nil }
      var length: Int32 = 0
      let value = Self.withCString(name) { fdt_getprop(tree.baseAddress, node, $0, &length) }
      guard let value, length >= 0 else { return nil }
      return Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
    }
  }

  /// A string property without its terminating NUL.
  public func stringProperty(_ path: String, _ name: String) -> String? {
    guard var value = property(path, name) else { return nil }
    if value.last == 0 { value.removeLast() }
    return String(decoding: value, as: UTF8.self)
  }

  /// Sets `name` in the node at `path` to `value`, creating the node (one
  /// level below an existing one) when it is missing.
  public mutating func setProperty(_ path: String, _ name: String, _ value: [UInt8])
    throws(HandoffError)
  {
    let node = try nodeOffset(path, create: true)
    let length = Int32(value.count)
    let result = buffer.withUnsafeMutableBytes { tree in
      value.withUnsafeBytes { bytes in
        Self.withCString(name) { name in
          fdt_setprop(tree.baseAddress, node, name, bytes.baseAddress, length)
        }
      }
    }
    guard result == 0 else {
      throw Self.failure(source, "setting \(path) \(name)", result)
    }
  }

  /// Sets a string property, NUL-terminated as the tree keeps strings.
  public mutating func setString(_ path: String, _ name: String, _ value: String)
    throws(HandoffError)
  {
    try setProperty(path, name, Array(value.utf8) + [0])
  }

  /// Sets a property to one big-endian 64-bit cell pair.
  public mutating func setUInt64(_ path: String, _ name: String, _ value: UInt64)
    throws(HandoffError)
  {
    var bytes: [UInt8] = []
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
    try setProperty(path, name, bytes)
  }

  /// Sets a property to address and size pairs in the root node's
  /// #address-cells and #size-cells, as /chosen's `linux,elfcorehdr` and
  /// `linux,usable-memory-range` are read.
  ///
  /// Throws `deviceTree` when the root's cells are not 1 or 2 words, or
  /// a value does not fit in them.
  public mutating func setRanges(
    _ path: String, _ name: String, _ ranges: [(address: UInt64, size: UInt64)]
  ) throws(HandoffError) {
    let (addressCells, sizeCells) = buffer.withUnsafeBytes {
      (Int(fdt_address_cells($0.baseAddress, 0)), Int(fdt_size_cells($0.baseAddress, 0)))
    }
    guard (1...2).contains(addressCells), (1...2).contains(sizeCells) else {
      throw .deviceTree(
        source: source, operation: "setting \(path) \(name)",
        reason: "the root's #address-cells \(addressCells) or #size-cells \(sizeCells) is "
          + "not 1 or 2")
    }
    var bytes: [UInt8] = []
    for range in ranges {
      for (value, cells) in [(range.address, addressCells), (range.size, sizeCells)] {
        guard cells == 2 || value <= UInt64(UInt32.max) else {
          throw .deviceTree(
            source: source, operation: "setting \(path) \(name)",
            reason: "\(hex(value)) does not fit in one cell")
        }
        for shift in stride(from: cells * 32 - 8, through: 0, by: -8) {
          bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
      }
    }
    try setProperty(path, name, bytes)
  }

  /// Deletes `name` from the node at `path`; true when it was there.
  @discardableResult
  public mutating func deleteProperty(_ path: String, _ name: String) -> Bool {
    buffer.withUnsafeMutableBytes { tree in
      let node = Self.withCString(path) { fdt_path_offset(tree.baseAddress, $0) }
      guard node >= 0 else { return false }
      return Self.withCString(name) { fdt_delprop(tree.baseAddress, node, $0) } == 0
    }
  }

  /// The /memreserve/ entries, in order.
  public var memoryReservations: [(address: UInt64, size: UInt64)] {
    buffer.withUnsafeBytes { tree in
      var entries: [(address: UInt64, size: UInt64)] = []
      let count = fdt_num_mem_rsv(tree.baseAddress)
      var index: Int32 = 0
      while index < count {
        var address: UInt64 = 0
        var size: UInt64 = 0
        if fdt_get_mem_rsv(tree.baseAddress, index, &address, &size) == 0 {
          entries.append((address, size))
        }
        index += 1
      }
      return entries
    }
  }

  /// The `reg` ranges of the nodes under /reserved-memory, read with the
  /// #address-cells and #size-cells it declares; empty without such a node,
  /// nil when its cells are not 1 or 2 words and so cannot be read.
  /// Nodes with only a `size` were placed by the running kernel and have no
  /// range here.
  public var reservedMemory: [(address: UInt64, size: UInt64)]? {
    buffer.withUnsafeBytes { tree -> [(address: UInt64, size: UInt64)]? in
      let parent = Self.withCString("/reserved-memory") { fdt_path_offset(tree.baseAddress, $0) }
      guard parent >= 0 else { return [] }
      let addressCells = Int(fdt_address_cells(tree.baseAddress, parent))
      let sizeCells = Int(fdt_size_cells(tree.baseAddress, parent))
      guard (1...2).contains(addressCells), (1...2).contains(sizeCells) else { return nil }
      let entrySize = (addressCells + sizeCells) * 4
      var ranges: [(address: UInt64, size: UInt64)] = []
      var node = fdt_first_subnode(tree.baseAddress, parent)
      while node >= 0 {
        var length: Int32 = 0
        if let reg = Self.withCString("reg", { fdt_getprop(tree.baseAddress, node, $0, &length) }),
          length > 0
        {
          let raw = UnsafeRawBufferPointer(start: reg, count: Int(length))
          var offset = 0
          while offset + entrySize <= raw.count {
            let address = Self.cells(raw, at: offset, count: addressCells)
            let size = Self.cells(raw, at: offset + addressCells * 4, count: sizeCells)
            ranges.append((address, size))
            offset += entrySize
          }
        }
        node = fdt_next_subnode(tree.baseAddress, node)
      }
      return ranges
    }
  }

  /// A big-endian number of `count` 32-bit cells at `offset`.
  private static func cells(_ raw: UnsafeRawBufferPointer, at offset: Int, count: Int) -> UInt64 {
    var value: UInt64 = 0
    for byte in raw[offset..<offset + count * 4] { value = value << 8 | UInt64(byte) }
    return value
  }

  /// Removes the /memreserve/ entry for exactly `[address, address + size)`;
  /// true when there was one.
  @discardableResult
  public mutating func deleteReservation(address: UInt64, size: UInt64) -> Bool {
    guard
      let index = memoryReservations.firstIndex(where: { $0.address == address && $0.size == size }
      )
    else { return false }
    let position = Int32(index)
    return buffer.withUnsafeMutableBytes { fdt_del_mem_rsv($0.baseAddress, position) } == 0
  }

  /// The register address of the node at `path` (or alias): the first
  /// entry of its `reg`, in its parent's #address-cells.
  public func registerAddress(_ path: String) -> UInt64? {
    buffer.withUnsafeBytes { tree -> UInt64? in
      let node = Self.withCString(path) { fdt_path_offset(tree.baseAddress, $0) }
      guard node >= 0 else { return nil }
      let parent = fdt_parent_offset(tree.baseAddress, node)
      guard parent >= 0 else { return nil }
      let cells = Int(fdt_address_cells(tree.baseAddress, parent))
      guard cells >= 1, cells <= 2 else { return nil }
      var length: Int32 = 0
      guard let reg = fdt_getprop(tree.baseAddress, node, "reg", &length),
        Int(length) >= cells * 4
      else { return nil }
      let raw = UnsafeRawBufferPointer(start: reg, count: cells * 4)
      var address: UInt64 = 0
      for byte in raw { address = address << 8 | UInt64(byte) }
      return address
    }
  }

  /// Whether the node at `path` lists `compatible` among its compatibles.
  public func isCompatible(_ path: String, _ compatible: String) -> Bool {
    guard let list = property(path, "compatible") else { return false }
    return list.split(separator: 0).contains { $0.elementsEqual(compatible.utf8) }
  }

  /// The offset of the node at `path`; with `create`, a missing last
  /// component is added under its parent.
  private mutating func nodeOffset(_ path: String, create: Bool) throws(HandoffError) -> Int32 {
    let found = buffer.withUnsafeBytes { tree in
      Self.withCString(path) { fdt_path_offset(tree.baseAddress, $0) }
    }
    if found >= 0 || !create { return try check(found, "finding \(path)") }
    let components = path.split(separator: "/")
    guard let last = components.last else { return try check(found, "finding \(path)") }
    var parentPath = ""
    for component in components.dropLast() { parentPath += "/" + component }
    let parent = try nodeOffset(parentPath.isEmpty ? "/" : parentPath, create: false)
    let name = String(last)
    let added = buffer.withUnsafeMutableBytes { tree in
      Self.withCString(name) { fdt_add_subnode(tree.baseAddress, parent, $0) }
    }
    return try check(added, "adding \(path)")
  }

  /// Whether every node's name and every property's name can be read.
  /// libfdt before 1.7 (bookworm's 1.6.1) does not check either inside
  /// fdt_check_full, which reads through them; this walk, tag by tag as
  /// fdt_check_full goes, with libfdt's bounds-checked fdt_next_tag,
  /// refuses such a tree first. What it does not judge it leaves to
  /// fdt_check_full.
  private static func namesResolve(_ tree: UnsafeRawPointer?) -> Bool {
    var next: Int32 = 0
    while true {
      let offset = next
      let tag = fdt_next_tag(tree, offset, &next)
      guard next >= 0 else { return true }
      var length: Int32 = 0
      switch Int32(bitPattern: tag) {
      case FDT_BEGIN_NODE:
        guard fdt_get_name(tree, offset, &length) != nil else { return false }
      case FDT_PROP:
        var name: UnsafePointer<CChar>? = nil
        guard fdt_getprop_by_offset(tree, offset, &name, &length) != nil, name != nil else {
          return false
        }
      case FDT_END_NODE, FDT_NOP:
        continue
      default:
        return true
      }
    }
  }

  private func check(_ result: Int32, _ operation: String) throws(HandoffError) -> Int32 {
    guard result >= 0 else { throw Self.failure(source, operation, result) }
    return result
  }

  private static func failure(_ source: String, _ operation: String, _ code: Int32)
    -> HandoffError
  {
    let reason = fdt_strerror(code).map { String(cString: $0) } ?? "libfdt error \(code)"
    return .deviceTree(source: source, operation: operation, reason: reason)
  }

  private static func withCString<Result>(
    _ text: String, _ body: (UnsafePointer<CChar>) -> Result
  ) -> Result {
    let bytes = Array(text.utf8CString)
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
