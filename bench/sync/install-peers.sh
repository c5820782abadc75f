#!/usr/bin/env bash
# Install the peers that the concurrent-map benchmark compares gomap_sync
# with, all from Debian packages: liburcu (rculfhash, and urcu-memb for the
# read-side cost), oneTBB (tbb::concurrent_hash_map), Concurrency Kit (ck_ht),
# a C++ compiler, and Go 1.19 (sync.Map).  Idempotent: installed packages are
# left alone and apt-get update runs only when something is missing.  Needs
# root (or sudo).
set -euo pipefail

PKGS=(g++ pkg-config liburcu-dev libtbb-dev libck-dev golang-1.19-go)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers (sync): all peers already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-peers (sync): installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-peers (sync): done"
