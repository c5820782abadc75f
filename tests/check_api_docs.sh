#!/bin/sh
# The API reference builds from the public headers without one warning:
# doxygen runs with docs/Doxyfile (WARN_IF_UNDOCUMENTED, EXTRACT_ALL=NO) into
# a temporary directory, and any warning fails the check -- a public
# function, type, field, enumerator or macro without a comment, or a comment
# doxygen cannot parse.  Then every function the headers export (GOMAP_API)
# must have its entry in the reference, so that none is hidden (by @cond,
# or the preprocessor) instead of documented.
#
#   sh tests/check_api_docs.sh [doxygen]
#
# Exits 77 (skipped) when doxygen is missing; tests/optional_deps.sh installs it.
set -eu
DOXYGEN=${1:-doxygen}
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v "$DOXYGEN" >/dev/null 2>&1; then
  echo "check_api_docs: $DOXYGEN not found (sh tests/optional_deps.sh installs it); skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$root"
# Later settings override earlier ones: the same configuration as `make
# docs`, written elsewhere, with the warnings in a file.
{
  cat docs/Doxyfile
  echo "OUTPUT_DIRECTORY = \"$tmp/out\""
  echo "WARN_LOGFILE = \"$tmp/warnings.log\""
} | "$DOXYGEN" - >"$tmp/doxygen.out" 2>&1 || {
  cat "$tmp/doxygen.out"
  echo "check_api_docs: doxygen failed"
  exit 1
}
html=$tmp/out/html
if [ ! -s "$html/index.html" ]; then
  cat "$tmp/doxygen.out"
  echo "check_api_docs: no $html/index.html"
  exit 1
fi
status=0
if [ -s "$tmp/warnings.log" ]; then
  sed "s|$root/||" "$tmp/warnings.log"
  n=$(grep -c 'warning:' "$tmp/warnings.log" || true)
  u=$(grep -c 'is not documented' "$tmp/warnings.log" || true)
  echo "check_api_docs: $n doxygen warnings, $u of them undocumented symbols"
  status=1
fi
# Each exported function: listed in the reference's index of functions.
fns=$(sed -n 's/^GOMAP_API[^(]*[ *]\(gomap_[a-z0-9_]*\)(.*/\1/p' include/gomap.h include/gomap_sync.h)
count=0
for f in $fns; do
  count=$((count + 1))
  if ! grep -q "<li>$f()" "$html"/globals_func*.html; then
    echo "check_api_docs: $f is not in the reference"
    status=1
  fi
done
if [ "$count" -lt 50 ]; then
  echo "check_api_docs: found only $count GOMAP_API functions in the headers"
  status=1
fi
[ "$status" = 0 ] && echo "check_api_docs: $count functions and every public symbol documented, no warning"
exit $status
