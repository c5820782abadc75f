# A thin wrapper over CMake.
#
#   make            build/ (Release): the library, the examples and the gomap
#                   tool (no tests, no benchmark rows)
#   make bench      that, then `gomap bench` on its default workload
#   make test       the README's test command: builds and runs the whole suite
#                   six ways (gcc plain, clang in debug mode, each with AddressSanitizer +
#                   UndefinedBehaviorSanitizer, each with ThreadSanitizer for
#                   the threaded tests); fails when any test fails
#   make test-long  the same with the long soak (GOMAP_TEST_SCALE=long in the
#                   plain builds, the default scale in the sanitizer builds)
#   make docs       the API reference (Doxygen, from the public headers):
#                   build-docs/html/index.html
#
# tests/deps.sh installs what is missing (clang's sanitizer runtime).
# Warnings are errors in every build here (GOMAP_WERROR=ON).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# ctest prints a line as each test ends; CTEST_FLAGS=--verbose also streams
# the tests' own progress lines (test-long does: its tests take minutes).
CTEST_FLAGS ?=
CTEST = ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)
CONFIGURE = cmake -S . -DGOMAP_WERROR=ON
# GOMAP_TEST_SCALE of the plain and of the sanitizer builds.
PLAIN_SCALE ?=
SAN_SCALE ?= small
# The test builds go to $(TESTDIR)-test, -clang, -asan-gcc, -asan-clang,
# -tsan-gcc and -tsan-clang.
TESTDIR ?= build

.PHONY: all build bench deps test test-long test-gcc test-clang test-asan test-tsan \
  test-asan-gcc test-asan-clang test-tsan-gcc test-tsan-clang clean docs

all: build

build:
	$(CONFIGURE) -B build -DCMAKE_BUILD_TYPE=Release -DGOMAP_TESTS=OFF -DGOMAP_BENCH=OFF >/dev/null
	cmake --build build -j $(JOBS)

bench: build
	./build/tools/gomap bench

deps:
	sh tests/deps.sh

test: deps test-gcc test-clang test-asan test-tsan
	@echo "all test configurations passed"

test-long:
	$(MAKE) test PLAIN_SCALE=long SAN_SCALE= TESTDIR=$(TESTDIR) CTEST_FLAGS=--verbose

# The gcc build also builds the benchmark's rows (bench/, C only) and runs
# the smoke tests of the gomap tool and of the benchmark.
test-gcc:
	$(CONFIGURE) -B $(TESTDIR)-test -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGOMAP_TOOLS=ON -DGOMAP_BENCH=ON -DGOMAP_BENCH_PEERS=OFF >/dev/null
	cmake --build $(TESTDIR)-test -j $(JOBS)
	cd $(TESTDIR)-test && GOMAP_TEST_SCALE=$(PLAIN_SCALE) $(CTEST)

# The clang build is also the debug-mode build (GOMAP_DEBUG: misuse of maps
# and iterators is a fatal message; test_debug checks each case).
test-clang:
	$(CONFIGURE) -B $(TESTDIR)-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGOMAP_TOOLS=ON -DGOMAP_BENCH=OFF -DGOMAP_DEBUG=ON >/dev/null
	cmake --build $(TESTDIR)-clang -j $(JOBS)
	cd $(TESTDIR)-clang && GOMAP_TEST_SCALE=$(PLAIN_SCALE) $(CTEST)

# Optimized (-O2, assertions kept): the sanitizers run faster, and gcc's
# flow-sensitive warnings (-Wmaybe-uninitialized) see the instrumented code.
# Each sanitizer with both compilers.  ASan+UBSan optimized (-O2,
# assertions kept): the sanitizers run faster, and gcc's flow-sensitive
# warnings (-Wmaybe-uninitialized) see the instrumented code.  TSan runs the
# threaded tests (label "threads").
SAN_ASAN = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: test-asan-gcc test-asan-clang
test-tsan: test-tsan-clang test-tsan-gcc

test-asan-gcc test-asan-clang: test-asan-%:
	$(CONFIGURE) -B $(TESTDIR)-asan-$* -DCMAKE_C_COMPILER=$* -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-g -O2" -DGOMAP_TOOLS=OFF -DGOMAP_BENCH=OFF \
	  -DGOMAP_SANITIZE=address,undefined >/dev/null
	cmake --build $(TESTDIR)-asan-$* -j $(JOBS)
	cd $(TESTDIR)-asan-$* && GOMAP_TEST_SCALE=$(SAN_SCALE) $(SAN_ASAN) $(CTEST)

test-tsan-gcc test-tsan-clang: test-tsan-%:
	$(CONFIGURE) -B $(TESTDIR)-tsan-$* -DCMAKE_C_COMPILER=$* -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGOMAP_TOOLS=OFF -DGOMAP_BENCH=OFF -DGOMAP_SANITIZE=thread >/dev/null
	cmake --build $(TESTDIR)-tsan-$* -j $(JOBS)
	cd $(TESTDIR)-tsan-$* && GOMAP_TEST_SCALE=$(SAN_SCALE) TSAN_OPTIONS=halt_on_error=1 $(CTEST) -L threads

# docs/Doxyfile writes build-docs/; tests/optional_deps.sh installs doxygen.
docs:
	doxygen docs/Doxyfile

clean:
	rm -rf build $(TESTDIR)-test $(TESTDIR)-clang $(TESTDIR)-asan-gcc $(TESTDIR)-asan-clang \
	  $(TESTDIR)-tsan-gcc $(TESTDIR)-tsan-clang
