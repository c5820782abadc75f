#!/bin/sh
# What `make test` needs beyond gcc, cmake and make: clang 14 and its
# sanitizer runtimes (ThreadSanitizer runs under clang: gcc's TSan rejects
# the standalone fences the reclamation code uses).  Installs what is
# missing when run as root with apt-get available; otherwise says what to
# install and fails.
set -eu
need=""
command -v clang >/dev/null 2>&1 || need="$need clang"
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
# clang's TSan runtime: present when a trivial program links with it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo 'int main(void){return 0;}' > "$tmp/t.c"
if command -v clang >/dev/null 2>&1 && ! clang -fsanitize=thread "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1; then
  v=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  need="$need libclang-rt-${v:-14}-dev"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing:$need"
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  exit 0
fi
echo "make test needs:$need (apt-get install$need)" >&2
exit 1
