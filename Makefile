# Handoff's two commands: `make demo` shows a handoff between two real
# kernels in QEMU; `make test` builds, runs the unit tests, lints, and runs
# every lab scenario. Both set up what they need first.

# the toolchain's usual home, for shells that did not read /etc/profile.d
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
LAB := .build/debug/handoff-lab
# One lab scenario alone: make lab SCENARIO=bios-6.1-to-7.x
SCENARIO ?=

.PHONY: all setup build static unit lint lab lab-list demo test clean

all: build

# QEMU, firmware, musl, busybox and Debian's kernels; quick when already done
setup:
	bash lab/setup.sh

build:
	$(SWIFT) build

static:
	bash scripts/build-static.sh x86_64

unit:
	$(SWIFT) test

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Lab Package.swift

lab: setup static build
	$(LAB) run $(SCENARIO)

lab-list: build
	$(LAB) list

demo: setup static build
	$(LAB) demo

test: setup static build unit lint
	$(LAB) run

clean:
	rm -rf .build dist
