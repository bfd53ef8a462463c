// The harness runs the Worker as wrangler.toml declares it: its Miniflare options are derived from
// wrangler.toml (tests/e2e/wrangler.mjs), and this test checks the derivation against wrangler's
// own (unstable_getMiniflareWorkerOptions, what `wrangler dev` runs), so neither the TOML nor the
// mapping can drift from what the tests exercise. Only the overrides listed here differ.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";
import { relayWorkerOptions } from "./harness.mjs";
import { ASSETS_BINDING, WRANGLER, WRANGLER_TOML, WWW, assetsOptions } from "./wrangler.mjs";

// What the harness deliberately sets for local runs (harness.mjs, relayWorkerOptions).
const OVERRIDDEN_VARS = [
  "SEGMENT_US_URL", "SEGMENT_EU_URL", "CONFIG_CACHE_SECONDS", "SEGMENT_TIMEOUT_MS", "PLATFORM_RETRY_SECONDS", "TEST_HOOKS",
];
/** `value` without its undefined fields (wrangler spells out options it leaves unset). */
const defined = (value) => JSON.parse(JSON.stringify(value));
const sink = { usUrl: "http://127.0.0.1:9/us/v1/batch", euUrl: "http://127.0.0.1:9/eu/v1/batch" };

let config; // wrangler's reading of wrangler.toml
let wrangler; // wrangler's Miniflare worker options for it
let ours; // the harness's, with the production batch timeout
before(async () => {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.WRANGLER_HIDE_BANNER = "true";
  const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import("wrangler");
  config = unstable_readConfig({ config: WRANGLER_TOML });
  // wrangler refuses a missing assets directory; without build/www the harness serves no assets
  // either, and the [assets] table is compared with wrangler's reading of it below.
  wrangler = unstable_getMiniflareWorkerOptions(existsSync(WWW) ? WRANGLER_TOML : { ...config, assets: undefined });
  ours = relayWorkerOptions({ sink, batchTimeoutS: null });
});

test("entry module and compatibility: wrangler.toml's main, date and flags", () => {
  if (!process.env.CURRENTS_RELAY_SHIM) assert.equal(ours.scriptPath, path.resolve(wrangler.main));
  assert.equal(ours.compatibilityDate, wrangler.workerOptions.compatibilityDate);
  assert.deepEqual(ours.compatibilityFlags, wrangler.workerOptions.compatibilityFlags);
});

test("KV, R2 and the Durable Object: the bindings and names wrangler gives", () => {
  const w = wrangler.workerOptions;
  assert.deepEqual(ours.kvNamespaces, Object.fromEntries(Object.entries(w.kvNamespaces).map(([b, v]) => [b, v.id])));
  assert.deepEqual(ours.r2Buckets, Object.fromEntries(Object.entries(w.r2Buckets).map(([b, v]) => [b, v.id])));
  assert.deepEqual(ours.durableObjects, defined(w.durableObjects));
});

test("queues: producer binding, consumers with batch size, retries and dead-letter queue as wrangler gives them", () => {
  const w = wrangler.workerOptions;
  assert.deepEqual(ours.queueProducers, Object.fromEntries(Object.entries(w.queueProducers).map(([b, v]) => [b, v.queueName])));
  assert.deepEqual(ours.queueConsumers, defined(w.queueConsumers));
  // The tests' shorter batch timeout is the only consumer setting they change.
  const quick = relayWorkerOptions({ sink, batchTimeoutS: 0.1 }).queueConsumers;
  for (const [name, c] of Object.entries(defined(w.queueConsumers))) {
    assert.deepEqual(quick[name], { ...c, maxBatchTimeout: 0.1 }, name);
  }
});

/** Names in `.dev.vars` (the local run's secrets, e.g. ADMIN_TOKEN), which wrangler binds too. */
function devVarNames() {
  const file = path.join(path.dirname(WRANGLER_TOML), ".dev.vars");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/)?.[1])
    .filter(Boolean);
}

test("vars: every [vars] entry is bound; only the local-run overrides differ from wrangler.toml", () => {
  const secrets = devVarNames();
  const vars = Object.fromEntries(
    Object.entries(wrangler.workerOptions.bindings).filter(([name]) => !secrets.includes(name)),
  );
  assert.deepEqual(Object.keys(vars).sort(), Object.keys(WRANGLER.vars).sort());
  for (const [name, value] of Object.entries(vars)) {
    if (OVERRIDDEN_VARS.includes(name)) continue;
    assert.equal(ours.bindings[name], value, name);
  }
  for (const name of OVERRIDDEN_VARS) assert.ok(Object.hasOwn(vars, name), `${name} is no longer in wrangler.toml [vars]`);
});

test("assets: directory, binding, routing (run_worker_first) and config as wrangler gives them", () => {
  const assets = wrangler.workerOptions.assets;
  if (assets) {
    assert.deepEqual(ours.assets, defined(assets));
  } else {
    // No build/www: the harness serves none (API tests only); what it would serve still matches.
    assert.equal(ours.assets, undefined);
    assert.equal(path.resolve(path.dirname(WRANGLER_TOML), config.assets.directory), WWW);
    assert.deepEqual(assetsOptions().routerConfig.static_routing.user_worker, config.assets.run_worker_first);
    assert.equal(ASSETS_BINDING, config.assets.binding);
  }
});
