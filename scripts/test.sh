#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (idempotent), builds the
# Worker, pkg/ and the page once, then runs the four suites two at a time (the machines have two
# cores, and every suite spends part of its time waiting on timers, queues and child processes):
#   e2e     the built Worker under Miniflare/workerd, and pkg/ against it (tests/e2e/, tests/pkg/);
#   local   the real `npm start` (tests/local/);
#   page    the page in headless Chromium (tests/browser/);
#   native  cargo test: unit, golden, reference, property, the backfill command end to end.
# Two runners take the next suite from that list as each finishes: the two longest first, so the
# two shorter fill in behind them (measured warm: e2e ~108 s, local ~95-118 s, page ~50 s, native
# ~27 s once compiled; .ci/run compiles the native tests before `npm test`). Each suite's output is printed whole when it ends; the exit status is non-zero
# when one failed. The builds publish only the files that changed (scripts/publish.sh), so the
# `npm start` of one suite never rewrites a file another is reading.
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

suite_native() {
  # One build for every native test: the backfill feature only adds modules and dependencies (it
  # changes no feature of a shared crate: `cargo tree -e features -i serde_json`), so the
  # translator under test is the Worker's.
  echo "== cargo test --features backfill (unit, golden, reference, property tests; the backfill command: Avro files in every codec, bad input, end to end against the local Segment sink)"
  cargo test --locked --features backfill
}
suite_local() {
  echo "== the real \`npm start\` (tests/local/: the page and the samples served, restarts keep queued events, no secret in logs, admin token per start, sink control, workerd dying)"
  npm run --silent test:local
}
suite_e2e() {
  echo "== end-to-end tests (built Worker under Miniflare/workerd, pkg/ against the Worker)"
  npm run --silent test:e2e
}
suite_page() {
  echo "== the page in headless Chromium (tests/browser/)"
  npm run --silent test:browser
}

SUITES=(e2e local page native)
queue=.tmp/test-suites
rm -rf "$queue" && mkdir -p "$queue"
echo 0 >"$queue/next"

# Claims the next suite's index (under a lock), or fails when none is left.
claim() {
  local i
  {
    flock 9
    i=$(cat "$queue/next")
    echo $((i + 1)) >"$queue/next"
  } 9>"$queue/lock"
  [ "$i" -lt "${#SUITES[@]}" ] && echo "$i"
}

# A runner: runs suites until none is left; each one's output, status and time go to files.
runner() {
  local i name t0 rc
  while i=$(claim); do
    name=${SUITES[$i]}
    t0=$(date +%s)
    rc=0
    "suite_$name" >"$queue/$name.log" 2>&1 || rc=$?
    echo "$rc $(($(date +%s) - t0))" >"$queue/$name.status"
    # Print it now, whole, under a lock so two suites' outputs never interleave.
    {
      flock 9
      echo "======== $name: $([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)") in $(($(date +%s) - t0))s"
      cat "$queue/$name.log"
    } 9>"$queue/print.lock"
  done
}

runner & r1=$!
runner & r2=$!
wait "$r1" "$r2" || true

status=0
for name in "${SUITES[@]}"; do
  if [ ! -f "$queue/$name.status" ]; then
    echo "== $name: did not run"; status=1; continue
  fi
  read -r rc secs <"$queue/$name.status"
  echo "== $name: $([ "$rc" = 0 ] && echo passed || echo "FAILED ($rc)") in ${secs}s"
  [ "$rc" = 0 ] || status=1
done
exit "$status"
