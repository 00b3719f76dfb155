# zdm: the two commands a newcomer needs are `make demo` and `make test`.
# Both install missing Debian packages first (scripts/install-deps.sh), then build.

JOBS        ?= $(shell nproc)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan test test-release test-asan test-asan-interop demo demo-rollback bench fuzz fuzz-build format clean help

all: build

help:
	@echo "make demo        install deps, build zdm, run the demo: a live migration through phases 0-5"
	@echo "make demo-rollback  the same up to phase 4, then a live rollback to origin"
	@echo "make test        install deps, build (release + ASan/UBSan), run every test"
	@echo "make test-asan-interop  the proxy interop suite (Python driver) against the ASan/UBSan zdm"
	@echo "make bench       build and run the micro-benchmarks"
	@echo "make fuzz        build libFuzzer targets with clang and run each for FUZZ_SECONDS"
	@echo "make package     build zdm and the Debian package $(BUILD)/zdm_<version>_<arch>.deb (docs/deploy.md)"
	@echo "make clean       remove build directories"

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DZDM_SANITIZE=ON -DZDM_BENCH=OFF \
	  -DCMAKE_CXX_FLAGS_DEBUG=-g1 $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Only what ctest runs (tests/CMakeLists.txt: zdm_release_checks): not the micro-benchmarks.
test-release: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target zdm_release_checks
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# Only what the labels below run (tests/CMakeLists.txt: zdm_sanitizer_checks).
test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target zdm_sanitizer_checks
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -L 'unit|fuzz|golden'

test: test-release test-asan

# The proxy interop suite (tests/interop/proxy) with the ASan/UBSan zdm for every proxy and node
# it starts. Not part of `make test`: that already takes ~31 of CI's 35 minutes, and this suite
# is slower under the sanitizers (3-3.5 min against 1.3 min for the release binary). The
# sanitizers abort on the first error and leak checking runs when a process exits;
# tests/interop/zdm_procs.py fails the test that stops a process whose output holds a sanitizer
# report. ZDM_SANITIZED=1 drops the one memory-size (RSS) bound, meaningless under ASan;
# ZDM_TEST_SLOWDOWN=3 gives waits three times as long (a stalled target's backlog drains in up
# to ~26 s under ASan, against 0.1 s in the release build).
test-asan-interop: build-asan
	ZDM_BIN=$(CURDIR)/$(ASAN_BUILD)/apps/zdm/zdm ZDM_SANITIZED=1 ZDM_TEST_SLOWDOWN=3 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/interop/proxy

# The demo runs only the zdm binary: build just that target, not the tests and benchmarks.
demo: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target zdm
	@scripts/demo.sh $(BUILD)

demo-rollback: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target zdm
	@scripts/demo.sh $(BUILD) rollback

bench: build
	$(BUILD)/bench/zdm_microbench --benchmark_min_time=0.2

# The Debian package (scripts/package-deb.sh): binary, systemd unit, default configuration,
# dashboards. Builds only the zdm target, as the demo does.
.PHONY: package
package: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target zdm
	@scripts/package-deb.sh $(BUILD)

fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DZDM_FUZZ=ON -DZDM_SANITIZE=ON -DZDM_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
