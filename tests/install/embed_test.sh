#!/bin/sh
# embed_test.sh SRC [CC]: gomap as a subproject.  Builds the project in
# tests/install/embed (add_subdirectory(gomap), then a program linking
# gomap::gomap) and checks the conventions of an embedded library: no
# -Werror on any compile command, no gomap tests registered, no tool,
# benchmark or example targets (the project's configure fails if there are);
# then that CMake's BUILD_TESTING=OFF turns off the tests of a top-level
# gomap build, and that GOMAP_TESTS=ON brings them back when embedded.
set -eu
src=$1
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "embed_test: $*" >&2; exit 1; }
ntests() { (cd "$1" && ctest -N) | sed -n 's/^Total Tests: *//p'; }

cmake -S "$src/tests/install/embed" -B "$tmp/embed" -DCMAKE_C_COMPILER="$cc" \
  -DGOMAP_SOURCE_DIR="$src" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$tmp/embed" -j 2 >/dev/null
"$tmp/embed/embedder" | head -1
grep -q 'src/map.c' "$tmp/embed/compile_commands.json" || fail "no compile command for gomap's sources"
if grep -q -- '-Werror' "$tmp/embed/compile_commands.json"; then
  grep -- '-Werror' "$tmp/embed/compile_commands.json" | head -3 >&2
  fail "embedded gomap compiles with -Werror"
fi
[ "$(ntests "$tmp/embed")" = 0 ] || fail "embedded gomap registers $(ntests "$tmp/embed") tests"

# Asked for, the tests come back (their registration only: nothing is built).
cmake -S "$src/tests/install/embed" -B "$tmp/embed2" -DCMAKE_C_COMPILER="$cc" \
  -DGOMAP_SOURCE_DIR="$src" -DGOMAP_TESTS=ON -DEXPECT_GOMAP_EXTRAS=ON >/dev/null
[ "$(ntests "$tmp/embed2")" -gt 0 ] || fail "GOMAP_TESTS=ON registers no tests when embedded"

# Top level, BUILD_TESTING=OFF: no tests.
cmake -S "$src" -B "$tmp/top" -DCMAKE_C_COMPILER="$cc" -DBUILD_TESTING=OFF \
  -DGOMAP_BENCH=OFF >/dev/null
[ "$(ntests "$tmp/top")" = 0 ] || fail "BUILD_TESTING=OFF still registers $(ntests "$tmp/top") tests"
echo "embedded gomap: no -Werror, no tests, no tools; BUILD_TESTING=OFF honoured"
echo "1 passed, 0 failed"
