#!/usr/bin/env bash
# Builds the translator for JavaScript into pkg/: the same `process()` the Worker calls, compiled
# with the `browser` feature (no Worker shell) and bound with wasm-bindgen, twice:
#   pkg/web/   ES module for browsers (`--target web`), used by www/
#   pkg/node/  CommonJS for Node (`--target nodejs`), used by tests and benchmarks
# Generated files are not committed; pkg/package.json, README.md and index.d.ts are. Each folder
# is generated in a staging folder and published where it changed (scripts/publish.sh): tests
# load pkg/node while `npm start` builds again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/publish.sh
mkdir -p .tmp
STAGE=$(mktemp -d .tmp/pkg-stage.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
TOOLS_DIR="${CURRENTS_RELAY_TOOLS:-$HOME/.cache/currents-relay/tools}"
bash scripts/setup-tools.sh

cargo build --locked --lib --release --target wasm32-unknown-unknown --no-default-features --features browser \
  --target-dir target/pkg
wasm="target/pkg/wasm32-unknown-unknown/release/currents_relay.wasm"
# wasm-bindgen runs only when its input or its version changed since the last build that
# published pkg/ (every `npm start` builds pkg/, usually with nothing new).
stamp_file=target/pkg/bindgen.stamp
stamp="$(sha256sum "$wasm" | cut -d' ' -f1) $("$TOOLS_DIR/bin/wasm-bindgen" --version)"
outputs=(pkg/web/currents_relay.js pkg/web/currents_relay_bg.wasm pkg/node/currents_relay.js
  pkg/node/currents_relay_bg.wasm pkg/node/package.json)
up_to_date=1
for f in "${outputs[@]}"; do [ -f "$f" ] || up_to_date=0; done
if [ "$up_to_date" = 1 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
  echo "[build-pkg] pkg/web and pkg/node are up to date" >&2
  exit 0
fi
for target in web nodejs; do
  "$TOOLS_DIR/bin/wasm-bindgen" --target "$target" --out-dir "$STAGE/$target" --out-name currents_relay "$wasm"
done
# pkg/node is CommonJS; the repository's package.json says "type": "module", so say it here.
printf '{ "type": "commonjs" }\n' > "$STAGE/nodejs/package.json"
publish_dir "$STAGE/web" pkg/web
publish_dir "$STAGE/nodejs" pkg/node
echo "$stamp" >"$stamp_file"
printf '[build-pkg] pkg/web/currents_relay_bg.wasm: %s bytes, %s gzip\n' \
  "$(wc -c <pkg/web/currents_relay_bg.wasm)" "$(gzip -9 -c pkg/web/currents_relay_bg.wasm | wc -c)" >&2
