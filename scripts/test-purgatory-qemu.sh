#!/usr/bin/env bash
# Runs Handoff's purgatories on emulated CPUs: builds each with
# scripts/build-purgatory.sh, wraps it in Purgatory/ARCH/qemu-harness.*
# (which plays the kernel's relocation code and the new kernel), boots that
# in QEMU under TCG, and reads the serial port. Each case places the blob
# somewhere else or asks something else of it.
#
# usage: scripts/test-purgatory-qemu.sh [ARCH...]
#   (default: x86_64 aarch64 riscv64)
#
# Needs qemu-system-x86_64, -aarch64 and -riscv64 and the toolchain
# build-purgatory.sh uses (SWIFT_TOOLCHAIN, or the swiftc on PATH, or
# /opt/swift/usr). Exits 0 when every case gave its expected lines, 1
# otherwise.
set -euo pipefail
trap 'echo "test-purgatory-qemu: failed at line $LINENO" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/toolchain.sh"
architectures=("$@")
((${#architectures[@]} > 0)) || architectures=(x86_64 aarch64 riscv64)

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-purgatory-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0

# prepare ARCH: the blob, fresh from today's sources, where its parts are,
# and the QEMU that runs it
prepare() {
  arch=$1
  qemu=$(command -v "qemu-system-$arch") || {
    echo "test-purgatory-qemu: qemu-system-$arch is missing (make setup installs it)" >&2
    exit 1
  }
  bash "$root/scripts/build-purgatory.sh" "$arch" "$work/$arch/build" \
    "$work/$arch/Blob.swift" >/dev/null
  cp "$work/$arch/build/purgatory.bin" "$work/$arch/purgatory.bin"
  parameters_offset=$(offset parametersOffset)
  memory_size=$(offset memorySize)
  local entry_offset
  entry_offset=$(offset entryOffset)
  ((entry_offset == 0)) || {
    echo "test-purgatory-qemu: the harness jumps to the blob's start, but the entry is at $entry_offset" >&2
    exit 1
  }
}
offset() {
  awk -v name="$1" '$4 == name { print $6 }' "$work/$arch/Blob.swift"
}

# The CPU model, the harness's extra settings (-D definitions) and QEMU's
# machine options for the next run; cases set them, and run resets them.
cpu=
defines=()
machine=

# link_harness BASE [OPTION...]: harness.o into harness.bin, an ELF whose
# _start sits at BASE in RAM, where QEMU loads it and starts it
link_harness() {
  local base=$1
  shift
  cat >harness.ld <<EOF
ENTRY(_start)
SECTIONS
{
  . = $base;
  .text : { *(.text.start) *(.text .text.*) }
  .rodata : { *(.rodata .rodata.* .srodata .srodata.*) }
  .data : { *(.data .data.* .sdata .sdata.*) }
  .bss : { *(.bss .bss.* .sbss .sbss.* COMMON) }
}
EOF
  "$toolchain/bin/ld.lld" -static "$@" -T harness.ld harness.o -o harness.bin
}

# harness DIR DEST FLAGS PATCH CORRUPT: builds the harness for $arch in DIR
harness() {
  local dir=$1 dest=$2 flags=$3 patch=$4 corrupt=$5
  local common=(-DDEST="$dest" -DPARAMETERS_OFFSET="$parameters_offset"
    -DMEMORY_SIZE="$memory_size" -DFLAGS="$flags" -DPATCH="$patch" -DCORRUPT="$corrupt")
  cd "$dir"
  case $arch in
    x86_64)
      "$toolchain/bin/clang" --target=x86_64-unknown-none-elf -c "${common[@]}" "${defines[@]}" \
        "$root/Purgatory/x86_64/qemu-harness.S" -o harness.o
      "$toolchain/bin/ld.lld" -static --image-base=0x100000 --section-start=.harness=0x100000 \
        -e entry32 harness.o -o harness.elf
      "$toolchain/bin/llvm-objcopy" -O binary harness.elf harness.bin
      ;;
    aarch64)
      "$toolchain/bin/clang" --target=aarch64-none-elf -ffreestanding -mgeneral-regs-only \
        -fno-stack-protector -O1 -c "${common[@]}" "${defines[@]}" \
        "$root/Purgatory/aarch64/qemu-harness.c" -o harness.o
      link_harness 0x40080000
      ;;
    riscv64)
      "$toolchain/bin/clang" --target=riscv64-unknown-elf -march=rv64imac -mabi=lp64 \
        -mcmodel=medany -ffreestanding -fno-stack-protector -O1 -c "${common[@]}" \
        "${defines[@]}" "$root/Purgatory/riscv64/qemu-harness.c" -o harness.o
      link_harness 0x80200000 --no-relax
      ;;
  esac
}

