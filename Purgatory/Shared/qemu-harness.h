/*
 * What the aarch64 and riscv64 QEMU harnesses share: three regions of a byte
 * pattern whose XXH64 digests are known, and the purgatory segment made from
 * the blob with its parameter block filled in, as a loader would.
 *
 * The scrub cases fill 8 MiB at SCRUB_AREA and ask for two ranges in it
 * zeroed, with a page kept between them and around them, which the fake
 * kernel then checks; or, with SCRUB 2, for a range that starts inside
 * REGION1, which the purgatory must refuse.
 *
 * The including harness defines REGION0, REGION1 and REGION2 (where the
 * regions go in its RAM), RAM_END and SCRUB_AREA, and is built with -D for
 * DEST, PARAMETERS_OFFSET, MEMORY_SIZE, FLAGS, PATCH, CORRUPT and SCRUB,
 * which scripts/test-purgatory-qemu.sh explains.
 */
#include <stdint.h>

#ifndef SCRUB
#define SCRUB 0
#endif
#define SCRUB_AREA_SIZE 0x800000ull

extern const uint8_t blob[], blob_end[];

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

/*
 * The regions filled, the blob copied to DEST with zeros up to its memsz,
 * and its block told about `uart`, and unless PATCH is 0 also about the
 * kernel, its DTB and the regions; with CORRUPT, a byte of the second region
 * damaged after its digest was taken.
 */
static void prepare_segments(uint64_t kernel_entry, uint64_t dtb, uint64_t uart) {
  fill(REGION0, 100);
  fill(REGION1, 0x100000);
  fill(REGION2, 33);

  volatile uint8_t *segment = (volatile uint8_t *)DEST;
  uint64_t size = (uint64_t)(blob_end - blob);
  for (uint64_t i = 0; i < MEMORY_SIZE; i++) segment[i] = i < size ? blob[i] : 0;

  volatile uint64_t *block = (volatile uint64_t *)(DEST + PARAMETERS_OFFSET);
  block[4] = uart;
  if (PATCH) {
    block[2] = kernel_entry;
    block[3] = dtb;
    block[5] = FLAGS;
    block[6] = 4;
    for (int r = 0; r < 4; r++)
      for (int f = 0; f < 4; f++) block[7 + r * 4 + f] = regions[r][f];
  }
  if (CORRUPT) ((volatile uint8_t *)REGION1)[0x80000] ^= 0x01;
}

/* {start, size} of each range to zero: two inside the filled area with a
 * page between them, or with SCRUB 2 one that starts inside REGION1 */
static const uint64_t scrub_ranges[2][2] = {
    {SCRUB == 2 ? REGION1 + 0x1000 : SCRUB_AREA + 0x1000, 0x3ff000},
    {SCRUB_AREA + 0x401000, 0x3fe000},
};

/* the block's scrub fields: identity-map end, page-table room, count, ranges */
static void prepare_scrub(void) {
  volatile uint8_t *area = (volatile uint8_t *)SCRUB_AREA;
  for (uint64_t i = 0; i < SCRUB_AREA_SIZE; i++) area[i] = (uint8_t)(0x5a ^ (i >> 12));
  volatile uint64_t *block = (volatile uint64_t *)(DEST + PARAMETERS_OFFSET);
  block[0x238 / 8] = RAM_END;
  block[0x240 / 8] = 0;
  block[0x248 / 8] = 2;
  for (int r = 0; r < 2; r++) {
    block[0x250 / 8 + r * 2] = scrub_ranges[r][0];
    block[0x250 / 8 + r * 2 + 1] = scrub_ranges[r][1];
  }
}

/* whether every scrub range reads zero and the pages around them do not */
static const char *scrub_wrong(void) {
  volatile uint8_t *area = (volatile uint8_t *)SCRUB_AREA;
  for (uint64_t i = 0; i < SCRUB_AREA_SIZE; i++) {
    uint64_t address = SCRUB_AREA + i;
    int zeroed = 0;
    for (int r = 0; r < 2; r++)
      if (address >= scrub_ranges[r][0] && address < scrub_ranges[r][0] + scrub_ranges[r][1])
        zeroed = 1;
    if (zeroed && area[i] != 0) return "a scrub range is not zero\r\n";
    if (!zeroed && area[i] == 0) return "a byte outside the scrub ranges is zero\r\n";
  }
  return 0;
}
