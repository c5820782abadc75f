#!/bin/sh
# What the render_chromium test needs beyond python3: a chromium on PATH,
# to load the HTML picture headless.  Installs the Debian package when run
# as root with apt-get available and chromium missing; otherwise says what
# to install.  Without chromium the test is skipped, not failed, so this
# script is optional.  It fetches nothing else.
set -eu
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: chromium"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
echo "the render_chromium test needs chromium (apt-get install chromium); it is skipped without it" >&2
exit 1
