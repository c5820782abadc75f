#!/usr/bin/env python3
"""trace_check.py -- the trace file that test_trace writes parses as JSON and
holds exactly the events its tracer received.

    python3 tests/trace_check.py <test_trace binary> <scratch dir>

Runs `test_trace --export DIR`, which writes DIR/trace.json (the trace file,
map 1 recorded through a tracer that also keeps every event, map 2 attached
directly) and DIR/events.txt ("seq kind" per event map 1's tracer got).
Checks, with python's json module:
  - the file parses, and its metadata says nothing was sampled out;
  - map 1's events (pid 1) are, by args.seq, exactly those of events.txt;
  - grow spans ("B"/"E") balance, and every evacuation lies inside one;
  - iterator spans ("b"/"e") pair up by id;
  - counter samples ("C") name the four tracks, with integer values.
Exit 77 (skipped) when the library was built without trace events.
"""
import json
import os
import subprocess
import sys

KIND = {
    ("B", "grow"): "grow_start", ("B", "same-size grow"): "grow_start",
    ("E", "grow"): "grow_done", ("E", "same-size grow"): "grow_done",
    ("i", "grow done"): "grow_done",
    ("X", "evacuate"): "evacuate",
    ("i", "overflow bucket"): "overflow",
    ("i", "slot reuse"): "slot_reuse",
    ("i", "collapse"): "collapse",
    ("i", "seed"): "seed",
    ("i", "clear"): "clear",
    ("b", "iterator"): "iter_start",
    ("e", "iterator"): "iter_done",
}


def fail(msg):
    print("trace_check: FAIL: " + msg)
    sys.exit(1)


def main():
    binary, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    r = subprocess.run([binary, "--export", scratch], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode == 77:
        print(r.stdout.strip())
        sys.exit(77)
    if r.returncode != 0:
        fail("test_trace --export failed:\n" + r.stdout)
    with open(os.path.join(scratch, "trace.json")) as f:
        doc = json.load(f)
    with open(os.path.join(scratch, "events.txt")) as f:
        expected = [(int(a), b) for a, b in (line.split() for line in f if line.strip())]

    meta = doc.get("otherData")
    if not isinstance(meta, dict):
        fail("no otherData metadata")
    if meta.get("sampled") is not False or meta["events_seen"] != meta["events_written"]:
        fail("a small run was sampled: %r" % meta)
    if "sampling" not in meta or meta.get("full_per_kind", 0) <= 0:
        fail("the metadata does not describe the sampling")

    events = doc["traceEvents"]
    got = []
    spans = {}
    iters = {}
    counters = set()
    last_ts = {}
    for e in events:
        ph, pid = e["ph"], e.get("pid")
        if ph == "M":
            continue
        ts = e["ts"]
        if ts < last_ts.get(pid, 0):
            fail("time goes back in pid %s" % pid)
        last_ts[pid] = ts
        if ph == "C":
            counters.add(e["name"])
            if not isinstance(e["args"]["value"], int):
                fail("counter value not an integer: %r" % e)
            continue
        kind = KIND.get((ph, e["name"]))
        if kind is None:
            fail("unexpected event %r" % e)
        if ph == "B":
            if spans.get(pid):
                fail("grow span opened twice")
            spans[pid] = True
        elif ph == "E":
            if not spans.get(pid):
                fail("grow span closed but not open")
            spans[pid] = False
        elif ph == "X" and not spans.get(pid):
            fail("an evacuation outside a grow span: %r" % e)
        elif ph == "b":
            iters[e["id"]] = iters.get(e["id"], 0) + 1
        elif ph == "e":
            iters[e["id"]] = iters.get(e["id"], 0) - 1
        if pid == 1:
            got.append((e["args"]["seq"], kind))
    if any(spans.values()):
        fail("a grow span is left open")
    if any(v != 0 for v in iters.values()):
        fail("iterator spans do not pair up: %r" % iters)
    if counters != {"entries", "B", "overflow buckets", "bytes"}:
        fail("counter tracks: %r" % sorted(counters))
    got.sort()
    if got != expected:
        missing = sorted(set(expected) - set(got))[:5]
        extra = sorted(set(got) - set(expected))[:5]
        fail("map 1: %d events in the file, %d received; missing %r, extra %r"
             % (len(got), len(expected), missing, extra))
    kinds = {k for _, k in expected}
    for k in ("grow_start", "evacuate", "grow_done", "overflow", "slot_reuse", "collapse",
              "seed", "clear", "iter_start", "iter_done"):
        if k not in kinds:
            fail("the workload produced no %s event" % k)
    print("trace_check: %d events of map 1 match, %d events in all, %d counter tracks"
          % (len(got), len(events), len(counters)))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
