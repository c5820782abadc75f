#!/usr/bin/env python3
"""Write REPORT.md and report.html from the benchmark's JSON lines.

    python3 bench/report.py RESULTS.jsonl [--out-dir DIR]

RESULTS.jsonl is what bench/run.py collects: a {"meta": ...} line, then one
line per (table, kind, size, run).  Tables: ns/op as the median of the runs
with min-max, the leader of each column in bold, gomap's ratio to the leader
and to Go's map; single-insert latency (p50, p99, p99.9, worst) with the
timer's floor; bytes per entry.  The HTML page holds the same tables and
inline SVG plots (no scripts, nothing fetched): insert latency over time
while each table grows, and ns/op bars.  Standard library only.
"""
import argparse
import html
import json
import math
import os
import statistics
import sys

ORDER = ["gomap", "go", "absl", "boost", "std", "glib", "uthash", "mlp"]
LABEL = {
    "gomap": "gomap",
    "go": "Go map (1.19)",
    "absl": "absl::flat_hash_map",
    "boost": "boost::unordered_flat_map",
    "std": "std::unordered_map",
    "glib": "GLib GHashTable",
    "uthash": "uthash",
    "mlp": "memory-level-parallelism limit",
}
COLOR = {
    "gomap": "#d62728", "go": "#1f77b4", "absl": "#2ca02c", "boost": "#9467bd",
    "std": "#8c564b", "glib": "#e377c2", "uthash": "#7f7f7f", "mlp": "#bcbd22",
}
OPS = ["insert", "insert_reserved", "lookup_hit", "lookup_miss", "erase", "iterate", "churn"]
OP_LABEL = {
    "insert": "insert", "insert_reserved": "insert (reserved)", "lookup_hit": "lookup hit",
    "lookup_miss": "lookup miss", "erase": "erase", "iterate": "iterate",
    "churn": "churn", "lookup_batch": "lookup hit (batch)", "iterate_batch": "iterate (batch)",
    "insert_batch": "insert (batch)", "insert_reserved_batch": "insert (reserved, batch)",
    "erase_batch": "erase (batch)", "lookup_miss_batch": "lookup miss (batch)",
    "churn_batch": "churn (batch)",
}
# gomap-only columns: the same work as a per-entry column, through gomap's
# batch interface.  Their leader is the best of gomap's batch figure and every
# table's per-entry figure for that work.
BATCH_OF = {"insert_batch": "insert", "insert_reserved_batch": "insert_reserved",
            "lookup_batch": "lookup_hit", "lookup_miss_batch": "lookup_miss",
            "erase_batch": "erase", "iterate_batch": "iterate", "churn_batch": "churn"}
KIND_LABEL = {"u64": "u64 → u64", "str": "16-byte string → u64", "big": "u64 → 56-byte value"}


def fmt_n(n):
    e = int(round(math.log10(n))) if n > 0 else 0
    return "10^%d" % e if 10 ** e == n else str(n)


def num(x, d=1):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return "%.*f" % (d, x)


