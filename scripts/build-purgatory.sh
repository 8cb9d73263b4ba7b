#!/usr/bin/env bash
# Builds Handoff's x86_64 purgatory (Purgatory/x86_64 and the XXH64 it shares
# with HandoffCore) into a flat binary, checks that it can run wherever the
# loader puts it, and writes it out as Swift for HandoffCore to embed.
#
# usage: scripts/build-purgatory.sh [BUILD_DIR [SWIFT_FILE]]
#   BUILD_DIR   intermediate files and purgatory.bin (.build/purgatory/x86_64)
#   SWIFT_FILE  the generated source
#               (Sources/HandoffCore/Purgatory/PurgatoryBlob+x86_64.swift)
#
# SWIFT_TOOLCHAIN names the toolchain's usr directory when the swiftc on PATH
# is not the one to use. The same toolchain gives the same bytes: the output
# holds no timestamps and no paths.
set -euo pipefail
trap 'echo "build-purgatory: failed at line $LINENO" >&2' ERR

die() {
  echo "build-purgatory: $*" >&2
  exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/.build/purgatory/x86_64}
swift_file=${2:-$root/Sources/HandoffCore/Purgatory/PurgatoryBlob+x86_64.swift}
source_dir=$root/Purgatory/x86_64

# the toolchain
source "$root/scripts/toolchain.sh"
swiftc=$toolchain/bin/swiftc
clang=$toolchain/bin/clang
lld=$toolchain/bin/ld.lld
nm=$toolchain/bin/llvm-nm
objcopy=$toolchain/bin/llvm-objcopy
objdump=$toolchain/bin/llvm-objdump
for tool in "$swiftc" "$clang" "$lld" "$nm" "$objcopy" "$objdump"; do
  [[ -x $tool ]] || die "$tool not found; set SWIFT_TOOLCHAIN to a Swift 6.3 toolchain's usr directory"
done
[[ -d $toolchain/lib/swift/embedded/x86_64-unknown-none-elf ]] ||
  die "the toolchain has no embedded standard library for x86_64-unknown-none-elf"

mkdir -p "$build"
rm -f "$build"/{purgatory.o,entry.o,purgatory.elf,purgatory.bin}

# Swift: Embedded, bare metal. swiftc emits position-independent code for
# this target (module flag "PIC Level" 2), so every address is RIP-relative;
# the link below proves it. No stack protector: there is no guard to read.
echo "build-purgatory: compiling"
"$swiftc" \
  -enable-experimental-feature Embedded -enable-experimental-feature Extern \
  -wmo -parse-as-library -target x86_64-unknown-none-elf -Osize \
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
  -module-name Purgatory \
  -c "$source_dir/Purgatory.swift" "$source_dir/Scrub.swift" \
  "$root/Sources/HandoffCore/Digest/XXH64.swift" \
  -o "$build/purgatory.o"
"$clang" --target=x86_64-unknown-none-elf -c "$source_dir/entry.S" -o "$build/entry.o"

# link as a position-independent executable at 0: lld refuses any absolute
# reference from code, and turns one from data into a dynamic relocation,
# which the section check below refuses. Unused runtime functions, and the
# undefined symbols they name, fall away with --gc-sections.
echo "build-purgatory: linking"
"$lld" -pie --no-dynamic-linker --gc-sections --build-id=none \
  -T "$source_dir/purgatory.ld" \
  "$build/entry.o" "$build/purgatory.o" -o "$build/purgatory.elf"

# only these sections, so nothing asks to be relocated or loaded apart
sections=$("$objdump" --section-headers "$build/purgatory.elf" |
  awk '$1 ~ /^[0-9]+$/ && NF >= 4 { print $2 }' | tr '\n' ' ')
[[ $sections == ".text .rodata .data .bss .symtab .shstrtab .strtab " ]] ||
  die "unexpected sections in purgatory.elf: $sections(a relocation or a section the linker script does not place)"

symbol() {
  local value
  value=$("$nm" "$build/purgatory.elf" | awk -v name="$1" '$3 == name { print $1 }')
  [[ -n $value ]] || die "purgatory.elf has no symbol $1"
  echo $((16#$value))
}
entry=$(symbol purgatory_start)
parameters=$(symbol purgatory_parameters)
image_end=$(symbol purgatory_image_end)
memory_end=$(symbol purgatory_memory_end)

# SSE must be on before the first call into compiled code: the entry's
# instructions up to its call write CR4 and touch no XMM register
disassembly=$("$objdump" -d --no-show-raw-insn --disassemble-symbols=purgatory_start \
  "$build/purgatory.elf")
entry_code=$(sed -n '/callq/q;p' <<<"$disassembly")
grep -Eq 'movq[[:space:]]+%rax, %cr4' <<<"$entry_code" ||
  die "purgatory_start calls compiled code before it enables SSE"
if grep -q '%xmm' <<<"$entry_code"; then
  die "purgatory_start uses an SSE register before it enables SSE"
fi

"$objcopy" -O binary "$build/purgatory.elf" "$build/purgatory.bin"
size=$(wc -c <"$build/purgatory.bin")
((size == image_end)) || die "purgatory.bin is $size bytes, expected $image_end"
((parameters % 8 == 0)) || die "purgatory_parameters at $parameters is not 8-byte aligned"
magic=$(od -An -tx8 -j "$parameters" -N 8 "$build/purgatory.bin" | tr -d ' ')
[[ $magic == 47505446464f4e48 ]] || die "no magic at purgatory_parameters ($magic)"

# reproducible: no path of this machine in the bytes
for path in "$root" "$build" "$toolchain"; do
  if grep -qF "$path" "$build/purgatory.bin"; then
    die "purgatory.bin contains the path $path"
  fi
done

# the Swift source: the bytes twelve to a line, then the offsets
echo "build-purgatory: writing $(basename "$swift_file")"
mkdir -p "$(dirname "$swift_file")"
{
  echo "// Generated by scripts/build-purgatory.sh from Purgatory/x86_64; do not edit."
  echo "// Regenerate with scripts/build-purgatory.sh after changing the purgatory or XXH64.swift."
  echo
  echo "/// Handoff's x86_64 purgatory as a flat binary, linked at 0 and runnable at any"
  echo "/// page-aligned physical address below 4 GiB."
  echo "public enum PurgatoryBlobX86_64 {"
  echo "  /// The blob: code, read-only data and data, without the zeroed bss."
  echo "  public static let bytes: [UInt8] = ["
  od -An -v -tx1 -w12 "$build/purgatory.bin" |
    sed -E 's/ ([0-9a-f]{2})/0x\1, /g; s/, $/,/; s/^/    /'
  echo "  ]"
  echo
  echo "  /// Where relocate_kernel should jump, from the start of the blob."
  printf '  public static let entryOffset = 0x%x\n' "$entry"
  echo
  echo "  /// Where the parameter block starts: PurgatoryParameters patches it here."
  printf '  public static let parametersOffset = 0x%x\n' "$parameters"
  echo
  echo "  /// How much memory the segment needs: the blob, then its bss (the stack"
  echo "  /// and the IDT) zeroed by the kernel, rounded up to a page. A scrub's page"
  echo "  /// tables go past this."
  printf '  public static let memorySize = 0x%x\n' "$memory_end"
  echo "}"
} >"$swift_file.tmp"
mv "$swift_file.tmp" "$swift_file"

echo "build-purgatory: purgatory.bin: $size bytes, memsz $memory_end, entry at $entry, parameters at $parameters"
