// Shared set-up for the end-to-end tests and the benchmark: the built Worker
// (build/index.js, from scripts/build.sh) under Miniflare/workerd, talking to the local Segment sink on a free
// port. Nothing here fakes the Worker: requests go through the real wasm build.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { startSink } from "../../scripts/segment-sink.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/**
 * The built Worker's entry point (wrangler.toml `main`, next to its wasm); `CURRENTS_RELAY_SHIM`
 * may point at another build (e.g. a release candidate).
 */
export const SHIM = process.env.CURRENTS_RELAY_SHIM
  ? path.resolve(process.env.CURRENTS_RELAY_SHIM)
  : path.join(ROOT, "build/index.js");
export const GOLDEN_DIR = path.join(ROOT, "tests/golden");
export const SAMPLES_DIR = path.join(ROOT, "tests/fixtures/braze-samples/users");
/** workerd 1.20260426 accepts compatibility dates up to 2026-05-03 (TOOLCHAIN). */
export const COMPATIBILITY_DATE = "2026-05-01";
/** The static site (Playground + Console) the Worker serves as assets (scripts/build-www.sh). */
export const WWW = path.join(ROOT, "build/www");
/** Paths that always reach the Worker first (wrangler.toml [assets] run_worker_first). */
export const WORKER_FIRST = ["/v1/*", "/admin/*", "/health"];
/** Any URL works: Miniflare routes every dispatchFetch to the one Worker (and its assets). */
export const ORIGIN = "http://relay.test";

// Keep workerd's and Miniflare's temp folders inside the checkout (TOOLCHAIN pitfall).
const tmp = path.join(ROOT, ".tmp");
mkdirSync(tmp, { recursive: true });
process.env.TMPDIR = tmp;

/** Fails with a message that says what to do when the Worker has not been built. */
export function requireBuild() {
  if (!existsSync(SHIM)) {
    throw new Error(
      `${path.relative(ROOT, SHIM)} is missing: build the Worker first with \`bash scripts/build.sh\``,
    );
  }
}

export const sha256hex = (text) => createHash("sha256").update(text).digest("hex");
/** A bearer token in Braze's alphabet (base64url). */
export const newToken = () => randomBytes(24).toString("base64url");
/** A write key that looks like Segment's (32 alphanumerics) and is unique per call. */
export const newWriteKey = (label = "wk") =>
  `${label}${randomBytes(16).toString("hex")}`.slice(0, 32);
/** The exact Authorization header Segment expects for a write key. */
export const basicAuth = (writeKey) => `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`;

/** A minimal connector config with one destination. */
export function connectorConfig(token, writeKey, extra = {}) {
  return {
    token_sha256: sha256hex(token),
    destinations: { main: { write_key: writeKey, region: "us" } },
    ...extra,
  };
}

/** One synthetic Braze event of a known type with a unique id. */
export function brazeEvent(id, overrides = {}) {
  return {
    event_type: "users.messages.email.Open",
    id,
    time: 1_767_225_600,
    user: { user_id: `braze-${id}`, external_user_id: `ext-${id}` },
    properties: { app_id: "app-1", campaign_id: "c-1", email_address: "someone@example.com" },
    ...overrides,
  };
}

/** The admin API token of every harness Worker (a fresh random one per test process). */
export const ADMIN_TOKEN = `adm_${randomBytes(18).toString("base64url")}`;
/** The delivery queue and its dead-letter queue (wrangler.toml). */
export const DELIVERY_QUEUE = "currents-relay-delivery";
export const DEAD_LETTER_QUEUE = "currents-relay-dlq";
/** The test clock's KV key (read by the Worker only with TEST_HOOKS = "1"). */
export const CLOCK_OFFSET_KEY = "test:clock_offset_ms";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `predicate` (sync or async) until it returns a truthy value, which is returned. Throws
 * after `timeoutMs` with `message` (or the last value) in the error.
 */
