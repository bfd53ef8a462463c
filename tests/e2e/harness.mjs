// Shared set-up for the end-to-end tests and the benchmark: the built Worker (wrangler.toml's
// `main`) under Miniflare/workerd, configured from wrangler.toml (tests/e2e/wrangler.mjs), talking
// to the local Segment sink on a free port. Nothing here fakes the Worker: requests go through the
// real wasm build.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, readdirSync, mkdirSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";
import { startSink } from "../../scripts/segment-sink.mjs";
import {
  ASSETS_BINDING,
  COMPATIBILITY_DATE,
  COMPATIBILITY_FLAGS,
  CONFIG_BINDING,
  CONFIG_NAMESPACE,
  DEAD_LETTER_QUEUE,
  DELIVERY_BINDING,
  DELIVERY_MAX_RETRIES,
  DELIVERY_QUEUE,
  QUARANTINE_BINDING,
  QUARANTINE_BUCKET,
  ROOT,
  SHIM,
  VARS,
  WORKER_FIRST,
  WWW,
  assetsOptions,
  durableObjects,
  queueConsumers,
} from "./wrangler.mjs";

export {
  ASSETS_BINDING,
  COMPATIBILITY_DATE,
  CONFIG_BINDING,
  DEAD_LETTER_QUEUE,
  DELIVERY_BINDING,
  DELIVERY_MAX_RETRIES,
  DELIVERY_QUEUE,
  QUARANTINE_BINDING,
  QUARANTINE_BUCKET,
  ROOT,
  SHIM,
  WORKER_FIRST,
  WWW,
};
export const GOLDEN_DIR = path.join(ROOT, "tests/golden");
export const SAMPLES_DIR = path.join(ROOT, "tests/fixtures/braze-samples/users");
/** Any URL works: Miniflare routes every dispatchFetch to the one Worker (and its assets). */
export const ORIGIN = "http://relay.test";

// Keep workerd's and Miniflare's temp folders inside the checkout (a failed Miniflare start can leave them behind).
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
/** The test clock's KV key (read by the Worker only with TEST_HOOKS = "1"). */
export const CLOCK_OFFSET_KEY = "test:clock_offset_ms";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `predicate` (sync or async) until it returns a truthy value, which is returned. Throws
 * after `timeoutMs` with `message` (a string, or a function called then) and the last value in
 * the error.
 */
