#!/usr/bin/env python3
"""Side-by-side timing of gomap at several git revisions.

Builds bench/bench_gomap (Release) for each revision in its own git worktree
under --work (default: gomap-revs in the system temporary directory), then runs the builds alternately,
--runs times each, on the same workload, and prints ns per operation as
"median (fastest)" per revision, with the last revision's median divided by
the first's.  Alternating spreads the machine's drift over every build.

    python3 bench/compare_revs.py ab3eee9 HEAD --kinds u64,str --size 1000000 --runs 5

Only the Python 3 standard library is used.
"""
import argparse, collections, json, os, statistics, subprocess, sys, tempfile

OPS = "insert,insert_reserved,lookup_hit,lookup_miss,erase,iterate,churn"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build(root, rev, work):
    sha = sh(["git", "-C", root, "rev-parse", "--short", rev], capture_output=True,
             text=True).stdout.strip()
    tree = os.path.join(work, sha)
    if not os.path.isdir(tree):
        sh(["git", "-C", root, "worktree", "add", "--detach", tree, sha],
           stdout=subprocess.DEVNULL)
    b = os.path.join(tree, "build")
    sh(["cmake", "-S", tree, "-B", b, "-DCMAKE_BUILD_TYPE=Release", "-DGOMAP_TESTS=OFF",
        "-DGOMAP_BENCH_PEERS=OFF"], stdout=subprocess.DEVNULL)
    sh(["cmake", "--build", b, "--target", "bench_gomap", "-j", "2"], stdout=subprocess.DEVNULL)
    return sha, os.path.join(b, "bench", "bench_gomap")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("revs", nargs="+")
    ap.add_argument("--kinds", default="u64")
    ap.add_argument("--size", default="1000000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ops", default=OPS)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "gomap-revs"))
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(a.work, exist_ok=True)
    bins = [build(root, r, a.work) for r in a.revs]
    d = collections.defaultdict(list)
    for kind in a.kinds.split(","):
        for r in range(1, a.runs + 1):
            for sha, b in bins:
                out = sh([b, "--kind", kind, "--size", a.size, "--ops", a.ops, "--no-mem",
                          "--no-latency", "--run", str(r)], capture_output=True, text=True).stdout
                for op, v in json.loads(out)["ns"].items():
                    d[(kind, sha, op)].append(v)
    for kind in a.kinds.split(","):
        print(f"\n{kind}, n={a.size}: ns per operation, median (fastest) of {a.runs} alternating runs\n")
        print("| op | " + " | ".join(s for s, _ in bins) + " | last ÷ first |")
        print("|---|" + "---:|" * (len(bins) + 1))
        for op in a.ops.split(","):
            cells = [f"{statistics.median(d[(kind, s, op)]):.1f} ({min(d[(kind, s, op)]):.1f})"
                     for s, _ in bins]
            ratio = statistics.median(d[(kind, bins[-1][0], op)]) / statistics.median(d[(kind, bins[0][0], op)])
            print(f"| {op} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
