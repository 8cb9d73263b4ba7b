// libfdt, Debian's libfdt-dev: the device tree library the kernel and
// U-Boot use, which Handoff edits the next kernel's DTB with.
#ifndef CHANDOFF_FDT_H
#define CHANDOFF_FDT_H

#include <libfdt.h>

// fdt_totalsize is a macro over the header's big-endian field; Swift
// cannot call macros, so this reads it as a function.
static inline uint32_t handoff_fdt_totalsize(const void *fdt) {
  return fdt_totalsize(fdt);
}

#endif
