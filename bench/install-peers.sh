#!/usr/bin/env bash
# Install the peers the benchmarks compare gomap with, all from Debian
# packages.  With no argument: the tables of the speed benchmark (Go 1.19's
# classic map, Abseil, Boost, GLib, uthash).  With "sync": the concurrent maps
# of bench/sync (liburcu, oneTBB, Concurrency Kit, Go 1.19's sync.Map).
# Idempotent: packages already installed are left alone, and apt-get update
# runs only when something is missing.  Needs root (or sudo).
set -euo pipefail

case "${1:-}" in
  "")   what="install-peers";        PKGS=(g++ pkg-config libabsl-dev libboost1.81-dev libglib2.0-dev uthash-dev golang-1.19-go) ;;
  sync) what="install-peers (sync)"; PKGS=(g++ pkg-config liburcu-dev libtbb-dev libck-dev golang-1.19-go) ;;
  *)    echo "usage: $0 [sync]" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$what: all peers already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "$what: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "$what: done"
