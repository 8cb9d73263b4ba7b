// Debian's zlib (zlib1g-dev) and zstd (libzstd-dev), for the kernel image
// readers: arm64 and riscv64 Image.gz, EFI zboot payloads and bzImage
// payloads are gzip or zstd streams. zlib's init calls are macros, which
// Swift cannot call, so they get `static inline` wrappers here; the same
// header serves the SwiftPM build (glibc) and the static build (musl).
#ifndef CHANDOFF_COMPRESSION_H
#define CHANDOFF_COMPRESSION_H

#include <zlib.h>
#include <zstd.h>

/// `inflateInit2` for a gzip member: window bits 15, plus 16 to read the
/// gzip wrapper (and refuse a bare zlib or deflate stream).
static inline int handoff_inflate_init_gzip(z_stream *stream) {
  return inflateInit2(stream, 16 + MAX_WBITS);
}

#endif
