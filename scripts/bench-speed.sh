#!/usr/bin/env bash
# The Worker's ingest speed and size in one run (docs/BENCHMARKS.md §9), one table at the end:
#   wasm:    `BenchIngest` (the `bench` feature's export: parse, validate, translate, pack and the
#            queue bodies as JavaScript strings, exactly what ingest does) built as the release
#            profile and `.cargo/config.toml` build the Worker, timed in Node, 21 rounds of
#            150 ms (scripts/bench-speed.mjs);
#   native:  `cargo bench --bench translate`'s 21 alternating rounds: `worker_ingest` (the same
#            work), `translate_and_batch` and the serde_json `Value` baseline;
#   heap:    `cargo bench --bench memory` (dhat: peak bytes of ingest's work, the queue bodies in
#            the Worker's pieces);
#   size:    the Worker as `bash scripts/build.sh` builds it, gzip -9.
# Run: bash scripts/bench-speed.sh   (about 3 minutes on 2 cores once built)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PKG="$ROOT/.tmp/bench-pkg"
log() { printf '[bench-speed] %s\n' "$*" >&2; }

log "building the Worker"
bash scripts/build.sh >/dev/null
worker_raw=$(stat -c %s build/index_bg.wasm)
worker_gzip=$(gzip -9 -c build/index_bg.wasm | wc -c)

log "building the wasm ingest benchmark (release profile, feature bench)"
cargo build --locked --quiet --lib --release --target wasm32-unknown-unknown \
  --no-default-features --features bench
mkdir -p "$PKG"
"$TOOLS_DIR/bin/wasm-bindgen" --target nodejs --out-dir "$PKG" --out-name currents_relay \
  "$TARGET/wasm32-unknown-unknown/release/currents_relay.wasm"
echo '{ "type": "commonjs" }' >"$PKG/package.json"

# Native and wasm take turns, three times each, so a busy spell of the shared machine hits both;
# each figure is the median of its three runs, and wasm ÷ native the median of the three pairs.
natives=() wasms=() pairs=()
for turn in 1 2 3; do
  log "native rounds (cargo bench --bench translate), turn $turn"
  native=$(cargo bench --locked --quiet --bench translate -- rounds-only 2>/dev/null | grep '^| median')
  log "wasm rounds (Node), turn $turn"
  wasm=$(RELAY_PKG="$PKG" node scripts/bench-speed.mjs)
  natives+=("$native") wasms+=("$wasm")
  # | median | baseline µs | translate_and_batch µs | worker_ingest µs | ratio |
  pairs+=("$(awk -F'|' -v w="${wasm%% *}" '{ printf "%.3f", ($5 + 0) / (w * 1000) }' <<<"$native")")
done
log "peak heap (cargo bench --bench memory)"
heap=$(cargo bench --locked --quiet --bench memory 2>/dev/null | grep '^| 100 |')

middle() { sort -g | sed -n 2p; }
column() { printf '%s\n' "${natives[@]}" | awk -F'|' -v c="$1" '{ print $c + 0 }' | middle; }
baseline_us=$(column 3)
native_us=$(column 5)
speedup=$(column 6)
wasm_ms=$(printf '%s\n' "${wasms[@]}" | awk '{ print $1 }' | middle)
wasm_native=$(printf '%s\n' "${pairs[@]}" | middle)
heap_ratio=$(awk -F'|' '{ print $6 + 0 }' <<<"$heap")

log "native runs: $(printf '%s\n' "${natives[@]}" | awk -F'|' '{ printf "%s/%s/%s µs (%s); ", $3 + 0, $4 + 0, $5 + 0, $6 + 0 }')"
log "wasm runs: $(printf '%s ms; ' "${wasms[@]%% *}")wasm ÷ native: ${pairs[*]}"
cat <<EOF
| measure (100-event batch) | figure | goal |
|---|---:|---:|
| wasm \`BenchIngest\` (median of 21 rounds; median of 3 runs) | $wasm_ms ms | ≤ 0.5 ms |
| native \`worker_ingest\` (median of 21 rounds; median of 3 runs) | $native_us µs | |
| wasm ÷ native speed | $wasm_native | ≥ 0.5 |
| native: serde_json \`Value\` baseline | $baseline_us µs | |
| native \`translate_and_batch\` ÷ baseline speed | $speedup | ≥ 2 |
| peak heap ÷ input | $heap_ratio | ≤ 2 |
| Worker wasm | $worker_raw B raw, $worker_gzip B gzip | < 350,000 B gzip |
EOF