def mmm(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


class Data:
    def __init__(self, paths):
        self.meta = {}
        self.commands = []
        self.loads = []  # [start, end] load averages, per results file
        self.rows = {}  # (kind, n, table) -> [result]
        for path in paths:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    d = json.loads(line)
                    if "meta" in d:
                        if not self.meta:
                            self.meta = d["meta"]
                        self.commands.append(d["meta"].get("command", "bench/run.py"))
                        self.loads.append([d["meta"].get("loadavg_start", "?"), "?"])
                        continue
                    if "meta_end" in d:
                        if self.loads:
                            self.loads[-1][1] = d["meta_end"].get("loadavg_end", "?")
                        continue
                    if "table" not in d:
                        continue
                    self.rows.setdefault((d["kind"], d["n"], d["table"]), []).append(d)
        self.kinds = [k for k in ["u64", "str", "big"] if any(k == key[0] for key in self.rows)]
        self.sizes = sorted({key[1] for key in self.rows})
        self.tables = [t for t in ORDER if any(t == key[2] for key in self.rows)]

    def runs(self, kind, n, t):
        return self.rows.get((kind, n, t), [])

    def op(self, kind, n, t, op):
        return mmm([r["ns"].get(op) for r in self.runs(kind, n, t)])

    def field(self, kind, n, t, getter):
        vals = []
        for r in self.runs(kind, n, t):
            try:
                v = getter(r)
            except (KeyError, TypeError):
                v = None
            if v is not None and v >= 0:
                vals.append(v)
        return mmm(vals)


def leaders(data, kind, n, ops):
    lead = {}
    for op in ops:
        best = None
        for t in data.tables:
            if t == "mlp":
                continue
            m = data.op(kind, n, t, op)
            if op in BATCH_OF and t != "gomap":
                m = data.op(kind, n, t, BATCH_OF[op])
            if m and (best is None or m[0] < best[1]):
                best = (t, m[0])
        lead[op] = best
    return lead


def ops_present(data, kind, n):
    ops = [op for op in OPS if any(data.op(kind, n, t, op) for t in data.tables if t != "mlp")]
    for op, base in BATCH_OF.items():
        if data.op(kind, n, "gomap", op):
            ops.insert(ops.index(base) + 1 if base in ops else len(ops), op)
    return ops


# ---------------------------------------------------------------------------- markdown

def md_speed(data, kind, n):
    ops = ops_present(data, kind, n)
    lead = leaders(data, kind, n, ops)
    out = ["| table | " + " | ".join(OP_LABEL[o] for o in ops) + " |",
           "|---|" + "---:|" * len(ops)]
    for t in data.tables:
        if not data.runs(kind, n, t):
            continue
        cells = []
        for op in ops:
            m = data.op(kind, n, t, op)
            if not m:
                cells.append("–")
                continue
            c = "%s (%s–%s)" % (num(m[0]), num(m[1]), num(m[2]))
            if lead[op] and lead[op][0] == t:
                c = "**%s**" % c
            cells.append(c)
        out.append("| %s | %s |" % (LABEL[t], " | ".join(cells)))
    g = {op: data.op(kind, n, "gomap", op) for op in ops}
    go = {op: data.op(kind, n, "go", BATCH_OF.get(op, op)) for op in ops}
    r1, r2 = [], []
    for op in ops:
        if g[op] and lead[op]:
            r1.append("%.2f× (%s)" % (g[op][0] / lead[op][1], lead[op][0]))
        else:
            r1.append("–")
        r2.append("%.2f×" % (g[op][0] / go[op][0]) if g[op] and go[op] else "–")
    out.append("| *gomap ÷ leader* | " + " | ".join(r1) + " |")
    if "go" in data.tables:
        out.append("| *gomap ÷ Go map* | " + " | ".join(r2) + " |")
    return "\n".join(out)


LAT_COLS = [
    ("p50", lambda r: r["lat"]["p50"]), ("p99", lambda r: r["lat"]["p99"]),
    ("p99.9", lambda r: r["lat"]["p999"]), ("worst", lambda r: r["lat"]["max"]),
    ("floor p50", lambda r: r["floor"]["p50"]), ("floor worst", lambda r: r["floor"]["max"]),
    ("preempted", lambda r: r["lat"].get("preempted")),
]


def md_latency(data, kind, n):
    out = ["| table | " + " | ".join(c[0] for c in LAT_COLS) +
           " | worst ÷ floor p50 | worst ÷ floor worst |",
           "|---|" + "---:|" * (len(LAT_COLS) + 2)]
    for t in data.tables:
        if t == "mlp" or not data.runs(kind, n, t):
            continue
        cells = []
        vals = {}
        for name, get in LAT_COLS:
            m = data.field(kind, n, t, lambda r, g=get: g(r) if r["lat"]["samples"] else None)
            vals[name] = m
            cells.append("%s (%s–%s)" % (num(m[0], 0), num(m[1], 0), num(m[2], 0)) if m else "–")
        ratio = ratio2 = "–"
        if vals["worst"] and vals["floor p50"] and vals["floor p50"][0] > 0:
            ratio = "%s×" % num(vals["worst"][0] / vals["floor p50"][0], 0)
        if vals["preempted"]:
            cells[-1] = num(vals["preempted"][0], 0)
        if vals["worst"] and vals["floor worst"] and vals["floor worst"][0] > 0:
            ratio2 = "%.1f×" % (vals["worst"][0] / vals["floor worst"][0])
        out.append("| %s | %s | %s | %s |" % (LABEL[t], " | ".join(cells), ratio, ratio2))
    return "\n".join(out)


MEM_COLS = [
    ("live (own)", lambda r: r["mem"]["live_acct"]), ("peak (own)", lambda r: r["mem"]["peak_acct"]),
    ("live (RSS)", lambda r: r["mem"]["live_rss"]), ("peak (RSS)", lambda r: r["mem"]["peak_rss"]),
]


def md_memory(data, kind, n):
    out = ["| table | " + " | ".join(c[0] for c in MEM_COLS) + " |",
           "|---|" + "---:|" * len(MEM_COLS)]
    for t in data.tables:
        if t == "mlp" or not data.runs(kind, n, t):
            continue
        cells = []
        for name, get in MEM_COLS:
            m = data.field(kind, n, t, get)
            cells.append(num(m[0] / n, 1) if m else "–")
        out.append("| %s | %s |" % (LABEL[t], " | ".join(cells)))
    return "\n".join(out)


def check_sums(data):
    bad = []
    for kind in data.kinds:
        for n in data.sizes:
            for op in OPS + list(BATCH_OF):
                seen = {}
                for t in data.tables:
                    if t == "mlp":
                        continue
                    for r in data.runs(kind, n, t):
                        c = r.get("check", {}).get(op)
                        if c is None:
                            continue
                        key = BATCH_OF.get(op, op)
                        if key == "insert_reserved":
                            key = "insert"
                        seen.setdefault((key, c), set()).add(t)
                keys = {}
                for (key, c), ts in seen.items():
                    keys.setdefault(key, []).append((c, ts))
                for key, lst in keys.items():
                    if len(lst) > 1:
                        bad.append("%s n=%s %s: %s" % (kind, n, key, "; ".join(
                            "%s=%s" % (",".join(sorted(ts)), c) for c, ts in lst)))
    return bad


def mlp_lines(data):
    lines = []
    for kind in data.kinds:
        for n in data.sizes:
            m = data.runs(kind, n, "mlp")
            g = data.op(kind, n, "gomap", "lookup_hit")
            b = data.op(kind, n, "gomap", "lookup_batch")
            if not m or not g:
                continue
            c1 = mmm([r["extra"].get("chase1") for r in m])
            c16 = mmm([r["extra"].get("chase16") for r in m])
            c32 = mmm([r["extra"].get("chase32") for r in m])
            ws = mmm([r["extra"].get("ws_bytes") for r in m])
            l3 = mmm([r["extra"].get("chase3lines") for r in m])
            s = ("- %s, n=%s: working set %.1f MB; dependent chase %s ns/access, 16 chains %s, "
                 "32 chains %s; gomap lookup hit %s ns = %.1f× the limit"
                 % (KIND_LABEL[kind], fmt_n(n), ws[0] / 1e6, num(c1[0]), num(c16[0]), num(c32[0]),
                    num(g[0]), g[0] / min(c16[0], c32[0])))
            if b:
                s += "; gomap_get_many %s ns = %.1f×" % (num(b[0]), b[0] / min(c16[0], c32[0]))
                if l3:
                    s += (" (3 lines per access, as a lookup in Go's bucket layout reads: %s ns; "
                          "gomap_get_many = %.1f× that)" % (num(l3[0]), b[0] / l3[0]))
            else:
                s += "; batch lookup: gomap_get_many not in gomap.h yet (hook in bench/table_gomap.c)"
            lines.append(s)
    return lines


# The speed issue's targets, one table each.  A cell is "single / batch":
# gomap's single-key call and its batch call, each divided by the comparator,
# with a check mark when within the target.
BATCH_FOR = {v: k for k, v in BATCH_OF.items()}
PEER_LIMIT = {"insert": 1.1, "insert_reserved": 1.1, "lookup_hit": 1.0, "lookup_miss": 1.0,
              "erase": 1.1, "iterate": 1.2}


def best_peer(data, kind, n, op):
    best = None
    for t in data.tables:
        if t in ("gomap", "mlp"):
            continue
        m = data.op(kind, n, t, op)
        if m and (best is None or m[0] < best[1]):
            best = (t, m[0])
    return best


def ratio_cell(data, kind, n, op, denom, limit):
    """'0.92 / 0.62 ✓' for gomap's single and batch figures over denom."""
    parts, ok = [], False
    for o in (op, BATCH_FOR.get(op)):
        g = data.op(kind, n, "gomap", o) if o else None
        if g:
            r = g[0] / denom
            ok = ok or r <= limit
            parts.append("%.2f" % r)
        else:
            parts.append("–")
    return " / ".join(parts) + (" ✓" if ok else ""), ok


def glance(data):
    """The targets at a glance: markdown lines."""
    out, big = [], [n for n in data.sizes if n >= 10 ** 6]
    if not data.runs("u64", big[0] if big else 0, "gomap"):
        return ["- (no gomap data at 10^6 or more)"]
    hdr = "| kind, n | " + " | ".join(OP_LABEL[o] for o in OPS) + " |"
    sep = "|---|" + "---:|" * len(OPS)
    met = total = 0
    rows = []
    for kind in data.kinds:
        for n in big:
            if not data.runs(kind, n, "go") or not data.runs(kind, n, "gomap"):
                continue
            cells = []
            for op in OPS:
                go = data.op(kind, n, "go", op)
                if not go or not data.op(kind, n, "gomap", op):
                    cells.append("–")
                    continue
                c, ok = ratio_cell(data, kind, n, op, go[0], 0.5)
                met, total = met + ok, total + 1
                cells.append(c)
            rows.append("| %s, %s | %s |" % (KIND_LABEL[kind], fmt_n(n), " | ".join(cells)))
    if rows:
        out += ["**gomap ≥ 2× faster than Go's map** (gomap ÷ Go ≤ 0.50; single-key call / "
                "batch call, ✓ when either is within): %d of %d cells." % (met, total), "",
                hdr, sep] + rows + [""]
    ops = list(PEER_LIMIT)
    met = total = 0
    rows = []
    for kind in data.kinds:
        for n in [s for s in data.sizes if s >= 10 ** 5]:
            if not data.runs(kind, n, "gomap"):
                continue
            cells = []
            for op in ops:
                bp = best_peer(data, kind, n, op)
                if not bp or not data.op(kind, n, "gomap", op):
                    cells.append("–")
                    continue
                c, ok = ratio_cell(data, kind, n, op, bp[1], PEER_LIMIT[op])
                met, total = met + ok, total + 1
                cells.append("%s (%s)" % (c, bp[0]))
            rows.append("| %s, %s | %s |" % (KIND_LABEL[kind], fmt_n(n), " | ".join(cells)))
    if rows:
        out += ["**As fast as the best peer** (gomap ÷ the fastest other table, which is "
                "named; lookups ≤ 1.0, insert and erase ≤ 1.1, iterate ≤ 1.2; single / batch, "
                "✓ when either is within): %d of %d cells." % (met, total), "",
                "| kind, n | " + " | ".join("%s (≤ %.1f)" % (OP_LABEL[o], PEER_LIMIT[o])
                                            for o in ops) + " |",
                "|---|" + "---:|" * len(ops)] + rows + [""]
    rows = []
    for kind in data.kinds:
        for n in data.sizes:
            runs = data.runs(kind, n, "gomap")
            if not runs:
                continue
            clean = [r for r in runs if r["lat"].get("preempted", -1) == 0] or runs
            w = mmm([r["lat"]["max"] for r in clean])
            fw = mmm([r["floor"]["max"] for r in clean])
            p = mmm([r["lat"]["p999"] for r in runs])
            peers = [(t, data.field(kind, n, t, lambda r: r["lat"]["p999"]))
                     for t in data.tables if t not in ("gomap", "mlp")]
            peers = [(t, m[0]) for t, m in peers if m]
            bp = min(peers, key=lambda x: x[1]) if peers else None
            mem = data.field(kind, n, "gomap", lambda r: r["mem"]["live_rss"])
            lean = [data.field(kind, n, t, lambda r: r["mem"]["live_rss"]) for t in ("absl", "boost")]
            lean = min([m[0] for m in lean if m], default=None)
            cw = "–"
            if w and fw:
                ok = w[0] <= 2 * fw[0] and w[0] - fw[0] <= 100e3
                cw = "%s µs vs %s µs: %.1f×, %+.0f µs%s" % (
                    num(w[0] / 1e3, 0), num(fw[0] / 1e3, 0), w[0] / fw[0], (w[0] - fw[0]) / 1e3,
                    " ✓" if ok else "")
            cp = "–"
            if p and bp:
                cp = "%s vs %s (%s)%s" % (num(p[0], 0), num(bp[1], 0), bp[0],
                                          " ✓" if p[0] <= bp[1] else "")
            cm = "–"
            if mem and lean and n >= 10 ** 6:
                cm = "%.1f vs %.1f: %.2f×%s" % (mem[0] / n, lean / n, mem[0] / lean,
                                                " ✓" if mem[0] <= 1.1 * lean else "")
            rows.append("| %s, %s | %s | %s | %s |" % (KIND_LABEL[kind], fmt_n(n), cw, cp, cm))
    if rows:
        out += ["**Latency and memory**: worst single insert against the floor's worst (an "
                "empty operation timed the same way, for as long, in the same run; target "
                "≤ 2× and ≤ 100 µs above; runs not preempted while timing where there are "
                "any); insert p99.9 in ns against the best peer's (target ≤); live bytes per "
                "entry (RSS) against the leaner of absl and boost at 10^6 and up (target "
                "≤ 1.1×).", "",
                "| kind, n | worst insert vs floor worst | p99.9 vs best peer (ns) | "
                "bytes per entry vs leanest |", "|---|---:|---:|---:|"] + rows + [""]
    return out


def summary(data):
    lines = []
    for kind in data.kinds:
        sizes = [s for s in data.sizes if data.runs(kind, s, "gomap")]
        if not sizes:
            continue
        show = [s for s in sizes if s == 10 ** 6] + [max(sizes)]
        for n in sorted(set(show)):
            ops = ops_present(data, kind, n)
            lead = leaders(data, kind, n, ops)
            parts = []
            for op in ops:
                g = data.op(kind, n, "gomap", op)
                go = data.op(kind, n, "go", BATCH_OF.get(op, op))
                if not g:
                    continue
                s = "%s %s ns" % (OP_LABEL[op], num(g[0]))
                extra = []
                if go:
                    extra.append("%.2f× Go" % (g[0] / go[0]))
                if lead[op] and lead[op][0] != "gomap":
                    extra.append("%.2f× %s" % (g[0] / lead[op][1], lead[op][0]))
                elif lead[op]:
                    extra.append("leader")
                if extra:
                    s += " (" + ", ".join(extra) + ")"
                parts.append(s)
            lines.append("- **%s, n=%s**: %s" % (KIND_LABEL[kind], fmt_n(n), "; ".join(parts)))
    return lines


def write_md(data, path, html_name):
    m = data.meta
    out = ["# gomap benchmark report", ""]
    out.append("Generated by `bench/report.py` from the results of " +
               ", then ".join("`%s`" % c for c in (data.commands or ["bench/run.py"])) + ".")
    out.append("")
    out.append("- date: %s; machine: %s, %s cores, Linux %s" %
               (m.get("date", "?"), m.get("cpu", "?"), m.get("cores", "?"), m.get("kernel", "?")))
    if any(a != "?" for a, b in data.loads):
        out.append("- load average (1, 5, 15 min) at the start and end of each run: " +
                   "; ".join("%s → %s" % (a, b) for a, b in data.loads if a != "?") +
                   " — a shared 2-core machine; other people's builds and tests ran meanwhile, "
                   "so min–max ranges are wide")
    if m.get("go"):
        out.append("- Go: %s (the classic bucket map)" % m["go"])
    if m.get("packages"):
        out.append("- packages: " + ", ".join("%s %s" % kv for kv in sorted(m["packages"].items())))
    out.append("- rows: " + ", ".join(LABEL[t] for t in data.tables))
    out.append("- plots: %s, written beside this file by `bench/report.py` (a generated "
               "page: kept in the build tree, not committed)" % html_name)
    out.append("")
    out.append("## How to read this")
    out.append("")
    out.append(
        "Every row runs the same workload (`bench/common.h`): the same keys from one "
        "splitmix64 stream with a fixed seed, in the same order, the value of key *i* "
        "being *i*+1; every result is summed and printed, and the checksums of all rows "
        "are compared below. Each (table, kind, size, run) is its own process. "
        "Cells are **ns per operation, median of the runs (min–max)**; bold marks the "
        "leader of the column (lowest median). *insert* puts n distinct keys into an "
        "empty table without reserving; *insert (reserved)* after reserving n (GLib and "
        "uthash cannot reserve); *lookup hit* looks every key up in a shuffled order "
        "(string keys from a second copy of the bytes); *lookup miss* looks up n absent "
        "keys; *erase* removes every key in the shuffled order; *iterate* is per entry; "
        "*churn* keeps n live keys while each step inserts a new key, looks up a random "
        "live one and erases the oldest (ns per operation, 3 per step). Small sizes "
        "repeat each operation until 10^6 operations are timed. The *(batch)* columns "
        "are gomap only: the same work through its batch calls (`gomap_put_many`, "
        "`gomap_get_many` and `gomap_delete_many`, 64 keys per call; "
        "`gomap_iter_next_n`, 256 entries per call). Their leader is the "
        "best of that figure and every table's per-entry figure for the same work, so a "
        "batch column's ratio compares gomap's batch call with the peers' own way of "
        "doing that work (the peers are driven one key or entry at a time), and so "
        "does its ratio to Go's map.")
    out.append("")
    out.append(
        "Latency: inserts into an empty table timed one at a time with `lfence; rdtsc; "
        "lfence` (at least 2·10^5 samples); the *floor* is the same timing around an "
        "empty operation, in the same run, for at least as many samples and as long as "
        "the inserts took (the worst sample of an empty operation grows with the time "
        "watched: timer interrupts, the hypervisor taking the CPU). On this machine the timestamp counter moves "
        "in steps of about 10 ns, so p50 figures are quantised to 10 ns. The worst "
        "single insert includes page faults on fresh memory (the table's own cost) and "
        "any preemption by the OS (not its cost; this is a shared 2-core machine). A pass "
        "during which the process was preempted (an involuntary context switch, counted "
        "with getrusage) is run again, up to 3 passes; *preempted* is the count in the pass "
        "kept (median of the runs), and the *floor worst* column shows the same noise with "
        "no work at all. Cells are median (min–max) over the runs.")
    out.append("")
    out.append(
        "Memory, bytes per entry after inserting n keys into an empty table: *own* is the "
        "table's own accounting where it has one (gomap: `gomap_stats.bytes` live and a "
        "counting allocator for the peak; Go: heap bytes after a GC), *RSS* the change in "
        "resident memory (peak: VmHWM after resetting it). RSS is meaningless at 10^3.")
    out.append("")
    out.append("## Summary (gomap's ns/op at 10^6 and the largest size; ratios to Go's map and to the column's leader)")
    out.append("")
    out.extend(summary(data))
    out.append("")
    out.append("## Targets")
    out.append("")
    out.extend(glance(data))
    out.append("Random-access limit (row *memory-level-parallelism limit*: independent pointer "
               "chases over gomap's own working set, 64-byte nodes):")
    out.append("")
    out.extend(mlp_lines(data) or ["- (no pointer-chase data)"])
    out.append("")
    bad = check_sums(data)
    out.append("## Checksums")
    out.append("")
    out.append("All rows agree on every checksum." if not bad else
               "Disagreements (a row computed something else):\n\n" + "\n".join("- " + b for b in bad))
    for kind in data.kinds:
        out.append("")
        out.append("## %s" % KIND_LABEL[kind])
        for n in data.sizes:
            if not any(data.runs(kind, n, t) for t in data.tables):
                continue
            out.append("")
            out.append("### %s, n = %s — ns per operation" % (KIND_LABEL[kind], fmt_n(n)))
            out.append("")
            out.append(md_speed(data, kind, n))
            out.append("")
            out.append("Single-insert latency (ns):")
            out.append("")
            out.append(md_latency(data, kind, n))
            out.append("")
            out.append("Bytes per entry:")
            out.append("")
            out.append(md_memory(data, kind, n))
    out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out))


