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
 * digest was taken) and FAULT (1 names a kernel entry in the PCI window below
 * RAM, so the jump traps into the purgatory's own vector). purgatory.bin must be in the
 * working directory.
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

extern const uint8_t blob[], blob_end[];
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

static void fill(uint64_t start, uint64_t count) {
  volatile uint8_t *bytes = (volatile uint8_t *)start;
  for (uint64_t i = 0; i < count; i++) bytes[i] = (uint8_t)((i * 131) ^ (i >> 7));
}

/* {start, size, digest, memsz}: digests from the XXH64 known answers */
static const uint64_t regions[4][4] = {
    {REGION0, 100, 0xacd07a6400e07def, 0x1000},
    {REGION1, 0x100000, 0x45676a939f29526c, 0x100000},
    {REGION2, 33, 0x379b60150f2cfc7f, 33},
    {0, 0, 0xef46db3751d8e999, 0},
};

void harness_main(void) {
  fill(REGION0, 100);
  fill(REGION1, 0x100000);
  fill(REGION2, 33);

  /* the purgatory segment: the blob, then zeros up to its memsz */
  volatile uint8_t *segment = (volatile uint8_t *)DEST;
  uint64_t size = (uint64_t)(blob_end - blob);
  for (uint64_t i = 0; i < MEMORY_SIZE; i++) segment[i] = i < size ? blob[i] : 0;

  volatile uint64_t *block = (volatile uint64_t *)(DEST + PARAMETERS_OFFSET);
  block[4] = UART;
  if (PATCH) {
    block[2] = FAULT ? 0x7ffff000ull : (uint64_t)fake_kernel;
    block[3] = DTB;
    block[5] = FLAGS;
    block[6] = 4;
    for (int r = 0; r < 4; r++)
      for (int f = 0; f < 4; f++) block[7 + r * 4 + f] = regions[r][f];
  }
  if (CORRUPT) ((volatile uint8_t *)REGION1)[0x80000] ^= 0x01;

  __asm__ volatile("fence.i" ::: "memory");
  jump_to_purgatory(DEST, HART);
}

/* what the fake kernel found, from the assembly below */
void kernel_check(uint64_t a0, uint64_t a1, uint64_t sp) {
  const char *wrong = 0;
  if (a0 != HART) wrong = "a0 is not the hart id\r\n";
  else if (a1 != DTB) wrong = "a1 is not the DTB\r\n";
  else if (sp < DEST || sp > DEST + MEMORY_SIZE) wrong = "SP is not inside the purgatory segment\r\n";
  if (wrong) {
    puts("fake kernel: reached, but wrong: ");
    puts(wrong);
    power_off();
  }
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
