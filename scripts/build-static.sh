#!/usr/bin/env bash
# Builds the handoff CLI as a small static Linux binary, from the same sources
# as the SwiftPM build: Embedded Swift, linked against Debian's musl, stripped,
# into dist/handoff-ARCH. Intermediate files go to .build/static/ARCH.
#
# usage: scripts/build-static.sh [ARCH...]    ARCH: x86_64 (the default),
#                                             aarch64, riscv64
#
# x86_64 links against this machine's musl-dev (and zlib1g-dev, libzstd-dev
# and libfdt-dev); aarch64 and riscv64 against the same Debian packages of their
# architecture, which `make setup` unpacks into the lab cache. SWIFT_TOOLCHAIN
# names the toolchain's usr directory when the swiftc on PATH is not the one
# to use.
set -euo pipefail

die() {
  echo "build-static: $*" >&2
  exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# several architectures: each in turn, then their sizes side by side
if (($# > 1)); then
  for arch in "$@"; do
    bash "${BASH_SOURCE[0]}" "$arch"
  done
  echo "build-static: sizes, stripped:"
  for arch in "$@"; do
    size=$(wc -c <"$root/dist/handoff-$arch")
    printf '  dist/handoff-%-8s %8d bytes %5d KiB\n' "$arch" "$size" $(((size + 512) / 1024))
  done
  exit 0
fi
arch=${1:-x86_64}
cache=${HANDOFF_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-lab}

# the target: Swift's triple for the embedded standard library, and the root
# that Debian's packages for it are unpacked under: / for this machine's own
# architecture, a directory of the lab cache for the others
arch_swift_flags=()
arch_link_flags=()
case $arch in
  x86_64)
    swift_target=x86_64-unknown-none-elf
    sysroot=
    missing_hint="install the Debian packages musl-dev, zlib1g-dev, libzstd-dev and libfdt-dev (make setup does)"
    ;;
  aarch64)
    swift_target=aarch64-none-none-elf
    sysroot=$cache/static/aarch64
    ;;
  riscv64)
    swift_target=riscv64-none-none-eabi
    sysroot=$cache/static/riscv64
    # Debian's riscv64 is rv64gc with doubles passed in FP registers (lp64d),
    # more than the embedded target assumes: the Swift code learns it through
    # clang, and the code LTO generates at the link through -mattr
    arch_swift_flags=(-Xcc -march=rv64gc -Xcc -mabi=lp64d)
    arch_link_flags=(-Xlinker -mllvm -Xlinker -mattr=+m,+a,+f,+d,+c)
    ;;
  *)
    die "unsupported architecture '$arch' (supported: x86_64, aarch64, riscv64)"
    ;;
esac
if [[ -n $sysroot ]]; then
  missing_hint="run 'make setup', which unpacks Debian's musl-dev, zlib1g-dev, libzstd-dev and libfdt-dev for $arch into $sysroot"
fi
# clang's triple for the link, which is also where Debian keeps musl's files;
# zlib and zstd are built against glibc and sit with its libraries
clang_target=$arch-linux-musl
musl_include=$sysroot/usr/include/$clang_target
musl_lib=$sysroot/usr/lib/$clang_target
gnu_include=$sysroot/usr/include
gnu_lib=$sysroot/usr/lib/$arch-linux-gnu

# the toolchain
source "$root/scripts/toolchain.sh"
swiftc=$toolchain/bin/swiftc
clang=$toolchain/bin/clang
objcopy=$toolchain/bin/llvm-objcopy
objdump=$toolchain/bin/llvm-objdump
ar=$toolchain/bin/llvm-ar
nm=$toolchain/bin/llvm-nm
for tool in "$swiftc" "$clang" "$objcopy" "$objdump" "$ar" "$nm" "$toolchain/bin/ld.lld"; do
  [[ -x $tool ]] || die "$tool not found; set SWIFT_TOOLCHAIN to a Swift 6.3 toolchain's usr directory"
done
embedded_lib=$toolchain/lib/swift/embedded/$swift_target
[[ -d $embedded_lib ]] ||
  die "the toolchain has no embedded standard library for $swift_target ($embedded_lib)"
clang_include=$("$clang" -print-resource-dir)/include

# the C modules Swift imports: the system call shims, zlib and zstd for
# compressed images, libfdt for device trees
c_modules=(CHandoffShims CHandoffCompression CHandoffFDT)

# musl, zlib, zstd and libfdt
needed=("$musl_include/stdlib.h" "$musl_lib/crt1.o" "$musl_lib/crti.o" "$musl_lib/libc.a"
  "$musl_lib/crtn.o" "$gnu_lib/libz.a" "$gnu_lib/libzstd.a" "$gnu_lib/libfdt.a")