export async function waitFor(predicate, { timeoutMs = 15_000, intervalMs = 50, message } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await predicate();
    if (last) return last;
    if (Date.now() > deadline) {
      const what = typeof message === "function" ? await message() : message;
      throw new Error(`waitFor: timed out after ${timeoutMs} ms${what ? `: ${what}` : ""} (last: ${JSON.stringify(last)})`);
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

// ---------------------------------------------------------------------------------------------
// Positive signals for "nothing more is on its way", instead of sleeping.
//
// The queue meter. With `meterQueue`, the relay's delivery-queue producer binding is a Miniflare
// *wrapped binding* (a tiny module inside the relay's own isolate) that tells Node, before each
// `send`/`sendBatch`, how many messages it is about to enqueue, and again if the platform refused
// them. The consumer side comes from Miniflare's queue broker, which logs every finished consumer
// invocation ("QUEUE <name> <acked>/<total>") and every message it moves to a dead-letter queue or
// drops. A queue is idle when every message put on it has been acked, moved or dropped: then no
// consumer runs, no retry or hold is waiting for its delay, and nothing the queue holds can still
// reach Segment, R2 or the stats. That is an observed state, not a guess about time.
//
// The log barrier. workerd writes every console line of every Worker, in order, to one stdout
// that Miniflare parses line by line. A helper Worker logs a unique marker on request: once it
// has arrived, every line written before the request has arrived too.

/** The queue meter's wrapper module (a wrapped binding: no Worker of its own). */
export const METER_WORKER = "relay-test-queue-meter";
/** The log barrier's Worker; never the one requests go to. */
export const BARRIER_WORKER = "relay-test-log-barrier";
const BARRIER_EVENT = "test_log_barrier";

const METER_SCRIPT = `
// Connector, message count and event count of queue message bodies (JSON strings); never a body.
function describe(bodies) {
  let connector = null;
  let events = 0;
  for (const b of bodies) {
    try {
      const m = JSON.parse(typeof b === "string" ? b : JSON.stringify(b));
      connector = connector ?? m.connector ?? null;
      events += Array.isArray(m.events) ? m.events.length : 0;
    } catch {}
  }
  return { connector, messages: bodies.length, events };
}

async function tell(env, phase, call) {
  const res = await env.METER.fetch("http://meter/" + phase, { method: "POST", body: JSON.stringify(call) });
  return res.json();
}

// workers-rs checks the binding's constructor name.
class WorkerQueue {
  #env;
  constructor(env) { this.#env = env; }
  async #enqueue(op, bodies, call) {
    const what = { op, ...describe(bodies) };
    const { refuse } = await tell(this.#env, "before", what);
    if (refuse) throw new Error("injected fault: " + op + " refused");
    try {
      return await call();
    } catch (e) {
      await tell(this.#env, "failed", what);
      throw e;
    }
  }
  send(body, options) {
    return this.#enqueue("send", [body], () => this.#env.REAL_QUEUE.send(body, options));
  }
  sendBatch(messages, options) {
    const list = Array.from(messages);
    return this.#enqueue("sendBatch", list.map((m) => m.body), () => this.#env.REAL_QUEUE.sendBatch(list, options));
  }
}

export function queue(env) { return new WorkerQueue(env); }
`;

const BARRIER_SCRIPT = `
export default {
  fetch(request) {
    const id = new URL(request.url).searchParams.get("id");
    console.log(JSON.stringify({ event: "${BARRIER_EVENT}", id }));
    return new Response("ok");
  },
};
`;

/**
 * Counts of the delivery queue and its dead-letter queue. `gate(call)` (optional) may refuse a
 * producer call (`{op, connector, messages, events}`): it then throws inside the relay, exactly
 * where a failing `send`/`sendBatch` of the platform would.
 */
function queueMeter(gate) {
  const into = new Map(); // queue → messages put on it
  const out = new Map(); // queue → messages acked, moved to a dead-letter queue or dropped
  const add = (map, q, n) => map.set(q, (map.get(q) ?? 0) + n);
  const recent = [];
  return {
    calls: [],
    /** The wrapper's report ("before" a producer call, or "failed" after one); answers `{refuse}`. */
    report(phase, call) {
      if (phase === "failed") {
        add(into, DELIVERY_QUEUE, -call.messages);
        return { refuse: false };
      }
      const refuse = Boolean(gate?.(call));
      this.calls.push({ ...call, refused: refuse });
      if (!refuse) add(into, DELIVERY_QUEUE, call.messages);
      return { refuse };
    },
    /** One line Miniflare's queue broker logged. */
    brokerLine(raw) {
      const line = stripVTControlCharacters(raw);
      let m;
      if ((m = /^QUEUE (\S+) (\d+)\/(\d+)/.exec(line))) add(out, m[1], Number(m[2]));
      else if ((m = /^Moving message "[^"]*" on queue "([^"]+)" to dead letter queue "([^"]+)"/.exec(line))) {
        add(out, m[1], 1);
        add(into, m[2], 1);
      } else if ((m = /^Dropped message "[^"]*" on queue "([^"]+)"/.exec(line))) add(out, m[1], 1);
      else return;
      recent.push(line);
      if (recent.length > 20) recent.shift();
    },
    /** Messages put on each queue and not yet acked, moved or dropped. */
    pending() {
      const queues = new Set([...into.keys(), ...out.keys()]);
      return Object.fromEntries([...queues].map((q) => [q, (into.get(q) ?? 0) - (out.get(q) ?? 0)]));
    },
    idle() {
      return Object.values(this.pending()).every((n) => n === 0);
    },
    describe() {
      return { pending: this.pending(), recent: recent.slice(-5) };
    },
  };
}

/** A Miniflare log that prints nothing and hands every line to `onLine`. */
class CapturingLog extends Log {
  constructor(onLine) {
    super(LogLevel.INFO);
    this.onLine = onLine;
  }
  logWithLevel(level, message) {
    if (level <= this.level) this.onLine(message);
  }
  log() {}
}

/**
 * Miniflare options of the relay Worker as wrangler.toml declares it (tests/e2e/wrangler.mjs:
 * `main`, compatibility date, KV, R2, Queues with the dead-letter queue, the stats Durable
 * Object, assets, vars), its Segment URLs pointed at `sink`.
 * `batchTimeoutS` replaces the consumers' `max_batch_timeout` (null: wrangler.toml's).
 * `deliveryProducerQueue` lets a test put a spy between the producer and the consumer.
 * `wrappedBindings` (Miniflare's, {name: designator}) replaces the relay's own delivery-queue
 * producer or quarantine bucket binding by a wrapper (the queue meter, platform-faults.test.mjs);
 * a wrapped quarantine binding leaves the real bucket bound as `<binding>_UNWRAPPED`, which only
 * the test reads.
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
    compatibilityFlags: COMPATIBILITY_FLAGS,
    kvNamespaces: { [CONFIG_BINDING]: CONFIG_NAMESPACE },
    r2Buckets: { [wrapped(QUARANTINE_BINDING) ? `${QUARANTINE_BINDING}_UNWRAPPED` : QUARANTINE_BINDING]: QUARANTINE_BUCKET },
    queueProducers: wrapped(DELIVERY_BINDING) ? {} : { [DELIVERY_BINDING]: deliveryProducerQueue },
    ...(Object.keys(wrappedBindings).length > 0 ? { wrappedBindings } : {}),
    queueConsumers: queueConsumers(batchTimeoutS),
    durableObjects: durableObjects(),
    // The page, as wrangler.toml [assets] serves it: API paths go to the Worker first, other
    // paths are assets (falling through to the Worker when there is none). Skipped when
    // build/www has not been assembled, so the API tests do not need the browser build.
    ...(withAssets && existsSync(path.join(WWW, "index.html")) ? { assets: assetsOptions() } : {}),
    bindings: {
      ...VARS,
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
 * The queue meter's wrapper module (designator `{scriptName: METER_WORKER, entrypoint: "queue"}`):
 * writes to `deliveryQueue`; `report(phase, call)` answers it.
 */
function meterWorkerOptions({ deliveryQueue = DELIVERY_QUEUE, report }) {
  return {
    name: METER_WORKER,
    modules: true,
    script: METER_SCRIPT,
    queueProducers: { REAL_QUEUE: deliveryQueue },
    serviceBindings: {
      METER: async (request) => {
        const phase = new URL(request.url).pathname.slice(1);
        return Response.json(report(phase, await request.json()));
      },
    },
  };
}

/** The log barrier's Worker (see `logCollector`). */
export function barrierWorkerOptions() {
  return { name: BARRIER_WORKER, modules: true, script: BARRIER_SCRIPT, compatibilityDate: COMPATIBILITY_DATE };
}

/**
 * Structured-log handling for a harness: every line the Worker logs goes to `logs`; the helper
 * Worker's barrier markers are kept apart. Returns `{handleStructuredLogs, barrier(mf)}`, where
 * `barrier(mf)` resolves once every line logged before the call has reached `logs`.
 */
export function logCollector(logs) {
  const seen = new Set();
  return {
    handleStructuredLogs({ level, message }) {
      if (message.includes(BARRIER_EVENT)) {
        try {
          const line = JSON.parse(message);
          if (line.event === BARRIER_EVENT) {
            seen.add(line.id);
            return;
          }
        } catch {
          // not a marker: an ordinary line
        }
      }
      logs.push({ level, message });
    },
    async barrier(mf, { timeoutMs = 15_000 } = {}) {
      const id = randomUUID();
      const helper = await mf.getWorker(BARRIER_WORKER);
      const res = await helper.fetch(`http://helper/barrier?id=${id}`);
      await res.text();
      await waitFor(() => seen.has(id), { timeoutMs, message: "the log barrier's marker line" });
    },
  };
}

/**
 * Starts the sink and the Worker. `writeKeys` ({source name: key}) are the keys the sink
 * knows; `segmentTimeoutMs` is the Worker's SEGMENT_TIMEOUT_MS; `bindings` adds or overrides
 * Worker bindings (e.g. `{ADMIN_TOKEN: ""}`). `batchTimeoutS` is the queue consumers' batch
 * timeout: 0.1 s keeps the tests quick; benchmarks pass 1, wrangler.toml's production value.
 * `meterQueue` puts the queue meter on the delivery queue (`queueIdle`, `waitForQueueIdle`,
 * `settled`): one round trip to Node per enqueue, so benchmarks leave it off. `queueGate(call)`
 * (implies the meter) may refuse producer calls (platform-faults.test.mjs).
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
  meterQueue = false,
  queueGate = null,
} = {}) {
  requireBuild();
  const sink = await startSink({ port: 0, writeKeys, quiet: true, ...sinkOptions });
  const logs = [];
  const collector = logCollector(logs);
  const metered = meterQueue || queueGate !== null;
  const meter = metered ? queueMeter(queueGate) : null;
  const wrappers = metered
    ? { ...wrappedBindings, [DELIVERY_BINDING]: { scriptName: METER_WORKER, entrypoint: "queue" } }
    : wrappedBindings;
  const relay = relayWorkerOptions({ sink, segmentTimeoutMs, batchTimeoutS, bindings, wrappedBindings: wrappers });
  const helpers = [
    barrierWorkerOptions(),
    ...(metered ? [meterWorkerOptions({ report: (phase, call) => meter.report(phase, call) })] : []),
  ];
  let mf;
  try {
    mf = new Miniflare({
      workers: [{ name: "currents-relay", ...relay }, ...helpers, ...workers],
      // Every line the Worker logs (console.log → workerd's structured logs) is kept for the
      // log-hygiene test; nothing is echoed to the test output.
      handleStructuredLogs: collector.handleStructuredLogs,
      // The queue broker's lines feed the meter; nothing is printed.
      ...(metered ? { log: new CapturingLog((line) => meter.brokerLine(line)), logRequests: false } : {}),
    });
    await mf.ready;
  } catch (e) {
    await sink.close();
    throw e;
  }
  const kv = steadyProxy(await mf.getKVNamespace(CONFIG_BINDING));
  const r2 = steadyProxy(await mf.getR2Bucket(
    Object.hasOwn(wrappedBindings, QUARANTINE_BINDING) ? `${QUARANTINE_BINDING}_UNWRAPPED` : QUARANTINE_BINDING,
  ));
  const needMeter = () => {
    if (!meter) throw new Error("the queue meter is off: start the harness with meterQueue: true");
    return meter;
  };

  const h = {
    mf,
    sink,
    kv,
    r2,
    logs,
    /** Producer calls the meter saw: [{op, connector, messages, events, refused}] (with the meter). */
    get queueCalls() {
      return needMeter().calls;
    },
    /** True when every message put on the delivery queue and its dead-letter queue is done. */
    queueIdle: () => needMeter().idle(),
    /** Messages put on each queue and not done yet, and the broker's last lines. */
    queueState: () => needMeter().describe(),
    /**
     * Waits until the delivery queue and its dead-letter queue are idle (see the meter above).
     * Idle is a resting state: only a new request can leave it.
     */
    waitForQueueIdle: (opts = {}) =>
      waitFor(() => needMeter().idle(), {
        timeoutMs: 30_000,
        ...opts,
        message: () => `the delivery queue to be idle: ${JSON.stringify(needMeter().describe())}`,
      }),
    /** Resolves once every line the Worker logged before the call has reached `logs`. */
    logBarrier: (opts) => collector.barrier(mf, opts),
    /** Nothing more is on its way: the queues are idle, then every log line written so far is in. */
    async settled(opts = {}) {
      await h.waitForQueueIdle(opts);
      await h.logBarrier();
    },
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
        message: () => `expected ${n} distinct messageIds at the sink, have ${h.sink.stats().distinct_message_ids}`,
        ...opts,
      }),
    /** Waits until the sink has accepted `n` events in all (counts repeats of a messageId). */
    waitForEvents: (n, opts = {}) =>
      waitFor(() => h.sink.stats().accepted_events >= n, {
        message: () => `expected ${n} events at the sink, have ${h.sink.stats().accepted_events}`,
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
