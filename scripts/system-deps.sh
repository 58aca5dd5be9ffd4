#!/usr/bin/env bash
# Installs the Debian packages edgeformer relies on, only when one is missing.
# With no usable apt (not root, or not Debian), prints the one line saying what to install.
set -euo pipefail
PKGS="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dataset-fashion-mnist cmake"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "edgeformer needs these Debian packages; install them with: sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 2
fi
