#!/usr/bin/env python3
"""render_check.py -- gomap_render_html's page, as a browser builds it.

    python3 tests/render_check.py <test_render binary> <scratch dir>

Runs `test_render --export DIR` (DIR/growing.html: a map halfway through a
grow; DIR/expected.txt: "class count" per slot state, from a walk of the
map's arrays), loads the page in headless chromium (--dump-dom), and checks
that chromium succeeded and that the DOM it built holds, for each state, as
many SVG rects of class "slot <state>" as the walk counted, and the same
counts in the page's data-* attributes.  Also takes a screenshot
(DIR/growing.png) and checks it is a PNG.

Exit 77 (ctest: skipped) when no chromium is on PATH; tests/optional_deps.sh
installs it.
"""
import html.parser
import os
import shutil
import subprocess
import sys


def fail(msg):
    print("render_check: FAIL: " + msg)
    sys.exit(1)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Counter(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.slots = {}
        self.drawn = {}
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "svg":
            self.svgs += 1
        if tag == "rect" and len(cls) == 2 and cls[0] == "slot":
            self.slots[cls[1]] = self.slots.get(cls[1], 0) + 1
        if a.get("id") == "gomap-drawn":
            for k, v in a.items():
                if k.startswith("data-"):
                    self.drawn[k[5:]] = int(v)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def chromium_run(chromium, args, scratch):
    # A profile of its own in the scratch dir; no sandbox when root (a
    # container's root cannot set one up).
    cmd = [chromium, "--headless", "--disable-gpu", "--no-first-run",
           "--user-data-dir=" + os.path.join(scratch, "profile")]
    if os.geteuid() == 0:
        cmd.append("--no-sandbox")
    return subprocess.run(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)


def main():
    binary, scratch = sys.argv[1], os.path.abspath(sys.argv[2])
    chromium = find_chromium()
    if not chromium:
        print("render_check: no chromium on PATH (tests/optional_deps.sh installs it): skipped")
        sys.exit(77)
    os.makedirs(scratch, exist_ok=True)
    r = subprocess.run([binary, "--export", scratch])
    if r.returncode != 0:
        fail("test_render --export failed")
    expected = {}
    with open(os.path.join(scratch, "expected.txt")) as f:
        for line in f:
            name, n = line.split()
            expected[name] = int(n)
    page = "file://" + os.path.join(scratch, "growing.html")

    r = chromium_run(chromium, ["--dump-dom", page], scratch)
    if r.returncode != 0:
        fail("chromium --dump-dom exited %d:\n%s" % (r.returncode, r.stderr.decode()[-2000:]))
    dom = r.stdout.decode()
    if "</html>" not in dom:
        fail("chromium printed no DOM")
    c = Counter()
    c.feed(dom)
    for name, n in expected.items():
        if c.slots.get(name, 0) != n:
            fail("class 'slot %s': %d in the DOM, the walk counted %d"
                 % (name, c.slots.get(name, 0), n))
        if c.drawn.get(name) != n:
            fail("data-%s says %r, the walk counted %d" % (name, c.drawn.get(name), n))
    extra = set(c.slots) - set(expected)
    if extra:
        fail("unknown slot classes in the DOM: %r" % sorted(extra))

    png = os.path.join(scratch, "growing.png")
    if os.path.exists(png):
        os.remove(png)
    r = chromium_run(chromium, ["--screenshot=" + png, "--window-size=1200,800", page], scratch)
    if r.returncode != 0 or not os.path.exists(png):
        fail("chromium --screenshot failed:\n%s" % r.stderr.decode()[-2000:])
    with open(png, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail("the screenshot is not a PNG")
    print("render_check: %s slots match in %d SVGs (%s)"
          % (sum(expected.values()), c.svgs,
             ", ".join("%s %d" % kv for kv in sorted(expected.items()))))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