export async function waitFor(predicate, { timeoutMs = 15_000, intervalMs = 50, message } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await predicate();
    if (last) return last;
    if (Date.now() > deadline) {
      throw new Error(`waitFor: timed out after ${timeoutMs} ms${message ? `: ${message}` : ""} (last: ${JSON.stringify(last)})`);
    }
    await sleep(intervalMs);
  }
}

/** A Worker answer as `{status, headers, text, json}`; `json` is null when the body is not JSON
 * (the assertion that needs it then reports the text). */
export async function readAnswer(res) {
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Every object of an R2 bucket (a Miniflare proxy) under `prefix`, all pages: [{key,
 * customMetadata, text}]. `options` go to `list` (e.g. `{include: ["customMetadata"]}`).
 */
export async function r2Objects(r2, prefix, options = {}) {
  const out = [];
  let cursor;
  do {
    const page = await r2.list({ ...options, prefix, cursor });
    for (const obj of page.objects) {
      const body = await r2.get(obj.key);
      out.push({ key: obj.key, customMetadata: obj.customMetadata ?? {}, text: await body.text() });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

/**
 * Miniflare's Node-side binding proxies (`getKVNamespace`, `getR2Bucket`) make the first call of
 * each method synchronously (to learn whether it returns a promise), through a worker thread and
 * `Atomics.wait`. On a loaded machine that first call now and then fails inside Miniflare with
 * `AssertionError` at `SynchronousFetcher.fetch` (the answer is not on the port yet), before the
 * call reaches workerd. That is the test tool, not the relay: such a call is made once more.
 * Every other error, and any second failure, is thrown as is.
 */
export function steadyProxy(target) {
  const glitch = (e) => e?.name === "AssertionError" && String(e.stack).includes("SynchronousFetcher");
  return new Proxy(target, {
    get(obj, key) {
      const value = Reflect.get(obj, key);
      if (typeof value !== "function") return value;
      return (...args) => {
        try {
          return value.apply(obj, args);
        } catch (e) {
          if (!glitch(e)) throw e;
          return value.apply(obj, args);
        }
      };
    },
  });
}

/**
 * Miniflare options of the relay Worker as wrangler.toml declares it (KV, R2, Queues with the
 * dead-letter queue, the stats Durable Object, assets), its Segment URLs pointed at `sink`.
 * `deliveryProducerQueue` lets a test put a spy between the producer and the consumer.
 * `wrappedBindings` (Miniflare's, {name: designator}) replaces the relay's own `DELIVERY` or
 * `QUARANTINE` binding by a wrapper (platform-faults.test.mjs); a wrapped `QUARANTINE` leaves the
 * real bucket bound as `QUARANTINE_UNWRAPPED`, which only the test reads.
 */
export function relayWorkerOptions({
  sink,
  segmentTimeoutMs = 2000,
  batchTimeoutS = 0.1,
  bindings = {},
  deliveryProducerQueue = DELIVERY_QUEUE,
  withAssets = true,
  wrappedBindings = {},
}) {
  const wrapped = (name) => Object.hasOwn(wrappedBindings, name);
  return {
    scriptPath: SHIM,
    // Module names are relative to this root, and workerd refuses names with "..": the root
    // of the filesystem admits any import the entry point makes (its wasm).
    modulesRoot: path.parse(SHIM).root,
    modules: true,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    kvNamespaces: ["CONFIG"],
    r2Buckets: wrapped("QUARANTINE") ? { QUARANTINE_UNWRAPPED: "QUARANTINE" } : ["QUARANTINE"],
    queueProducers: wrapped("DELIVERY") ? {} : { DELIVERY: deliveryProducerQueue },
    ...(Object.keys(wrappedBindings).length > 0 ? { wrappedBindings } : {}),
    queueConsumers: {
      [DELIVERY_QUEUE]: {
        maxBatchSize: 10,
        maxBatchTimeout: batchTimeoutS,
        maxRetries: 5,
        deadLetterQueue: DEAD_LETTER_QUEUE,
      },
      [DEAD_LETTER_QUEUE]: { maxBatchSize: 10, maxBatchTimeout: batchTimeoutS, maxRetries: 10 },
    },
    durableObjects: { STATS: "ConnectorStats" },
    // The page, as wrangler.toml [assets] serves it: API paths go to the Worker first, other
    // paths are assets (falling through to the Worker when there is none). Skipped when
    // build/www has not been assembled, so the API tests do not need the browser build.
    ...(withAssets && existsSync(path.join(WWW, "index.html"))
      ? {
        assets: {
          directory: WWW,
          binding: "ASSETS",
          routerConfig: {
            has_user_worker: true,
            invoke_user_worker_ahead_of_assets: false,
            static_routing: { user_worker: WORKER_FIRST },
          },
        },
      }
      : {}),
    bindings: {
      SEGMENT_US_URL: sink.usUrl,
      SEGMENT_EU_URL: sink.euUrl,
      ADMIN_TOKEN,
      CONFIG_CACHE_SECONDS: "0",
      SEGMENT_TIMEOUT_MS: String(segmentTimeoutMs),
      // A platform retry (fate not stored) comes back at once, unless the message was meant to
      // wait (platform-faults.test.mjs checks that wait); production waits 60 s (wrangler.toml).
      PLATFORM_RETRY_SECONDS: "0",
      TEST_HOOKS: "1",
      ...bindings,
    },
    cf: false,
  };
}

/**
 * Starts the sink and the Worker. `writeKeys` ({source name: key}) are the keys the sink
 * knows; `segmentTimeoutMs` is the Worker's SEGMENT_TIMEOUT_MS; `bindings` adds or overrides
 * Worker bindings (e.g. `{ADMIN_TOKEN: ""}`). `batchTimeoutS` is the queue consumers' batch
 * timeout: 0.1 s keeps the tests quick; benchmarks pass 1, wrangler.toml's production value.
 * `workers` (more Miniflare worker definitions) and `wrappedBindings` (see `relayWorkerOptions`)
 * run the relay as the first of several Workers, e.g. behind fault-injecting wrappers.
 * Returns helpers; call `close()` in `after`.
 */
export async function startHarness({
  writeKeys = {},
  sinkOptions = {},
  segmentTimeoutMs = 2000,
  bindings = {},
  batchTimeoutS = 0.1,
  workers = [],
  wrappedBindings = {},
} = {}) {
  requireBuild();
  const sink = await startSink({ port: 0, writeKeys, quiet: true, ...sinkOptions });
  const logs = [];
  const relay = relayWorkerOptions({ sink, segmentTimeoutMs, batchTimeoutS, bindings, wrappedBindings });
  let mf;
  try {
    mf = new Miniflare({
      ...(workers.length > 0 ? { workers: [{ name: "currents-relay", ...relay }, ...workers] } : relay),
      // Every line the Worker logs (console.log → workerd's structured logs) is kept for the
      // log-hygiene test; nothing is echoed to the test output.
      handleStructuredLogs: ({ level, message }) => {
        logs.push({ level, message });
      },
    });
    await mf.ready;
  } catch (e) {
    await sink.close();
    throw e;
  }
  const kv = steadyProxy(await mf.getKVNamespace("CONFIG"));
  const r2 = steadyProxy(await mf.getR2Bucket(Object.hasOwn(wrappedBindings, "QUARANTINE") ? "QUARANTINE_UNWRAPPED" : "QUARANTINE"));

  const h = {
    mf,
    sink,
    kv,
    r2,
    logs,
    /** Stores a connector config (object → JSON string, string as is). */
    putConnector: (id, config) =>
      kv.put(`connector:${id}`, typeof config === "string" ? config : JSON.stringify(config)),
    /** A fetch against the Worker; `cf` sets request.cf. */
    fetch: (pathname, init = {}) => mf.dispatchFetch(`${ORIGIN}${pathname}`, init),
    /** POSTs a Currents body (object → JSON) with the bearer token; returns {status, body, headers}. */
    async post(connector, body, { token, headers = {}, cf } = {}) {
      const init = {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "braze-currents-version": "1",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
        body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
      };
      if (cf) init.cf = cf;
      return readAnswer(await mf.dispatchFetch(`${ORIGIN}/v1/currents/${connector}`, init));
    },
    /** Every R2 object under a prefix, parsed. */
    async quarantineObjects(prefix = "quarantine/") {
      return (await r2Objects(r2, prefix)).map(({ key, text }) => ({ key, doc: JSON.parse(text) }));
    },
    /** An admin API call with the admin token; returns {status, headers, text, json}. */
    async admin(method, pathname, body, { token = ADMIN_TOKEN } = {}) {
      const init = { method, headers: {} };
      if (token !== null) init.headers.authorization = `Bearer ${token}`;
      if (body !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = typeof body === "string" ? body : JSON.stringify(body);
      }
      return readAnswer(await mf.dispatchFetch(`${ORIGIN}${pathname}`, init));
    },
    /** A connector's stats (GET /admin/connectors/{id}/stats), parsed. */
    async stats(connector) {
      const res = await h.admin("GET", `/admin/connectors/${connector}/stats`);
      if (res.status !== 200) throw new Error(`stats ${connector}: ${res.status} ${res.text}`);
      return res.json;
    },
    /** Polls `predicate` until truthy (see `waitFor`). */
    waitFor,
    /** Waits until the sink has seen `n` distinct messageIds (default timeout 15 s). */
    waitForMessages: (n, opts = {}) =>
      waitFor(() => h.sink.stats().distinct_message_ids >= n, {
        message: `expected ${n} distinct messageIds at the sink, have ${h.sink.stats().distinct_message_ids}`,
        ...opts,
      }),
    /** Waits until the sink has accepted `n` events in all (counts repeats of a messageId). */
    waitForEvents: (n, opts = {}) =>
      waitFor(() => h.sink.stats().accepted_events >= n, {
        message: `expected ${n} events at the sink, have ${h.sink.stats().accepted_events}`,
        ...opts,
      }),
    /** Moves the Worker's clock by `ms` (KV test:clock_offset_ms; TEST_HOOKS = "1"). */
    setClockOffset: (ms) => kv.put(CLOCK_OFFSET_KEY, String(Math.trunc(ms))),
    /** Every quarantine object of a connector: [{key, customMetadata, doc}]. */
    async listQuarantine(connector) {
      const objects = await r2Objects(r2, `quarantine/${connector}/`, { include: ["customMetadata"] });
      return objects.map(({ key, customMetadata, text }) => ({ key, customMetadata, doc: JSON.parse(text) }));
    },
    /** All log text so far, one string. */
    logText: () => logs.map((l) => l.message).join("\n"),
    async close() {
      await mf.dispose().catch(() => {});
      await sink.close();
    },
  };
  return h;
}

/** The golden pairs: [{type, braze, segment}] for every `<type>.braze.json` with its twin. */
export function loadGoldens() {
  if (!existsSync(GOLDEN_DIR)) return [];
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith(".braze.json"))
    .sort()
    .map((f) => {
      const type = f.slice(0, -".braze.json".length);
      const segmentFile = path.join(GOLDEN_DIR, `${type}.segment.json`);
      return {
        type,
        braze: JSON.parse(readFileSync(path.join(GOLDEN_DIR, f), "utf8")),
        segment: existsSync(segmentFile) ? JSON.parse(readFileSync(segmentFile, "utf8")) : null,
      };
    });
}

/** Every Braze sample event under tests/fixtures/braze-samples/users (recursively). */
export function loadSamples(dir = SAMPLES_DIR) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...loadSamples(full));
    else if (entry.name.endsWith(".json")) out.push(JSON.parse(readFileSync(full, "utf8")));
  }
  return out;
}
