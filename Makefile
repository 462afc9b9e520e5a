# xdp-ingress. The two commands of the README's Quick start, on a fresh Debian 12 as root:
#   make demo   install what is missing, build, run the steering demo in network namespaces
#   make test   install what is missing, build, run every host test (ends with ctest's summary)
# Also: make build, make vmtest (tests inside VMs on Debian's 6.1 and 6.12 kernels),
# make bench (benchmarks, docs/benchmarks.md), make fuzz (the config and packet fuzzers),
# make format.
SHELL := /bin/bash
BUILD_DIR ?= build
# The project's own builds are Release with warnings as errors (XI_WERROR; a packager's cmake
# build has it off). CI builds this once; the ASan build (tools/sanitize) and the fuzzer's are
# the other two configurations make test compiles.
BUILD_TYPE ?= Release

# Every dependency is a Debian package; tools/install-deps installs only the missing ones.
DEPS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config cmake ninja-build g++ \
	libcli11-dev libspdlog-dev prometheus-cpp-dev libyaml-cpp-dev libyaml-dev libclang-rt-14-dev \
	libgtest-dev libgmock-dev \
	libcivetweb-dev nlohmann-json3-dev libssl-dev clang-format iproute2 wireguard-tools wireguard-go \
	iputils-ping ethtool tcpdump nftables prometheus curl python3 util-linux procps kmod strace

.PHONY: all deps bpffs build test demo bench fuzz format clean

all: build

deps:
	@tools/install-deps $(DEPS)

bpffs:
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DXI_WERROR=ON >/dev/null
	@cmake --build $(BUILD_DIR)

test: build bpffs
	@tools/run-tests $(BUILD_DIR)

demo: build bpffs
	@tools/demo $(BUILD_DIR)

bench: build bpffs
	@tools/bench $(BUILD_DIR)

# The config fuzzer and the packet fuzzer (tests/fuzz; the packet one needs root) for
# FUZZ_SECONDS each; make test runs a short, seeded run of both (--smoke).
FUZZ_SECONDS ?= 300
fuzz: deps bpffs
	@tools/fuzz $(FUZZ_SECONDS)
	@tools/fuzz-packets $(FUZZ_SECONDS)

format:
	@git ls-files '*.c' '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)

include vmtest/vmtest.mk
