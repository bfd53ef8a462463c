#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (idempotent), builds the
# Worker, pkg/ and the page once, then runs two lanes side by side (the machines have two cores,
# and every suite spends part of its time waiting on timers, queues and child processes):
#   native lane:  cargo test (unit, golden, reference, property, backfill), then the end-to-end
#                 tests (the built Worker under Miniflare/workerd, pkg/ against the Worker);
#   process lane: the real `npm start` (tests/local/), then the page in headless Chromium.
# (Three lanes, one per suite, took longer: the native lane then waits for the cores.)
# Each lane's output is printed whole when it ends; the exit status is non-zero when one failed.
# The builds publish only what changed (scripts/publish.sh), so `npm start` in the process lane
# never rewrites a file the native lane is reading.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-tools.sh
bash scripts/setup-node.sh
bash scripts/setup-browser.sh

echo "== build the Worker, the JavaScript package and the page (the Worker serves build/www)"
bash scripts/build.sh
bash scripts/build-pkg.sh
bash scripts/build-www.sh

mkdir -p .tmp
export TMPDIR="$PWD/.tmp"

native_lane() {
  # One build for every native test: the backfill feature only adds modules and dependencies (it
  # changes no feature of a shared crate: `cargo tree -e features -i serde_json`), so the
  # translator under test is the Worker's.
  echo "== cargo test --features backfill (unit, golden, reference, property tests; the backfill command: Avro files in every codec, bad input, end to end against the local Segment sink)"
  cargo test --locked --features backfill
  echo "== end-to-end tests (built Worker under Miniflare/workerd, pkg/ against the Worker)"
  npm run --silent test:e2e
}

process_lane() {
  echo "== the real \`npm start\` (tests/local/: the page and the samples served, restarts keep queued events, no secret in logs, admin token per start, sink control, workerd dying)"
  npm run --silent test:local
  echo "== the page in headless Chromium (tests/browser/)"
  npm run --silent test:browser
}

# Runs lane $1 in the background, its output in .tmp/lane-$1.log; sets lane_pid_$1.
start_lane() {
  local name=$1
  (
    t0=$(date +%s)
    rc=0
    "${name}_lane" || rc=$?
    echo "== $name lane: $([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)") in $(( $(date +%s) - t0 ))s"
    exit "$rc"
  ) >".tmp/lane-$name.log" 2>&1 &
  eval "lane_pid_$name=$!"
}

lanes=(native process)
for name in "${lanes[@]}"; do start_lane "$name"; done
status=0
for name in "${lanes[@]}"; do
  pid_var="lane_pid_$name"
  rc=0
  wait "${!pid_var}" || rc=$?
  echo "======== $name lane ($([ "$rc" = 0 ] && echo passed || echo FAILED))"
  cat ".tmp/lane-$name.log"
  [ "$rc" = 0 ] || status=1
done
exit "$status"
