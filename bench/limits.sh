#!/bin/sh
# Side by side, 3 runs at 10^6 and 10^7 u64 -> u64 entries: gomap's lookup
# and batch lookup (ns per key), and the random-access floors over gomap's
# own working set (bench_mlp: one and three 64-byte lines per access).
#   sh bench/limits.sh [BUILD_DIR]      (default build-bench, from bench/run.py)
set -e
B=${1:-build-bench}/bench
for n in 1000000 10000000; do
    for r in 1 2 3; do
        printf 'n=%s run %s  mlp   ' "$n" "$r"
        "$B/bench_mlp" --kind u64 --size "$n" --run "$r" | grep -o '"extra":{[^}]*}'
        printf 'n=%s run %s  gomap ' "$n" "$r"
        "$B/bench_gomap" --kind u64 --size "$n" --run "$r" --ops lookup_hit,lookup_batch \
            --no-mem --no-latency | grep -o '"ns":{[^}]*}'
    done
done
