/*
 * A stand-in for relocate_kernel and for the new kernel, so that the
 * purgatory can run under QEMU without either: scripts/test-purgatory-qemu.sh
 * boots this as a Multiboot image.
 *
 * It enters 64-bit long mode on an identity map of the first 4 GiB, writes
 * a byte pattern into three regions, copies the purgatory blob to DEST,
 * fills in its parameter block, and jumps to it in the state relocate_kernel
 * leaves: every general register zero, no GDT or IDT, SSE off, CR0.EM and
 * CR0.TS set for good measure, and a stack the purgatory must not use. The
 * "kernel" it names checks how it was entered, says so on the serial port,
 * and ends QEMU through the isa-debug-exit device.
 *
 * Built with -D for: DEST, PARAMETERS_OFFSET, MEMORY_SIZE (the blob's),
 * FLAGS (the block's flags word), PATCH (0 sets only the serial port, so
 * the block names no kernel) and
 * CORRUPT (1 flips a byte in the second region after its digest was taken).
 * For a scrub, also SCRUB (1: two ranges inside a filled 8 MiB, which the
 * kernel checks; 2: a range over a segment), TABLE_BYTES (room for page
 * tables past the segment's memsz) and MAP_END; LA57 (1) enters 5-level
 * paging instead of 4; STRAY_ENTRY (1) names a kernel entry outside the
 * purgatory's identity map.
 * purgatory.bin must be in the assembler's working directory.
 */

#ifndef SCRUB
#define SCRUB 0
#endif
#ifndef TABLE_BYTES
#define TABLE_BYTES 0
#endif
#ifndef MAP_END
#define MAP_END 0
#endif
#ifndef LA57
#define LA57 0
#endif
#ifndef STRAY_ENTRY
#define STRAY_ENTRY 0
#endif

#define BOOT_PARAMS 0x12345000
#define SERIAL 0x3f8
#define DEBUG_EXIT 0xf4
#define EXIT_KERNEL_OK 0x10 /* QEMU exits with (0x10 << 1) | 1 = 33 */
#define EXIT_KERNEL_BAD 0x11 /* 35 */

#define REGION0 0x400000
#define REGION1 0x500000
#define REGION2 0x600003

/* filled with 0xa5; the scrub ranges lie inside, with gaps it must keep */
#define SCRUB_FILL 0x1000000
#define SCRUB_FILL_END 0x1800000

#define CR4_PAE (1 << 5)
#define CR4_LA57 (1 << 12)
#if LA57
#define CR4_PAGING (CR4_PAE | CR4_LA57)
#else
#define CR4_PAGING CR4_PAE
#endif

	.section .harness, "awx", @progbits
	.code32

/* Multiboot 1 with the address fields: QEMU loads the flat file as is */
	.balign 4
multiboot_header:
	.long	0x1badb002
	.long	0x00010000
	.long	-(0x1badb002 + 0x00010000)
	.long	multiboot_header
	.long	image_start
	.long	image_end
	.long	image_end
	.long	entry32

image_start = multiboot_header

	.globl entry32
entry32:
	cli
	movl	$boot_stack_top, %esp

	/* PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 2 MiB pages */
	movl	$pdpt + 3, pml4
	movl	$pd + 3, %eax
	xorl	%ecx, %ecx
1:	movl	%eax, pdpt(, %ecx, 8)
	addl	$4096, %eax
	incl	%ecx
	cmpl	$4, %ecx
	jne	1b
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x83, %eax /* present, writable, 2 MiB */
	movl	%eax, pd(, %ecx, 8)
	movl	%ecx, %eax
	shrl	$11, %eax /* the high half of the address: 0 below 4 GiB */
	movl	%eax, pd + 4(, %ecx, 8)
	incl	%ecx
	cmpl	$2048, %ecx
	jne	1b

	/* PAE (and LA57), the page tables, EFER.LME, paging: long mode */
	movl	%cr4, %eax
	orl	$CR4_PAGING, %eax
	movl	%eax, %cr4
#if LA57
	movl	$pml4 + 3, pml5
	movl	$pml5, %eax
#else
	movl	$pml4, %eax
#endif
	movl	%eax, %cr3
	movl	$0xc0000080, %ecx
	rdmsr
	orl	$(1 << 8), %eax
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax
	movl	%eax, %cr0
	lgdt	harness_gdt_pointer
	ljmp	$0x08, $entry64

	.code64
entry64:
	/* deliberately not the boot protocol's selectors: 0x08 code, 0x10 data */
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$boot_stack_top, %rsp

	/* the regions: 100 bytes, 1 MiB, and 33 bytes at an odd address */
	movq	$REGION0, %rdi
	movq	$100, %rcx
	call	fill
	movq	$REGION1, %rdi
	movq	$0x100000, %rcx
	call	fill
	movq	$REGION2, %rdi
	movq	$33, %rcx
	call	fill
