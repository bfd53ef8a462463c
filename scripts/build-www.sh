#!/usr/bin/env bash
# Assembles the static site the Worker will serve (and tests/browser/ drives) into build/www/:
#   build/www/*             www/* as is (plain HTML/CSS/JS, no framework, no bundler)
#   build/www/pkg/web/*     the translator for browsers (pkg/web, from scripts/build-pkg.sh)
#   build/www/samples.json  Braze's sample events (tests/fixtures/braze-samples/users/**.json),
#                           one object keyed by event_type, so the page works offline
#   build/www/_headers      the security headers of every asset (Cloudflare's `_headers` format,
#                           read by the asset handler, never served), taken from
#                           src/web/security.rs: the pages get the headers the Worker's answers get
# Every path is relative to the page, so the site works from any origin root. Needs pkg/web built.
# The site is assembled in a staging folder and published into build/www only where it changed
# (scripts/publish.sh): tests serve build/www while `npm start` assembles it again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/publish.sh
DEST=build/www
mkdir -p .tmp
OUT=$(mktemp -d .tmp/www-stage.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
SAMPLES=tests/fixtures/braze-samples/users

if [ ! -f pkg/web/currents_relay.js ] || [ ! -f pkg/web/currents_relay_bg.wasm ]; then
  echo "[build-www] pkg/web is missing: run 'bash scripts/build-pkg.sh' first" >&2
  exit 1
fi

mkdir -p "$OUT/pkg/web"
cp -R www/. "$OUT/"
cp pkg/web/currents_relay.js pkg/web/currents_relay_bg.wasm "$OUT/pkg/web/"

node --input-type=module - "$SAMPLES" "$OUT/samples.json" <<'JS'
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
const [dir, out] = process.argv.slice(2);
const files = (function walk(d) {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".json") ? [path.join(d, e.name)] : []);
})(dir).sort();
const samples = {};
for (const file of files) {
  const event = JSON.parse(readFileSync(file, "utf8"));
  if (typeof event.event_type !== "string") throw new Error(`${file}: no event_type`);
  if (samples[event.event_type]) throw new Error(`${file}: event_type ${event.event_type} appears twice`);
  samples[event.event_type] = event;
}
const sorted = Object.fromEntries(Object.keys(samples).sort().map((k) => [k, samples[k]]));
writeFileSync(out, JSON.stringify(sorted) + "\n");
console.error(`[build-www] samples.json: ${files.length} samples`);
JS
# The security headers: SECURITY_HEADERS of src/web/security.rs, each ("Name", CONST) with
# `pub const CONST: &str = "value";` on one line. Anything else there fails the build.
node --input-type=module - src/web/security.rs "$OUT/_headers" <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
const [src, out] = process.argv.slice(2);
const rust = readFileSync(src, "utf8");
const table = rust.match(/pub const SECURITY_HEADERS: \[\(&str, &str\); (\d+)\] = \[([^\]]*)\];/);
if (!table) throw new Error(`${src}: SECURITY_HEADERS not found`);
const rows = [...table[2].matchAll(/\("([A-Za-z-]+)", ([A-Z_]+)\)/g)].map(([, name, constant]) => {
  const value = rust.match(new RegExp(`^pub const ${constant}: &str = "([^"\\\\\n]*)";$`, "m"));
  if (!value) throw new Error(`${src}: ${constant} is not a one-line string constant`);
  return `  ${name}: ${value[1]}`;
});
if (rows.length !== Number(table[1])) throw new Error(`${src}: read ${rows.length} of ${table[1]} headers`);
writeFileSync(out, `/*\n${rows.join("\n")}\n`);
console.error(`[build-www] _headers: ${rows.length} headers`);
JS
publish_dir "$OUT" "$DEST"
echo "[build-www] $DEST: $(find "$DEST" -type f | wc -l) files, $(du -sk "$DEST" | cut -f1) KB" >&2
