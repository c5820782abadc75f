#!/bin/sh
# What the api_docs test and `make docs` need: doxygen on PATH, to build the
# API reference from the public headers.  Installs the Debian package when
# run as root with apt-get available and doxygen missing; otherwise says what
# to install.  Without doxygen the api_docs test is not registered, so this
# script is optional.  It fetches nothing else.
set -eu
command -v doxygen >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing: doxygen"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends doxygen >/dev/null
  exit 0
fi
echo "the api_docs test and make docs need doxygen (apt-get install doxygen); without it the test is not registered" >&2
exit 1
