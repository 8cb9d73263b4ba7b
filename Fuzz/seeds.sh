#!/usr/bin/env bash
# Builds the fuzz targets' seed corpora from this machine and the lab's
# kernels, into .build/fuzz-corpus/<target>/ (new finds land there too).
# Kernel images stay out of git: only their first 64 KiB is copied, here.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${FUZZ_CORPUS:-$root/.build/fuzz-corpus}
cache=${HANDOFF_LAB_CACHE:-$HOME/.cache/handoff-lab}
mkdir -p "$corpus"/{bzimage,image,devicetree,memmap,machine,cmdline,cli,planner,preflight}

# put FILE OFFSET WIDTH VALUE: a little-endian integer into FILE
put() {
  local file=$1 offset=$2 width=$3 value=$4 bytes="" index
  for ((index = 0; index < width; index++)); do
    bytes+=$(printf '\\x%02x' $(((value >> (8 * index)) & 0xff)))
  done
  printf "$bytes" | dd of="$file" bs=1 seek=$((offset)) conv=notrunc status=none
}

# the bzImage reader: the head of each lab kernel, a handmade image, and
# the magics of the formats it recognises and refuses
for kernel in "$cache"/kernels/*/vmlinuz; do
  [ -f "$kernel" ] || continue
  name=$(basename "$(dirname "$kernel")")
  head -c 65536 "$kernel" >"$corpus/bzimage/$name-head.bin"
done
image=$corpus/bzimage/handmade.bin
head -c $((2 * 512 + 4096)) /dev/zero >"$image"
printf 'MZ' | dd of="$image" conv=notrunc status=none
put "$image" 0x1f1 1 1             # setup_sects
put "$image" 0x1f4 4 256           # syssize: 4096 bytes
put "$image" 0x1fe 2 0xaa55        # boot_flag
put "$image" 0x200 2 0x6aeb        # the jump over the header
printf 'HdrS' | dd of="$image" bs=1 seek=$((0x202)) conv=notrunc status=none
put "$image" 0x206 2 0x020f        # version 2.15
put "$image" 0x20e 2 0x100         # kernel_version at 0x300
printf '6.99.0-seed (seed) #1' | dd of="$image" bs=1 seek=$((0x300)) conv=notrunc status=none
put "$image" 0x211 1 1             # LOADED_HIGH
put "$image" 0x22c 4 0x7fffffff    # initrd_addr_max
put "$image" 0x230 4 0x200000      # kernel_alignment
put "$image" 0x234 1 1             # relocatable_kernel
put "$image" 0x236 2 0x1f          # xloadflags
put "$image" 0x238 4 2047          # cmdline_size
put "$image" 0x248 4 0x100         # payload_offset
put "$image" 0x24c 4 0x200         # payload_length
put "$image" 0x258 8 0x1000000     # pref_address
put "$image" 0x260 4 0x2c00000     # init_size
printf '\x1f\x8b\x08' | dd of="$image" bs=1 seek=$((1024 + 0x100)) conv=notrunc status=none
printf '\x7fELF\x02\x01\x01' >"$corpus/bzimage/elf.bin"
printf '\x1f\x8b\x08\x00' >"$corpus/bzimage/gzip.bin"
head -c 64 /dev/zero >"$corpus/bzimage/arm64.bin"
printf 'ARMd' | dd of="$corpus/bzimage/arm64.bin" bs=1 seek=$((0x38)) conv=notrunc status=none

# the image readers: the heads of the lab's arm64 and riscv64 Images, plain
# and compressed, and small files of every other format, made here
images=$corpus/image
for kernel in "$cache"/kernels/arm64/*/vmlinuz "$cache"/kernels/riscv64/*/vmlinux; do
  [ -f "$kernel" ] || continue
  name=$(basename "$(dirname "$(dirname "$kernel")")")-$(basename "$(dirname "$kernel")")
  head -c 65536 "$kernel" >"$images/$name-head.bin"
  gzip -c -n "$images/$name-head.bin" >"$images/$name-head.gz"
  zstd -q -c "$images/$name-head.bin" >"$images/$name-head.zst"
done
cp "$image" "$images/bzimage.bin"

# an ELF vmlinux: the file header, a PT_LOAD of the file's second page, a banner
elf=$images/vmlinux.bin
head -c 8192 /dev/zero >"$elf"
printf '\x7fELF\x02\x01\x01' | dd of="$elf" conv=notrunc status=none
put "$elf" 0x10 2 2                # e_type: ET_EXEC
put "$elf" 0x12 2 62               # e_machine: EM_X86_64
put "$elf" 0x18 8 0x1000000        # e_entry
put "$elf" 0x20 8 0x40             # e_phoff
put "$elf" 0x36 2 56               # e_phentsize
put "$elf" 0x38 2 1                # e_phnum
put "$elf" 0x40 4 1                # p_type: PT_LOAD
put "$elf" 0x44 4 5                # p_flags: R E
put "$elf" 0x48 8 0x1000           # p_offset
put "$elf" 0x50 8 0xffffffff81000000
put "$elf" 0x58 8 0x1000000        # p_paddr
put "$elf" 0x60 8 0x1000           # p_filesz
put "$elf" 0x68 8 0x2000           # p_memsz
printf 'Linux version 6.99.0-seed (seed) #1 SMP\n' |
  dd of="$elf" bs=1 seek=$((0x1100)) conv=notrunc status=none

# pe FILE MACHINE SECTIONS SIZE: the headers of a PE32+ file of SIZE bytes
pe() {
  head -c "$4" /dev/zero >"$1"
  printf 'MZ' | dd of="$1" conv=notrunc status=none
  put "$1" 0x3c 4 0x40             # e_lfanew
  printf 'PE' | dd of="$1" bs=1 seek=$((0x40)) conv=notrunc status=none
  put "$1" 0x44 2 "$2"             # Machine
  put "$1" 0x46 2 "$3"             # NumberOfSections
  put "$1" 0x54 2 0xf0             # SizeOfOptionalHeader
  put "$1" 0x58 2 0x20b            # PE32+
}
# section FILE INDEX NAME OFFSET DATA: a section table entry and its data
section() {
  local entry=$((0x148 + 40 * $2)) size
  size=$(stat -c %s "$5")
  printf '%s' "$3" | dd of="$1" bs=1 seek=$entry conv=notrunc status=none
  put "$1" $((entry + 8)) 4 "$size"                  # VirtualSize
  put "$1" $((entry + 12)) 4 $((0x1000 * ($2 + 1)))  # VirtualAddress
  put "$1" $((entry + 16)) 4 "$size"                 # SizeOfRawData
  put "$1" $((entry + 20)) 4 "$4"                    # PointerToRawData
  dd if="$5" of="$1" oflag=seek_bytes seek=$(($4)) conv=notrunc status=none
}

# a unified kernel image of the handmade bzImage
printf 'root=/dev/vda1 ro\n' >"$images/.cmdline"
printf 'initramfs' >"$images/.initrd"
printf 'PRETTY_NAME="Seed Linux"\n' >"$images/.osrel"
uki=$images/uki.efi
pe "$uki" 0x8664 4 $((0x1000 + $(stat -c %s "$image")))
section "$uki" 0 .osrel 0x400 "$images/.osrel"
section "$uki" 1 .cmdline 0x600 "$images/.cmdline"
section "$uki" 2 .initrd 0x800 "$images/.initrd"
section "$uki" 3 .linux 0x1000 "$image"
rm -f "$images"/.cmdline "$images"/.initrd "$images"/.osrel

# an EFI zboot image of a handmade arm64 Image, gzip-compressed
arm64=$images/.arm64
head -c 4096 /dev/zero >"$arm64"
printf 'ARMd' | dd of="$arm64" bs=1 seek=$((0x38)) conv=notrunc status=none
put "$arm64" 0x10 8 0x10000        # image_size
put "$arm64" 0x18 8 0xa            # flags: 4K pages, anywhere
printf 'Linux version 6.99.0-seed (seed) #1 SMP\n' |
  dd of="$arm64" bs=1 seek=$((0x100)) conv=notrunc status=none
gzip -c -n "$arm64" >"$arm64.gz"
zboot=$images/zboot.efi
pe "$zboot" 0xaa64 1 $((0x400 + $(stat -c %s "$arm64.gz")))
section "$zboot" 0 .data 0x400 "$arm64.gz"
printf 'zimg' | dd of="$zboot" bs=1 seek=4 conv=notrunc status=none
put "$zboot" 8 4 0x400             # payload offset
put "$zboot" 12 4 "$(stat -c %s "$arm64.gz")"
printf 'gzip' | dd of="$zboot" bs=1 seek=24 conv=notrunc status=none

# an arm64 ELF vmlinux of the same Image: one PT_LOAD holding it, bss after
elf=$images/vmlinux-arm64.bin
head -c 4096 /dev/zero >"$elf"
printf '\x7fELF\x02\x01\x01' | dd of="$elf" conv=notrunc status=none
put "$elf" 0x10 2 3                # e_type: ET_DYN
put "$elf" 0x12 2 183              # e_machine: EM_AARCH64
put "$elf" 0x18 8 0xffff800080000000
put "$elf" 0x20 8 0x40             # e_phoff
put "$elf" 0x36 2 56               # e_phentsize
put "$elf" 0x38 2 1                # e_phnum
put "$elf" 0x40 4 1                # p_type: PT_LOAD
put "$elf" 0x44 4 7                # p_flags: R W E
put "$elf" 0x48 8 0x1000           # p_offset
put "$elf" 0x50 8 0xffff800080000000
put "$elf" 0x58 8 0xffff800080000000
put "$elf" 0x60 8 0x1000           # p_filesz
put "$elf" 0x68 8 0x10000          # p_memsz: image_size
cat "$arm64" >>"$elf"
rm -f "$arm64" "$arm64.gz"

# the memory map as this machine shows it
memmap_dump() {
  local entry
  for entry in /sys/firmware/memmap/*; do
    [ -d "$entry" ] && echo "$(cat "$entry/start") $(cat "$entry/end") $(cat "$entry/type")"
  done
  return 0
}
if [ -r /proc/iomem ]; then
  cat /proc/iomem >"$corpus/memmap/this-iomem.txt"
  cat /proc/iomem >"$corpus/planner/this-iomem.txt"
fi
if [ -d /sys/firmware/memmap ]; then
  memmap_dump >"$corpus/memmap/this-firmware-memmap.txt"
  memmap_dump >"$corpus/planner/this-firmware-memmap.txt"
fi

# this machine as the machine target reads it: every file MachineReader,
# KexecStatus and Diagnosis look at, where it exists
section() {
  [ -r "$2" ] || return 0
  if [ "$1" = hex ]; then
    echo "@@hex $2"
    od -An -v -tx1 "$2" | tr -d ' \n' | fold -w 64
    echo
  else
    echo "@@ $2"
    cat "$2"
  fi
}
{
  section hex /sys/kernel/boot_params/data
  for file in /proc/iomem /proc/cmdline /proc/self/status /proc/sys/kernel/kexec_load_disabled \
    /sys/kernel/kexec_loaded /sys/kernel/kexec_crash_loaded /sys/kernel/kexec_crash_size \
    /sys/kernel/security/lockdown /sys/firmware/efi/fw_vendor /sys/firmware/efi/runtime \
    /sys/firmware/efi/config_table /sys/firmware/efi/systab \
    /sys/firmware/memmap/*/* /sys/firmware/efi/runtime-map/*/*; do
    section text "$file"
  done
} >"$corpus/machine/this-machine.txt" 2>/dev/null || true

# the command line: this machine's, with a little appended
if [ -r /proc/cmdline ]; then
  { echo "quiet"; cat /proc/cmdline; } >"$corpus/cmdline/this-cmdline.txt"
  { printf 'handoff\nplan\n/k\n--reuse-cmdline\n'; section text /proc/iomem; section text \
    /proc/cmdline; } >"$corpus/cli/this-plan.txt"
fi

# device trees: the ones QEMU's arm64 and riscv64 virt boards hand their
# kernels, dumped without booting anything, and this machine's own if it
# has one
for board in aarch64 riscv64; do
  if command -v "qemu-system-$board" >/dev/null; then
    "qemu-system-$board" -M "virt,dumpdtb=$corpus/devicetree/virt-$board.dtb" -m 1024 \
      -display none >/dev/null 2>&1 || true
  fi
done
if [ -r /sys/firmware/fdt ]; then cp /sys/firmware/fdt "$corpus/devicetree/this-machine.dtb"; fi

echo "fuzz seeds in $corpus: $(find "$corpus" -type f | wc -l) files"
