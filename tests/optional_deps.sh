#!/bin/sh
# The tools some tests need beyond gcc, cmake and python3, each optional:
# without it its test is skipped or not registered.
#   chromium  render_chromium loads the HTML picture headless
#   doxygen   api_docs builds the API reference (and `make docs`)
# Installs the missing Debian packages when run as root with apt-get
# available; otherwise says what to install and fails.  Fetches nothing else.
set -eu
need=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  command -v google-chrome >/dev/null 2>&1 || need="$need chromium"
command -v doxygen >/dev/null 2>&1 || need="$need doxygen"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing:$need"
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  exit 0
fi
echo "optional test tools missing:$need (apt-get install$need); their tests are skipped" >&2
exit 1
