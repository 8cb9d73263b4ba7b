#!/usr/bin/env bash
# Builds Handoff's purgatory for one architecture (Purgatory/ARCH, the common
# part in Purgatory/Shared and the XXH64 it shares with HandoffCore) into a
# flat binary, checks that it can run wherever the loader puts it, and writes
# it out as Swift for HandoffCore to embed.
#
# usage: scripts/build-purgatory.sh [ARCH [BUILD_DIR [SWIFT_FILE]]]
#   ARCH        x86_64 (the default), aarch64 or riscv64
#   BUILD_DIR   intermediate files and purgatory.bin (.build/purgatory/ARCH)
#   SWIFT_FILE  the generated source
#               (Sources/HandoffCore/Purgatory/PurgatoryBlob+ARCH.swift)
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
arch=${1:-x86_64}
build=${2:-$root/.build/purgatory/$arch}
swift_file=${3:-$root/Sources/HandoffCore/Purgatory/PurgatoryBlob+$arch.swift}
source_dir=$root/Purgatory/$arch

# the target, the Swift type the blob becomes, where the loader may put it,
# and what the compiled code must not touch before or while it runs
case $arch in
  x86_64)
    target=x86_64-unknown-none-elf
    type_name=PurgatoryBlobX86_64
    placement="any page-aligned physical address below 4 GiB"
    arch_flags=()
    ;;
  aarch64)
    # no FP/SIMD registers, which the CPU may trap after relocation, and no
    # unaligned access, which faults with the MMU off
    target=aarch64-none-none-elf
    type_name=PurgatoryBlobAArch64
    placement="any page-aligned physical address"
    arch_flags=(-Xcc -mgeneral-regs-only -Xcc -mstrict-align)
    ;;
  riscv64)
    # no floating point, which the kernel may leave switched off (sstatus.FS)
    target=riscv64-none-none-eabi
    type_name=PurgatoryBlobRISCV64
    placement="any page-aligned physical address"
    arch_flags=(-Xcc -march=rv64imac -Xcc -mabi=lp64)
    ;;
  *)
    die "unsupported architecture '$arch' (supported: x86_64, aarch64, riscv64)"
    ;;
esac

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
[[ -d $toolchain/lib/swift/embedded/$target ]] ||
  die "the toolchain has no embedded standard library for $target"

mkdir -p "$build"
rm -f "$build"/{purgatory.o,entry.o,purgatory.elf,purgatory.bin}

# Swift: Embedded, bare metal. swiftc emits position-independent code for
# these targets (module flag "PIC Level" 2), so every address is relative to
# the program counter; the link below proves it. No stack protector: there
# is no guard to read.
echo "build-purgatory: compiling for $arch"
"$swiftc" \
  -enable-experimental-feature Embedded -enable-experimental-feature Extern \
  -wmo -parse-as-library -target "$target" -Osize "${arch_flags[@]}" \
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
  -module-name Purgatory \
  -c "$source_dir"/*.swift "$root"/Purgatory/Shared/*.swift \
  "$root/Sources/HandoffCore/Digest/XXH64.swift" \
  -o "$build/purgatory.o"
"$clang" --target="$target" -c "$source_dir/entry.S" -o "$build/entry.o"

# link as a position-independent executable at 0: lld refuses any absolute
# reference from code, and turns one from data into a dynamic relocation,
# which the section check below refuses. Unused runtime functions, and the
# undefined symbols they name, fall away with --gc-sections.
echo "build-purgatory: linking"
"$lld" -pie --no-dynamic-linker --gc-sections --build-id=none \
  -T "$root/Purgatory/Shared/purgatory.ld" \
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

case $arch in
  x86_64)
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
    ;;
  aarch64)
    # not one FP/SIMD register anywhere
    if "$objdump" -d --no-show-raw-insn "$build/purgatory.elf" | sed 's/^[^:]*://' |
      grep -Eq '[[:space:],]([qdsbh][0-9]+|v[0-9]+\.)'; then
      die "purgatory.elf uses an FP/SIMD register"
    fi
    ;;
  riscv64)
    # not one floating-point register anywhere
    if "$objdump" -d --no-show-raw-insn "$build/purgatory.elf" | sed 's/^[^:]*://' |
      grep -Eq '[[:space:],(]f(t|s|a)[0-9]+'; then
      die "purgatory.elf uses a floating-point register"
    fi
    ;;
esac

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
  echo "// Generated by scripts/build-purgatory.sh from Purgatory/$arch and Purgatory/Shared;"
  echo "// do not edit. Regenerate with scripts/build-purgatory.sh $arch after changing the"
  echo "// purgatory or XXH64.swift."
  echo
  echo "/// Handoff's $arch purgatory as a flat binary, linked at 0 and runnable at"
  echo "/// $placement."
  echo "public enum $type_name {"
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