# ---------------------------------------------------------------------------- SVG / HTML

def svg_lines(title, series, xlabel, ylabel, logy=True, width=980, height=420, legend=True,
              like=None):
    """series: list of (name, color, [y...], x_step)"""
    ml, mr, mt, mb = 70, (230 if legend else 20), 36, 48
    pw, ph = width - ml - mr, height - mt - mb
    scale = like or series  # the axes come from these series
    ys = [y for _, _, ys_, _ in scale for y in ys_ if y and y > 0]
    if not ys:
        return ""
    xmax = max(len(s[2]) * s[3] for s in scale)
    ylo, yhi = min(ys), max(ys)
    if logy:
        ylo = 10 ** math.floor(math.log10(ylo))
        yhi = 10 ** math.ceil(math.log10(yhi))
        fy = lambda y: mt + ph - (math.log10(max(y, ylo)) - math.log10(ylo)) / (
            math.log10(yhi) - math.log10(ylo)) * ph
    else:
        ylo = 0
        fy = lambda y: mt + ph - (y - ylo) / (yhi - ylo) * ph
    fx = lambda x: ml + x / xmax * pw
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (width, height),
         '<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>' % (ml, html.escape(title)),
         '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (ml, mt, pw, ph)]
    if logy:
        e = int(math.log10(ylo))
        while 10 ** e <= yhi:
            y = fy(10 ** e)
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (ml, ml + pw, y, y))
            lab = ("%g" % (10 ** e)) if e < 6 else "1e%d" % e
            o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (ml - 6, y + 4, lab))
            e += 1
    for i in range(6):
        x = xmax * i / 5
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' %
                 (fx(x), mt + ph + 16, "{:,.0f}".format(x)))
    o.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' %
             (ml + pw / 2, height - 8, html.escape(xlabel)))
    o.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>' %
             (mt + ph / 2, mt + ph / 2, html.escape(ylabel)))
    for i, (name, color, vals, step) in enumerate(series):
        pts = " ".join("%.1f,%.1f" % (fx((j + 0.5) * step), fy(v)) for j, v in enumerate(vals) if v)
        o.append('<polyline fill="none" stroke="%s" stroke-width="1.2" points="%s"/>' % (color, pts))
        if not legend:
            continue
        ly = mt + 10 + i * 18
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>' %
                 (ml + pw + 12, ml + pw + 32, ly, ly, color))
        o.append('<text x="%d" y="%d">%s</text>' % (ml + pw + 38, ly + 4, html.escape(name)))
    o.append("</svg>")
    return "\n".join(o)


