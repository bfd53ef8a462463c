#!/usr/bin/env node
// The translator compiled to wasm (pkg/node), timed in Node: a proxy for the Worker's CPU time
// per batch, which Miniflare does not expose. Same input as the native criterion benchmark
// (tests/benches/translate.rs): the golden samples cycled, each event with its own id.
// Also times a serde-free baseline in the same run: JSON.parse of the input + JSON.stringify of
// the output, what any JavaScript translator would at least do.
// Then compares the two ways the full outcome can cross into JavaScript, for 1, 10 and 100-event
// batches, from the caller's point of view (the call until the caller holds the outcome object):
//   object: translateBatch, plain objects built by serde-wasm-bindgen (what pkg/ uses);
//   text:   JSON.parse(translateBatchJson(...)), the outcome as JSON text parsed by V8.
// Both give the same value (checked); rounds alternate the routes so machine noise hits both.
// Run: bash scripts/build-pkg.sh && node scripts/bench-wasm.mjs
// With RELAY_PKG=<dir> it loads the Node build in <dir> instead of pkg/node; a build with the
// `bench` feature (see the last table) also times `BenchIngest`, the Worker's ingest of one batch.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { goldenBatch as batch, goldenConfig as config } from "./bench-common.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PKG = process.env.RELAY_PKG ? path.resolve(process.env.RELAY_PKG) : path.join(ROOT, "pkg/node");
const relay = createRequire(import.meta.url)(path.join(PKG, "currents_relay.js"));

function time(fn, minMs = 2000) {
  for (let i = 0; i < 20; i++) fn();
  const runs = [];
  const start = performance.now();
  while (performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  return { median: runs[Math.floor(runs.length / 2)], p99: runs[Math.floor(runs.length * 0.99)], n: runs.length };
}

console.log("| batch | translateBatch (wasm) median | p99 | events/s | JSON.parse+stringify median | baseline ÷ wasm time |");
console.log("|---:|---:|---:|---:|---:|---:|");
for (const n of [100, 2500]) {
  const body = batch(n);
  const out = relay.translateBatch(body, config, "bench");
  if (out.batches.reduce((s, b) => s + b.events.length, 0) !== n) throw new Error("not every event forwarded");
  const output = out.batches.map((b) => ({ batch: b.events.map((e) => JSON.parse(e.json)) }));
  const ours = time(() => relay.translateBatch(body, config, "bench"));
  const base = time(() => {
    JSON.parse(body);
    JSON.stringify(output);
  });
  const eps = Math.round((n / ours.median) * 1000);
  console.log(
    `| ${n} | ${ours.median.toFixed(3)} ms | ${ours.p99.toFixed(3)} ms | ${eps.toLocaleString("en")} | ${base.median.toFixed(3)} ms | ${(base.median / ours.median).toFixed(2)} |`,
  );
}

/** Mean time per call (ms) of `fn` over at least `ms` milliseconds. */
function perCall(fn, ms) {
  let reps = 0;
  const t0 = performance.now();
  let elapsed;
  do {
    fn();
    reps++;
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return elapsed / reps;
}

const median = (list) => list.slice().sort((a, b) => a - b)[Math.floor(list.length / 2)];
const ROUNDS = 21;
const routes = {
  object: (body) => relay.translateBatch(body, config, "bench"),
  text: (body) => JSON.parse(relay.translateBatchJson(body, config, "bench")),
};

console.log("");
console.log("| batch | object route (serde-wasm-bindgen) | text route (JSON text + JSON.parse) | object ÷ text time |");
console.log("|---:|---:|---:|---:|");
for (const n of [1, 10, 100]) {
  const body = batch(n);
  // The drift report's times are the wall clock's at each call: left out of the comparison.
  const clockless = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k.endsWith("_seen_ms") ? undefined : v)));
  assert.deepEqual(clockless(routes.object(body)), clockless(routes.text(body)), "both routes give the same outcome");
  for (const route of Object.values(routes)) for (let i = 0; i < 50; i++) route(body);
  const times = { object: [], text: [] };
  const ratios = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which route goes first, so neither always runs right after the other.
    const order = r % 2 ? ["text", "object"] : ["object", "text"];
    for (const name of order) times[name].push(perCall(() => routes[name](body), 150));
    ratios.push(times.object[r] / times.text[r]);
  }
  console.log(
    `| ${n} | ${median(times.object).toFixed(3)} ms | ${median(times.text).toFixed(3)} ms | ${median(ratios).toFixed(2)} |`,
  );
}

// The Worker's CPU per batch: `BenchIngest.run` does exactly what ingest does between reading the
// body and the platform writes (parse, validate, translate, pack, the queue message bodies made
// into JavaScript strings from their pieces), with only the body's bytes going in. Only in a build with the `bench` feature:
//   CARGO_PROFILE_RELEASE_STRIP=false cargo build --lib --release --target wasm32-unknown-unknown \
//     --no-default-features --features bench
//   wasm-bindgen --target nodejs --out-dir <dir> --out-name currents_relay \
//     $CARGO_TARGET_DIR/wasm32-unknown-unknown/release/currents_relay.wasm
//   echo '{ "type": "commonjs" }' > <dir>/package.json; RELAY_PKG=<dir> node scripts/bench-wasm.mjs
// Compare with `worker_ingest` of `cargo bench --bench translate` (the same work, native).
if (relay.BenchIngest) {
  const ingest = new relay.BenchIngest(JSON.stringify(config));
  console.log("");
  console.log("| batch | BenchIngest (Worker ingest, wasm) median | p99 | events/s | queue body bytes |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const n of [100, 2500]) {
    const body = Buffer.from(batch(n));
    const bytes = ingest.run(body);
    const t = time(() => ingest.run(body));
    const eps = Math.round((n / t.median) * 1000);
    console.log(`| ${n} | ${t.median.toFixed(3)} ms | ${t.p99.toFixed(3)} ms | ${eps.toLocaleString("en")} | ${bytes} |`);
  }
}
