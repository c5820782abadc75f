#!/bin/sh
# Install gomap into a temporary prefix, then build the quick-start example
# against it twice: with CMake's find_package(gomap) and with pkg-config
# (static, then shared).  Fails if any step fails or the programs disagree.
set -eu
src=$1
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src" -B "$tmp/build" -DCMAKE_C_COMPILER="$cc" -DGOMAP_TESTS=OFF -DGOMAP_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" -j 2 >/dev/null
cmake --install "$tmp/build" >/dev/null
test -f "$tmp/prefix/include/gomap.h"

cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
a=$("$tmp/consumer/consumer" | head -1)

libdir=$(ls -d "$tmp/prefix"/lib*/pkgconfig | head -1)
export PKG_CONFIG_PATH="$libdir"
if command -v pkg-config >/dev/null 2>&1; then
  # shellcheck disable=SC2046
  "$cc" -std=c11 -o "$tmp/pc_static" "$src/examples/quickstart.c" $(pkg-config --cflags gomap) \
    "$(dirname "$libdir")/libgomap.a" -pthread
  # shellcheck disable=SC2046
  "$cc" -std=c11 -o "$tmp/pc_shared" "$src/examples/quickstart.c" $(pkg-config --cflags --libs gomap) \
    -Wl,-rpath,"$(dirname "$libdir")"
  b=$("$tmp/pc_static" | head -1)
  c=$("$tmp/pc_shared" | head -1)
  test "$a" = "$b" && test "$a" = "$c"
else
  echo "pkg-config not installed: checked the CMake package only"
fi
echo "installed package works: $a"
echo "1 passed, 0 failed"
