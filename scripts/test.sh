#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (idempotent), then runs
# the native Rust tests (unit, golden, property), builds the Worker and runs the end-to-end
# tests against it under Miniflare/workerd.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-tools.sh
bash scripts/setup-node.sh

# One build for every native test: the backfill feature only adds modules and dependencies (it
# changes no feature of a shared crate: `cargo tree -e features -i serde_json`), so the translator
# under test is the Worker's.
echo "== cargo test --features backfill (unit, golden, reference, property tests; the backfill command: Avro files in every codec, bad input, end to end against the local Segment sink)"
cargo test --locked --features backfill

echo "== build the Worker, the JavaScript package and the page (the Worker serves build/www)"
bash scripts/build.sh
bash scripts/build-pkg.sh
bash scripts/build-www.sh

echo "== end-to-end tests (built Worker under Miniflare/workerd, pkg/ against the Worker)"
mkdir -p .tmp
TMPDIR="$PWD/.tmp" npm run --silent test:e2e

echo "== the real \`npm start\` (tests/local/: restarts keep queued events, no secret in logs, admin token per start, sink control, workerd dying)"
# Not side by side with the page tests: npm start rebuilds build/www, which the page tests serve.
TMPDIR="$PWD/.tmp" npm run --silent test:local

echo "== the page in headless Chromium (tests/browser/)"
bash scripts/setup-browser.sh
TMPDIR="$PWD/.tmp" npm run --silent test:browser
