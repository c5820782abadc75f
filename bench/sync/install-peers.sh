#!/usr/bin/env bash
# The concurrent-map benchmark's peers: liburcu, oneTBB, Concurrency Kit, a
# C++ compiler and Go 1.19 (see bench/install-peers.sh, which does the work).
exec "$(dirname "$0")/../install-peers.sh" sync
