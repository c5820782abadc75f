#!/bin/sh
# install_test.sh SRC [CC]: install gomap the way the README says,
#   cmake --install build --prefix DIR
# into a temporary DIR that is not the prefix the build was configured with,
# then build the quick-start example against the installed files: with
# CMake's find_package(gomap), and with `pkg-config --cflags --libs gomap`
# (PKG_CONFIG_PATH pointing into DIR; static, then shared).  Fails if any
# step fails, if pkg-config points outside DIR, if the installed `gomap`
# tool does not run, or if the programs disagree.
set -eu
src=$1
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }
prefix="$tmp/prefix"
cmake -S "$src" -B "$tmp/build" -DCMAKE_C_COMPILER="$cc" -DGOMAP_TESTS=OFF -DGOMAP_BENCH=OFF \
  -DGOMAP_TOOLS=ON -DCMAKE_INSTALL_PREFIX="$tmp/configured-prefix" >/dev/null
cmake --build "$tmp/build" -j 2 >/dev/null
cmake --install "$tmp/build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/gomap.h" || fail "no include/gomap.h under the prefix"
test ! -e "$tmp/configured-prefix" || fail "installed into the configured prefix, not --prefix"
"$prefix/bin/gomap" version || fail "the installed gomap tool does not run"

cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
a=$("$tmp/consumer/consumer" | head -1)

pcdir=$(ls -d "$prefix"/lib*/pkgconfig "$prefix"/lib/*/pkgconfig 2>/dev/null | head -1)
test -f "$pcdir/gomap.pc" || fail "no gomap.pc under $prefix"
libdir=$(dirname "$pcdir")
if command -v pkg-config >/dev/null 2>&1; then
  export PKG_CONFIG_PATH="$pcdir"
  cflags=$(pkg-config --cflags gomap)
  libs=$(pkg-config --libs gomap)
  # The paths pkg-config gives must lead into the prefix.
  incdir=$(echo "$cflags" | sed -n 's/^ *-I\([^ ]*\).*/\1/p')
  test -f "$incdir/gomap.h" || fail "pkg-config --cflags gives '$cflags': no gomap.h there"
  ldir=$(echo "$libs" | sed -n 's/^ *-L\([^ ]*\).*/\1/p')
  test "$(cd "$ldir" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ||
    fail "pkg-config --libs gives '$libs', not $libdir"
  # shellcheck disable=SC2086
  "$cc" -std=c11 -o "$tmp/pc_static" "$src/examples/quickstart.c" $cflags "$libdir/libgomap.a" -pthread
  # shellcheck disable=SC2046
  "$cc" -std=c11 -o "$tmp/pc_shared" "$src/examples/quickstart.c" $(pkg-config --cflags --libs gomap) \
    -Wl,-rpath,"$libdir"
  b=$("$tmp/pc_static" | head -1)
  c=$("$tmp/pc_shared" | head -1)
  test "$a" = "$b" && test "$a" = "$c" || fail "the programs disagree: '$a' '$b' '$c'"
else
  echo "pkg-config not installed: checked the CMake package only"
fi
echo "installed package works: $a"
echo "1 passed, 0 failed"
