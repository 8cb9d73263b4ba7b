// gzip through zlib: Image.gz and gzip zboot payloads.
import CHandoffCompression

extension Unpacked {
  /// Unpacks the gzip member that starts `input`, stopping at its end.
  ///
  /// Throws `corruptCompressedData` when zlib refuses the data or the input
  /// ends inside the member, and `unpackedTooLarge` past `limit` bytes.
  /// The corresponding zlib calls are `inflateInit2` and `inflate`.
  static func gunzip(
    path: String, _ input: ArraySlice<UInt8>, limit: Int
  ) throws(HandoffError) -> Unpacked {
    var stream = z_stream()
    guard handoff_inflate_init_gzip(&stream) == Z_OK else {
      throw .corruptCompressedData(
        path: path, compression: "gzip", offset: input.startIndex,
        reason: "zlib cannot start: out of memory")
    }
    defer { inflateEnd(&stream) }

    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    var status = Z_OK
    var fedUpTo = 0
    input.withUnsafeBufferPointer { whole in
      let base = UnsafeMutablePointer(mutating: whole.baseAddress)
      while status == Z_OK, output.count <= limit {
        // zlib counts input in 32 bits, so large files go in pieces
        if stream.avail_in == 0, fedUpTo < whole.count {
          let piece = min(whole.count - fedUpTo, 1 << 30)
          stream.next_in = base.map { $0 + fedUpTo }
          stream.avail_in = UInt32(piece)
          fedUpTo += piece
        }
        var produced = 0
        chunk.withUnsafeMutableBufferPointer { out in
          stream.next_out = out.baseAddress
          stream.avail_out = UInt32(out.count)
          status = inflate(&stream, Z_NO_FLUSH)
          produced = out.count - Int(stream.avail_out)
        }
        output.append(contentsOf: chunk[0..<produced])
      }
    }

    let consumed = fedUpTo - Int(stream.avail_in)
    let offset = input.startIndex + consumed
    if output.count > limit {
      throw .unpackedTooLarge(
        path: path, compression: "gzip", offset: input.startIndex, limit: limit)
    }
    switch status {
    case Z_STREAM_END:
      return Unpacked(bytes: output, consumed: consumed)
    case Z_BUF_ERROR:
      throw .corruptCompressedData(
        path: path, compression: "gzip", offset: offset,
        reason: "the data ends inside the gzip member")
    case Z_MEM_ERROR:
      throw .corruptCompressedData(
        path: path, compression: "gzip", offset: offset, reason: "zlib ran out of memory")
    default:
      let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
      throw .corruptCompressedData(
        path: path, compression: "gzip", offset: offset, reason: message)
    }
  }
}
