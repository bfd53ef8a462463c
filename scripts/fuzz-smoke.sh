#!/usr/bin/env bash
# A short bounded fuzz run for CI: builds the fuzz targets (nightly, debug assertions on) and
# runs each for FUZZ_SECONDS (default 20) from the committed seeds, on one job. Fails on any
# crash, panic, leak or timeout; the reproducer is left in tests/fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz-smoke.sh                  # all targets
#   FUZZ_SECONDS=60 bash scripts/fuzz-smoke.sh process config
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_BIN=$(bash scripts/setup-fuzz.sh | tail -n 1)
export PATH="$TOOLS_BIN:$PATH"
SECONDS_EACH="${FUZZ_SECONDS:-20}"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(process config replay structured)

t0=$(date +%s)
cargo +nightly fuzz build --fuzz-dir tests/fuzz --debug-assertions
echo "::: fuzz build took $(( $(date +%s) - t0 ))s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${TARGETS[@]}"; do
  mkdir -p "$work/$t"
  t1=$(date +%s)
  # A scratch corpus (seeded from tests/fuzz/seeds/$t) so CI never grows the committed seeds.
  set +e
  cargo +nightly fuzz run --fuzz-dir tests/fuzz --debug-assertions "$t" "$work/$t" "tests/fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$work/$t.log" 2>&1
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$work/$t.log" >&2
    echo "::: fuzz target $t FAILED (exit $status); reproducer in tests/fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^#[0-9]+ +DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$work/$t.log" || true
  echo "::: fuzz $t took $(( $(date +%s) - t1 ))s"
done
echo "::: fuzz smoke total $(( $(date +%s) - t0 ))s"
