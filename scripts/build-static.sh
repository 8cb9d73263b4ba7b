#!/usr/bin/env bash
# Builds the handoff CLI as a small static Linux binary, from the same sources
# as the SwiftPM build: Embedded Swift, linked against Debian's musl, stripped,
# into dist/handoff-ARCH. Intermediate files go to .build/static/ARCH.
#
# usage: scripts/build-static.sh [ARCH]    ARCH: x86_64 (the default)
#
# SWIFT_TOOLCHAIN names the toolchain's usr directory when the swiftc on PATH
# is not the one to use.
set -euo pipefail

die() {
  echo "build-static: $*" >&2
  exit 1
}

arch=${1:-x86_64}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# the target: Swift's triple for the embedded standard library, clang's for
# the link (Debian keeps musl's files under that name too), and the package
case $arch in
  x86_64)
    swift_target=x86_64-unknown-none-elf
    clang_target=x86_64-linux-musl
    musl_package=musl-dev
    ;;
  *)
    # aarch64 (aarch64-none-none-elf, musl-dev:arm64) and riscv64
    # (riscv64-none-none-eabi, musl-dev:riscv64 from trixie) are not wired up
    # yet: each needs its case here and a way to run the result.
    die "unsupported architecture '$arch' (supported: x86_64)"
    ;;
esac
musl_include=/usr/include/$clang_target
musl_lib=/usr/lib/$clang_target

# the toolchain
source "$root/scripts/toolchain.sh"
swiftc=$toolchain/bin/swiftc
clang=$toolchain/bin/clang
objcopy=$toolchain/bin/llvm-objcopy
for tool in "$swiftc" "$clang" "$objcopy" "$toolchain/bin/ld.lld"; do
  [[ -x $tool ]] || die "$tool not found; set SWIFT_TOOLCHAIN to a Swift 6.3 toolchain's usr directory"
done
embedded_lib=$toolchain/lib/swift/embedded/$swift_target
[[ -d $embedded_lib ]] ||
  die "the toolchain has no embedded standard library for $swift_target ($embedded_lib)"
clang_include=$("$clang" -print-resource-dir)/include

# musl
for file in "$musl_include/stdlib.h" "$musl_lib/crt1.o" "$musl_lib/crti.o" \
  "$musl_lib/libc.a" "$musl_lib/crtn.o"; do
  [[ -e $file ]] ||
    die "musl is missing ($file): install the Debian package $musl_package (make setup does)"
done

build=$root/.build/static/$arch
modules=$build/modules
rm -rf "$build"
mkdir -p "$modules" "$root/dist"

# the C shims: a clang module over the checked-in header, read with musl's
# headers instead of the host's
cat >"$build/module.modulemap" <<EOF
module CHandoffShims {
  header "$root/Sources/CHandoffShims/include/CHandoffShims.h"
  export *
}
module CHandoffCompression {
  header "$root/Sources/CHandoffCompression/include/CHandoffCompression.h"
  export *
}
EOF

# zlib's and zstd's headers (zlib1g-dev, libzstd-dev) sit among glibc's in
# /usr/include, which -nostdinc leaves out, so those four get a directory
# of their own
mkdir -p "$build/include"
for header in zlib.h zconf.h zstd.h zstd_errors.h; do
  [[ -e /usr/include/$header ]] ||
    die "/usr/include/$header is missing: install zlib1g-dev and libzstd-dev (make setup does)"
  ln -sf "/usr/include/$header" "$build/include/$header"
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
  -Xcc -isystem -Xcc "$build/include"
  -Xcc -fmodule-map-file="$build/module.modulemap"
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

"$clang" --target="$clang_target" -Os -ffunction-sections -fdata-sections \
  -nostdinc -isystem "$musl_include" -isystem "$clang_include" \
  -c "$build/runtime-support.c" -o "$build/runtime-support.o"

# link: musl's startup files around everything, libc last. The objects are
# LLVM bitcode, so this is where the whole program gets optimised. The Unicode
# tables are an archive: only the tables String really uses come along. So
# are Debian's libz.a and libzstd.a, built for glibc: the members inflate and
# ZSTD_decompressStream pull in call nothing musl lacks.
echo "build-static: linking"
"$clang" --target="$clang_target" -nostdlib -static -fuse-ld=lld \
  -flto -Wl,--gc-sections \
  "$musl_lib/crt1.o" "$musl_lib/crti.o" \
  "$build/HandoffCore.o" "$build/HandoffLinux.o" "$build/HandoffCLI.o" \
  "$build/handoff.o" "$build/runtime-support.o" \
  "$embedded_lib/libswiftUnicodeDataTables.a" \
  /usr/lib/x86_64-linux-gnu/libz.a /usr/lib/x86_64-linux-gnu/libzstd.a \
  "$musl_lib/libc.a" "$musl_lib/crtn.o" \
  -o "$build/handoff"

# Embedded Swift compiles an interpolation of a value that is neither a
# string, a number nor CustomStringConvertible, and prints this in its place
placeholder='(cannot print value in embedded Swift)'
if grep -qF "$placeholder" "$build/handoff"; then
  die "the binary would print \"$placeholder\": an interpolated value needs to be CustomStringConvertible (or use .rawValue)"
fi

out=$root/dist/handoff-$arch
"$objcopy" --strip-all "$build/handoff" "$out"
echo "build-static: dist/handoff-$arch: $(wc -c <"$out") bytes"
