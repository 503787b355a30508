# normlab — the two commands a newcomer needs:
#   make demo       install deps, build, run the headline LN-vs-BN sweep (E1 + E4, quick) and its report
#   make test       install deps, build, run the whole test suite (ctest)
# More: make reproduce (every experiment, full size) | build | test-sanitize | bench | bench-compare |
#       fuzz | fuzz-smoke | install PREFIX=... | clean

BUILD ?= build
JOBS  ?= $(shell nproc)
PREFIX ?= $(CURDIR)/install
CMAKE_FLAGS ?=

FUZZ_SECONDS ?= 60
FUZZ_TIMEOUT ?= 1

.PHONY: all deps configure build test demo reproduce test-sanitize bench bench-compare install clean \
        fuzz fuzz-build fuzz-smoke

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/bin/normlab

reproduce: build
	@scripts/reproduce.sh $(BUILD)/bin/normlab

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build folder.
test-sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DNORMLAB_SANITIZE=ON -DNORMLAB_NATIVE=OFF \
	  -DCMAKE_CXX_FLAGS="-O1 -g" >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (tests/fuzz/) under ASan + UBSan, built with clang in build-fuzz/; each
# target runs FUZZ_SECONDS (default 60), each input at most FUZZ_TIMEOUT s (default 1). New
# crashes land in build-fuzz/crashes/<target>/.
fuzz-build:
	@scripts/install-deps.sh --fuzz
	@CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNORMLAB_FUZZ=ON \
	  -DNORMLAB_BUILD_TESTS=OFF -DNORMLAB_NATIVE=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

fuzz: build fuzz-build
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(BUILD)/bin/normlab $(FUZZ_TIMEOUT)

# A short run of every target (about 20 s each), e.g. for CI.
fuzz-smoke: build fuzz-build
	@scripts/fuzz.sh build-fuzz 20 $(BUILD)/bin/normlab

bench: build
	@$(BUILD)/bin/normlab bench --json

# normlab vs PyTorch eager (if python3-torch is installed) on the same benchmarks, one table at
# 1 and 2 threads with the same-run sgemm / STREAM floors (docs/performance.md). ~1.5 min on a quiet machine.
# Never part of `make test`. Options: make bench-compare COMPARE_ARGS="--filter step/ --threads 1"
# (a regex anchor is $$ for make, in single quotes for the shell: COMPARE_ARGS='--filter step/rnn$$').
# --rounds 3 measures each benchmark 3 times, ours and PyTorch alternating, with the ratio range.
PY3 := $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
bench-compare: build
	@$(PY3) scripts/bench-compare.py --normlab $(BUILD)/bin/normlab $(COMPARE_ARGS)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	@rm -rf $(BUILD) build-sanitize build-fuzz