#if SCRUB
	movq	$SCRUB_FILL, %rdi
	movq	$(SCRUB_FILL_END - SCRUB_FILL), %rcx
	movb	$0xa5, %al
	rep stosb
#endif

	/* the purgatory segment: the blob, then zeros up to its memsz */
	leaq	blob(%rip), %rsi
	movq	$DEST, %rdi
	movq	$(blob_end - blob), %rcx
	rep movsb
	movq	$(MEMORY_SIZE + TABLE_BYTES - (blob_end - blob)), %rcx
	xorl	%eax, %eax
	rep stosb

	/* the parameter block, as PurgatoryParameters writes it */
	movq	$(DEST + PARAMETERS_OFFSET), %rdi
	movq	$SERIAL, %rax
	movq	%rax, 0x20(%rdi)
#if PATCH
#if STRAY_ENTRY
	movq	$0x30000000, %rax
#else
	movq	$fake_kernel, %rax
#endif
	movq	%rax, 0x10(%rdi)
	movq	$BOOT_PARAMS, %rax
	movq	%rax, 0x18(%rdi)
	movq	$FLAGS, %rax
	movq	%rax, 0x28(%rdi)
	movq	$4, %rax
	movq	%rax, 0x30(%rdi)
	leaq	0x38(%rdi), %rdi
	leaq	regions(%rip), %rsi
	movq	$((regions_end - regions) / 8), %rcx
	rep movsq
#if SCRUB
	movq	$(DEST + PARAMETERS_OFFSET), %rdi
	movq	$MAP_END, %rax
	movq	%rax, 0x238(%rdi)
	movq	$TABLE_BYTES, %rax
	movq	%rax, 0x240(%rdi)
	leaq	0x248(%rdi), %rdi
#if SCRUB == 1
	leaq	scrub_ranges(%rip), %rsi
	movq	$((scrub_ranges_end - scrub_ranges) / 8), %rcx
#else
	leaq	bad_scrub_ranges(%rip), %rsi
	movq	$((bad_scrub_ranges_end - bad_scrub_ranges) / 8), %rcx
#endif
	rep movsq
#endif
#endif

#if CORRUPT
	xorb	$0x01, REGION1 + 0x80000
#endif

	/*
	 * relocate_kernel's parting state: no GDT or IDT, SSE off (only PAE in
	 * CR4), a stack outside the segment with a zero on top, every general
	 * register zero, and a ret into the purgatory
	 */
	movq	%cr0, %rax
	orq	$((1 << 2) | (1 << 3)), %rax /* EM, TS */
	movq	%rax, %cr0
	movq	$CR4_PAGING, %rax
	movq	%rax, %cr4
	lgdt	null_pointer(%rip)
	lidt	null_pointer(%rip)
	movq	$control_page_top, %rsp
	pushq	$0
	pushq	$DEST
	xorl	%eax, %eax
	xorl	%ebx, %ebx
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%esi, %esi
	xorl	%edi, %edi
	xorl	%ebp, %ebp
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%r12d, %r12d
	xorl	%r13d, %r13d
	xorl	%r14d, %r14d
	xorl	%r15d, %r15d
	retq

/* fill(rdi: where, rcx: count): byte i is (i * 131) ^ (i >> 7) */
fill:
	xorl	%edx, %edx
1:	cmpq	%rcx, %rdx
	jae	2f
	imulq	$131, %rdx, %rax
	movq	%rdx, %r8
	shrq	$7, %r8
	xorq	%r8, %rax
	movb	%al, (%rdi, %rdx)
	incq	%rdx
	jmp	1b
2:	retq

/*
 * The new kernel, as far as the purgatory can tell: checks the registers
 * boot.rst's 64-bit protocol promises, then uses an SSE register (a #UD
 * here, with no IDT, resets the machine and QEMU stops without a verdict)
 */
fake_kernel:
	leaq	bad_rsi(%rip), %r15
	cmpq	$BOOT_PARAMS, %rsi
	jne	fail
	leaq	bad_zero(%rip), %r15
	orq	%rdi, %rbx
	orq	%rbp, %rbx
	jnz	fail
	leaq	bad_cs(%rip), %r15
	movl	%cs, %eax
	cmpl	$0x10, %eax
	jne	fail
	leaq	bad_ds(%rip), %r15
	movl	%ds, %eax
	cmpl	$0x18, %eax
	jne	fail
	movl	%es, %eax
	cmpl	$0x18, %eax
	jne	fail
	movl	%ss, %eax
	cmpl	$0x18, %eax
	jne	fail
	leaq	bad_stack(%rip), %r15
	cmpq	$DEST, %rsp
	jbe	fail
	cmpq	$(DEST + MEMORY_SIZE), %rsp
	ja	fail
	xorps	%xmm0, %xmm0
	movups	%xmm0, sse_scratch(%rip)
