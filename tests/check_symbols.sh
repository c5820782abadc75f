#!/bin/sh
# check_symbols.sh NM LIBRARY...: every global symbol a gomap library
# defines must be public API, named gomap_*.  Anything else (an internal
# gm_* function, a stray helper) would be visible to a program that links
# the library and could collide with that program's own symbols.  A static
# archive is read with `nm -g`, a shared library with `nm -D`.
set -eu
nm=$1
shift
status=0
for lib in "$@"; do
  case $lib in
    *.so|*.so.*) opts="-D --defined-only" ;;
    *) opts="-g --defined-only" ;;
  esac
  # shellcheck disable=SC2086
  syms=$("$nm" $opts "$lib" | awk 'NF >= 3 { print $3 }')
  if [ -z "$syms" ]; then
    echo "$lib: no global symbols at all" >&2
    status=1
    continue
  fi
  bad=$(printf '%s\n' "$syms" | grep -v '^gomap_' || true)
  if [ -n "$bad" ]; then
    echo "$lib: global symbols outside the gomap_ namespace:" >&2
    printf '  %s\n' $bad >&2
    status=1
  else
    echo "$lib: $(printf '%s\n' "$syms" | wc -l) global symbols, all gomap_*"
  fi
done
exit $status
