#!/usr/bin/env python3
"""Run gomap's side-by-side benchmark and write the report.

Builds every row that can be built here (CMake: gomap, the pointer-chase
limit, and the installed peers; Go 1.19 for Go's own map), runs each
(size, kind, run, table) in its own process, collects one JSON line per
process in <build>/bench/results.jsonl, then calls report.py to write
REPORT.md and report.html.

    bench/install-peers.sh                     # once: Debian packages
    python3 bench/run.py                       # 1e3, 1e5, 1e6; all kinds; 3 runs
    python3 bench/run.py --large               # ... and 1e7 (several GB, long)
    python3 bench/run.py --report-dir bench    # update the committed report

Only the Python 3 standard library is used.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORDER = ["gomap", "go", "absl", "boost", "std", "glib", "uthash", "mlp"]
PEER_PACKAGES = ["golang-1.19-go", "libabsl-dev", "libboost1.81-dev", "libglib2.0-dev",
                 "uthash-dev", "g++", "gcc"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_sizes(s):
    out = []
    for part in s.split(","):
        part = part.strip()
        if part:
            out.append(int(float(part)))
    return out


def sh(cmd, **kw):
    log("+ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


def build_cmake(build_dir, jobs):
    cache = os.path.join(build_dir, "CMakeCache.txt")
    cmd = ["cmake", "-S", ROOT, "-B", build_dir]
    if not os.path.exists(cache):
        cmd.append("-DCMAKE_BUILD_TYPE=Release")
    sh(cmd, stdout=subprocess.DEVNULL)
    sh(["cmake", "--build", build_dir, "--target", "bench_all", "gomap_tool", "-j", str(jobs)],
       stdout=subprocess.DEVNULL)


def find_go():
    for cand in ["/usr/lib/go-1.19/bin/go", shutil.which("go")]:
        if cand and os.path.exists(cand):
            return cand
    return None


def go_version(go):
    try:
        out = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
        return out.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def build_go(build_dir):
    go = find_go()
    if not go:
        log("run.py: no Go toolchain (apt-get install golang-1.19-go); the Go row is skipped")
        return None, None
    ver = go_version(go) or "?"
    out = os.path.join(build_dir, "bench", "bench_go")
    env = dict(os.environ)
    env.update({
        "GOCACHE": os.path.join(build_dir, "bench", "go-cache"),
        "GOPATH": os.path.join(build_dir, "bench", "go-path"),
        "GOFLAGS": "", "GO111MODULE": "on", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
    })
    # Go 1.24+ uses Swiss tables by default; the classic map is the baseline.
    try:
        minor = int(ver.split("go1.")[1].split(".")[0].split(" ")[0])
    except (IndexError, ValueError):
        minor = 0
    if minor >= 24:
        env["GOEXPERIMENT"] = "noswissmap"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    sh([go, "build", "-o", out, "."], cwd=os.path.join(HERE, "go"), env=env)
    return out, ver


def available_rows(build_dir, go_bin):
    rows = {}
    for t in ORDER:
        if t == "go":
            if go_bin:
                rows[t] = go_bin
            continue
        p = os.path.join(build_dir, "bench", "bench_" + t)
        if os.path.exists(p):
            rows[t] = p
    return rows


def pkg_versions():
    out = {}
    for p in PEER_PACKAGES:
        try:
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p],
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout:
                out[p] = r.stdout
        except OSError:
            pass
    return out


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--sizes", default="1e3,1e5,1e6")
    ap.add_argument("--large", action="store_true", help="also 1e7 entries")
    ap.add_argument("--kinds", default="u64,str,big")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tables", default="", help="comma list (default: every built row)")
    ap.add_argument("--series-size", type=float, default=1e6,
                    help="size whose u64 insert latency is plotted over time")
    ap.add_argument("--report-dir", default=None,
                    help="where REPORT.md and report.html go (default: <build>/bench)")
    ap.add_argument("--results", default=None, help="JSONL output (default: <build>/bench/results.jsonl)")
    ap.add_argument("--merge", nargs="*", default=[],
                    help="earlier results files to include in the report")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per process")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    build_dir = os.path.abspath(args.build_dir)
    sizes = parse_sizes(args.sizes)
    if args.large and 10_000_000 not in sizes:
        sizes.append(10_000_000)
    sizes.sort()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in ("u64", "str", "big"):
            ap.error("unknown kind " + k)
    series_n = int(args.series_size)
    if series_n not in sizes:
        series_n = max([s for s in sizes if s <= series_n] or [max(sizes)])

    if not args.no_build:
        build_cmake(build_dir, args.jobs)
    go_bin = os.path.join(build_dir, "bench", "bench_go")
    go_ver = None
    if not args.no_build:
        go_bin, go_ver = build_go(build_dir)
    elif not os.path.exists(go_bin):
        go_bin = None
    else:
        go_ver = go_version(find_go() or "go")
    rows = available_rows(build_dir, go_bin)
    if args.tables:
        want = [t.strip() for t in args.tables.split(",") if t.strip()]
        rows = {t: p for t, p in rows.items() if t in want}
    if "gomap" not in rows:
        log("run.py: the gomap row is not built (%s)" % build_dir)
        return 1
    missing = [t for t in ORDER if t not in rows]
    if missing:
        log("run.py: rows not available here: %s (bench/install-peers.sh installs them)"
            % ", ".join(missing))

    results = args.results or os.path.join(build_dir, "bench", "results.jsonl")
    report_dir = os.path.abspath(args.report_dir or os.path.join(build_dir, "bench"))
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    cmdline = "python3 bench/run.py " + " ".join(sys.argv[1:])
    meta = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": cmdline.strip(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "kernel": platform.release(),
            "go": go_ver,
            "packages": pkg_versions(),
            "sizes": sizes, "kinds": kinds, "runs": args.runs,
            "tables": [t for t in ORDER if t in rows],
            "loadavg_start": loadavg(),
        }
    }
    t_start = time.time()
    failures = 0
    names = [t for t in ORDER if t in rows]
    with open(results, "w") as out:
        out.write(json.dumps(meta) + "\n")
        for n in sizes:
            for kind in kinds:
                for run in range(1, args.runs + 1):
                    # rotate the order from run to run, so drift hits every row alike
                    rot = (run - 1) % len(names)
                    for t in names[rot:] + names[:rot]:
                        cmd = [rows[t], "--kind", kind, "--size", str(n), "--run", str(run)]
                        if n == series_n and kind == "u64" and run == 1 and t != "mlp":
                            cmd.append("--series")
                        t0 = time.time()
                        try:
                            r = subprocess.run(cmd, capture_output=True, text=True,
                                               timeout=args.timeout)
                        except subprocess.TimeoutExpired:
                            log("  %-6s %-3s n=%-8d run %d: timed out" % (t, kind, n, run))
                            failures += 1
                            continue
                        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
                        if r.returncode != 0 or not line.startswith("{"):
                            log("  %-6s %-3s n=%-8d run %d: failed (%d) %s" %
                                (t, kind, n, run, r.returncode, r.stderr.strip()[:200]))
                            failures += 1
                            continue
                        out.write(line + "\n")
                        out.flush()
                        log("  %-6s %-3s n=%-8d run %d: %.1f s" % (t, kind, n, run,
                                                                     time.time() - t0))
        out.write(json.dumps({"meta_end": {"loadavg_end": loadavg(),
                                           "seconds": round(time.time() - t_start)}}) + "\n")
    log("run.py: %d processes failed; %.0f s in all; results in %s" %
        (failures, time.time() - t_start, results))
    sh([sys.executable, os.path.join(HERE, "report.py"), results] + args.merge +
       ["--out-dir", report_dir])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
