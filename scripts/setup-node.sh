#!/usr/bin/env bash
# Installs the npm packages of package-lock.json unless node_modules already matches it.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.currents-relay-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[setup-node] npm ci" >&2
npm ci --no-audit --no-fund
echo "$want" > "$stamp"