library_headers=(zlib.h zconf.h zstd.h zstd_errors.h libfdt.h libfdt_env.h fdt.h)
for header in "${library_headers[@]}"; do needed+=("$gnu_include/$header"); done
for file in "${needed[@]}"; do
  [[ -e $file ]] || die "$file is missing: $missing_hint"
done

build=$root/.build/static/$arch
modules=$build/modules
include=$build/include
rm -rf "$build"
mkdir -p "$modules" "$include" "$root/dist"

# a clang module over each C module's checked-in header, read with musl's
# headers instead of the host's
for module in "${c_modules[@]}"; do
  cat >>"$build/module.modulemap" <<EOF
module $module {
  header "$root/Sources/$module/include/$module.h"
  export *
}
EOF
done

# zlib's, zstd's and libfdt's headers alone, since the rest of their
# include directory is glibc's (for x86_64, the machine's own)
for header in "${library_headers[@]}"; do
  cp "$gnu_include/$header" "$include/"
done

# what the embedded runtime needs and musl lacks: arc4random_buf, which seeds
# the hashing of Dictionary and Set. The seed needs no cryptographic strength,
# so it never waits for the kernel's pool, which early in boot may not be
# ready; without getrandom(2) it stretches the 16 bytes the kernel hands every
# process at exec.
cat >"$build/runtime-support.c" <<'EOF'
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <time.h>

void arc4random_buf(void *buffer, size_t count) {
  unsigned char *bytes = buffer;
  while (count > 0) {
    ssize_t got = getrandom(bytes, count, GRND_NONBLOCK);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    bytes += got;
    count -= (size_t)got;
  }
  if (count == 0) return;

  const unsigned char *seed = (const unsigned char *)getauxval(AT_RANDOM);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t state = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
  for (size_t i = 0; i < count; i++) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    bytes[i] = (unsigned char)(state >> 56) ^ (seed ? seed[i % 16] : 0);
  }
}
EOF

# what Debian's libz.a and libzstd.a, built by GCC against glibc, may call and
# musl's libc.a lacks: glibc's checked printf family (from _FORTIFY_SOURCE;
# zlib's gz* functions and zstd's debug output use it, the decoders do not),
# lseek64, which musl dropped in 1.2.4, and on riscv64 the bit-counting and
# byte-swapping helpers GCC takes from libgcc, which this build does not
# link. Each is weak, so a real definition wins. On aarch64 and riscv64
# musl's printf itself needs libgcc's quad-precision arithmetic, so zlib's
# gz* functions do not link there.
cat >"$build/compression-support.c" <<'EOF'
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define WEAK __attribute__((weak))

WEAK int __vsnprintf_chk(char *s, size_t n, int flag, size_t size, const char *format,
                         va_list arguments) {
  (void)flag;
  if (n > size) abort();
  return vsnprintf(s, n, format, arguments);
}

WEAK int __snprintf_chk(char *s, size_t n, int flag, size_t size, const char *format, ...) {
  va_list arguments;
  va_start(arguments, format);
  int written = __vsnprintf_chk(s, n, flag, size, format, arguments);
  va_end(arguments);
  return written;
}

WEAK int __fprintf_chk(FILE *file, int flag, const char *format, ...) {
  (void)flag;
  va_list arguments;
  va_start(arguments, format);
  int written = vfprintf(file, format, arguments);
  va_end(arguments);
  return written;
}

WEAK off_t lseek64(int fd, off_t offset, int whence) { return lseek(fd, offset, whence); }

#if defined(__riscv)
WEAK int __clzdi2(uint64_t x) { return __builtin_clzll(x); }
WEAK int __ctzdi2(uint64_t x) { return __builtin_ctzll(x); }
WEAK uint32_t __bswapsi2(uint32_t x) { return __builtin_bswap32(x); }
WEAK uint64_t __bswapdi2(uint64_t x) { return __builtin_bswap64(x); }
#endif
EOF

swift_flags=(
  -enable-experimental-feature Embedded
  -target "$swift_target"
  -Osize -wmo
  -Xfrontend -function-sections
  -lto=llvm-full
  -I "$modules"
  -Xcc -nostdinc
  -Xcc -isystem -Xcc "$musl_include"
  -Xcc -isystem -Xcc "$clang_include"
  -Xcc -isystem -Xcc "$include"
  -Xcc -fmodule-map-file="$build/module.modulemap"
  "${arch_swift_flags[@]}"
)

