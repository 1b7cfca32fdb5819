#!/usr/bin/env bash
# Installs the outside tools the test suite checks the daemons with, when they are missing:
# each line below is "command Debian-package". Tests that need a tool fail with a clear message
# when it is absent, so a machine where this cannot install (not root, no apt-get) says why.
set -uo pipefail
tools=(
  "systemd-analyze systemd"
  "promtool prometheus"
  "script bsdutils"
  "tmux tmux"
  "chromium chromium"
)
missing=()
for entry in "${tools[@]}"; do
  set -- $entry
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: missing ${missing[*]} and no apt-get here; the tests that need them will fail" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
    echo "test-tools: missing ${missing[*]}; run as root or install them" >&2
    exit 0
  fi
fi
echo "test-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || \
  echo "test-tools: could not install ${missing[*]}" >&2
exit 0
