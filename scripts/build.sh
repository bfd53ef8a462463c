#!/usr/bin/env bash
# Builds the Worker into build/worker/: shim.mjs (wrangler's `main`) re-exports index.js, which
# imports index_bg.wasm, all three side by side. The one build command of wrangler.toml
# ([build] command), `npm start` and the end-to-end tests.
#
# Works offline once the tools are installed: worker-build is told where every tool is, so it
# never tries to download from GitHub.
#   - worker-build 0.8.7 and wasm-bindgen 0.2.130: scripts/setup-tools.sh (cached in ~/.cache).
#   - esbuild: the one wrangler brings (node_modules/.bin/esbuild, from `npm ci`), or ESBUILD_BIN.
#   - wasm-opt: not used (Cargo.toml [package.metadata.wasm-pack.profile.release] wasm-opt =
#     false: it made the gzip size larger, see docs/WORKER.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
log() { printf '[build] %s\n' "$*" >&2; }

bash "$ROOT/scripts/setup-tools.sh"

export WASM_BINDGEN_BIN="$TOOLS_DIR/bin/wasm-bindgen"

if [ -z "${ESBUILD_BIN:-}" ]; then
  if [ -x "$ROOT/node_modules/.bin/esbuild" ]; then
    ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"
  elif command -v esbuild >/dev/null 2>&1; then
    ESBUILD_BIN="$(command -v esbuild)"
  else
    log "esbuild not found: run \`npm ci\` first (wrangler brings it) or set ESBUILD_BIN"
    exit 1
  fi
fi
export ESBUILD_BIN
# Never downloaded: wasm-opt is off in Cargo.toml; a path here only guards against a fetch.
export WASM_OPT_BIN="${WASM_OPT_BIN:-/bin/false}"

log "worker-build --release"
"$TOOLS_DIR/bin/worker-build" --release

# worker-build writes build/index.js + build/index_bg.wasm and a build/worker/shim.mjs that
# imports `../index.js`. Move the pair next to the shim so build/worker/ is self-contained: a
# Miniflare `modulesRoot` of build/worker works, and nothing imports outside its root.
if [ -f build/index.js ]; then
  mv -f build/index.js build/worker/index.js
  rm -f build/worker/*.wasm
  mv -f build/*.wasm build/worker/
  cat >build/worker/shim.mjs <<'JS'
// Entry point (wrangler.toml `main`): the worker-build glue and its wasm sit next to this file.
export * from "./index.js";
export { default } from "./index.js";
JS
fi

wasm="$(ls build/worker/*.wasm 2>/dev/null | head -n 1 || true)"
if [ ! -f build/worker/shim.mjs ] || [ ! -f build/worker/index.js ] || [ -z "$wasm" ]; then
  log "expected build/worker/{shim.mjs,index.js,*.wasm}"
  exit 1
fi
log "built $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) bytes gzip"
