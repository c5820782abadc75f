#!/usr/bin/env bash
# Build and run the concurrent-map benchmark; results go to
# bench/sync/results.txt (one line per benchmark, map and thread count), the
# read-side cost to bench/sync/ebr_cost.txt, and the tables of REPORT.md to
# bench/sync/tables.md.  Arguments are passed to both harnesses, e.g.
#   bench/sync/run.sh -t 1,2 -r 5 -s 0.15
# Peers: bench/sync/install-peers.sh.  BUILD selects the build directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-sync}
J=${J:-2}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOMAP_BENCH=ON >/dev/null
cmake --build "$BUILD" -j "$J" --target bench_sync bench_sync_ebr_cost >/dev/null
cmake --build "$BUILD" --target bench_sync_go >/dev/null 2>&1 || echo "run.sh: no Go row (Go not found)"
D="$BUILD/bench/sync"
{
  echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(uname -sr); $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# command: bench/sync/run.sh $*"
  "$D/bench_sync" "$@"
  if [ -x "$D/bench_sync_go" ]; then "$D/bench_sync_go" "$@"; fi
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee bench/sync/results.txt
{
  echo "# $("$D/bench_sync_ebr_cost" >/dev/null 2>&1; echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)")"
  "$D/bench_sync_ebr_cost"
  echo "# GOMAP_EBR=fence:"
  GOMAP_EBR=fence "$D/bench_sync_ebr_cost"
} | tee bench/sync/ebr_cost.txt
python3 bench/sync/report.py bench/sync/results.txt > bench/sync/tables.md
echo "run.sh: wrote bench/sync/results.txt, ebr_cost.txt, tables.md"
