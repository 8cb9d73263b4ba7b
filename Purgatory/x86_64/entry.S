/*
 * Handoff's x86_64 purgatory: the first and last instructions. relocate_kernel
 * jumps here in 64-bit long mode on an identity map, with no usable stack,
 * GDT or SSE; this sets those up, lets Swift check the segments, and jumps to
 * the new kernel's 64-bit entry the way boot.rst asks.
 *
 * Nothing here depends on where the blob sits: every address is taken
 * relative to RIP, and the loader may place it at any page-aligned physical
 * address (below 4 GiB, but for a crash kernel whose region lies above).
 *
 * It brings its own IDT as well, since a scrub may zero the control page
 * where current kernels keep theirs: an exception (a failed Swift check is
 * a ud2) prints its vector and address on the serial port and halts.
 */

#define BOOT_CS 0x10
#define BOOT_DS 0x18

#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_TS (1 << 3)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)

#include "../Shared/parameters.h"

/* the exceptions that push an error code: 8, 10-14, 17, 21, 29 and 30 */
#define ERROR_CODE_VECTORS 0x60227d00
#define IDT_VECTORS 32

#define STACK_SIZE 8192

	.code64
	.section .text.entry, "ax", @progbits
	.globl purgatory_start
	.type purgatory_start, @function
purgatory_start:
	cli
	cld

	/* a stack of our own: relocate_kernel's lives in its control page */
	leaq	stack_top(%rip), %rsp

	/* a GDT of our own, whose absolute base is only known now */
	leaq	gdt(%rip), %rax
	movq	%rax, gdt_pointer + 2(%rip)
	lgdt	gdt_pointer(%rip)

	/* CS = __BOOT_CS through a far return, every data selector = __BOOT_DS */
	leaq	1f(%rip), %rax
	pushq	$BOOT_CS
	pushq	%rax
	lretq
