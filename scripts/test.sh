#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (idempotent), then runs
# the native Rust tests (unit, golden, property), builds the Worker and runs the end-to-end
# tests against it under Miniflare/workerd.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-tools.sh
bash scripts/setup-node.sh

echo "== cargo test (unit, golden, property tests)"
cargo test --locked

echo "== build the Worker, the JavaScript package and the page (the Worker serves build/www)"
bash scripts/build.sh
bash scripts/build-pkg.sh
bash scripts/build-www.sh

echo "== end-to-end tests (built Worker under Miniflare/workerd, pkg/ against the Worker)"
mkdir -p .tmp
TMPDIR="$PWD/.tmp" npm run --silent test:e2e

echo "== the real \`npm start\` (tests/local/) and the page in headless Chromium (tests/browser/), side by side"
# They share nothing (npm start runs on free ports with the checkout's .wrangler state; the page
# tests run their own Miniflare), and both mostly wait, so they run at the same time; the local
# tests' output follows the page tests'.
bash scripts/setup-browser.sh
TMPDIR="$PWD/.tmp" npm run --silent test:local >.tmp/test-local.log 2>&1 &
local_pid=$!
browser_status=0
TMPDIR="$PWD/.tmp" npm run --silent test:browser || browser_status=$?
local_status=0
wait "$local_pid" || local_status=$?
echo "== tests/local/ (the real \`npm start\`)"
cat .tmp/test-local.log
[ "$browser_status" -eq 0 ] && [ "$local_status" -eq 0 ]
