#!/usr/bin/env python3
"""Turn bench/sync/results.txt into the Markdown tables of REPORT.md: one
table per thread count, a row per benchmark, a column per map, ns/op (lower is
better; at 2 threads ns/op is wall time per operation, i.e. inverse
throughput).  The best cell of each row is bold; n/a where a map lacks the
operation or cannot run the benchmark safely."""
import re
import sys

MAP_ORDER = ["gomap_sync", "go_sync_map", "urcu_lfht", "tbb_chm", "ck_ht", "shard64", "mutex"]


def main(path):
    rows = {}
    benches, maps, threads = [], [], []
    for line in open(path):
        if not line.startswith("bench="):
            continue
        kv = dict(re.findall(r"(\w+)=(\S+)", line))
        b, m, t = kv["bench"], kv["map"], int(kv["threads"])
        ns = float(kv["ns_op"])
        rows[(b, m, t)] = ns
        if b not in benches:
            benches.append(b)
        if m not in maps:
            maps.append(m)
        if t not in threads:
            threads.append(t)
    maps.sort(key=lambda m: MAP_ORDER.index(m) if m in MAP_ORDER else len(MAP_ORDER))
    out = []
    for t in sorted(threads):
        out.append(f"\n#### {t} thread{'s' if t > 1 else ''} (ns/op, median of runs; lower is better)\n")
        out.append("| benchmark | " + " | ".join(maps) + " |")
        out.append("|---|" + "---:|" * len(maps))
        for b in benches:
            vals = [rows.get((b, m, t)) for m in maps]
            real = [v for v in vals if v is not None and v == v]
            best = min(real) if real else None
            cells = []
            for v in vals:
                if v is None or v != v:
                    cells.append("n/a")
                elif v == best:
                    cells.append(f"**{fmt(v)}**")
                else:
                    cells.append(fmt(v))
            out.append(f"| {b} | " + " | ".join(cells) + " |")
    print("\n".join(out))


def fmt(v):
    if v >= 1000:
        return f"{v/1000:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/sync/results.txt")
