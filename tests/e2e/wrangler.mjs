// The relay Worker as wrangler.toml declares it, for the harnesses (tests/e2e/harness.mjs,
// tests/browser/): the entry module, compatibility date, bindings, queues with their consumer
// settings, Durable Objects and assets are read from wrangler.toml here and nowhere restated, so
// the tests run the Worker `wrangler deploy` would configure. Tests override only what a local
// run needs (batch timeout, Segment URLs, vars); wrangler-config.test.mjs checks that this reading
// gives what wrangler's own conversion (unstable_getMiniflareWorkerOptions) gives.

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const WRANGLER_TOML = path.join(ROOT, "wrangler.toml");
/** wrangler.toml, parsed as is. */
export const WRANGLER = parseToml(readFileSync(WRANGLER_TOML, "utf8"));

/** The one entry of a table array the relay declares exactly one of. */
function one(list, what) {
  if (!Array.isArray(list) || list.length !== 1) {
    throw new Error(`wrangler.toml: the tests expect exactly one ${what}, found ${Array.isArray(list) ? list.length : 0}`);
  }
  return list[0];
}

/** The built Worker (`main`); `CURRENTS_RELAY_SHIM` may point at another build (e.g. a release candidate). */
export const SHIM = process.env.CURRENTS_RELAY_SHIM
  ? path.resolve(process.env.CURRENTS_RELAY_SHIM)
  : path.resolve(ROOT, WRANGLER.main);
export const COMPATIBILITY_DATE = WRANGLER.compatibility_date;
export const COMPATIBILITY_FLAGS = WRANGLER.compatibility_flags ?? [];
/** `[vars]`: the Worker's plain-text bindings, production values. */
export const VARS = WRANGLER.vars ?? {};

/** `[assets]`: the static site (Playground + Console) and the paths that reach the Worker first. */
export const WWW = path.resolve(ROOT, WRANGLER.assets.directory);
export const ASSETS_BINDING = WRANGLER.assets.binding;
export const WORKER_FIRST = WRANGLER.assets.run_worker_first;

/**
 * Miniflare's `assets` for `[assets]`: `run_worker_first` paths go to the Worker before the
 * assets (`!/path` rules go to the assets), every other path is an asset, falling through to the
 * Worker when there is none.
 */
export function assetsOptions() {
  const rules = WORKER_FIRST;
  const routerConfig = { has_user_worker: true };
  if (rules === true) routerConfig.invoke_user_worker_ahead_of_assets = true;
  if (Array.isArray(rules)) {
    routerConfig.static_routing = {
      asset_worker: rules.filter((r) => r.startsWith("!/")).map((r) => r.slice(1)),
      user_worker: rules.filter((r) => r.startsWith("/")),
    };
  }
  return {
    directory: WWW,
    binding: ASSETS_BINDING,
    routerConfig,
    assetConfig: { compatibility_date: COMPATIBILITY_DATE, compatibility_flags: COMPATIBILITY_FLAGS },
  };
}

const kv = one(WRANGLER.kv_namespaces, "[[kv_namespaces]]");
/** The connector configs' KV namespace: binding and (local) namespace id. */
export const CONFIG_BINDING = kv.binding;
export const CONFIG_NAMESPACE = kv.id;
const r2 = one(WRANGLER.r2_buckets, "[[r2_buckets]]");
/** The quarantine bucket: binding and bucket name. */
export const QUARANTINE_BINDING = r2.binding;
export const QUARANTINE_BUCKET = r2.bucket_name;

const producer = one(WRANGLER.queues?.producers, "[[queues.producers]]");
/** The delivery queue: the producer binding and the queue it writes to. */
export const DELIVERY_BINDING = producer.binding;
export const DELIVERY_QUEUE = producer.queue;
/** `[[queues.consumers]]` by queue name, as written in wrangler.toml. */
export const QUEUE_CONSUMERS = Object.fromEntries((WRANGLER.queues?.consumers ?? []).map((c) => [c.queue, c]));
if (!QUEUE_CONSUMERS[DELIVERY_QUEUE]) throw new Error(`wrangler.toml: no consumer for ${DELIVERY_QUEUE}`);
/** The delivery queue's dead-letter queue. */
export const DEAD_LETTER_QUEUE = QUEUE_CONSUMERS[DELIVERY_QUEUE].dead_letter_queue;
/** Platform retries of a delivery message before the dead-letter queue (attempts = this + 1). */
export const DELIVERY_MAX_RETRIES = QUEUE_CONSUMERS[DELIVERY_QUEUE].max_retries;

/**
 * Miniflare's `queueConsumers` for wrangler.toml's consumers; `batchTimeoutS` (unless null or
 * undefined) replaces every `max_batch_timeout` (tests run with 0.1 s). `max_concurrency` has no Miniflare
 * counterpart (wrangler leaves it out of local runs too).
 */
export function queueConsumers(batchTimeoutS) {
  const out = {};
  for (const c of Object.values(QUEUE_CONSUMERS)) {
    const options = {
      maxBatchSize: c.max_batch_size,
      maxBatchTimeout: batchTimeoutS ?? c.max_batch_timeout,
      maxRetries: c.max_retries,
      deadLetterQueue: c.dead_letter_queue,
      retryDelay: c.retry_delay,
    };
    out[c.queue] = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  }
  return out;
}

/** `[[durable_objects.bindings]]` as Miniflare's `durableObjects`; SQLite-backed when a migration says so. */
export function durableObjects() {
  const sqlite = new Set((WRANGLER.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  return Object.fromEntries((WRANGLER.durable_objects?.bindings ?? []).map((b) => {
    if (b.script_name) throw new Error(`wrangler.toml: Durable Object ${b.name} lives in another Worker (${b.script_name})`);
    return [b.name, { className: b.class_name, useSQLite: sqlite.has(b.class_name) }];
  }));
}
