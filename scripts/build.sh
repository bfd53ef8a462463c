#!/usr/bin/env bash
# Builds the Worker into build/worker/: shim.mjs (wrangler's `main`) re-exports index.js (the
# entry point scripts/worker-shim.js bundled with the wasm-bindgen glue), which imports
# index_bg.wasm, all three side by side. The one build command of wrangler.toml ([build]
# command), `npm start` and the end-to-end tests.
#
# The steps are those of worker-build 0.8.7 (the workers-rs build tool), done here so that a
# fresh machine installs only wasm-bindgen-cli (see docs/WORKER.md, "Build"):
#   1. cargo build --lib --release --target wasm32-unknown-unknown
#   2. wasm-bindgen 0.2.130 --target module, with the panic-recovery hooks the shim uses
#   3. check the glue exports exactly the handlers and classes the shim knows
#   4. esbuild (the one wrangler brings: node_modules/.bin/esbuild, or ESBUILD_BIN) bundles
#      worker-shim.js + the glue into index.js, the wasm left as an import
# Works offline once scripts/setup-tools.sh and `npm ci` have run. No wasm-opt (docs/WORKER.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
log() { printf '[build] %s\n' "$*" >&2; }

bash "$ROOT/scripts/setup-tools.sh"
WASM_BINDGEN="$TOOLS_DIR/bin/wasm-bindgen"

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

log "cargo build --lib --release --target wasm32-unknown-unknown"
cargo build --locked --lib --release --target wasm32-unknown-unknown
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
WASM_IN="$TARGET_DIR/wasm32-unknown-unknown/release/currents_relay.wasm"

STAGE="$ROOT/build/.stage"
rm -rf "$STAGE"
mkdir -p "$STAGE" "$ROOT/build/worker"
log "wasm-bindgen --target module"
"$WASM_BINDGEN" "$WASM_IN" --out-dir "$STAGE" --out-name index --no-typescript --target module \
  --experimental-reset-state-function --force-enable-abort-handler

# The shim wires `fetch`, `queue` and the `ConnectorStats` Durable Object by name: any other
# handler or class exported by the Rust code would be silently missing from the Worker.
node - "$STAGE/index.js" <<'JS'
const text = require("node:fs").readFileSync(process.argv[2], "utf8");
const functions = [...text.matchAll(/^export (?:async )?function (\w+)/gm)].map((m) => m[1]);
const classes = [...text.matchAll(/^export class (\w+)/gm)].map((m) => m[1]);
const system = ["__wbg_reset_state", "__worker_init_state"];
// Classes of the worker crate itself (not Durable Objects): exported by the glue, unused here.
const platformClasses = ["ContainerStartupOptions", "MinifyConfig", "R2Range"];
const handlers = functions.filter((f) => !system.includes(f)).sort();
const objects = classes.filter((c) => !platformClasses.includes(c)).sort();
const problems = [];
if (JSON.stringify(handlers) !== JSON.stringify(["fetch", "queue"])) problems.push(`handlers ${handlers}`);
if (JSON.stringify(objects) !== JSON.stringify(["ConnectorStats"])) problems.push(`classes ${objects}`);
for (const f of system) if (!functions.includes(f)) problems.push(`missing ${f}`);
if (problems.length > 0) {
  console.error(`[build] the wasm-bindgen glue does not match scripts/worker-shim.js: ${problems.join("; ")}`);
  process.exit(1);
}
JS

cp "$ROOT/scripts/worker-shim.js" "$STAGE/shim.js"
log "esbuild: bundling the entry point and the glue"
(cd "$STAGE" && "$ESBUILD_BIN" --external:./index_bg.wasm '--external:cloudflare:*' --format=esm \
  --bundle ./shim.js --outfile=index.js --allow-overwrite --minify --log-level=warning)
# wasm-bindgen imports the module as a `source` phase import; workerd takes a plain import.
sed -i 's/import source /import /' "$STAGE/index.js"

rm -f build/worker/*.wasm build/worker/index.js
mv "$STAGE/index.js" "$STAGE/index_bg.wasm" build/worker/
cat >build/worker/shim.mjs <<'JS'
// Entry point (wrangler.toml `main`): the bundled entry point and its wasm sit next to this file.
export * from "./index.js";
export { default } from "./index.js";
JS
rm -rf "$STAGE"

wasm=build/worker/index_bg.wasm
log "built $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) bytes gzip"
