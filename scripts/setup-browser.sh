#!/usr/bin/env bash
# Installs the headless browser the page tests drive (tests/browser/): Debian's
# `chromium-headless-shell` (Chromium's own headless build: the same engine without the desktop
# browser's interface, half the CPU of `chromium --headless` on these tests), driven by npm
# `playwright-core` with `executablePath: "/usr/bin/chromium-headless-shell"` (Playwright's own
# browser downloads come from a CDN that is not reachable here). Idempotent: does nothing when it
# is there.
set -euo pipefail
CHROMIUM=/usr/bin/chromium-headless-shell
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "[setup-browser] $CHROMIUM is missing and this user cannot install it: run 'apt-get install -y chromium-headless-shell' as root" >&2
    exit 1
  fi
fi
echo "[setup-browser] apt-get install chromium-headless-shell" >&2
# The package lists of a fresh machine may be missing or older than the archive.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null 2>&1 || {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null
}
"$CHROMIUM" --version >&2
