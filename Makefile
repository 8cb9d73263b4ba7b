# Handoff's two commands: `make demo` shows a handoff between two real
# kernels in QEMU; `make test` builds, checks the static binaries of three
# architectures, runs the unit tests, lints, and runs every lab scenario.
# Both set up what they need first. `make bench` times Handoff against
# Debian's kexec-tools in QEMU (not part of `make test`).

# the toolchain's usual home, for shells that did not read /etc/profile.d
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
LAB := .build/debug/handoff-lab
# One lab scenario alone: make lab SCENARIO=bios-6.1-to-7.x
SCENARIO ?=

.PHONY: all setup build static static-x86_64 static-test unit purgatory-test lint lab lab-list demo test bench clean

all: build

# QEMU, firmware, musl, busybox and Debian's kernels; quick when already done
setup:
	bash lab/setup.sh

build:
	$(SWIFT) build

# dist/handoff-ARCH for each; the lab puts x86_64 and aarch64 into its guests
STATIC_ARCHES := x86_64 aarch64 riscv64
static:
	bash scripts/build-static.sh $(STATIC_ARCHES)

static-x86_64:
	bash scripts/build-static.sh x86_64

# each binary static, within 1 MiB, and running (under qemu-user)
static-test:
	bash scripts/test-static.sh $(STATIC_ARCHES)

unit:
	$(SWIFT) test

# the purgatory on bare metal in QEMU, with a stand-in for relocate_kernel
purgatory-test:
	bash scripts/test-purgatory-qemu.sh

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Lab Fuzz/Sources Fuzz/Package.swift Package.swift

lab: setup static build
	$(LAB) run $(SCENARIO)

lab-list: build
	$(LAB) list

demo: setup static-x86_64 build
	$(LAB) demo

test: setup static static-test build unit lint purgatory-test fuzz-smoke
	$(LAB) run

# Handoff and kexec-tools, 5 rounds each: make bench ROUNDS=1 for a quick
# try, VARIANTS='handoff kexec-tools' for some only (names: handoff-lab's usage),
# BENCH_ARCH=aarch64 for the same on arm64 guests (no scrub there)
ROUNDS ?= 5
VARIANTS ?=
BENCH_ARCH ?= x86_64
bench: setup static build
	$(LAB) bench --arch $(BENCH_ARCH) --rounds $(ROUNDS) $(addprefix --variant ,$(VARIANTS))

# libFuzzer targets for every parser of outside input (README, "Fuzzing"):
# a short run of each for `make test`; make fuzz FUZZ_SECONDS=120 for less
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
.PHONY: fuzz fuzz-smoke
fuzz-smoke:
	bash Fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

fuzz:
	bash Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build dist Fuzz/.build