1:	movl	$BOOT_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs

	/*
	 * SSE on, before any compiled code: relocate_kernel clears CR4.OSFXSR,
	 * and compiled code copies and zeroes with XMM registers
	 */
	movq	%cr0, %rax
	andq	$~(CR0_EM | CR0_TS), %rax
	orq	$CR0_MP, %rax
	movq	%rax, %cr0
	movq	%cr4, %rax
	orq	$(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
	movq	%rax, %cr4
	ldmxcsr	mxcsr_default(%rip)

	/*
	 * an IDT of our own: 32 interrupt gates into the stubs below, each
	 * {offset 15:0, __BOOT_CS, present 64-bit interrupt gate, offset 31:16,
	 * offset 63:32, 0}
	 */
	leaq	idt(%rip), %rdi
	leaq	exception_stubs(%rip), %rdx
	movl	$IDT_VECTORS, %ecx
	movabsq	$((BOOT_CS << 16) | (0x8e << 40)), %r9 /* present, type 0xe */
2:	movq	%rdx, %rax
	andl	$0xffff, %eax
	orq	%r9, %rax
	movq	%rdx, %r8
	shrq	$16, %r8
	andq	$0xffff, %r8
	shlq	$48, %r8
	orq	%r8, %rax
	movq	%rax, (%rdi)
	movq	%rdx, %rax
	shrq	$32, %rax
	movq	%rax, 8(%rdi)
	addq	$16, %rdi
	addq	$8, %rdx
	decl	%ecx
	jnz	2b
	leaq	idt(%rip), %rax
	movq	%rax, idt_pointer + 2(%rip)
	lidt	idt_pointer(%rip)

	/*
	 * check the segments, and scrub when asked; returns only if the kernel
	 * may run. The page tables for a scrub go past the bss, where the
	 * segment's memsz leaves them room.
	 */
	leaq	purgatory_parameters(%rip), %rdi
	leaq	purgatory_memory_end(%rip), %rsi
	leaq	purgatory_start(%rip), %rdx
	call	purgatory_main

	/* hand over: RSI = boot_params, RBX, RBP and RDI zero, RIP = entry */
	leaq	purgatory_parameters(%rip), %rax
	movq	PARAMETER_KERNEL_ARGUMENT(%rax), %rsi
	movq	PARAMETER_KERNEL_ENTRY(%rax), %rax
	xorl	%ebx, %ebx
	xorl	%ebp, %ebp
	xorl	%edi, %edi
	jmpq	*%rax
	.size purgatory_start, . - purgatory_start

/* void purgatory_outb(uint16_t port, uint8_t value) */
	.text
	.globl purgatory_outb
	.type purgatory_outb, @function
purgatory_outb:
	movl	%edi, %edx
	movl	%esi, %eax
	outb	%al, %dx
	retq
	.size purgatory_outb, . - purgatory_outb

/* uint8_t purgatory_inb(uint16_t port) */
	.globl purgatory_inb
	.type purgatory_inb, @function
purgatory_inb:
	movl	%edi, %edx
	xorl	%eax, %eax
	inb	%dx, %al
	retq
	.size purgatory_inb, . - purgatory_inb

/* void purgatory_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) */
	.globl purgatory_cpuid
	.type purgatory_cpuid, @function
purgatory_cpuid:
	pushq	%rbx
	movq	%rdx, %r8
	movl	%edi, %eax
	movl	%esi, %ecx
	cpuid
	movl	%eax, (%r8)
	movl	%ebx, 4(%r8)
	movl	%ecx, 8(%r8)
	movl	%edx, 12(%r8)
	popq	%rbx
	retq
	.size purgatory_cpuid, . - purgatory_cpuid

/* uint64_t purgatory_read_cr4(void) */
	.globl purgatory_read_cr4
	.type purgatory_read_cr4, @function
purgatory_read_cr4:
	movq	%cr4, %rax
	retq
	.size purgatory_read_cr4, . - purgatory_read_cr4

/* void purgatory_write_cr3(uint64_t root), which also flushes the TLB */
	.globl purgatory_write_cr3
	.type purgatory_write_cr3, @function
purgatory_write_cr3:
	movq	%rdi, %cr3
	retq
	.size purgatory_write_cr3, . - purgatory_write_cr3

/*
 * void purgatory_zero(uint64_t start, uint64_t size, bool bytes): rep stosb
 * when the CPU has fast string stores (ERMS), else rep stosq, for which
 * `size` must be a multiple of 8; no SSE either way
 */
	.globl purgatory_zero
	.type purgatory_zero, @function
purgatory_zero:
	xorl	%eax, %eax
	testb	%dl, %dl
	jz	1f
	movq	%rsi, %rcx
	rep stosb
	retq
1:	movq	%rsi, %rcx
	shrq	$3, %rcx
	rep stosq
	retq
	.size purgatory_zero, . - purgatory_zero

/* uint64_t purgatory_rdtsc(void) */
	.globl purgatory_rdtsc
	.type purgatory_rdtsc, @function
purgatory_rdtsc:
	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	retq
	.size purgatory_rdtsc, . - purgatory_rdtsc

/* void purgatory_halt(void), which never returns */
	.globl purgatory_halt
	.type purgatory_halt, @function
purgatory_halt:
	cli
1:	hlt
	jmp	1b
	.size purgatory_halt, . - purgatory_halt

/*
 * One stub per vector, 8 bytes apart: push the vector, then the common part
 * finds RIP above the error code, if the vector has one, and reports
 */
	.balign 8
exception_stubs:
	.set vector, 0
	.rept IDT_VECTORS
	.balign 8
	pushq	$vector
	jmp	exception_common
	.set vector, vector + 1
	.endr

exception_common:
	movq	(%rsp), %rdi
	movq	8(%rsp), %rsi
	movl	$ERROR_CODE_VECTORS, %eax
	btl	%edi, %eax
	jnc	1f
	movq	16(%rsp), %rsi
1:	movq	%cr2, %rdx
	leaq	purgatory_parameters(%rip), %rcx
	andq	$-16, %rsp
	call	purgatory_exception
	jmp	purgatory_halt

	.section .rodata.entry, "a", @progbits
	.balign 4
mxcsr_default:
	.long	0x1f80 /* every SSE exception masked, round to nearest */

	.section .data.entry, "aw", @progbits
	/*
	 * Flat 4 GiB descriptors, as the 64-bit boot protocol wants them: 0x10
	 * 64-bit code (L set), 0x18 read/write data. 0x08 stays unused.
	 */
	.balign 16
gdt:
	.quad	0
	.quad	0
	.quad	0x00af9a000000ffff
	.quad	0x00cf92000000ffff
gdt_end:

	/* lgdt's operand: limit, then the base filled in at run time */
	.balign 8
gdt_pointer:
	.word	gdt_end - gdt - 1
	.quad	0

	/* lidt's, the same way */
	.balign 8
idt_pointer:
	.word	IDT_VECTORS * 16 - 1
	.quad	0

#include "../Shared/parameter-block.S"

	.section .bss.entry, "aw", @nobits
	.balign 16
idt:
	.skip	IDT_VECTORS * 16

	.balign 16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