#if SCRUB
	/* the purgatory's own page tables, and exactly the ranges zeroed */
	leaq	bad_cr3(%rip), %r15
	movq	%cr3, %rax
	andq	$~0xfff, %rax
	cmpq	$(DEST + MEMORY_SIZE), %rax
	jb	fail
	cmpq	$(DEST + MEMORY_SIZE + TABLE_BYTES), %rax
	jae	fail
	leaq	bad_scrub(%rip), %r15
	movq	$SCRUB_FILL, %rdi
	movq	$0x200000, %rcx
	xorl	%eax, %eax
	repe scasb
	jne	fail
	movq	$0x1000, %rcx
	movb	$0xa5, %al
	repe scasb
	jne	fail
	movq	$0x4ff000, %rcx
	xorl	%eax, %eax
	repe scasb
	jne	fail
	movq	$(SCRUB_FILL_END - 0x1700000), %rcx
	movb	$0xa5, %al
	repe scasb
	jne	fail
	leaq	scrub_ok(%rip), %rsi
	call	puts
#endif

	leaq	kernel_ok(%rip), %rsi
	call	puts
	movl	$EXIT_KERNEL_OK, %eax
	outl	%eax, $DEBUG_EXIT
	jmp	halt

fail:
	leaq	kernel_bad(%rip), %rsi
	call	puts
	movq	%r15, %rsi
	call	puts
	movl	$EXIT_KERNEL_BAD, %eax
	outl	%eax, $DEBUG_EXIT
halt:
	cli
	hlt
	jmp	halt

/* puts(rsi: NUL-terminated text) on COM1 */
puts:
	movw	$SERIAL, %dx
1:	lodsb
	testb	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	retq

kernel_ok:
	.asciz	"fake kernel: reached with RSI = boot_params, CS 0x10, DS/ES/SS 0x18, RBX/RBP/RDI 0, a stack in the segment, SSE on\r\n"
scrub_ok:
	.asciz	"fake kernel: the scrub ranges read zero, the gaps between them do not, and CR3 is the purgatory's\r\n"
kernel_bad:
	.asciz	"fake kernel: reached, but wrong: "
bad_rsi:
	.asciz	"RSI is not boot_params\r\n"
bad_zero:
	.asciz	"RBX, RBP or RDI is not 0\r\n"
bad_cs:
	.asciz	"CS is not 0x10\r\n"
bad_ds:
	.asciz	"DS, ES or SS is not 0x18\r\n"
bad_stack:
	.asciz	"RSP is not inside the purgatory segment\r\n"
bad_cr3:
	.asciz	"CR3 is not in the purgatory's page-table room\r\n"
bad_scrub:
	.asciz	"the memory around the scrub ranges is not as expected\r\n"

/* {start, size, digest, memsz}: digests from the XXH64 known answers */
	.balign 8
regions:
	.quad	REGION0, 100, 0xacd07a6400e07def, 0x1000
	.quad	REGION1, 0x100000, 0x45676a939f29526c, 0x100000
	.quad	REGION2, 33, 0x379b60150f2cfc7f, 33
	.quad	0, 0, 0xef46db3751d8e999, 0
regions_end:

/* scrub_count, then {start, size}: two ranges with a page kept between */
scrub_ranges:
	.quad	2
	.quad	SCRUB_FILL, 0x200000
	.quad	SCRUB_FILL + 0x201000, 0x4ff000
scrub_ranges_end:

/* one good range, then one over the second region */
bad_scrub_ranges:
	.quad	2
	.quad	SCRUB_FILL, 0x200000
	.quad	REGION1 + 0x1000, 0x1000
bad_scrub_ranges_end:

	.balign 8
harness_gdt:
	.quad	0
	.quad	0x00af9a000000ffff
	.quad	0x00cf92000000ffff
harness_gdt_end:
harness_gdt_pointer:
	.word	harness_gdt_end - harness_gdt - 1
	.long	harness_gdt
null_pointer:
	.word	0
	.quad	0

	.balign 16
sse_scratch:
	.skip	16

blob:
	.incbin	"purgatory.bin"
blob_end:

	.balign 4096
pml5:
	.skip	4096
pml4:
	.skip	4096
pdpt:
	.skip	4096
pd:
	.skip	4 * 4096
	.skip	4096
boot_stack_top:
	.skip	4096
control_page_top:
image_end:
