/*
 * A stand-in for the kernel's relocation code and for the new kernel, so
 * that the riscv64 purgatory can run under QEMU without either:
 * scripts/test-purgatory-qemu.sh boots this ELF on `-M virt`, where OpenSBI
 * starts it in S-mode with translation off.
 *
 * It writes a byte pattern into three regions, copies the purgatory blob to
 * DEST, fills in its parameter block, and jumps to it as the kernel does:
 * a0 = the hart id, a1 = the DTB, and a stack pointer the purgatory must not
 * use. The "kernel" it names checks how it was entered, says so on the
 * 16550 UART, and powers the machine off through SBI's system reset, so
 * QEMU ends with status 0 either way and the line on the UART tells.
 *
 * Built with -D for: DEST, PARAMETERS_OFFSET, MEMORY_SIZE (the blob's),
 * FLAGS (the block's flags word), PATCH (0 sets only the UART, so the block
 * names no kernel), CORRUPT (1 flips a byte in the second region after its
 * digest was taken), FAULT (1 names a kernel entry in the PCI window below
 * RAM, so the jump traps into the purgatory's own vector) and SCRUB (1 fills
 * 8 MiB at SCRUB_AREA and asks for two ranges in it zeroed, with a page kept
 * between them and around them, which the fake kernel then checks; 2 asks
 * for a range over a segment, which the purgatory must refuse).
 * purgatory.bin must be in the working directory.
 */

#include <stdint.h>

#ifndef FAULT
#define FAULT 0
#endif

#define DTB 0x88000000ull
#define HART 0
#define UART 0x10000000ull
#define REGION0 0x80400000ull
#define REGION1 0x80500000ull
#define REGION2 0x80600003ull

#define RAM_END 0xa0000000ull
#define SCRUB_AREA 0x84000000ull

#include "../Shared/qemu-harness.h"

extern void fake_kernel(void);
extern void jump_to_purgatory(uint64_t destination, uint64_t hart);

static void put(char c) {
  volatile uint8_t *uart = (volatile uint8_t *)UART;
  while (!(uart[5] & 0x20)) {
  }
  uart[0] = (uint8_t)c;
}

static void puts(const char *text) {
  while (*text) put(*text++);
}

/* SBI system reset (extension "SRST"): shutdown, which QEMU ends on */
static void __attribute__((noreturn)) power_off(void) {
  register uint64_t type __asm__("a0") = 0;
  register uint64_t reason __asm__("a1") = 0;
  register uint64_t function __asm__("a6") = 0;
  register uint64_t extension __asm__("a7") = 0x53525354;
  __asm__ volatile("ecall" : "+r"(type), "+r"(reason) : "r"(function), "r"(extension) : "memory");
  for (;;) {
  }
}

void harness_main(void) {
  prepare_segments(FAULT ? 0x7ffff000ull : (uint64_t)fake_kernel, DTB, UART);
  if (SCRUB) prepare_scrub();
  __asm__ volatile("fence.i" ::: "memory");
  jump_to_purgatory(DEST, HART);
}

/* what the fake kernel found, from the assembly below */
void kernel_check(uint64_t a0, uint64_t a1, uint64_t sp) {
  const char *wrong = 0;
  if (a0 != HART) wrong = "a0 is not the hart id\r\n";
  else if (a1 != DTB) wrong = "a1 is not the DTB\r\n";
  else if (sp < DEST || sp > DEST + MEMORY_SIZE) wrong = "SP is not inside the purgatory segment\r\n";
  else if (SCRUB) wrong = scrub_wrong();
  if (wrong) {
    puts("fake kernel: reached, but wrong: ");
    puts(wrong);
    power_off();
  }
  if (SCRUB) puts("fake kernel: the scrub ranges read zero, the pages around them do not\r\n");
  puts("fake kernel: reached with a0 = hart id, a1 = DTB, a stack in the segment\r\n");
  power_off();
}

__asm__(
    ".section .text.start, \"ax\"\n"
    ".globl _start\n"
    "_start:\n"
    "  lla sp, harness_stack_top\n"
    "  call harness_main\n"
    "1: wfi\n"
    "  j 1b\n"
    /* a0 = hart id, a1 = something other than the DTB, SP unusable */
    ".text\n"
    ".globl jump_to_purgatory\n"
    "jump_to_purgatory:\n"
    "  mv t0, a0\n"
    "  mv a0, a1\n"
    "  li a1, 0x1234\n"
    "  li sp, 0x10\n"
    "  jr t0\n"
    ".globl fake_kernel\n"
    "fake_kernel:\n"
    "  mv a2, sp\n"
    "  lla sp, harness_stack_top\n"
    "  call kernel_check\n"
    ".section .rodata.blob, \"a\"\n"
    ".balign 16\n"
    ".globl blob\n"
    "blob:\n"
    "  .incbin \"purgatory.bin\"\n"
    ".globl blob_end\n"
    "blob_end:\n"
    ".bss\n"
    ".balign 16\n"
    "  .skip 16384\n"
    "harness_stack_top:\n");
