// zstd through libzstd: bzImage payloads of Debian's newer kernels and
// zstd zboot payloads.
import CHandoffCompression

extension Unpacked {
  /// Unpacks the zstd frame that starts `input`, stopping at its end.
  ///
  /// Throws `corruptCompressedData` when libzstd refuses the data or the
  /// input ends inside the frame, and `unpackedTooLarge` past `limit`
  /// bytes. The corresponding libzstd call is `ZSTD_decompressStream`.
  static func unzstd(
    path: String, _ input: ArraySlice<UInt8>, limit: Int
  ) throws(HandoffError) -> Unpacked {
    guard let context = ZSTD_createDCtx() else {
      throw .corruptCompressedData(
        path: path, compression: "zstd", offset: input.startIndex,
        reason: "libzstd cannot start: out of memory")
    }
    defer { ZSTD_freeDCtx(context) }

    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    var result = 1
    var consumed = 0
    var ended = false
    input.withUnsafeBufferPointer { whole in
      var source = ZSTD_inBuffer(src: whole.baseAddress, size: whole.count, pos: 0)
      while output.count <= limit {
        var produced = 0
        var full = false
        chunk.withUnsafeMutableBufferPointer { out in
          var target = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
          result = ZSTD_decompressStream(context, &target, &source)
          produced = target.pos
          full = target.pos == target.size
        }
        output.append(contentsOf: chunk[0..<produced])
        consumed = source.pos
        // 0 is the end of the frame; an error, or input used up while
        // output room is left, ends it too
        if result == 0 || ZSTD_isError(result) != 0 { break }
        if source.pos == source.size, !full {
          ended = true
          break
        }
      }
    }

    let offset = input.startIndex + consumed
    if output.count > limit {
      throw .unpackedTooLarge(
        path: path, compression: "zstd", offset: input.startIndex, limit: limit)
    }
    if ZSTD_isError(result) != 0 {
      throw .corruptCompressedData(
        path: path, compression: "zstd", offset: offset,
        reason: String(cString: ZSTD_getErrorName(result)))
    }
    if ended {
      throw .corruptCompressedData(
        path: path, compression: "zstd", offset: offset,
        reason: "the data ends inside the zstd frame")
    }
    return Unpacked(bytes: output, consumed: consumed)
  }
}
