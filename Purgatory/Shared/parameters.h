/*
 * The parameter block's layout, for each architecture's entry.S: what
 * PurgatoryParameters.swift writes and Parameters.swift reads, all
 * little-endian 64-bit words.
 */
#define PARAMETERS_MAGIC 0x47505446464f4e48 /* "HNOFFTPG" in memory */
#define PARAMETERS_VERSION 2
#define PARAMETER_KERNEL_ENTRY 0x10
/* boot_params on x86_64, the DTB on aarch64 and riscv64 */
#define PARAMETER_KERNEL_ARGUMENT 0x18
#define PARAMETER_REGIONS_MAX 16
#define PARAMETER_REGION_SIZE 32
#define PARAMETER_SCRUB_MAX 64
#define PARAMETER_SCRUB_SIZE 16