# one object per module, in dependency order, each leaving its .swiftmodule
# for the modules that import it
compile() {
  local module=$1
  shift
  local sources=()
  while IFS= read -r -d '' file; do sources+=("$file"); done \
    < <(find "$root/Sources/$module" -name '*.swift' -print0 | sort -z)
  ((${#sources[@]} > 0)) || die "no Swift sources in Sources/$module"
  echo "build-static: compiling $module (${#sources[@]} files)"
  "$swiftc" "${swift_flags[@]}" "$@" -module-name "$module" \
    -emit-module -emit-module-path "$modules/$module.swiftmodule" \
    -c "${sources[@]}" -o "$build/$module.o"
}
compile HandoffCore -parse-as-library
compile HandoffLinux -parse-as-library
compile HandoffCLI -parse-as-library

# main.swift is top-level code, as SwiftPM wants it, and in Embedded Swift it
# also defines the C `main`; the function Swift makes of the (empty) top-level
# code is renamed out of the way, and --gc-sections drops it
compile handoff \
  -Xfrontend -entry-point-function-name -Xfrontend handoff_top_level_code

# the C: the support files above, and each C module's own sources
c_flags=(--target="$clang_target" -Os -ffunction-sections -fdata-sections
  -nostdinc -isystem "$musl_include" -isystem "$clang_include" -isystem "$include")
c_objects=()
c_compile() {
  local object=$build/$1.o
  shift
  "$clang" "${c_flags[@]}" "$@" -o "$object"
  c_objects+=("$object")
}
c_compile runtime-support -c "$build/runtime-support.c"
for module in "${c_modules[@]}"; do
  while IFS= read -r -d '' file; do
    c_compile "$module-$(basename "$file" .c)" -I "$root/Sources/$module/include" -c "$file"
  done < <(find "$root/Sources/$module" -name '*.c' -print0 | sort -z)
done
c_compile compression-support -c "$build/compression-support.c"
libraries=("$gnu_lib/libz.a" "$gnu_lib/libzstd.a" "$gnu_lib/libfdt.a")

# The embedded standard library's Unicode tables for riscv64 are marked
# soft-float (lp64), and lld refuses to link them with Debian's lp64d musl.
# Their functions take and return integers and pointers, which both ABIs pass
# alike, all but _swift_stdlib_getNumericValue, which returns a double (the
# program must not link it; checked below). So a copy of them is linked whose
# ELF headers say lp64d: e_flags 0x5 (RVC, double-float) for 0x1 (RVC,
# soft-float).
tables=$embedded_lib/libswiftUnicodeDataTables.a
if [[ $arch == riscv64 ]]; then
  mkdir -p "$build/unicode"
  (cd "$build/unicode" && "$ar" x "$tables")
  for object in "$build/unicode"/*.o; do
    flags=$(od -An -tx1 -j48 -N4 "$object" | tr -d ' \n')
    [[ $flags == 01000000 ]] ||
      die "$object: e_flags bytes $flags, expected 01000000 (RVC, soft-float)"
    printf '\005' | dd of="$object" bs=1 seek=48 conv=notrunc status=none
  done
  tables=$build/libswiftUnicodeDataTables.a
  "$ar" crs "$tables" "$build/unicode"/*.o
fi

# link: musl's startup files around everything, libc last. The Swift objects
# are LLVM bitcode, so this is where the whole program gets optimised. The
# Unicode tables, zlib and zstd are archives: only the parts the program
# calls come along.
echo "build-static: linking"
"$clang" --target="$clang_target" -nostdlib -static -fuse-ld=lld \
  -flto -Wl,--gc-sections "${arch_link_flags[@]}" \
  "$musl_lib/crt1.o" "$musl_lib/crti.o" \
  "$build/HandoffCore.o" "$build/HandoffLinux.o" "$build/HandoffCLI.o" \
  "$build/handoff.o" "${c_objects[@]}" \
  "$tables" "${libraries[@]}" \
  "$musl_lib/libc.a" "$musl_lib/crtn.o" \
  -o "$build/handoff"

"$nm" "$build/handoff" >"$build/symbols"
if [[ $arch == riscv64 ]] && grep -q _swift_stdlib_getNumericValue "$build/symbols"; then
  die "the program links _swift_stdlib_getNumericValue (Unicode.Scalar.Properties.numericValue), whose double the relabelled riscv64 Unicode tables return in the wrong register"
fi

# musl's static startup applies no relocations: a library function chosen at
# run time (an IFUNC, which leaves an IRELATIVE relocation) would crash
"$objdump" -h "$build/handoff" >"$build/sections"
if grep -q '\.rela\.' "$build/sections"; then
  die "the binary carries relocations ($(grep -o '\.rela\.[a-z.]*' "$build/sections" | tr '\n' ' ')), which musl's static startup does not apply; does a library use an IFUNC?"
fi

# Embedded Swift compiles an interpolation of a value that is neither a
# string, a number nor CustomStringConvertible, and prints this in its place
placeholder='(cannot print value in embedded Swift)'
if grep -qF "$placeholder" "$build/handoff"; then
  die "the binary would print \"$placeholder\": an interpolated value needs to be CustomStringConvertible (or use .rawValue)"
fi

out=$root/dist/handoff-$arch
"$objcopy" --strip-all "$build/handoff" "$out"
echo "build-static: dist/handoff-$arch: $(wc -c <"$out") bytes"
