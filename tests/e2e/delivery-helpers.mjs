// Helpers for the durable-delivery tests (tests/e2e/delivery-*.test.mjs) and
// scripts/bench-delivery.mjs, on top of the shared harness (harness.mjs). Nothing here fakes the
// Worker: events go through the built Worker, its Queue, Durable Object and R2 under Miniflare.

import assert from "node:assert/strict";
import { brazeEvent, r2Objects, startHarness, steadyProxy } from "./harness.mjs";

/** Segment timeout the delivery tests give the Worker: a "hang" fault must outlast it. */
export const SEGMENT_TIMEOUT_MS = 2000;
/** How long a "hang" fault holds a request before dropping it (well past the timeout). */
export const HANG_MS = 4000;

/** Starts the harness with the delivery options (Segment timeout). */
export function startDeliveryHarness(options = {}) {
  return startHarness({ segmentTimeoutMs: SEGMENT_TIMEOUT_MS, ...options });
}

/** `n` events with distinct ids `${tag}-${i}` (offset `from`), one connector's batch. */
export function events(tag, n, from = 0) {
  return Array.from({ length: n }, (_, i) => brazeEvent(`${tag}-${from + i}`));
}

/** Braze event id of an event the sink received (our events carry userId `ext-<id>`). */
export const idOf = (segmentEvent) =>
  typeof segmentEvent.userId === "string" && segmentEvent.userId.startsWith("ext-")
    ? segmentEvent.userId.slice(4)
    : null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `predicate` (sync or async) until it returns a truthy value; throws after `timeoutMs`
 * with `what` and the last value `describe()` returns, so a timeout says what was missing.
 */
export async function waitUntil(predicate, { timeoutMs = 30_000, intervalMs = 100, what = "condition", describe } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) {
      const detail = describe ? `: ${JSON.stringify(await describe())}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** The admin API through the harness: {status, json, text}. */
export async function admin(h, method, path, body) {
  const res = await h.admin(method, path, body);
  // The harness may answer a Response-like value or an already parsed {status, json}.
  if (res && typeof res.status === "number" && ("json" in res) && typeof res.json !== "function") return res;
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null
  }
  return { status: res.status, json, text };
}

/** A connector's stats from `GET /admin/connectors/{id}/stats` (works on the spied harness too). */
export async function stats(h, connector) {
  const res = await admin(h, "GET", `/admin/connectors/${connector}/stats`);
  assert.equal(res.status, 200, `stats of ${connector}: ${res.status} ${res.text ?? JSON.stringify(res.json)}`);
  return res.json;
}

/**
 * A connector's stats once nothing more can change them (harness with `meterQueue`): the delivery
 * queue is idle, so every consumer invocation has written its delta, and the ingest deltas
 * (written after the answer, in waitUntil) have landed: `received` has reached the number of
 * events the test posted.
 */
export async function settledStats(h, connector, received) {
  await h.waitForQueueIdle();
  return waitUntil(
    async () => {
      const s = await stats(h, connector);
      return s.received >= received ? s : null;
    },
    { timeoutMs: 10_000, what: `${received} events received in the stats of ${connector}`, describe: () => stats(h, connector) },
  );
}

/** Quarantine listing entries of a connector (optionally one reason). */
export async function listQuarantine(h, connector, reason) {
  const q = `/admin/quarantine?connector=${encodeURIComponent(connector)}${reason ? `&reason=${reason}` : ""}`;
  const res = await admin(h, "GET", q);
  assert.equal(res.status, 200, `${q}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.objects;
}