def svg_bars(title, groups, tables, width=980):
    """groups: list of (label, {table: value}); grouped horizontal bars, log x."""
    vals = [v for _, d in groups for v in d.values() if v]
    if not vals:
        return ""
    # legend rows first, so the bars start below them
    leg, lx, ly = [], 150, 40
    for t in tables:
        w = 7 * len(LABEL[t]) + 30
        if lx + w > width - 20:
            lx, ly = 150, ly + 16
        leg.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (lx, ly - 9, COLOR[t]))
        leg.append('<text x="%d" y="%d">%s</text>' % (lx + 14, ly, html.escape(LABEL[t])))
        lx += w
    ml, mr, mt = 150, 70, ly + 14
    bh = 10
    gh = bh * len(tables) + 12
    height = mt + gh * len(groups) + 34
    pw = width - ml - mr
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    fx = lambda v: (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * pw
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="11">' % (width, height),
         '<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>' % (ml, html.escape(title))]
    o.extend(leg)
    e = int(math.log10(lo))
    while 10 ** e <= hi:
        x = ml + fx(10 ** e)
        o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (x, x, mt, height - 30))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%g ns</text>' % (x, height - 14, 10 ** e))
        e += 1
    for gi, (label, d) in enumerate(groups):
        y0 = mt + gi * gh
        o.append('<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>' %
                 (ml - 8, y0 + gh / 2, html.escape(label)))
        for ti, t in enumerate(tables):
            v = d.get(t)
            if not v:
                continue
            y = y0 + ti * bh
            wbar = max(fx(v), 1)
            o.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.1f ns'
                     '</title></rect>' % (ml, y, wbar, bh - 1, COLOR[t], html.escape(LABEL[t]), v))
            o.append('<text x="%.1f" y="%d" font-size="9">%s</text>' % (ml + wbar + 3, y + bh - 2,
                                                                         num(v)))
    o.append("</svg>")
    return "\n".join(o)


