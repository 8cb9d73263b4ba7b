/// Everything that can go wrong in Handoff, each case carrying what a user
/// needs to see: the file, the field, the offset and the value.
public enum HandoffError: Error, Equatable {
  /// A system call failed.
  case systemCall(SystemCallFailure)
  /// A file could not be opened or read.
  case unreadable(path: String, failure: SystemCallFailure)
  /// A path names something other than a regular file.
  case notARegularFile(path: String, kind: String)
  /// A file holds no bytes at all.
  case emptyFile(path: String)
  /// A file ends before a field it must hold.
  case truncated(path: String, field: String, offset: Int, fileSize: Int)
  /// A field holds a value that rules the file out.
  case invalidField(path: String, field: String, offset: Int, value: UInt64, expected: String)
  /// The file is a kernel of a kind this loader cannot boot, and why.
  case unsupportedImage(path: String, reason: String)
  /// Compressed data the library refuses, at the offset where it gave up.
  case corruptCompressedData(path: String, compression: String, offset: Int, reason: String)
  /// Compressed data, starting at `offset`, that unpacks to more than `limit` bytes.
  case unpackedTooLarge(path: String, compression: String, offset: Int, limit: Int)
  /// A command line does not fit where the kernel reads it.
  case commandLineTooLong(length: Int, limit: Int, path: String)
  /// A memory map (/proc/iomem, /sys/firmware/memmap or a copy) cannot be read.
  case unsupportedMemoryMap(source: String, reason: String)
  /// No free RAM fits a segment.
  case placementFailed(segment: String, size: UInt64, constraint: String, free: String)
  /// The RAM to scrub falls into more ranges than the purgatory takes.
  case scrubTooFragmented(ranges: Int, limit: Int)
  /// A scrub was asked for where Handoff's own purgatory cannot run.
  case scrubUnavailable(reason: String)
  /// libfdt refused a device tree or an edit of one.
  case deviceTree(source: String, operation: String, reason: String)
  /// `exec` was asked for with no kernel loaded.
  case nothingLoaded
  /// A crash kernel cannot be loaded, and why.
  case crashKernelUnavailable(reason: String)
  /// `exec` cannot tell whether a kernel is loaded, so it does nothing.
  case loadStateUnknown(path: String)
  /// The command line of the tool itself was wrong.
  case usage(String)
  /// `--strict` found a device to quiesce that nothing can reset;
  /// nothing was unbound.
  case deviceNotResettable(device: String)
  /// `--strict`, and a device refused to be unbound or reset; the drivers
  /// unbound before it stay unbound.
  case quiesceRefused(device: String, failure: SystemCallFailure)
}

extension HandoffError: CustomStringConvertible {
  /// One line that says what went wrong, for a person to read.
  public var description: String {
    switch self {
    case .systemCall(let failure):
      return failure.description
    case .unreadable(let path, let failure):
      return "\(path): cannot read: \(failure.description)"
    case .notARegularFile(let path, let kind):
      return "\(path): not a regular file (\(kind))"
    case .emptyFile(let path):
      return "\(path): file is empty"
    case .truncated(let path, let field, let offset, let fileSize):
      return "\(path): truncated: \(field) at offset \(hex(offset)) lies past the end "
        + "of the file (\(fileSize) bytes)"
    case .invalidField(let path, let field, let offset, let value, let expected):
      return "\(path): \(field) at offset \(hex(offset)) is \(hex(value)), expected \(expected)"
    case .unsupportedImage(let path, let reason):
      return "\(path): cannot be booted: \(reason)"
    case .corruptCompressedData(let path, let compression, let offset, let reason):
      return "\(path): corrupt \(compression) data at offset \(hex(offset)): \(reason)"
    case .unpackedTooLarge(let path, let compression, let offset, let limit):
      return "\(path): the \(compression) data at offset \(hex(offset)) unpacks to more "
        + "than \(limit) bytes, the most Handoff unpacks"
    case .commandLineTooLong(let length, let limit, let path):
      return "command line of \(length) bytes does not fit: \(path) has cmdline_size "
        + "\(limit), which holds at most \(limit - 1) bytes and the NUL"
    case .unsupportedMemoryMap(let source, let reason):
      return "\(source): not a memory map Handoff can read: \(reason)"
    case .placementFailed(let segment, let size, let constraint, let free):
      return "no room for the \(segment) segment (\(size) bytes, \(constraint)); free RAM: \(free)"
    case .scrubTooFragmented(let ranges, let limit):
      return "cannot scrub: the free RAM falls into \(ranges) ranges once the segments, EFI "
        + "runtime regions and reservations are cut out, more than the \(limit) the purgatory takes"
    case .scrubUnavailable(let reason):
      return "cannot scrub: \(reason)"
    case .deviceTree(let source, let operation, let reason):
      return "\(source): device tree: \(operation): \(reason)"
    case .nothingLoaded:
      return "no kernel is loaded; load one first"
    case .crashKernelUnavailable(let reason):
      return "cannot load a crash kernel: \(reason); nothing was loaded"
    case .loadStateUnknown(let path):
      return "cannot tell whether a kernel is loaded: \(path) cannot be read (is sysfs "
        + "mounted on /sys?); not booting"
    case .usage(let message):
      return message
    case .deviceNotResettable(let device):
      return "\(device) has no reset method, and --strict wants every device reset; "
        + "nothing was unbound, not booting"
    case .quiesceRefused(let device, let failure):
      return "\(device) refused: \(failure.description); --strict stops here, not booting"
    }
  }
}
