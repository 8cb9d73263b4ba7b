/*
 * Handoff's aarch64 purgatory: the first and last instructions. The kernel's
 * relocation code (arm64_relocate_new_kernel, through cpu_soft_restart)
 * branches here at EL2 or EL1 with the MMU and the D-cache off, after
 * cleaning every copied page to the point of coherency. For kexec_load it
 * passes x0 = 0: the DTB's address is the purgatory's to supply. This sets up
 * a stack and exception vectors of its own, lets Swift check the segments,
 * and enters the kernel the way booting.rst asks: x0 = DTB, x1-x3 = 0.
 *
 * Everything is addressed relative to the PC, so the loader may place the
 * blob at any page-aligned physical address.
 */

#include "../Shared/parameters.h"

#define CURRENT_EL_EL2 (2 << 2)
#define STACK_SIZE 8192

	.section .text.entry, "ax", %progbits
	.globl purgatory_start
	.type purgatory_start, %function
purgatory_start:
	msr	daifset, #0xf

	/* a stack of our own: the relocation code's is in the old kernel */
	adr	x9, stack_top
	mov	sp, x9

	/*
	 * exception vectors of our own, at the exception level we run at: the
	 * old kernel's are virtual addresses, meaningless with the MMU off
	 */
	adr	x9, vectors
	mrs	x10, CurrentEL
	cmp	x10, #CURRENT_EL_EL2
	b.eq	1f
	msr	vbar_el1, x9
	b	2f
1:	msr	vbar_el2, x9
2:	isb

	/* check the segments; returns only if the kernel may run */
	adr	x0, purgatory_parameters
	adr	x1, purgatory_memory_end
	adr	x2, purgatory_start
	bl	purgatory_main

	/* hand over: x0 = DTB, x1-x3 = 0, PC = the Image's first instruction */
	adr	x9, purgatory_parameters
	ldr	x0, [x9, #PARAMETER_KERNEL_ARGUMENT]
	ldr	x4, [x9, #PARAMETER_KERNEL_ENTRY]
	mov	x1, xzr
	mov	x2, xzr
	mov	x3, xzr
	br	x4
	.size purgatory_start, . - purgatory_start

/* uint32_t purgatory_mmio_read32(uint64_t address) */
	.text
	.globl purgatory_mmio_read32
	.type purgatory_mmio_read32, %function
purgatory_mmio_read32:
	ldr	w0, [x0]
	ret
	.size purgatory_mmio_read32, . - purgatory_mmio_read32

/* void purgatory_mmio_write32(uint64_t address, uint32_t value) */
	.globl purgatory_mmio_write32
	.type purgatory_mmio_write32, %function
purgatory_mmio_write32:
	str	w1, [x0]
	ret
	.size purgatory_mmio_write32, . - purgatory_mmio_write32

/*
 * void purgatory_clean_invalidate(uint64_t start, uint64_t size): clean and
 * invalidate every data cache line of [start, start + size) to the point of
 * coherency, a line of CTR_EL0's smallest D-cache size at a time
 */
	.globl purgatory_clean_invalidate
	.type purgatory_clean_invalidate, %function
purgatory_clean_invalidate:
	mrs	x3, ctr_el0
	ubfx	x3, x3, #16, #4
	mov	x2, #4
	lsl	x2, x2, x3
	add	x1, x0, x1
	sub	x3, x2, #1
	bic	x0, x0, x3
1:	cmp	x0, x1
	b.hs	2f
	dc	civac, x0
	add	x0, x0, x2
	b	1b
2:	dsb	sy
	ret
	.size purgatory_clean_invalidate, . - purgatory_clean_invalidate

/*
 * void purgatory_zero(uint64_t start, uint64_t size): size a multiple of 64.
 * Pairs of aligned stores: with the MMU off memory is Device memory, where
 * dc zva and unaligned stores fault.
 */
	.globl purgatory_zero
	.type purgatory_zero, %function
purgatory_zero:
	add	x1, x0, x1
1:	cmp	x0, x1
	b.hs	2f
	stp	xzr, xzr, [x0]
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	add	x0, x0, #64
	b	1b
2:	dsb	sy
	ret
	.size purgatory_zero, . - purgatory_zero

/* uint64_t purgatory_counter(void): the generic timer's virtual count */
	.globl purgatory_counter
	.type purgatory_counter, %function
purgatory_counter:
	isb
	mrs	x0, cntvct_el0
	ret
	.size purgatory_counter, . - purgatory_counter

/* uint64_t purgatory_counter_frequency(void): its rate in Hz */
	.globl purgatory_counter_frequency
	.type purgatory_counter_frequency, %function
purgatory_counter_frequency:
	mrs	x0, cntfrq_el0
	ret
	.size purgatory_counter_frequency, . - purgatory_counter_frequency

/* void purgatory_halt(void), which never returns */
	.globl purgatory_halt
	.type purgatory_halt, %function
purgatory_halt:
	msr	daifset, #0xf
1:	wfi
	b	1b
	.size purgatory_halt, . - purgatory_halt

/*
 * The vector table: 16 entries of 0x80 bytes (synchronous, IRQ, FIQ, SError
 * for each of the four origins). Each passes its index, then the common part
 * reads the syndrome, the return address and the fault address of the
 * exception level it runs at, and reports.
 */
	.balign 2048
vectors:
	.set index, 0
	.rept 16
	.balign 0x80
	mov	x0, #index
	b	exception_common
	.set index, index + 1
	.endr

exception_common:
	mrs	x10, CurrentEL
	cmp	x10, #CURRENT_EL_EL2
	b.eq	1f
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	b	2f
1:	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
2:	adr	x4, purgatory_parameters
	adr	x9, stack_top
	mov	sp, x9
	bl	purgatory_exception
	b	purgatory_halt

#include "../Shared/parameter-block.S"

	.section .bss.entry, "aw", %nobits
	.balign 16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", %progbits
