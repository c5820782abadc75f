#!/usr/bin/env bash
# Build the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# and run each for a bounded time on top of its committed corpus.
#
#   fuzz/run.sh                run every target FUZZ_SECONDS (default 60) seconds
#   fuzz/run.sh build          build only
#   fuzz/run.sh run TARGET...  run only these (fuzz_map, fuzz_sync)
#   fuzz/run.sh replay FILE... run fuzz_map or fuzz_sync (FUZZ_TARGET) once on inputs
#   fuzz/run.sh coverage       build with source coverage, run the corpus, and
#                              list which public functions were hit
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_BUILD    build directory (default build-fuzz, gitignored)
#   FUZZ_SRC      the library's sources (default src; a snapshot works too:
#                 git worktree add --detach /tmp/fz-head HEAD, then
#                 FUZZ_SRC=/tmp/fz-head/src; headers from FUZZ_SRC/../include)
#   FUZZ_JOBS     parallel fuzzing jobs per target (default 1)
#   CI            when set, a missing fuzzer runtime is an error, not a skip
#
# Exit status: non-zero when a target crashes or fails to build.  New inputs
# go to $FUZZ_BUILD/corpus-TARGET (the committed corpus is only read);
# crashes to $FUZZ_BUILD/artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
src=${FUZZ_SRC:-src}
inc=${FUZZ_INCLUDE:-$(dirname "$src")/include}
jobs=${FUZZ_JOBS:-1}
targets=(fuzz_map fuzz_sync)
CC=${CC_FUZZ:-clang}
WARN="-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
      -Wpointer-arith -Wcast-align -Wwrite-strings -Wundef -Wvla -Wformat=2
      -Wconversion -Wno-sign-conversion -Werror"
DEFS="-D_GNU_SOURCE -DGOMAP_BUILDING"

# clang and its fuzzer runtime: install them as tests/deps.sh does (Debian,
# root, apt-get), else fail in CI and skip elsewhere.
have_fuzzer() {
  local tmp rc
  tmp=$(mktemp -d)
  printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$tmp/t.c"
  rc=0
  command -v "$CC" >/dev/null 2>&1 && "$CC" -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1 || rc=1
  rm -rf "$tmp"
  return $rc
}
ensure_fuzzer() {
  have_fuzzer && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    local v need="clang"
    if command -v clang >/dev/null 2>&1; then
      v=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
      need="libclang-rt-${v:-14}-dev"
    fi
    echo "fuzz: installing $need"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    have_fuzzer && return 0
  fi
  if [ -n "${CI:-}" ]; then
    echo "fuzz: clang with libFuzzer (-fsanitize=fuzzer) is required in CI" >&2
    exit 1
  fi
  echo "fuzz: SKIPPED: no clang with libFuzzer runtime (apt-get install clang libclang-rt-14-dev)" >&2
  exit 0
}

build_targets() {
  mkdir -p "$build"
  local t
  for t in "${targets[@]}"; do
    # shellcheck disable=SC2086
    $CC -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -fno-omit-frame-pointer $WARN $DEFS -I"$inc" -I"$src" \
      "fuzz/$t.c" "$src"/*.c -o "$build/$t" -lm -lpthread
  done
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_target() {
  local t=$1 work="$build/corpus-$1" art="$build/artifacts/"
  mkdir -p "$work" "$art"
  echo "fuzz: $t for ${seconds}s"
  local extra=()
  [ -f "fuzz/$t.dict" ] && extra+=(-dict="fuzz/$t.dict")
  # -jobs writes fuzz-N.log files into the current directory: only when asked
  [ "$jobs" != 1 ] && extra+=(-jobs="$jobs" -workers="$jobs")
  "$build/$t" -max_total_time="$seconds" -max_len=2048 -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art" \
    "${extra[@]}" "$work" "fuzz/corpus/$t" 2>&1 | tee "$build/$t.log" |
    grep -E 'INITED|DONE|ERROR|SUMMARY|check failed|invariant|runtime error|number_of_executed_units' || true
  local rc=${PIPESTATUS[0]}
  if [ "$rc" != 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); log: $build/$t.log, inputs: $art" >&2
    return 1
  fi
}

coverage() {
  local cov="$build/cov" t
  mkdir -p "$cov"
  for t in "${targets[@]}"; do
    # the fuzzer's driver without libFuzzer's instrumentation: replay only
    # shellcheck disable=SC2086
    $CC -std=c11 -g -O0 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
      $DEFS -I"$inc" -I"$src" "fuzz/$t.c" "$src"/*.c -o "$cov/$t" -lm -lpthread
    LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/$t" -runs=0 "fuzz/corpus/$t" >/dev/null 2>&1
  done
  llvm-profdata merge -sparse "$cov"/*.profraw -o "$cov/all.profdata"
  llvm-cov report "$cov/fuzz_map" -object "$cov/fuzz_sync" -instr-profile="$cov/all.profdata" \
    -show-functions "$src"/*.c >"$cov/functions.txt"
  local api
  api=$(sed -n 's/.*GOMAP_API[^(]*[ *]\(gomap_[a-z0-9_]*\)(.*/\1/p' "$inc/gomap.h" "$inc/gomap_sync.h" | sort -u)
  local hit=0 miss=0 f
  for f in $api; do
    # hit: some of its regions ran (Miss < Regions)
    if awk -v f="$f" '$1 == f && $3 + 0 < $2 + 0 { found = 1 } END { exit !found }' "$cov/functions.txt"; then
      echo "hit     $f"; hit=$((hit + 1))
    else
      echo "NOT HIT $f"; miss=$((miss + 1))
    fi
  done
  echo "fuzz coverage: $hit public functions hit, $miss not hit (details: $cov/functions.txt)"
  llvm-cov report "$cov/fuzz_map" -object "$cov/fuzz_sync" -instr-profile="$cov/all.profdata" \
    "$src"/*.c | tail -1
  [ "$miss" = 0 ]
}

cmd=${1:-all}
[ $# -gt 0 ] && shift
ensure_fuzzer
case "$cmd" in
  build) build_targets ;;
  all) build_targets; fail=0; for t in "${targets[@]}"; do run_target "$t" || fail=1; done; exit $fail ;;
  run) build_targets; fail=0; for t in "$@"; do run_target "$t" || fail=1; done; exit $fail ;;
  replay) build_targets; "$build/${FUZZ_TARGET:-fuzz_map}" "$@" ;;
  coverage) coverage ;;
  *) echo "usage: fuzz/run.sh [all|build|run TARGET...|replay FILE...|coverage]" >&2; exit 2 ;;
esac
