#!/usr/bin/env bash
# Install the peer tables the side-by-side benchmark compares gomap with, all
# from Debian packages: Go 1.19 (classic map), Abseil, Boost, GLib, uthash.
# Idempotent: packages already installed are left alone, and apt-get update
# runs only when something is missing.  Needs root (or sudo).
set -euo pipefail

PKGS=(g++ pkg-config libabsl-dev libboost1.81-dev libglib2.0-dev uthash-dev golang-1.19-go)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers: all peers already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-peers: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-peers: done"
