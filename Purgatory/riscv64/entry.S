/*
 * Handoff's riscv64 purgatory: the first and last instructions. The kernel's
 * relocation code (riscv_kexec_norelocate or the relocate path of
 * kexec_relocate.S) jumps here in S-mode with satp = 0 (no translation),
 * interrupts off, a0 = this hart's id and a1 = the DTB it found among the
 * segments. This keeps both, sets up a stack and a trap vector of its own,
 * lets Swift check the segments, and enters the kernel the way boot.rst
 * asks: a0 = hart id, a1 = DTB.
 *
 * Everything is addressed relative to the PC, so the loader may place the
 * blob at any page-aligned physical address.
 */

#include "../Shared/parameters.h"

#define STACK_SIZE 8192

	.section .text.entry, "ax", %progbits
	.globl purgatory_start
	.type purgatory_start, %function
purgatory_start:
	csrw	sie, zero

	/* the hart id survives the call in a callee-saved register */
	mv	s0, a0

	/* a stack and a trap vector of our own */
	lla	sp, stack_top
	lla	t0, trap_entry
	csrw	stvec, t0

	/* check the segments; returns only if the kernel may run */
	lla	a0, purgatory_parameters
	lla	a1, purgatory_memory_end
	lla	a2, purgatory_start
	call	purgatory_main

	/* hand over: a0 = hart id, a1 = DTB, PC = the Image's first instruction */
	lla	t0, purgatory_parameters
	ld	a1, PARAMETER_KERNEL_ARGUMENT(t0)
	ld	t1, PARAMETER_KERNEL_ENTRY(t0)
	mv	a0, s0
	fence.i
	jr	t1
	.size purgatory_start, . - purgatory_start

/* uint8_t purgatory_mmio_read8(uint64_t address) */
	.text
	.globl purgatory_mmio_read8
	.type purgatory_mmio_read8, %function
purgatory_mmio_read8:
	lbu	a0, 0(a0)
	ret
	.size purgatory_mmio_read8, . - purgatory_mmio_read8

/* void purgatory_mmio_write8(uint64_t address, uint8_t value) */
	.globl purgatory_mmio_write8
	.type purgatory_mmio_write8, %function
purgatory_mmio_write8:
	sb	a1, 0(a0)
	ret
	.size purgatory_mmio_write8, . - purgatory_mmio_write8

/* void purgatory_zero(uint64_t start, uint64_t size): size a multiple of 64 */
	.globl purgatory_zero
	.type purgatory_zero, %function
purgatory_zero:
	add	a1, a0, a1
1:	bgeu	a0, a1, 2f
	sd	zero, 0(a0)
	sd	zero, 8(a0)
	sd	zero, 16(a0)
	sd	zero, 24(a0)
	sd	zero, 32(a0)
	sd	zero, 40(a0)
	sd	zero, 48(a0)
	sd	zero, 56(a0)
	addi	a0, a0, 64
	j	1b
2:	ret
	.size purgatory_zero, . - purgatory_zero

/* void purgatory_halt(void), which never returns */
	.globl purgatory_halt
	.type purgatory_halt, %function
purgatory_halt:
	csrw	sie, zero
1:	wfi
	j	1b
	.size purgatory_halt, . - purgatory_halt

/* every trap: report scause, sepc and stval, then halt */
	.balign 4
trap_entry:
	lla	sp, stack_top
	csrr	a0, scause
	csrr	a1, sepc
	csrr	a2, stval
	lla	a3, purgatory_parameters
	call	purgatory_exception
	j	purgatory_halt

#include "../Shared/parameter-block.S"

	.section .bss.entry, "aw", %nobits
	.balign 16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", %progbits
