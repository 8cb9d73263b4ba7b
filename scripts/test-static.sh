#!/usr/bin/env bash
# Checks the binaries `make static` leaves in dist/: each is a stripped,
# statically linked executable of its architecture, at most 1 MiB, and runs,
# under qemu-user (qemu-user-static) where it is not this machine's own:
# --help, the error for a file that is not there, `inspect` of a small arm64
# ELF vmlinux, and `inspect` of Debian's bookworm kernel from the lab cache,
# whose text and JSON must be the same on every architecture.
#
# usage: scripts/test-static.sh [ARCH...]    (x86_64 aarch64 riscv64 when none)
#
# Exits 0 when every check passed or was skipped with its reason (no
# qemu-user for an architecture, no kernel in the cache), 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${HANDOFF_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/handoff-lab}
kernel=$cache/kernels/bookworm/vmlinuz
limit=$((1024 * 1024))
arches=("$@")
((${#arches[@]} > 0)) || arches=(x86_64 aarch64 riscv64)

work=$(mktemp -d "${TMPDIR:-/tmp}/handoff-test-static.XXXXXX")
trap 'rm -rf "$work"' EXIT

command -v file >/dev/null || {
  echo "test-static: file(1) is missing (make setup installs it)" >&2
  exit 1
}

passed=0
failed=0
skipped=0
pass() {
  echo "ok    $1"
  passed=$((passed + 1))
}
# fail TEXT [DETAIL...]
fail() {
  echo "FAIL  $1"
  shift
  (($# == 0)) || printf '%s\n' "$@" | sed 's/^/      /'
  failed=$((failed + 1))
}
skip() {
  echo "skip  $1"
  skipped=$((skipped + 1))
}

# run ARCH NAME ARGUMENT...: runs the binary with the arguments, its output
# in $work/ARCH-NAME.out and its exit status in `status`
runner=()
status=0
run() {
  local arch=$1 name=$2
  shift 2
  status=0
  timeout 120 "${runner[@]}" "$root/dist/handoff-$arch" "$@" \
    >"$work/$arch-$name.out" 2>&1 || status=$?
}

# expect ARCH NAME STATUS PATTERN...: the last run exited with STATUS and
# printed a line matching each extended regular expression; returns 1 if not
expect() {
  local arch=$1 name=$2 want=$3 pattern missing=()
  shift 3
  for pattern in "$@"; do
    grep -qE -- "$pattern" "$work/$arch-$name.out" || missing+=("$pattern")
  done
  if ((status == want && ${#missing[@]} == 0)); then
    pass "$arch: $name"
    return 0
  fi
  local details=()
  ((status == want)) || details+=("exit status $status, expected $want")
  fail "$arch: $name" "${details[@]}" "${missing[@]/#/no line matches: }" "output:" \
    "$(head -n 20 "$work/$arch-$name.out")"
  return 1
}

# same ARCH NAME: NAME printed what it did on the reference, the first
# architecture whose inspect passed
reference=""
same() {
  local arch=$1 name=$2
  if [[ -z $reference ]]; then
    return
  elif cmp -s "$work/$reference-$name.out" "$work/$arch-$name.out"; then
    pass "$arch: $name prints what $reference's does"
  else
    fail "$arch: $name prints other than $reference's:" \
      "$(diff "$work/$reference-$name.out" "$work/$arch-$name.out" | head -n 20)"
  fi
}

# literal TEXT: TEXT as an extended regular expression that matches only it
literal() {
  sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$1"
}

# put FILE OFFSET WIDTH VALUE: a little-endian integer into FILE
put() {
  local file=$1 offset=$2 width=$3 value=$4 bytes="" index
  for ((index = 0; index < width; index++)); do
    bytes+=$(printf '\\x%02x' $(((value >> (8 * index)) & 0xff)))
  done
  printf "$bytes" | dd of="$file" bs=1 seek=$((offset)) conv=notrunc status=none
}

# an arm64 ELF vmlinux: one PT_LOAD holding a 4 KiB Image, its bss to
# image_size, named by a path short enough for Swift to keep it inline
vmlinux=$work/vmlinux
head -c 8192 /dev/zero >"$vmlinux"
printf '\x7fELF\x02\x01\x01' | dd of="$vmlinux" conv=notrunc status=none
put "$vmlinux" 0x10 2 2                # e_type: ET_EXEC
put "$vmlinux" 0x12 2 183              # e_machine: EM_AARCH64
put "$vmlinux" 0x18 8 0xffff800080000000
put "$vmlinux" 0x20 8 0x40             # e_phoff
put "$vmlinux" 0x36 2 56               # e_phentsize
put "$vmlinux" 0x38 2 1                # e_phnum
put "$vmlinux" 0x40 4 1                # p_type: PT_LOAD
put "$vmlinux" 0x44 4 7                # p_flags: R W E
put "$vmlinux" 0x48 8 0x1000           # p_offset
put "$vmlinux" 0x50 8 0xffff800080000000
put "$vmlinux" 0x58 8 0xffff800080000000
put "$vmlinux" 0x60 8 0x1000           # p_filesz
put "$vmlinux" 0x68 8 0x10000          # p_memsz
printf 'ARMd' | dd of="$vmlinux" bs=1 seek=$((0x1038)) conv=notrunc status=none
put "$vmlinux" 0x1010 8 0x10000        # image_size
put "$vmlinux" 0x1018 8 0xa            # flags: 4K pages, anywhere
printf 'Linux version 6.99.0-static (test) #1 SMP\n' |
  dd of="$vmlinux" bs=1 seek=$((0x1100)) conv=notrunc status=none

release=""
if [[ -s $kernel && -s ${kernel%/*}/release ]]; then
  release=$(<"${kernel%/*}/release")
fi

for arch in "${arches[@]}"; do
  binary=$root/dist/handoff-$arch
  case $arch in
    x86_64) machine=x86-64 ;;
    aarch64) machine="ARM aarch64" ;;
    riscv64) machine="UCB RISC-V" ;;
    *)
      fail "$arch: not an architecture the static build makes (x86_64, aarch64, riscv64)"
      continue
      ;;
  esac
  if [[ ! -f $binary ]]; then
    fail "$arch: dist/handoff-$arch is missing (make static builds it)"
    continue
  fi

  # the file itself
  description=$(file -b "$binary")
  if [[ $description == *"$machine"* && $description == *"statically linked"* \
    && $description == *", stripped"* ]]; then
    pass "$arch: $description"
  else
    fail "$arch: not a stripped static $machine executable: $description"
  fi
  size=$(wc -c <"$binary")
  if ((size <= limit)); then
    pass "$arch: $size bytes ($(((size + 512) / 1024)) KiB), within 1 MiB"
  else
    fail "$arch: $size bytes ($(((size + 512) / 1024)) KiB), more than 1 MiB"
  fi

  # what runs it
  runner=()
  if [[ $(uname -m) != "$arch" ]]; then
    if ! qemu=$(command -v "qemu-$arch-static"); then
      skip "$arch: running it: no qemu-$arch-static (make setup installs qemu-user-static)"
      continue
    fi
    runner=("$qemu")
  fi

  run "$arch" help --help
  expect "$arch" help 0 '^OVERVIEW: ' '^USAGE: handoff <subcommand>$' '^  inspect '

  run "$arch" missing-file inspect /nonexistent/vmlinuz
  expect "$arch" missing-file 1 \
    '^Error: .*open\("/nonexistent/vmlinuz", O_RDONLY\) = ENOENT$'

  cd "$work"
  run "$arch" inspect-elf inspect vmlinux
  cd "$root"
  expect "$arch" inspect-elf 0 '^format: +ELF vmlinux$' '^architecture: +arm64$' \
    '^64-bit handoff: +yes$'

  if [[ -z $release ]]; then
    skip "$arch: inspect: no bookworm kernel at $kernel (make setup fetches it)"
    continue
  fi
  inspected=yes
  run "$arch" inspect inspect "$kernel"
  expect "$arch" inspect 0 '^format: +bzImage$' "^kernel version: +$(literal "$release") " \
    '^64-bit handoff: +yes$' || inspected=no
  same "$arch" inspect
  run "$arch" inspect-json inspect "$kernel" --json
  expect "$arch" inspect-json 0 \
    "^$(literal "{\"file\": \"$kernel\", \"format\": \"bzImage\", \"architecture\": \"x86_64\", \"kernel_version\": \"$release ")" \
    || inspected=no
  same "$arch" inspect-json
  if [[ -z $reference && $inspected == yes ]]; then
    reference=$arch
  fi
done

summary="$passed passed, $failed failed, $skipped skipped"
if ((failed > 0)); then
  echo "test-static: $summary"
  exit 1
fi
echo "test-static: $summary${release:+ (inspect read $release)}"