/** `POST /admin/quarantine/replay` → the JSON answer (asserts 200). */
export async function replay(h, body) {
  const res = await admin(h, "POST", "/admin/quarantine/replay", body);
  assert.equal(res.status, 200, `replay ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

/** Sets the Worker's test clock offset (ms). */
export async function setClockOffset(h, ms) {
  if (typeof h.setClockOffset === "function") return h.setClockOffset(ms);
  return h.kv.put("test:clock_offset_ms", String(ms));
}

/** Sum of a `{reason: n}` map (absent → 0). */
export const total = (map) => Object.values(map ?? {}).reduce((a, b) => a + b, 0);

/**
 * What the sink holds for one tag: `distinct` Braze ids received, `messageIds` distinct, the
 * duplicates, and any event that is not one of ours (`foreign`).
 */
export function sinkView(sink, ours) {
  const ids = new Set();
  const messageIds = new Map(); // messageId → Braze id
  const foreign = [];
  let copies = 0;
  for (const e of sink.events()) {
    const id = idOf(e);
    if (id === null || !ours.has(id)) {
      foreign.push({ messageId: e.messageId, userId: e.userId });
      continue;
    }
    copies += 1;
    ids.add(id);
    const before = messageIds.get(e.messageId);
    if (before !== undefined && before !== id) foreign.push({ messageId: e.messageId, clash: [before, id] });
    messageIds.set(e.messageId, id);
  }
  return { ids, messageIds, copies, foreign };
}

/** Asserts that the sink holds every one of `ours` (a Set of Braze ids), nothing else. */
export function assertExactlyDelivered(sink, ours, label = "") {
  const v = sinkView(sink, ours);
  const missing = [...ours].filter((id) => !v.ids.has(id));
  assert.deepEqual(v.foreign.slice(0, 5), [], `${label} events at the sink that are not ours`);
  assert.equal(missing.length, 0, `${label} ${missing.length} events missing at the sink, e.g. ${missing.slice(0, 5)}`);
  assert.equal(v.messageIds.size, ours.size, `${label} one messageId per event`);
  return v;
}

/** The stats fields the scenarios compare exactly (series and timestamps left out). */
export function countsOf(s) {
  return {
    received: s.received,
    accepted: s.accepted,
    filtered: s.filtered ?? {},
    quarantined: s.quarantined ?? {},
    delivered: s.delivered,
    replayed: s.replayed ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// The queue spy: the same built Worker, but its `DELIVERY` producer writes to a queue consumed by
// a tiny spy Worker that records every message body (to Node) and forwards it unchanged to
// the delivery queue (wrangler.toml), which the relay consumes as usual. Every body the relay enqueues
// (at ingest, on retry, on hold, on replay) passes through the spy, so a test can read what a
// queue message really carries. Used by delivery-secrets.test.mjs only.

const SPY_SCRIPT = `
export default {
  async queue(batch, env) {
    for (const m of batch.messages) {
      const text = typeof m.body === "string" ? m.body : JSON.stringify(m.body);
      await env.RECORD.fetch("http://spy/record", { method: "POST", body: text });
      await env.OUT.send(m.body, { contentType: typeof m.body === "string" ? "text" : "json" });
      m.ack();
    }
  },
};
`;

/**
 * Starts the sink and the relay with the queue spy. Returns an object with the harness's
 * helpers this file needs (`post`, `admin`, `putConnector`, `kv`, `r2`, `sink`, `logs`,
 * `logText`, `logBarrier`, `quarantineObjects`, `close`) plus `queueBodies` (every recorded body, in
 * order).
 */
export async function startSpiedHarness({ writeKeys = {}, adminToken }) {
  const { Miniflare } = await import("miniflare");
  const {
    COMPATIBILITY_DATE, CONFIG_BINDING, DELIVERY_QUEUE, ORIGIN, QUARANTINE_BINDING, barrierWorkerOptions, logCollector,
    readAnswer, relayWorkerOptions, requireBuild,
  } = await import("./harness.mjs");
  const { startSink } = await import("../../scripts/segment-sink.mjs");
  requireBuild();
  const sink = await startSink({ port: 0, writeKeys, quiet: true });
  const logs = [];
  const collector = logCollector(logs);
  const queueBodies = [];
  let mf;
  try {
    mf = new Miniflare({
      handleStructuredLogs: collector.handleStructuredLogs,
      workers: [
        {
          name: "currents-relay",
          ...relayWorkerOptions({
            sink,
            segmentTimeoutMs: SEGMENT_TIMEOUT_MS,
            batchTimeoutS: 1,
            bindings: { ADMIN_TOKEN: adminToken },
            deliveryProducerQueue: "spy-in",
            withAssets: false,
          }),
        },
        {
          name: "queue-spy",
          modules: true,
          script: SPY_SCRIPT,
          compatibilityDate: COMPATIBILITY_DATE,
          queueConsumers: { "spy-in": { maxBatchSize: 10, maxBatchTimeout: 1 } },
          queueProducers: { OUT: DELIVERY_QUEUE },
          serviceBindings: {
            RECORD: async (request) => {
              queueBodies.push(await request.text());
              return new Response("ok");
            },
          },
        },
        barrierWorkerOptions(),
      ],
    });
    await mf.ready;
  } catch (e) {
    await sink.close();
    throw e;
  }
  const kv = steadyProxy(await mf.getKVNamespace(CONFIG_BINDING, "currents-relay"));
  const r2 = steadyProxy(await mf.getR2Bucket(QUARANTINE_BINDING, "currents-relay"));
  const parse = readAnswer;
  return {
    mf,
    sink,
    kv,
    r2,
    logs,
    queueBodies,
    putConnector: (id, config) => kv.put(`connector:${id}`, JSON.stringify(config)),
    fetch: (pathname, init = {}) => mf.dispatchFetch(`${ORIGIN}${pathname}`, init),
    post: async (connector, body, { token } = {}) =>
      parse(
        await mf.dispatchFetch(`${ORIGIN}/v1/currents/${connector}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "braze-currents-version": "1",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify(body),
        }),
      ),
    admin: async (method, pathname, body) =>
      parse(
        await mf.dispatchFetch(`${ORIGIN}${pathname}`, {
          method,
          headers: {
            authorization: `Bearer ${adminToken}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      ),
    setClockOffset: (ms) => kv.put("test:clock_offset_ms", String(ms)),
    async quarantineObjects(prefix = "quarantine/") {
      return (await r2Objects(r2, prefix)).map(({ key, text }) => ({ key, text }));
    },
    logText: () => logs.map((l) => l.message).join("\n"),
    /** Resolves once every line the Worker logged before the call has reached `logs`. */
    logBarrier: (opts) => collector.barrier(mf, opts),
    async close() {
      await mf.dispose().catch(() => {});
      await sink.close();
    },
  };
}