def md_table_to_html(md):
    rows = [r for r in md.splitlines() if r.startswith("|")]
    out = ["<table>"]
    for i, r in enumerate(rows):
        if i == 1:
            continue
        cells = [c.strip() for c in r.strip("|").split("|")]
        tag = "th" if i == 0 else "td"
        conv = []
        for c in cells:
            c = html.escape(c)
            if c.startswith("**") and c.endswith("**"):
                c = "<b>%s</b>" % c[2:-2]
            if c.startswith("*") and c.endswith("*"):
                c = "<i>%s</i>" % c[1:-1]
            conv.append("<%s>%s</%s>" % (tag, c, tag))
        out.append("<tr>%s</tr>" % "".join(conv))
    out.append("</table>")
    return "\n".join(out)


def write_html(data, path):
    m = data.meta
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>gomap benchmark</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:0.6em 0;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}svg{margin:1em 0}</style></head><body>",
             "<h1>gomap benchmark</h1>",
             "<p>%s &mdash; %s, %s cores. Command: <code>%s</code></p>" %
             (html.escape(m.get("date", "?")), html.escape(m.get("cpu", "?")),
              m.get("cores", "?"), html.escape("; ".join(data.commands or ["bench/run.py"])))]
    # 1. insert latency over time
    for kind in data.kinds:
        for n in data.sizes:
            series = []
            for t in data.tables:
                for r in data.runs(kind, n, t):
                    if r.get("series_max"):
                        series.append((LABEL[t], COLOR[t], r["series_max"], r["window"]))
                        break
            if series:
                parts.append("<h2>Insert latency while the table grows to %s (%s)</h2>" %
                             (fmt_n(n), html.escape(KIND_LABEL[kind])))
                parts.append("<p>Each point is the slowest single insert in a window of %d "
                             "consecutive inserts into an empty table (no reserve), timed one "
                             "at a time. A table that rehashes all at once shows a spike at each "
                             "doubling; an incremental one stays flat.</p>" % series[0][3])
                parts.append(svg_lines("worst insert per window, %s, %s" % (KIND_LABEL[kind], fmt_n(n)),
                                       series, "inserts so far", "ns (log scale)"))
                parts.append("<p>The same, one panel per table (same axes):</p>")
                for one in series:
                    parts.append(svg_lines(one[0], [one], "inserts so far", "ns", width=480,
                                           height=230, legend=False, like=series))
                mean_series = []
                for t in data.tables:
                    for r in data.runs(kind, n, t):
                        if r.get("series_mean"):
                            mean_series.append((LABEL[t], COLOR[t], r["series_mean"], r["window"]))
                            break
                parts.append(svg_lines("mean insert per window, %s, %s" % (KIND_LABEL[kind], fmt_n(n)),
                                       mean_series, "inserts so far", "ns (log scale)"))
    # 2. bars
    for kind in data.kinds:
        for n in data.sizes:
            tables = [t for t in data.tables if data.runs(kind, n, t)]
            if not tables:
                continue
            groups = []
            for op in ops_present(data, kind, n):
                d = {}
                for t in tables:
                    mm = data.op(kind, n, t, op)
                    if mm:
                        d[t] = mm[0]
                groups.append((OP_LABEL[op], d))
            parts.append("<h2>%s, n = %s</h2>" % (html.escape(KIND_LABEL[kind]), fmt_n(n)))
            parts.append(svg_bars("ns per operation (median, log scale; shorter is faster)",
                                  groups, tables))
            parts.append("<h3>ns per operation, median (min–max)</h3>")
            parts.append(md_table_to_html(md_speed(data, kind, n)))
            parts.append("<h3>single-insert latency (ns)</h3>")
            parts.append(md_table_to_html(md_latency(data, kind, n)))
            parts.append("<h3>bytes per entry</h3>")
            parts.append(md_table_to_html(md_memory(data, kind, n)))
    parts.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="JSONL files (merged)")
    ap.add_argument("--out-dir", default=".")
    args = ap.parse_args()
    data = Data(args.results)
    if not data.rows:
        print("report.py: no results in %s" % " ".join(args.results), file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    md = os.path.join(args.out_dir, "REPORT.md")
    page = os.path.join(args.out_dir, "report.html")
    write_md(data, md, "report.html")
    write_html(data, page)
    print("report.py: wrote %s and %s" % (md, page), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
