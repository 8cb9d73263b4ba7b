/*
 * The parameter block itself, which each entry.S includes: magic, version,
 * kernel_entry, the kernel's argument (boot_params or the DTB), serial (an
 * I/O port or a UART's register base), flags (bit 0 verify, bit 1 announce,
 * bit 2 scrub), region_count, 16 regions of {start, size, digest, memsz},
 * then for a scrub identity_map_end, page_table_bytes, scrub_count and 64
 * ranges of {start, size}. The loader patches it before the blob becomes a
 * segment.
 */
	.section .data.parameters, "aw", %progbits
	.balign 8
	.globl purgatory_parameters
	.type purgatory_parameters, %object
purgatory_parameters:
	.quad	PARAMETERS_MAGIC
	.quad	PARAMETERS_VERSION
	.quad	0 /* kernel_entry */
	.quad	0 /* boot_params or dtb */
	.quad	0 /* serial */
	.quad	0 /* flags */
	.quad	0 /* region_count */
	.fill	PARAMETER_REGIONS_MAX * PARAMETER_REGION_SIZE, 1, 0
	.quad	0 /* identity_map_end */
	.quad	0 /* page_table_bytes */
	.quad	0 /* scrub_count */
	.fill	PARAMETER_SCRUB_MAX * PARAMETER_SCRUB_SIZE, 1, 0
	.size purgatory_parameters, . - purgatory_parameters
