/*
 * The benchmark's baseline for the purgatory's scrub: how fast a plain
 * memset zeroes memory in the guest's user space. The lab builds it static
 * with musl-gcc and puts it in the benchmark guest's initramfs.
 *
 * usage: memset-rate BYTES
 *
 * It zeroes BYTES in passes over one buffer of at most 256 MiB, which it
 * writes once first so that the timed passes take no page faults, and
 * prints the bytes, the nanoseconds the passes took on CLOCK_MONOTONIC and
 * the TSC cycles over the same time: the TSC's rate, with which the lab
 * reads the purgatory's own timing of the scrub in seconds of this clock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUFFER_MAX (256ull << 20)

static uint64_t nanoseconds(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint64_t tsc(void)
{
	uint32_t low, high;
	__asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
	return (uint64_t)high << 32 | low;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long long bytes = argc == 2 ? strtoull(argv[1], &end, 10) : 0;
	if (bytes == 0 || *end != '\0') {
		fprintf(stderr, "usage: memset-rate BYTES (a positive number)\n");
		return 64;
	}
	size_t size = bytes < BUFFER_MAX ? bytes : BUFFER_MAX;
	unsigned char *buffer = malloc(size);
	if (buffer == NULL) {
		fprintf(stderr, "memset-rate: no memory for %zu bytes\n", size);
		return 1;
	}

	/* every page once, outside the timed passes */
	memset(buffer, 0xff, size);
	__asm__ volatile("" : : "r"(buffer) : "memory");

	/* the passes; the compiler must keep stores that nothing reads */
	uint64_t started = nanoseconds();
	uint64_t cycles = tsc();
	for (unsigned long long left = bytes; left > 0;) {
		size_t pass = left < size ? left : size;
		memset(buffer, 0, pass);
		__asm__ volatile("" : : "r"(buffer) : "memory");
		left -= pass;
	}
	cycles = tsc() - cycles;
	uint64_t elapsed = nanoseconds() - started;

	printf("bytes=%llu ns=%llu tsc_cycles=%llu\n", bytes, (unsigned long long)elapsed,
	       (unsigned long long)cycles);
	return 0;
}
