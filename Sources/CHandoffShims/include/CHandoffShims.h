// The few C lines Swift cannot write itself: syscall(2), open(2) and the
// other variadic or macro-defined calls, and the kexec system calls that
// glibc and musl do not wrap. Every function is `static inline`, so the same
// header serves the SwiftPM build (glibc) and the static build (musl).
#ifndef CHANDOFF_SHIMS_H
#define CHANDOFF_SHIMS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// One segment of a `kexec_load(2)` call, laid out as the kernel's
/// `struct kexec_segment`.
typedef struct {
  const void *buf;
  size_t bufsz;
  uintptr_t mem;
  size_t memsz;
} handoff_kexec_segment;

/// What `handoff_file_kind` found at a descriptor.
enum {
  HANDOFF_FILE_REGULAR = 1,
  HANDOFF_FILE_DIRECTORY = 2,
  HANDOFF_FILE_OTHER = 3,
};

static inline int handoff_errno(void) { return errno; }

static inline int handoff_open_read(const char *path) {
  return open(path, O_RDONLY | O_CLOEXEC);
}

/// Opens an existing file write-only, such as a sysfs attribute.
static inline int handoff_open_write(const char *path) {
  return open(path, O_WRONLY | O_CLOEXEC);
}

static inline long handoff_read(int fd, void *buf, size_t count) {
  return (long)read(fd, buf, count);
}

static inline long handoff_write(int fd, const void *buf, size_t count) {
  return (long)write(fd, buf, count);
}

static inline int handoff_close(int fd) { return close(fd); }

/// Writes the names in the directory at `path`, each with its NUL, into
/// `buf`, leaving out "." and ".."; returns the bytes all of them need, more
/// than `size` when `buf` was too small (then call again), or -1 with errno.
static inline long handoff_list_directory(const char *path, void *buf, size_t size) {
  char *out = buf;
  DIR *dir = opendir(path);
  if (dir == NULL) return -1;
  size_t used = 0;
  struct dirent *entry;
  errno = 0;
  while ((entry = readdir(dir)) != NULL) {
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    size_t length = strlen(name) + 1;
    if (used + length <= size) memcpy(out + used, name, length);
    used += length;
  }
  int failure = errno;
  closedir(dir);
  if (failure != 0) {
    errno = failure;
    return -1;
  }
  return (long)used;
}

#ifndef SYS_memfd_create
#if defined(__x86_64__)
#define SYS_memfd_create 319
#else
#define SYS_memfd_create 279
#endif
#endif

/// An anonymous in-memory file, open for reading and writing (memfd_create(2)
/// with MFD_CLOEXEC).
static inline int handoff_memfd_create(const char *name) {
  return (int)syscall(SYS_memfd_create, name, 1U);
}

/// The kind of file open at `fd`, and its size in bytes, or -1 with errno.
static inline int handoff_file_kind(int fd, int64_t *size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  *size = (int64_t)st.st_size;
  if (S_ISREG(st.st_mode)) return HANDOFF_FILE_REGULAR;
  if (S_ISDIR(st.st_mode)) return HANDOFF_FILE_DIRECTORY;
  return HANDOFF_FILE_OTHER;
}

#ifndef SYS_getrandom
#if defined(__x86_64__)
#define SYS_getrandom 318
#else
#define SYS_getrandom 278
#endif
#endif

/// Fills `buf` with `count` random bytes without blocking (getrandom(2)
/// with GRND_NONBLOCK); returns the count filled or -1 with errno.
static inline long handoff_getrandom(void *buf, size_t count) {
  return syscall(SYS_getrandom, buf, count, 1U);
}

static inline unsigned handoff_geteuid(void) { return (unsigned)geteuid(); }

static inline void handoff_sync(void) { sync(); }

static inline void handoff_exit(int status) { exit(status); }

/// Nanoseconds on the monotonic clock.
static inline int64_t handoff_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifndef SYS_kexec_file_load
#if defined(__x86_64__)
#define SYS_kexec_file_load 320
#else
#define SYS_kexec_file_load 294
#endif
#endif

static inline long handoff_kexec_file_load(int kernel_fd, int initrd_fd,
                                           unsigned long cmdline_len,
                                           const char *cmdline,
                                           unsigned long flags) {
  return syscall(SYS_kexec_file_load, kernel_fd, initrd_fd, cmdline_len,
                 cmdline, flags);
}

static inline long handoff_kexec_load(unsigned long entry,
                                      unsigned long nr_segments,
                                      const handoff_kexec_segment *segments,
                                      unsigned long flags) {
  return syscall(SYS_kexec_load, entry, nr_segments, segments, flags);
}

/// reboot(2) with LINUX_REBOOT_CMD_KEXEC: boots the loaded kernel and does
/// not return on success.
static inline long handoff_reboot_kexec(void) {
  return syscall(SYS_reboot, 0xfee1deadUL, 672274793UL, 0x45584543UL, (void *)0);
}

#endif
