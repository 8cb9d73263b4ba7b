/*
 * A stand-in for the kernel's relocation code and for the new kernel, so
 * that the aarch64 purgatory can run under QEMU without either:
 * scripts/test-purgatory-qemu.sh boots this ELF on `-M virt` at EL1, or at
 * EL2 with virtualization on.
 *
 * It writes a byte pattern into three regions, copies the purgatory blob to
 * DEST, fills in its parameter block, and branches to it in the state the
 * relocation code leaves: the MMU and the caches off, x0-x3 zero, and a
 * stack pointer the purgatory must not use. The "kernel" it names checks how
 * it was entered, says so on the PL011 UART, and powers the machine off
 * through QEMU's PSCI, so QEMU ends with status 0 either way and the line on
 * the UART tells.
 *
 * Built with -D for: DEST, PARAMETERS_OFFSET, MEMORY_SIZE (the blob's),
 * FLAGS (the block's flags word), PATCH (0 sets only the UART, so the block
 * names no kernel), CORRUPT (1 flips a byte in the second region after its
 * digest was taken), FAULT (1 names a kernel entry outside RAM, so the
 * branch faults into the purgatory's own vectors) and SCRUB (1 asks for a
 * scrub of part of an area it filled, 2 for one over a segment, as
 * Shared/qemu-harness.h explains). purgatory.bin must be in the working
 * directory.
 */

#include <stdint.h>

#ifndef FAULT
#define FAULT 0
#endif

#define DTB 0x48000000ull
#define UART 0x09000000ull
#define REGION0 0x40400000ull
#define REGION1 0x40500000ull
#define REGION2 0x40600003ull

#define RAM_END 0x60000000ull
#define SCRUB_AREA 0x44000000ull

#include "../Shared/qemu-harness.h"

extern void fake_kernel(void);
extern void jump_to_purgatory(uint64_t destination);

static void put(char c) {
  volatile uint32_t *uart = (volatile uint32_t *)UART;
  while (uart[0x18 / 4] & 0x20) {
  }
  uart[0] = (uint32_t)c;
}

static void puts(const char *text) {
  while (*text) put(*text++);
}

/*
 * PSCI SYSTEM_OFF, which QEMU's virt machine implements itself: through hvc
 * at EL1, through smc at EL2 (where hvc would come back to us)
 */
static void __attribute__((noreturn)) power_off(void) {
  uint64_t level;
  __asm__ volatile("mrs %0, CurrentEL" : "=r"(level));
  register uint64_t function __asm__("x0") = 0x84000008;
  if (level == (2 << 2))
    __asm__ volatile("smc #0" : "+r"(function) : : "memory");
  else
    __asm__ volatile("hvc #0" : "+r"(function) : : "memory");
  for (;;) {
  }
}

void harness_main(void) {
  prepare_segments(FAULT ? 0x7ffff000ull : (uint64_t)fake_kernel, DTB, UART);
  if (SCRUB) prepare_scrub();
  jump_to_purgatory(DEST);
}

/* what the fake kernel found, from the assembly below */
void kernel_check(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3, uint64_t sp) {
  const char *wrong = 0;
  if (x0 != DTB) wrong = "x0 is not the DTB\r\n";
  else if (x1 | x2 | x3) wrong = "x1, x2 or x3 is not 0\r\n";
  else if (sp < DEST || sp > DEST + MEMORY_SIZE) wrong = "SP is not inside the purgatory segment\r\n";
  else if (SCRUB) wrong = scrub_wrong();
  if (wrong) {
    puts("fake kernel: reached, but wrong: ");
    puts(wrong);
    power_off();
  }
  if (SCRUB) puts("fake kernel: the scrub ranges read zero, the pages around them do not\r\n");
  uint64_t level;
  __asm__ volatile("mrs %0, CurrentEL" : "=r"(level));
  puts(level == (2 << 2) ? "fake kernel: reached at EL2" : "fake kernel: reached at EL1");
  puts(" with x0 = DTB, x1-x3 0, a stack in the segment\r\n");
  power_off();
}

__asm__(
    ".section .text.start, \"ax\"\n"
    ".globl _start\n"
    "_start:\n"
    "  ldr x9, =harness_stack_top\n"
    "  mov sp, x9\n"
    "  bl harness_main\n"
    "1: wfi\n"
    "  b 1b\n"
    /* x0-x3 zero, and SP somewhere the purgatory must not use */
    ".text\n"
    ".globl jump_to_purgatory\n"
    "jump_to_purgatory:\n"
    "  mov x9, x0\n"
    "  mov x0, xzr\n"
    "  mov x1, xzr\n"
    "  mov x2, xzr\n"
    "  mov x3, xzr\n"
    "  mov x10, #0x10\n"
    "  mov sp, x10\n"
    "  br x9\n"
    ".globl fake_kernel\n"
    "fake_kernel:\n"
    "  mov x4, sp\n"
    "  ldr x9, =harness_stack_top\n"
    "  mov sp, x9\n"
    "  bl kernel_check\n"
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