# run NAME DEST FLAGS PATCH CORRUPT EXIT EXPECTED... : boots the harness and
# checks that QEMU's serial output holds every EXPECTED line, in order, and
# nothing after the last; EXIT is QEMU's exit status, or "halts" when the
# purgatory is expected to stop the machine
run() {
  local name=$1 dest=$2 flags=$3 patch=$4 corrupt=$5 exit_expected=$6
  shift 6
  local dir=$work/$arch/$name
  mkdir -p "$dir"
  cp "$work/$arch/purgatory.bin" "$dir/"
  (harness "$dir" "$dest" "$flags" "$patch" "$corrupt")

  # QEMU ends itself when the fake kernel runs (isa-debug-exit on x86_64,
  # PSCI on aarch64); a purgatory that halts is stopped once its last line is
  # out, or after 60 s
  local log=$dir/serial.log status
  : >"$log"
  case $arch in
    x86_64)
      "$qemu" -machine pc -accel tcg -cpu "${cpu:-qemu64}" -m 512M -display none \
        -monitor none -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -no-reboot -kernel "$dir/harness.bin" 2>"$dir/qemu.log" &
      ;;
    aarch64)
      "$qemu" -machine "virt${machine:+,$machine}" -accel tcg -cpu "${cpu:-cortex-a57}" \
        -m 512M -display none -monitor none -serial "file:$log" \
        -no-reboot -kernel "$dir/harness.bin" 2>"$dir/qemu.log" &
      ;;
    riscv64)
      # OpenSBI prints a banner first; the harness's and the purgatory's
      # lines are what follows it
      "$qemu" -machine virt -accel tcg -m 512M -display none -monitor none \
        -serial "file:$dir/console.log" -no-reboot -kernel "$dir/harness.bin" \
        2>"$dir/qemu.log" &
      ;;
  esac
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < 600)); do
    if [[ $exit_expected == halts ]] && cat "$dir"/*.log | grep -q 'halting'; then
      sleep 1
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    status=halts
  else
    status=0
    wait "$pid" || status=$?
  fi

  local actual expected
  if [[ $arch == riscv64 ]]; then
    sed -n '/^Boot HART MEDELEG/,$p' "$dir/console.log" | tail -n +2 >"$log"
  fi
  # the scrub's duration in TSC cycles or counter ticks differs from run to run
  actual=$(tr -d '\r' <"$log" | sed -E -e 's/ in [0-9]+ TSC cycles$/ in N TSC cycles/' \
    -e 's/ in [0-9]+ ticks of the [0-9]+ Hz counter$/ in N ticks of the F Hz counter/')
  expected=$(printf '%s\n' "$@")
  if [[ $status == "$exit_expected" && $actual == "$expected" ]]; then
    echo "ok    $arch $name: purgatory at $dest"
  else
    echo "FAIL  $arch $name: purgatory at $dest: QEMU ended with '$status' (expected '$exit_expected')"
    echo "      serial output:"
    sed 's/^/        /' <<<"$actual"
    echo "      expected:"
    sed 's/^/        /' <<<"$expected"
    if [[ -s $dir/qemu.log ]]; then
      echo "      QEMU said:"
      sed 's/^/        /' "$dir/qemu.log"
    fi
    failures=$((failures + 1))
  fi
  cpu=
  defines=()
  machine=
}

x86_64_cases() {
  kernel_ok="fake kernel: reached with RSI = boot_params, CS 0x10, DS/ES/SS 0x18, RBX/RBP/RDI 0, a stack in the segment, SSE on"

  run verified-low 0x7f3000 3 1 0 33 \
    "handoff purgatory: 4 segments verified" "$kernel_ok"
  run verified-high 0x1ffcd000 3 1 0 33 \
    "handoff purgatory: 4 segments verified" "$kernel_ok"
  run quiet 0x2000000 1 1 0 33 \
    "$kernel_ok"
  run unverified 0x3000 2 1 0 33 \
    "handoff purgatory: segments not verified" "$kernel_ok"
  # the damaged byte sits in the middle of the 1 MiB region; its digest then is
  # 0x09f889754d7247e0 (the Python xxhash package agrees)
  run corrupted 0x7f3000 3 1 1 halts \
    "handoff purgatory: segment 1 [0x500000, 0x600000) digest mismatch: expected 0x45676a939f29526c, found 0x09f889754d7247e0; halting"
  # a block with a serial port but no kernel: what the purgatory does when the
  # loader forgot to patch it
  run unpatched 0x7f3000 0 0 0 halts \
    "handoff purgatory: the parameter block is not valid; halting"

  # Scrubbing: the harness fills 8 MiB at 0x1000000 and asks for two ranges
  # inside it zeroed, with a page kept between them; the fake kernel checks the
  # bytes and that CR3 points into the segment's page-table room. The map
  # covers the guest's 512 MiB; room for four table pages is enough for any
  # of the page sizes and levels, one page is not.
  scrubbing="handoff purgatory: scrubbing 7335936 bytes in 2 ranges; identity map [0x0, 0x20000000)"
  scrubbed="handoff purgatory: scrubbed 7335936 bytes with rep"
  timed="in N TSC cycles"
  scrub_ok="fake kernel: the scrub ranges read zero, the gaps between them do not, and CR3 is the purgatory's"
  scrub_room=(-DSCRUB=1 -DTABLE_BYTES=0x4000 -DMAP_END=0x20000000)

  defines=("${scrub_room[@]}")
  run scrub-2mib 0x7f3000 7 1 0 33 \
    "handoff purgatory: 4 segments verified" "$scrubbing in 2 MiB pages, 4 levels" \
    "$scrubbed stosq $timed" "$scrub_ok" "$kernel_ok"
  cpu=qemu64,+pdpe1gb,+erms defines=("${scrub_room[@]}")
  run scrub-1gib-erms 0x1ffcd000 7 1 0 33 \
    "handoff purgatory: 4 segments verified" "$scrubbing in 1 GiB pages, 4 levels" \
    "$scrubbed stosb $timed" "$scrub_ok" "$kernel_ok"
  cpu=qemu64,+la57 defines=("${scrub_room[@]}" -DLA57=1)
  run scrub-5-level 0x3000 6 1 0 33 \
    "handoff purgatory: segments not verified" "$scrubbing in 2 MiB pages, 5 levels" \
    "$scrubbed stosq $timed" "$scrub_ok" "$kernel_ok"
  defines=(-DSCRUB=1 -DTABLE_BYTES=0x1000 -DMAP_END=0x20000000)
  run scrub-no-room 0x7f3000 7 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: the page tables need 3 pages, the segment has room for 1; halting"
  defines=(-DSCRUB=2 -DTABLE_BYTES=0x4000 -DMAP_END=0x20000000)
  run scrub-over-segment 0x7f3000 7 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: scrub range 1 [0x501000, 0x502000) overlaps a segment; halting"
  # a kernel entry past the end of the identity map: the jump faults, and the
  # purgatory's own IDT reports it
  defines=("${scrub_room[@]}" -DSTRAY_ENTRY=1)
  run scrub-stray-entry 0x7f3000 7 1 0 halts \
    "handoff purgatory: 4 segments verified" "$scrubbing in 2 MiB pages, 4 levels" \
    "$scrubbed stosq $timed" \
    "handoff purgatory: CPU exception 14 at 0x30000000, page fault at 0x30000000; halting"
}

aarch64_cases() {
  local entered="with x0 = DTB, x1-x3 0, a stack in the segment"
  local kernel_ok="fake kernel: reached at EL1 $entered"
  run verified-el1 0x40800000 3 1 0 0 \
    "handoff purgatory: 4 segments verified" "$kernel_ok"
  machine=virtualization=on
  run verified-el2 0x5fff0000 3 1 0 0 \
    "handoff purgatory: 4 segments verified" "fake kernel: reached at EL2 $entered"
  run quiet 0x41000000 1 1 0 0 \
    "$kernel_ok"
  run unverified 0x40003000 2 1 0 0 \
    "handoff purgatory: segments not verified" "$kernel_ok"
  # the same damaged byte as on x86_64, with the same digest
  run corrupted 0x40800000 3 1 1 halts \
    "handoff purgatory: segment 1 [0x40500000, 0x40600000) digest mismatch: expected 0x45676a939f29526c, found 0x09f889754d7247e0; halting"
  run unpatched 0x40800000 0 0 0 halts \
    "handoff purgatory: the parameter block is not valid; halting"
  # a kernel entry outside RAM: the branch takes an instruction abort
  # (ESR class 0x21, from the same level) into the purgatory's vectors
  defines=(-DFAULT=1)
  run stray-entry 0x40800000 3 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: exception 4, ESR 0x86000010 at 0x7ffff000, FAR 0x7ffff000; halting"

  # Scrubbing with the MMU off, at EL1 and at EL2: two ranges of an 8 MiB
  # area the harness filled, cleaned from the caches and zeroed, a page kept
  # between and around them; then one that runs over a segment into the
  # purgatory
  local scrubbing="handoff purgatory: scrubbing 8376320 bytes in 2 ranges below 0x60000000, caches cleaned first, MMU off"
  local scrubbed="handoff purgatory: scrubbed 8376320 bytes in N ticks of the F Hz counter"
  local scrub_ok="fake kernel: the scrub ranges read zero, the pages around them do not"
  defines=(-DSCRUB=1)
  run scrub-el1 0x40800000 7 1 0 0 \
    "handoff purgatory: 4 segments verified" "$scrubbing" "$scrubbed" "$scrub_ok" "$kernel_ok"
  defines=(-DSCRUB=1) machine=virtualization=on
  run scrub-el2 0x5fff0000 7 1 0 0 \
    "handoff purgatory: 4 segments verified" "$scrubbing" "$scrubbed" "$scrub_ok" \
    "fake kernel: reached at EL2 $entered"
  defines=(-DSCRUB=2)
  run scrub-over-segment 0x40800000 7 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: scrub range 0 [0x40501000, 0x40900000) overlaps the purgatory; halting"
}

riscv64_cases() {
  local kernel_ok="fake kernel: reached with a0 = hart id, a1 = DTB, a stack in the segment"
  run verified-low 0x80800000 3 1 0 0 \
    "handoff purgatory: 4 segments verified" "$kernel_ok"
  run verified-high 0x9fff0000 3 1 0 0 \
    "handoff purgatory: 4 segments verified" "$kernel_ok"
  run quiet 0x81000000 1 1 0 0 \
    "$kernel_ok"
  run corrupted 0x80800000 3 1 1 halts \
    "handoff purgatory: segment 1 [0x80500000, 0x80600000) digest mismatch: expected 0x45676a939f29526c, found 0x09f889754d7247e0; halting"
  run unpatched 0x80800000 0 0 0 halts \
    "handoff purgatory: the parameter block is not valid; halting"
  # a kernel entry in the PCI window below RAM, which reads as all ones: an
  # illegal instruction (scause 2) traps into the purgatory's own vector
  defines=(-DFAULT=1)
  run stray-entry 0x80800000 3 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: trap, scause 0x2 at 0x7ffff000, stval 0xffffffff; halting"

  # Scrubbing with translation off: two ranges of an 8 MiB area the harness
  # filled, a page kept between and around them; then one that runs over a
  # segment into the purgatory
  defines=(-DSCRUB=1)
  run scrub 0x80800000 7 1 0 0 \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: scrubbing 8376320 bytes in 2 ranges below 0xa0000000, translation off" \
    "handoff purgatory: scrubbed 8376320 bytes" \
    "fake kernel: the scrub ranges read zero, the pages around them do not" "$kernel_ok"
  defines=(-DSCRUB=2)
  run scrub-over-segment 0x80800000 7 1 0 halts \
    "handoff purgatory: 4 segments verified" \
    "handoff purgatory: scrub range 0 [0x80501000, 0x80900000) overlaps the purgatory; halting"
}

for arch in "${architectures[@]}"; do
  prepare "$arch"
  "${arch}_cases"
done

if ((failures > 0)); then
  echo "test-purgatory-qemu: $failures case(s) failed"
  exit 1
fi
echo "test-purgatory-qemu: every case passed"
