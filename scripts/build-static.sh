#!/usr/bin/env bash
# Builds the handoff CLI as a small static Linux binary: the same sources as
# the SwiftPM build, compiled with Embedded Swift and linked against Debian's
# musl. The result is dist/handoff-ARCH, stripped.
#
# usage: scripts/build-static.sh [ARCH]     (ARCH: x86_64; default x86_64)
#
# SWIFT_TOOLCHAIN overrides the toolchain's usr directory (default: the one
# holding the swiftc on PATH, else /opt/swift/usr).
set -euo pipefail

die() {
  echo "build-static: $*" >&2
  exit 1
}

arch=${1:-x86_64}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# the target, per architecture: Swift's triple for the embedded standard
# library, clang's triple for the link, and where Debian puts musl
case $arch in
  x86_64)
    swift_target=x86_64-unknown-none-elf
    clang_target=x86_64-linux-musl
    musl_package=musl-dev
    ;;
  *)
    # aarch64 and riscv64 are not wired up yet: they need musl-dev for that
    # architecture (musl-dev:arm64, musl-dev:riscv64) and a runner to test on.
    die "unsupported architecture '$arch' (supported: x86_64)"
    ;;
esac
musl_include=/usr/include/$clang_target
musl_lib=/usr/lib/$clang_target

# the toolchain
if [[ -n ${SWIFT_TOOLCHAIN:-} ]]; then
  toolchain=$SWIFT_TOOLCHAIN
elif command -v swiftc >/dev/null; then
  toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
else
  toolchain=/opt/swift/usr
fi
swiftc=$toolchain/bin/swiftc
clang=$toolchain/bin/clang
objcopy=$toolchain/bin/llvm-objcopy
for tool in "$swiftc" "$clang" "$objcopy" "$toolchain/bin/ld.lld"; do
  [[ -x $tool ]] || die "$tool not found; set SWIFT_TOOLCHAIN to a Swift 6.3 toolchain's usr directory"
done
embedded_lib=$toolchain/lib/swift/embedded/$swift_target
[[ -d $embedded_lib ]] || die "the toolchain has no embedded standard library for $swift_target ($embedded_lib)"
clang_include=$("$clang" -print-resource-dir)/include

# musl, from Debian's package
for file in "$musl_include/stdlib.h" "$musl_lib/crt1.o" "$musl_lib/crti.o" \
  "$musl_lib/crtn.o" "$musl_lib/libc.a"; do
  [[ -e $file ]] || die "musl is missing ($file): install the Debian package $musl_package (make setup does)"
done

build=$root/.build/static/$arch
modules=$build/modules
rm -rf "$build"
mkdir -p "$modules" "$build/shims" "$root/dist"

# the C shims become a clang module over the checked-in header
cat >"$build/shims/module.modulemap" <<EOF
module CHandoffShims {
  header "$root/Sources/CHandoffShims/include/CHandoffShims.h"
  export *
}
EOF

# the C side of the runtime that musl lacks: the embedded standard library
# seeds its hashing (Dictionary, Set) with arc4random_buf, which musl does not
# have; getrandom(2) gives the same
cat >"$build/support.c" <<'EOF'
#include <stddef.h>
#include <sys/random.h>

void arc4random_buf(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got <= 0) continue;
    p += got;
    n -= (size_t)got;
  }
}
EOF

c_flags=(
  -Xcc -nostdinc
  -Xcc -isystem -Xcc "$musl_include"
  -Xcc -isystem -Xcc "$clang_include"
  -Xcc -fmodule-map-file="$build/shims/module.modulemap"
)
swift_flags=(
  -enable-experimental-feature Embedded
  -target "$swift_target"
  -Osize -wmo
  -Xfrontend -function-sections
  -lto=llvm-full
  -I "$modules"
  "${c_flags[@]}"
)

# one object per module, in dependency order; each writes its .swiftmodule
# for the modules after it
compile() {
  local module=$1 dir=$2
  shift 2
  local sources=()
  while IFS= read -r -d '' file; do sources+=("$file"); done \
    < <(find "$root/Sources/$dir" -name '*.swift' -print0 | sort -z)
  ((${#sources[@]} > 0)) || die "no Swift sources in Sources/$dir"
  echo "build-static: compiling $module (${#sources[@]} files)"
  "$swiftc" "${swift_flags[@]}" "$@" -module-name "$module" \
    -emit-module -emit-module-path "$modules/$module.swiftmodule" \
    -c "${sources[@]}" -o "$build/$module.o"
}
compile HandoffCore HandoffCore -parse-as-library
compile HandoffLinux HandoffLinux -parse-as-library
compile HandoffCLI HandoffCLI -parse-as-library

# main.swift is top-level code for SwiftPM; here it exports the C main
# itself, so the entry Swift generates for the top-level code is renamed out
# of the way (unused, it falls to --gc-sections)
compile handoff handoff \
  -Xfrontend -entry-point-function-name -Xfrontend handoff_unused_entry

"$clang" --target="$clang_target" -Os -ffunction-sections -fdata-sections \
  -nostdinc -isystem "$musl_include" -isystem "$clang_include" \
  -c "$build/support.c" -o "$build/support.o"

# link: musl's startup files around the objects, libc last; the Unicode
# tables are an archive, so only the parts String really uses come along
echo "build-static: linking"
"$clang" --target="$clang_target" -nostdlib -static -fuse-ld=lld \
  -flto -Wl,--gc-sections -Wl,--icf=all \
  "$musl_lib/crt1.o" "$musl_lib/crti.o" \
  "$build"/HandoffCore.o "$build"/HandoffLinux.o "$build"/HandoffCLI.o \
  "$build"/handoff.o "$build"/support.o \
  "$embedded_lib/libswiftUnicodeDataTables.a" \
  "$musl_lib/libc.a" "$musl_lib/crtn.o" \
  -o "$build/handoff"

out=$root/dist/handoff-$arch
"$objcopy" --strip-all "$build/handoff" "$out"
size=$(wc -c <"$out")
echo "build-static: $out: $size bytes"
