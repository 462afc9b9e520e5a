# vmtest/vmtest.mk -- VM test targets; included by the top-level Makefile, which provides
# the `build` target (configure + build into $(BUILD_DIR)).
#
#   make vmtest               the runner's self-test (exit codes, timeout, crash, kill) on each
#                             kernel of VMTEST_KERNELS, then the root|vm ctest labels inside a
#                             VM per kernel and a kernel x (passed, failed, skipped, seconds) table
#   make vmtest-runner-test   the runner's own self-test (vmtest/selftest) on those kernels
#   make vmtest-deps          host packages (apt, only those missing)
#   make vmtest-kernels       kernels of VMTEST_KERNELS (download only those not cached)
#   make vmtest-kernels-update  re-resolve the newest ABI of each series (security updates)
#
# Variables: VMTEST_KERNELS (series/version prefixes), BUILD_DIR, VMTEST_TIMEOUT (seconds per
# VM, boot included), VMTEST_LABELS (ctest -L regex), VMTEST_EXCLUDE (ctest -LE regex),
# VMTEST_BATCH (ctest -L regex of tests run first, verbosely: whole gtest binaries),
# VMTEST_CPUS (vCPUs per VM, default 1 here: see below).

VMTEST_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VMTEST_KERNELS ?= 6.1 6.12
BUILD_DIR ?= build
VMTEST_TIMEOUT ?= 2700
VMTEST_LABELS ?= root|vm
# Tests labelled hostonly exercise the CLI's error and fault handling with dozens of short
# processes each: minutes per test under TCG for nothing kernel-specific (README: VM matrix).
VMTEST_EXCLUDE ?= hostonly|gtest
# Whole gtest binaries, one process each, before the rest: the test_run cases (label gtest, one
# ctest entry each on the host) cost 10x less in a batch under TCG (tests/CMakeLists.txt).
VMTEST_BATCH ?= gtestbatch
# One vCPU per VM. With two, qemu 7.2's multi-threaded TCG can run a stale translation of
# kernel text that another vCPU just patched: `attach --replace` under traffic oopsed 6.12
# guests ("Oops: int3" at bpf_dispatcher_xdp_func+0xa; 10 of 10 reproducer VMs, 0 with one
# vCPU, 0 with thread=single). A QEMU race, not a kernel bug: vmtest/xdp-swap-oops.md. Cost: the
# 6.12 suite took 1742 s with 1 vCPU vs 1647 s with 2 (76/76 passed both). VMTEST_CPUS=2 for SMP
# coverage (then expect that oops now and then on 6.12).
VMTEST_CPUS ?= 1
export VMTEST_CPUS

# Kernels on which the end-to-end steering flips run in every hand-off mode (the others run the
# default mode only: CI's time budget, README "Kernel matrix").
VMTEST_ALL_HANDOFFS ?= 6.12
# Kernels on which bench_smoke runs (vmtest/matrix): none by default (CI's time; 6.1 is the one
# whose clsact path the host lacks).
VMTEST_BENCH_KERNELS ?=
# Kernels on which the anykernel tests (fleet_change_drain, tunnel_metadata_gre/_ipip) run
# (vmtest/matrix).
VMTEST_ANYKERNEL_KERNELS ?= 6.12
# Kernels on which the oldkernel tests (deploy_caps) run (vmtest/matrix).
VMTEST_OLDKERNEL_KERNELS ?= 6.1

.PHONY: vmtest vmtest-deps vmtest-kernels vmtest-kernels-update vmtest-runner-test baseline

# The last release's binary, for e2e.upgrade_replace (attach --replace from it, under traffic).
baseline: build
	@tools/build-baseline $(BUILD_DIR)/baseline >/dev/null

vmtest: build baseline
	$(VMTEST_DIR)/deps
	$(VMTEST_DIR)/kernels ensure $(VMTEST_KERNELS)
	$(VMTEST_DIR)/selftest $(VMTEST_KERNELS)
	VMTEST_ALL_HANDOFFS='$(VMTEST_ALL_HANDOFFS)' VMTEST_BENCH_KERNELS='$(VMTEST_BENCH_KERNELS)' \
	VMTEST_ANYKERNEL_KERNELS='$(VMTEST_ANYKERNEL_KERNELS)' VMTEST_OLDKERNEL_KERNELS='$(VMTEST_OLDKERNEL_KERNELS)' \
	$(VMTEST_DIR)/matrix --build-dir '$(BUILD_DIR)' --labels '$(VMTEST_LABELS)' \
		--exclude-labels '$(VMTEST_EXCLUDE)' --batch-labels '$(VMTEST_BATCH)' \
		--timeout $(VMTEST_TIMEOUT) $(VMTEST_KERNELS)

vmtest-runner-test: vmtest-kernels
	$(VMTEST_DIR)/selftest $(VMTEST_KERNELS)

vmtest-deps:
	$(VMTEST_DIR)/deps

vmtest-kernels: vmtest-deps
	$(VMTEST_DIR)/kernels ensure $(VMTEST_KERNELS)

vmtest-kernels-update: vmtest-deps
	$(VMTEST_DIR)/kernels fetch $(VMTEST_KERNELS)
