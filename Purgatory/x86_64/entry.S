/*
 * Handoff's x86_64 purgatory: the first and last instructions. relocate_kernel
 * jumps here in 64-bit long mode on an identity map, with no usable stack,
 * GDT or SSE; this sets those up, lets Swift check the segments, and jumps to
 * the new kernel's 64-bit entry the way boot.rst asks.
 *
 * Nothing here depends on where the blob sits: every address is taken
 * relative to RIP, and the loader may place it at any page-aligned physical
 * address below 4 GiB.
 *
 * There is no IDT of its own: an exception here (a failed Swift check is a
 * ud2) lands in whatever relocate_kernel left, which on current kernels is
 * a set of halting stubs in its control page and on older ones nothing, so
 * a triple fault resets the machine.
 */

#define BOOT_CS 0x10
#define BOOT_DS 0x18

#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_TS (1 << 3)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)

/* the parameter block; PurgatoryParameters.swift writes the same layout */
#define PARAMETERS_MAGIC 0x47505446464f4e48 /* "HNOFFTPG" in memory */
#define PARAMETERS_VERSION 1
#define PARAMETER_KERNEL_ENTRY 0x10
#define PARAMETER_BOOT_PARAMS 0x18
#define PARAMETER_REGIONS_MAX 16
#define PARAMETER_REGION_SIZE 32

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

	/* check the segments; returns only if the kernel may run */
	leaq	purgatory_parameters(%rip), %rdi
	call	purgatory_main

	/* hand over: RSI = boot_params, RBX, RBP and RDI zero, RIP = entry */
	leaq	purgatory_parameters(%rip), %rax
	movq	PARAMETER_BOOT_PARAMS(%rax), %rsi
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

/* void purgatory_halt(void), which never returns */
	.globl purgatory_halt
	.type purgatory_halt, @function
purgatory_halt:
	cli
1:	hlt
	jmp	1b
	.size purgatory_halt, . - purgatory_halt

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

	/*
	 * What the loader patches, all little-endian 64-bit words: magic,
	 * version, kernel_entry, boot_params, serial_port, flags (bit 0 verify,
	 * bit 1 announce), region_count, then 16 regions of {start, size,
	 * digest, reserved}.
	 */
	.section .data.parameters, "aw", @progbits
	.balign 8
	.globl purgatory_parameters
	.type purgatory_parameters, @object
purgatory_parameters:
	.quad	PARAMETERS_MAGIC
	.quad	PARAMETERS_VERSION
	.quad	0 /* kernel_entry */
	.quad	0 /* boot_params */
	.quad	0 /* serial_port */
	.quad	0 /* flags */
	.quad	0 /* region_count */
	.fill	PARAMETER_REGIONS_MAX * PARAMETER_REGION_SIZE, 1, 0
	.size purgatory_parameters, . - purgatory_parameters

	.section .bss.entry, "aw", @nobits
	.balign 16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
