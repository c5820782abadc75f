# A thin wrapper over CMake.  `make test` is the README's test command: it
# builds and runs the whole suite four ways (gcc, clang, gcc with
# AddressSanitizer + UndefinedBehaviorSanitizer, clang with ThreadSanitizer
# for the threaded tests).  tests/deps.sh installs what is missing (clang's
# sanitizer runtime).  Warnings are errors in every build.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST = ctest --output-on-failure -j $(JOBS)

.PHONY: all build bench deps test test-gcc test-clang test-asan test-tsan clean

deps:
	sh tests/deps.sh

all: build

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS)

bench: build
	./build/tools/gomap bench

test: deps test-gcc test-clang test-asan test-tsan
	@echo "all test configurations passed"

test-gcc:
	cmake -S . -B build-test -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOMAP_BENCH=OFF >/dev/null
	cmake --build build-test -j $(JOBS)
	cd build-test && $(CTEST)

test-clang:
	cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOMAP_BENCH=OFF >/dev/null
	cmake --build build-clang -j $(JOBS)
	cd build-clang && $(CTEST)

test-asan:
	cmake -S . -B build-asan -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug -DGOMAP_BENCH=OFF \
	  -DGOMAP_SANITIZE=address,undefined >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && GOMAP_TEST_SCALE=small ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

test-tsan:
	cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOMAP_BENCH=OFF \
	  -DGOMAP_SANITIZE=thread >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && GOMAP_TEST_SCALE=small TSAN_OPTIONS=halt_on_error=1 $(CTEST) -L threads

clean:
	rm -rf build build-test build-clang build-asan build-tsan
