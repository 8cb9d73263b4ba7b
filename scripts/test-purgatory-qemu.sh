#!/usr/bin/env bash
# Runs Handoff's x86_64 purgatory on an emulated CPU: builds it with
# scripts/build-purgatory.sh, wraps it in Purgatory/x86_64/qemu-harness.S
# (which plays relocate_kernel and the new kernel), boots that in QEMU under
# TCG, and reads the serial port. Each case places the blob somewhere else
# or asks something else of it.
#
# usage: scripts/test-purgatory-qemu.sh
#
# Needs qemu-system-x86_64 and the toolchain build-purgatory.sh uses
# (SWIFT_TOOLCHAIN, or the swiftc on PATH, or /opt/swift/usr). Exits 0 when
# every case gave its expected lines, 1 otherwise.
set -euo pipefail
trap 'echo "test-purgatory-qemu: failed at line $LINENO" >&2' ERR

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
qemu=$(command -v qemu-system-x86_64) || {
  echo "test-purgatory-qemu: qemu-system-x86_64 is missing (make setup installs it)" >&2
  exit 1
}
source "$root/scripts/toolchain.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-purgatory-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT

# the blob, fresh from today's sources, and where its parts are
bash "$root/scripts/build-purgatory.sh" "$work/build" "$work/PurgatoryBlob+x86_64.swift" >/dev/null
cp "$work/build/purgatory.bin" "$work/purgatory.bin"
offset() {
  awk -v name="$1" '$4 == name { print $6 }' "$work/PurgatoryBlob+x86_64.swift"
}
parameters_offset=$(offset parametersOffset)
memory_size=$(offset memorySize)
entry_offset=$(offset entryOffset)
((entry_offset == 0)) || {
  echo "test-purgatory-qemu: the harness jumps to the blob's start, but the entry is at $entry_offset" >&2
  exit 1
}

failures=0

# The CPU model and the harness's scrub settings (-D definitions) for the
# next run; scrub cases set them, and run resets them.
cpu=qemu64
scrub_defines=()

# run NAME DEST FLAGS PATCH CORRUPT EXIT EXPECTED... : boots the harness and
# checks that QEMU's serial output holds every EXPECTED line, in order, and
# nothing after the last; EXIT is QEMU's exit status, or "halts" when the
# purgatory is expected to stop the machine
run() {
  local name=$1 dest=$2 flags=$3 patch=$4 corrupt=$5 exit_expected=$6
  shift 6
  local dir=$work/$name
  mkdir -p "$dir"
  cp "$work/purgatory.bin" "$dir/"
  (
    cd "$dir"
    "$toolchain/bin/clang" --target=x86_64-unknown-none-elf -c \
      -DDEST="$dest" -DPARAMETERS_OFFSET="$parameters_offset" -DMEMORY_SIZE="$memory_size" \
      -DFLAGS="$flags" -DPATCH="$patch" -DCORRUPT="$corrupt" "${scrub_defines[@]}" \
      "$root/Purgatory/x86_64/qemu-harness.S" -o harness.o
    "$toolchain/bin/ld.lld" -static --image-base=0x100000 --section-start=.harness=0x100000 -e entry32 harness.o -o harness.elf
    "$toolchain/bin/llvm-objcopy" -O binary harness.elf harness.bin
  )

  # QEMU ends itself through isa-debug-exit when the fake kernel runs; a
  # purgatory that halts is stopped once its last line is out, or after 60 s
  local log=$dir/serial.log status
  : >"$log"
  "$qemu" -machine pc -accel tcg -cpu "$cpu" -m 512M -display none -monitor none \
    -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
    -kernel "$dir/harness.bin" 2>"$dir/qemu.log" &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < 600)); do
    if [[ $exit_expected == halts ]] && grep -q 'halting' "$log"; then
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
  actual=$(tr -d '\r' <"$log")
  expected=$(printf '%s\n' "$@")
  if [[ $status == "$exit_expected" && $actual == "$expected" ]]; then
    echo "ok    $name: purgatory at $dest"
  else
    echo "FAIL  $name: purgatory at $dest: QEMU ended with '$status' (expected '$exit_expected')"
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
  cpu=qemu64
  scrub_defines=()
}

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
scrub_ok="fake kernel: the scrub ranges read zero, the gaps between them do not, and CR3 is the purgatory's"
scrub_room=(-DSCRUB=1 -DTABLE_BYTES=0x4000 -DMAP_END=0x20000000)

scrub_defines=("${scrub_room[@]}")
run scrub-2mib 0x7f3000 7 1 0 33 \
  "handoff purgatory: 4 segments verified" "$scrubbing in 2 MiB pages, 4 levels" \
  "$scrubbed stosq" "$scrub_ok" "$kernel_ok"
cpu=qemu64,+pdpe1gb,+erms scrub_defines=("${scrub_room[@]}")
run scrub-1gib-erms 0x1ffcd000 7 1 0 33 \
  "handoff purgatory: 4 segments verified" "$scrubbing in 1 GiB pages, 4 levels" \
  "$scrubbed stosb" "$scrub_ok" "$kernel_ok"
cpu=qemu64,+la57 scrub_defines=("${scrub_room[@]}" -DLA57=1)
run scrub-5-level 0x3000 6 1 0 33 \
  "handoff purgatory: segments not verified" "$scrubbing in 2 MiB pages, 5 levels" \
  "$scrubbed stosq" "$scrub_ok" "$kernel_ok"
scrub_defines=(-DSCRUB=1 -DTABLE_BYTES=0x1000 -DMAP_END=0x20000000)
run scrub-no-room 0x7f3000 7 1 0 halts \
  "handoff purgatory: 4 segments verified" \
  "handoff purgatory: the page tables need 3 pages, the segment has room for 1; halting"
scrub_defines=(-DSCRUB=2 -DTABLE_BYTES=0x4000 -DMAP_END=0x20000000)
run scrub-over-segment 0x7f3000 7 1 0 halts \
  "handoff purgatory: 4 segments verified" \
  "handoff purgatory: scrub range 1 [0x501000, 0x502000) overlaps a segment; halting"
# a kernel entry past the end of the identity map: the jump faults, and the
# purgatory's own IDT reports it
scrub_defines=("${scrub_room[@]}" -DSTRAY_ENTRY=1)
run scrub-stray-entry 0x7f3000 7 1 0 halts \
  "handoff purgatory: 4 segments verified" "$scrubbing in 2 MiB pages, 4 levels" \
  "$scrubbed stosq" \
  "handoff purgatory: CPU exception 14 at 0x30000000, page fault at 0x30000000; halting"

if ((failures > 0)); then
  echo "test-purgatory-qemu: $failures case(s) failed"
  exit 1
fi
echo "test-purgatory-qemu: every case passed"
