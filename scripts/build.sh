#!/usr/bin/env bash
# Builds the Worker with worker-build 0.8.7 (the workers-rs build tool), `worker-build --release`:
# cargo build for wasm32-unknown-unknown, wasm-bindgen (no wasm-opt), then esbuild bundles
# worker-build's entry point with the glue. Output in build/ (docs/WORKER.md, "Build"):
#   build/index.js         wrangler's `main`, the entry point; imports ./index_bg.wasm
#   build/index_bg.wasm    the Worker
#   build/worker/shim.mjs  worker-build's alias of ../index.js (unused here)
# The one build command of wrangler.toml ([build] command), `npm start`, the tests and CI.
# worker-build writes to a staging folder; its files are published into build/ where they changed
# (scripts/publish.sh): tests read build/ while `npm start` builds again.
# worker-build is told where every tool is (WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN): it
# never downloads, and works offline once scripts/setup-tools.sh and `npm ci` have run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
fail() { printf '[build] %s\n' "$*" >&2; exit 1; }

bash "$ROOT/scripts/setup-tools.sh"

export WASM_BINDGEN_BIN="$TOOLS_DIR/bin/wasm-bindgen"
export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/.bin/esbuild}"
# wasm-opt is switched off (Cargo.toml, [package.metadata.wasm-pack.profile.release]). Were it
# switched on with no WASM_OPT_BIN given, `false` makes worker-build fail at once instead of
# downloading binaryen from GitHub.
export WASM_OPT_BIN="${WASM_OPT_BIN:-false}"
# worker-build falls back to a download (from GitHub or npm) when a path does not exist.
[ -x "$ESBUILD_BIN" ] || fail "esbuild not found at $ESBUILD_BIN: run \`npm ci\` (wrangler brings it) or set ESBUILD_BIN"

# worker-build runs any wasm-bindgen it is given: the CLI must be the version of the crate the
# Worker links (Cargo.lock), or the glue does not match the wasm.
locked="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print }' Cargo.lock)"
cli="$("$WASM_BINDGEN_BIN" --version | awk '{print $NF}')"
[ "$locked" = "$cli" ] || fail "Cargo.lock has wasm-bindgen $locked but $WASM_BINDGEN_BIN is $cli"

source "$ROOT/scripts/publish.sh"
mkdir -p .tmp
stage=$(mktemp -d .tmp/worker-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
# --locked goes to cargo build: the build never changes Cargo.lock.
"$TOOLS_DIR/bin/worker-build" --release --out-dir "$stage" --locked
publish_files "$stage" build

wasm=build/index_bg.wasm
printf '[build] built %s: %s bytes, %s bytes gzip\n' "$wasm" "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" >&2
