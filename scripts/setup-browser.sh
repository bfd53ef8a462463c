#!/usr/bin/env bash
# Installs the headless browser the page tests drive (tests/browser/): Debian's `chromium`, driven by
# npm `playwright-core` with `executablePath: "/usr/bin/chromium"` (Playwright's own browser downloads
# come from a CDN that is not reachable here). Idempotent: does nothing when /usr/bin/chromium exists.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "[setup-browser] $CHROMIUM is missing and this user cannot install it: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
fi
echo "[setup-browser] apt-get install chromium" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM" --version >&2
