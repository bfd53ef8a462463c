// Platform faults, injected for real: the built Worker's `DELIVERY` queue producer and its
// `QUARANTINE` R2 bucket are Miniflare *wrapped bindings* (workerd runs a small wrapper module
// inside the relay's own isolate). The wrappers forward every call to the real queue and the
// real bucket, except the calls the test's fault plan refuses: those throw, exactly where a
// failing `send`/`sendBatch`/`put` of the platform would. The fault plan lives in Node (the
// wrappers ask it through a service binding before each call), so a test can refuse "the 2nd
// sendBatch of connector X" or "the first 6 R2 writes of connector Y" and read back every call.
// The queue wrapper is the harness's queue meter (its `queueGate` is the plan), which also tells
// when the queues are idle: what a test checks after that can no longer change.
//
// Covered here (docs/RELIABILITY.md): the queue refusing at ingest (whole and after a first
// group), the queue refusing the consumer's re-enqueue, R2 refusing the consumer's quarantine
// write (the message is held until R2 takes it), the dead-letter path (R2 and the queue both
// down for all of the delivery queue's attempts), and the growing platform-retry delays while
// both are down (a second Worker with PLATFORM_RETRY_SECONDS 1: 1, 1, 2, 4 s).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ADMIN_TOKEN,
  DELIVERY_MAX_RETRIES,
  QUARANTINE_BINDING,
  QUARANTINE_BUCKET,
  brazeEvent,
  connectorConfig,
  newToken,
  newWriteKey,
  sha256hex,
  startHarness,
} from "./harness.mjs";
import {
  SEGMENT_TIMEOUT_MS,
  assertExactlyDelivered,
  countsOf,
  events,
  listQuarantine,
  replay,
  stats,
  total,
  waitUntil,
} from "./delivery-helpers.mjs";

/** wrangler.toml: delivery attempts before the dead-letter queue = max_retries + 1. */
const MAX_RETRIES = DELIVERY_MAX_RETRIES;

// ---------------------------------------------------------------------------------------------
// The R2 wrapper (the queue's is the harness's meter). workers-rs checks a binding's constructor
// name (`R2Bucket`), so the wrapper class carries it. Only counts, the connector id and the
// quarantine reasons leave the Worker for the fault plan: never a body.

const WRAPPER_SCRIPT = `
async function decide(env, call) {
  const res = await env.FAULT_PLAN.fetch("http://fault-plan/decide", {
    method: "POST",
    body: JSON.stringify(call),
  });
  const { refuse } = await res.json();
  if (refuse) throw new Error("injected fault: " + call.op + " refused");
}

class R2Bucket {
  #env;
  constructor(env) { this.#env = env; }
  async put(key, value, options) {
    const meta = options?.customMetadata ?? {};
    await decide(this.#env, {
      op: "put",
      connector: String(key).split("/")[1] ?? null,
      reasons: meta.reasons ? JSON.parse(meta.reasons) : null,
      events: Number(meta.events ?? 0),
    });
    return this.#env.REAL_BUCKET.put(key, value, options);
  }
  get(...args) { return this.#env.REAL_BUCKET.get(...args); }
  head(...args) { return this.#env.REAL_BUCKET.head(...args); }
  list(...args) { return this.#env.REAL_BUCKET.list(...args); }
  delete(...args) { return this.#env.REAL_BUCKET.delete(...args); }
  createMultipartUpload(...args) { return this.#env.REAL_BUCKET.createMultipartUpload(...args); }
  resumeMultipartUpload(...args) { return this.#env.REAL_BUCKET.resumeMultipartUpload(...args); }
}

export function bucket(env) { return new R2Bucket(env); }
`;

/**
 * The fault plan. A rule `{kind: "queue"|"r2", connector, op?, skip, times}` lets its first
 * `skip` matching calls through, then refuses the next `times`. Every call is recorded.
 */
const plan = {
  rules: [],
  calls: [],
  refuse(rule) {
    this.rules.push({ skip: 0, times: Infinity, ...rule });
  },
  heal() {
    this.rules = [];
  },
  decide(call) {
    const kind = call.op === "put" ? "r2" : "queue";
    let refused = false;
    const rule = this.rules.find(
      (r) => r.kind === kind && r.connector === call.connector && (!r.op || r.op === call.op) && (r.skip > 0 || r.times > 0),
    );
    if (rule && rule.skip > 0) rule.skip -= 1;
    else if (rule) {
      rule.times -= 1;
      refused = true;
    }
    this.calls.push({ ...call, refused });
    return refused;
  },
  /** Recorded calls of one connector, of one kind ("queue" or "r2"). */
  of(connector, kind) {
    return this.calls.filter((c) => c.connector === connector && (c.op === "put") === (kind === "r2"));
  },
};

const WRAPPER_WORKER = {
  name: "platform-faults",
  modules: true,
  script: WRAPPER_SCRIPT,
  r2Buckets: { REAL_BUCKET: QUARANTINE_BUCKET },
  serviceBindings: {
    FAULT_PLAN: async (request) => Response.json({ refuse: plan.decide(await request.json()) }),
  },
};

// ---------------------------------------------------------------------------------------------

const secrets = []; // [what, value]: none may appear in an answer or a log line
function connector(label) {
  const token = newToken();
  const writeKey = newWriteKey(label.slice(0, 6));
  secrets.push(
    [`${label} bearer token`, token],
    [`${label} token hash`, sha256hex(token)],
    [`${label} write key`, writeKey],
    [`${label} write key (Basic)`, Buffer.from(`${writeKey}:`).toString("base64")],
  );
  return { id: label, token, writeKey };
}
const C = {
  refused: connector("qrefused"),
  partial: connector("qpartial"),
  requeue: connector("qrequeue"),
  r2: connector("r2down"),
  dead: connector("deadletter"),
  growing: connector("growing"),
};

let h;
before(async () => {
  h = await startHarness({
    writeKeys: Object.fromEntries(Object.values(C).map((c) => [c.id, c.writeKey])),
    segmentTimeoutMs: SEGMENT_TIMEOUT_MS,
    workers: [WRAPPER_WORKER],
    queueGate: (call) => plan.decide(call),
    wrappedBindings: { [QUARANTINE_BINDING]: { scriptName: "platform-faults", entrypoint: "bucket" } },
  });
  for (const c of Object.values(C)) await h.putConnector(c.id, connectorConfig(c.token, c.writeKey));
});
after(() => h?.close());

/** Lines the Worker logged, parsed (non-JSON lines skipped). */
function logLines(harness = h) {
  const out = [];
  for (const { message } of harness.logs) {
    try {
      out.push(JSON.parse(message));
    } catch {
      // not one of ours
    }
  }
  return out;
}
const platformFailures = (connectorId, what) =>
  logLines().filter((l) => l.event === "platform_failure" && l.connector === connectorId && l.what === what);

/** The text of an answer, headers included, for the secret checks. */
const answerText = (a) => `${a.status} ${JSON.stringify([...a.headers])} ${a.text}`;

function assertNoSecrets(text, where) {
  for (const [what, value] of [...secrets, ["admin token", ADMIN_TOKEN]]) {
    assert.ok(!text.includes(value), `${what} found in ${where}`);
  }
}

/** Every event of `connector`'s quarantine objects: Map event_id → [{reason, message_id, key}]. */
async function quarantinedEvents(connectorId) {
  const places = new Map();
  for (const { key, doc } of await h.quarantineObjects(`quarantine/${connectorId}/`)) {
    for (const e of doc.events) {
      if (!places.has(e.event_id)) places.set(e.event_id, []);
      places.get(e.event_id).push({ key, reason: e.reason, message_id: e.message_id, segment: e.segment });
    }
  }
  return places;
}

// ---------------------------------------------------------------------------------------------

test("queue refuses at ingest: 503 queue_unavailable problem+json, nothing queued; Braze's resend is accepted and delivered once", async () => {
  const { id, token } = C.refused;
  const N = 5;
  h.sink.reset();
  const list = events("qr", N);
  const ours = new Set(list.map((e) => e.id));

  plan.refuse({ kind: "queue", connector: id });
  const refused = await h.post(id, { events: list }, { token });
  assert.equal(refused.status, 503, `a refused queue write must not be acknowledged: ${refused.status} ${refused.text}`);
  assert.equal(refused.headers.get("content-type"), "application/problem+json");
  assert.equal(refused.headers.get("retry-after"), "30");
  assert.deepEqual(refused.json, {
    type: "https://currents-relay.dev/problems/queue_unavailable",
    title: "Queue unavailable",
    status: 503,
    code: "queue_unavailable",
    detail: "the delivery queue is unavailable; retry later",
  });
  const queueCalls = plan.of(id, "queue");
  assert.ok(queueCalls.length >= 1, "the Worker never called the queue: the fault was not exercised");
  assert.ok(queueCalls.every((c) => c.refused), `a queue call got through: ${JSON.stringify(queueCalls)}`);
  assert.equal(queueCalls.reduce((n, c) => n + c.events, 0), N, "the refused call carried the batch's events");

  // The Worker is healthy afterwards: /health, and the queue back up, Braze resends the batch.
  plan.heal();
  const health = await h.fetch("/health");
  assert.equal(health.status, 200);
  await health.text();
  const resent = await h.post(id, { events: list }, { token });
  assert.equal(resent.status, 200, resent.text);
  assert.deepEqual(resent.json, { received: N, accepted: N, filtered: 0, quarantined: 0, batches: 1, messages: 1 });
  await waitUntil(() => h.sink.stats().accepted_events >= N, {
    timeoutMs: 20_000, what: `${N} events at the sink`, describe: () => h.sink.stats(),
  });
  await waitUntil(async () => (await stats(h, id)).delivered >= N, {
    timeoutMs: 10_000, what: "delivered in the stats", describe: () => stats(h, id),
  });
  // The queue is idle and every log line is in: nothing below can still change.
  await h.settled();
  assertExactlyDelivered(h.sink, ours, "after the resend:");
  assert.equal(h.sink.stats().accepted_events, N, "an event of the refused request reached Segment");
  // The refused request counts nowhere; the resend counts once.
  assert.deepEqual(countsOf(await stats(h, id)), {
    received: N, accepted: N, filtered: {}, quarantined: {}, delivered: N, replayed: 0,
  });
  assert.deepEqual(await listQuarantine(h, id), [], "nothing of this connector in quarantine");

  // Logged as a platform failure and a 503 ingest line; no secret in the answer or the logs.
  assert.equal(platformFailures(id, "queue_send").length, 1, "one platform_failure queue_send line");
  const ingest503 = logLines().filter((l) => l.event === "ingest" && l.connector === id && l.status === 503);
  assert.equal(ingest503.length, 1, "one 503 ingest line");
  assert.equal(ingest503[0].code, "queue_unavailable");
  assert.equal(ingest503[0].level, "warn");
  assert.equal(ingest503[0].accepted, 0, `the refused request accepted nothing: ${JSON.stringify(ingest503[0])}`);
  assert.equal(ingest503[0].received, N);
  assertNoSecrets(answerText(refused), "the 503 answer");
  assertNoSecrets(answerText(resent), "the 200 answer");
  assertNoSecrets(h.logText(), "the logs");
});

test("queue refuses the 2nd sendBatch of a large batch: 503; the resend delivers every event, the first group twice with the same messageIds", async () => {
  const { id, token } = C.partial;
  h.sink.reset();
  // Events with ~1 KB properties: ~1,000 of them make several queue messages of ≤ 120 KB, sent in
  // groups of ≤ 250 KB, so one ingest request makes more than one sendBatch.
  const M = 1000;
  const list = Array.from({ length: M }, (_, i) =>
    brazeEvent(`qp-${i}`, {
      properties: { app_id: "app-1", campaign_id: "c-1", email_address: "someone@example.com", campaign_name: `campaign ${"x".repeat(1000)}` },
    }));
  const ours = new Set(list.map((e) => e.id));

  plan.refuse({ kind: "queue", connector: id, op: "sendBatch", skip: 1, times: 1 });
  const refused = await h.post(id, { events: list }, { token });
  plan.heal();
  assert.equal(refused.status, 503, `${refused.status} ${refused.text.slice(0, 300)}`);
  assert.equal(refused.json?.code, "queue_unavailable", refused.text.slice(0, 300));
  const calls = plan.of(id, "queue");
  assert.equal(calls.length, 2, `the Worker stops at the first refused group: ${JSON.stringify(calls)}`);
  assert.deepEqual(calls.map((c) => c.refused), [false, true]);
  const firstGroup = calls[0].events;
  assert.ok(firstGroup > 0 && firstGroup < M, `first group: ${firstGroup} events`);

  // What the first group queued is delivered although Braze was told 503 ...
  await waitUntil(() => h.sink.stats().accepted_events >= firstGroup, {
    timeoutMs: 20_000, what: `the first group's ${firstGroup} events`, describe: () => h.sink.stats(),
  });
  // ... and Braze's resend brings every event, the first group's again with the same messageIds.
  const resent = await h.post(id, { events: list }, { token });
  assert.equal(resent.status, 200, resent.text.slice(0, 300));
  assert.equal(resent.json.accepted, M);
  assert.ok(resent.json.messages > 2, `expected several queue messages: ${resent.text}`);
  await waitUntil(() => h.sink.stats().accepted_events >= M + firstGroup, {
    timeoutMs: 30_000, what: `${M + firstGroup} events at the sink`, describe: () => h.sink.stats(),
  });
  await waitUntil(async () => (await stats(h, id)).delivered >= M + firstGroup, {
    timeoutMs: 10_000, what: "delivered in the stats", describe: () => stats(h, id),
  });
  await h.settled();
  assertExactlyDelivered(h.sink, ours, "after the resend:"); // also: one messageId per event id
  const sink = h.sink.stats();
  assert.equal(sink.accepted_events, M + firstGroup);
  assert.equal(sink.distinct_message_ids, M);
  assert.equal(sink.duplicate_message_ids, firstGroup, "exactly the first group arrived twice");
  assert.deepEqual(countsOf(await stats(h, id)), {
    received: M, accepted: M, filtered: {}, quarantined: {}, delivered: M + firstGroup, replayed: 0,
  });
  assert.equal(platformFailures(id, "queue_send").length, 1);
});

test("queue refuses the consumer's re-enqueue after a Segment 429 (Retry-After 3): the platform retry still waits 3 s, then delivered once", async () => {
  const { id, token } = C.requeue;
  const N = 6;
  h.sink.reset();
  const list = events("qq", N);
  const ours = new Set(list.map((e) => e.id));

  // Ingest's sendBatch goes through; the consumer's re-enqueue (`send`) after Segment's 429 is
  // refused. The harness sets PLATFORM_RETRY_SECONDS to 0: the 3 s wait can only come from the
  // Retry-After the failed re-enqueue was carrying.
  plan.refuse({ kind: "queue", connector: id, op: "send", times: 1 });
  h.sink.setFaults({ next: [429], retryAfter: 3 });
  const res = await h.post(id, { events: list }, { token });
  assert.equal(res.status, 200, res.text);
  const faultedAt = await waitUntil(() => h.sink.stats().fault_requests >= 1 && Date.now(), {
    timeoutMs: 20_000, intervalMs: 20, what: "the 429", describe: () => h.sink.stats(),
  });
  await waitUntil(() => h.sink.stats().accepted_events >= N, {
    timeoutMs: 20_000, what: `${N} events at the sink`, describe: () => ({ sink: h.sink.stats(), calls: plan.of(id, "queue") }),
  });
  await waitUntil(async () => (await stats(h, id)).delivered >= N, {
    timeoutMs: 10_000, what: "delivered in the stats", describe: () => stats(h, id),
  });
  const deliveredAt = Math.min(...h.sink.firstSeen().values());
  await h.settled();
  plan.heal();
  h.sink.setFaults(null);

  assert.equal(h.sink.stats().faults["429"], 1, "Segment answered 429 once");
  // Lower bound only (the machine may be slow, never fast): 3 s minus the 20 ms polling step.
  assert.ok(deliveredAt - faultedAt >= 2_900, `redelivered ${deliveredAt - faultedAt} ms after the 429, before its Retry-After`);
  assert.deepEqual(
    plan.of(id, "queue").map((c) => [c.op, c.refused]),
    [["sendBatch", false], ["send", true]],
    "ingest's write, then the refused re-enqueue; the delivery after it is the platform's retry",
  );
  assertExactlyDelivered(h.sink, ours);
  assert.equal(h.sink.stats().accepted_events, N);
  const s = await stats(h, id);
  assert.deepEqual(countsOf(s), { received: N, accepted: N, filtered: {}, quarantined: {}, delivered: N, replayed: 0 });
  assert.equal(s.retried ?? 0, 0, "a re-enqueue that failed is not counted as retried");
  assert.equal(platformFailures(id, "queue_send").length, 1);
  assert.deepEqual(await listQuarantine(h, id), []);
});

test("R2 refuses the consumer's quarantine writes (Segment 400): the events are held (quarantine_unavailable) and tried again until R2 takes them; every event quarantined segment_rejected once", async () => {
  const { id, token } = C.r2;
  const N = 4;
  const K = 2; // R2 writes refused
  h.sink.reset();
  const list = events("rd", N);
  const ours = new Set(list.map((e) => e.id));

  plan.refuse({ kind: "r2", connector: id, times: K });
  h.sink.setFaults({ rate: 1, modes: ["400"] }); // Segment refuses every batch of this test
  const res = await h.post(id, { events: list }, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, N);

  const places = await waitUntil(
    async () => {
      const q = await quarantinedEvents(id);
      return [...ours].every((e) => q.has(e)) ? q : null;
    },
    { timeoutMs: 30_000, what: `all ${N} events in quarantine`, describe: async () => ({ puts: plan.of(id, "r2"), stats: await stats(h, id) }) },
  );
  await waitUntil(async () => total((await stats(h, id)).quarantined) >= N, {
    timeoutMs: 10_000, what: "quarantined in the stats", describe: () => stats(h, id),
  });
  await h.settled();
  h.sink.setFaults(null);
  plan.heal();

  const puts = plan.of(id, "r2");
  const refusedPuts = puts.filter((p) => p.refused);
  assert.equal(refusedPuts.length, K, `R2 refused ${K} writes: ${JSON.stringify(puts)}`);
  for (const p of puts) assert.deepEqual(Object.keys(p.reasons ?? {}), ["segment_rejected"], JSON.stringify(p));
  // Every write attempt followed a Segment 400 of its own delivery attempt: the held message came back.
  assert.ok(h.sink.stats().faults["400"] >= puts.length, `400s: ${h.sink.stats().faults["400"]}, writes: ${puts.length}`);
  assert.equal(platformFailures(id, "quarantine_write").length, K);
  // Each refused write held its (single-event, after the split) message on the queue.
  const held = (await stats(h, id)).held ?? {};
  assert.deepEqual(held, { quarantine_unavailable: refusedPuts.reduce((n, p) => n + p.events, 0) }, JSON.stringify(held));
  assert.equal(platformFailures(id, "queue_send").length, 0, "the queue took every hold");

  // Final place of every event: exactly one segment_rejected quarantine entry, nothing delivered.
  assert.deepEqual(new Set(places.keys()), ours, "only our events in this connector's quarantine");
  for (const [eventId, where] of places) {
    assert.equal(where.length, 1, `${eventId} quarantined ${where.length} times: ${JSON.stringify(where)}`);
    assert.equal(where[0].reason, "segment_rejected");
    assert.match(where[0].message_id, /^crl-[0-9a-f]{64}$/);
    assert.equal(where[0].segment?.messageId, where[0].message_id);
  }
  assert.equal(puts.length - K, new Set([...places.values()].map((w) => w[0].key)).size, "one stored object per accepted write");
  assert.equal(h.sink.stats().accepted_events, 0, "Segment accepted none");
  assert.deepEqual(countsOf(await stats(h, id)), {
    received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: N }, delivered: 0, replayed: 0,
  });
});

test("dead-letter path: R2 and the queue down for all delivery attempts → DLQ → quarantine dead_letter with every event; replay delivers each once", async () => {
  const { id, token } = C.dead;
  const N = 7;
  const ATTEMPTS = MAX_RETRIES + 1;
  h.sink.reset();
  const list = events("dl", N);
  const ours = new Set(list.map((e) => e.id));

  // Segment refuses every request as a whole (404: no split), so each delivery attempt must
  // quarantine the message. R2 refuses that write and the queue refuses the hold that would
  // keep the message waiting for R2: the fate cannot be stored, the platform retries. Ingest
  // uses sendBatch, which stays allowed; R2 and `send` refuse exactly as many calls as the
  // delivery queue makes attempts, then the dead-letter consumer's write goes through.
  h.sink.setFaults({ rate: 1, modes: ["404"] });
  plan.refuse({ kind: "r2", connector: id, times: ATTEMPTS });
  plan.refuse({ kind: "queue", connector: id, op: "send", times: ATTEMPTS });
  try {
    const res = await h.post(id, { events: list }, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.messages, 1, res.text);

    const dead = await waitUntil(
      async () => {
        const objs = await listQuarantine(h, id, "dead_letter");
        return objs.length > 0 ? objs : null;
      },
      { timeoutMs: 30_000, what: "a dead_letter quarantine object", describe: async () => ({ puts: plan.of(id, "r2"), stats: await stats(h, id) }) },
    );
    await waitUntil(async () => total((await stats(h, id)).quarantined) >= N, {
      timeoutMs: 10_000, what: "quarantined in the stats", describe: () => stats(h, id),
    });
    // The dead-letter queue is idle too: its consumer's write was the last.
    await h.settled();
    h.sink.setFaults(null);

    // The writes, in order: every delivery attempt refused, then the dead-letter consumer's.
    const puts = plan.of(id, "r2");
    assert.deepEqual(
      puts.map((p) => [Object.keys(p.reasons ?? {}).join(","), p.events, p.refused]),
      [...Array(ATTEMPTS).fill(["segment_rejected", N, true]), ["dead_letter", N, false]],
      `R2 writes of ${id}`,
    );
    const sends = plan.of(id, "queue").filter((c) => c.op === "send");
    assert.equal(sends.length, ATTEMPTS, "one refused hold per attempt");
    assert.ok(sends.every((c) => c.refused));
    assert.equal(platformFailures(id, "quarantine_write").length, ATTEMPTS);
    assert.equal(platformFailures(id, "queue_send").length, ATTEMPTS);
    assert.equal(h.sink.stats().faults["404"], ATTEMPTS, "one Segment request per delivery attempt");

    // One object, reason dead_letter, every event with its messageId and translated call.
    assert.equal(dead.length, 1, JSON.stringify(dead));
    assert.deepEqual(dead[0].reasons, { dead_letter: N });
    const objects = await h.quarantineObjects(`quarantine/${id}/`);
    assert.equal(objects.length, 1, "no other object (no segment_rejected copy)");
    const { key, doc } = objects[0];
    assert.equal(key, dead[0].key);
    assert.equal(doc.connector, id);
    assert.deepEqual(doc.reasons, { dead_letter: N });
    assert.equal(doc.segment?.destination, "main");
    assert.equal(doc.events.length, N);
    assert.deepEqual(new Set(doc.events.map((e) => e.event_id)), ours);
    for (const e of doc.events) {
      assert.equal(e.reason, "dead_letter");
      assert.match(e.message_id, /^crl-[0-9a-f]{64}$/);
      assert.equal(e.segment?.messageId, e.message_id);
    }
    assert.equal(h.sink.stats().accepted_events, 0, "Segment accepted nothing");
    let s = await stats(h, id);
    assert.deepEqual(countsOf(s), {
      received: N, accepted: N, filtered: {}, quarantined: { dead_letter: N }, delivered: 0, replayed: 0,
    });

    // The operator replays the object: each event once, same messageIds.
    const answer = await replay(h, { key });
    assert.deepEqual(answer, { objects: 1, requeued: N, still_quarantined: 0, filtered: 0, remaining: 0, cursor: null });
    await waitUntil(() => h.sink.stats().accepted_events >= N, {
      timeoutMs: 20_000, what: "the replayed events at the sink", describe: () => h.sink.stats(),
    });
    await waitUntil(async () => (await stats(h, id)).delivered >= N, {
      timeoutMs: 10_000, what: "delivered in the stats", describe: () => stats(h, id),
    });
    await h.settled();
    const v = assertExactlyDelivered(h.sink, ours, "replay:");
    assert.deepEqual(new Set(v.messageIds.keys()), new Set(doc.events.map((e) => e.message_id)), "the stored messageIds");
    assert.equal(h.sink.stats().accepted_events, N, "each event exactly once");
    s = await stats(h, id);
    assert.deepEqual(countsOf(s), {
      received: N, accepted: N, filtered: {}, quarantined: { dead_letter: N }, delivered: N, replayed: N,
    });
  } finally {
    h.sink.setFaults(null);
    plan.heal();
  }
});

test("R2 and the queue refuse a message's fate 4 times: each platform retry waits as long again as the message has waited (PLATFORM_RETRY_SECONDS 1: ≥ 1, 1, 2, 4 s), logged platform_retry; then quarantined once R2 takes it", async () => {
  const { id, token, writeKey } = C.growing;
  const N = 3;
  const K = 4; // refused fates, all within the delivery queue's retries
  assert.ok(K <= MAX_RETRIES, `${K} platform retries stay on the delivery queue (max_retries ${MAX_RETRIES})`);
  // This Worker's first platform retry waits 1 s (the other tests' waits 0 s, which turns the
  // growth off); the delays the Worker asks for are in its platform_retry lines.
  const g = await startHarness({
    writeKeys: { [id]: writeKey },
    segmentTimeoutMs: SEGMENT_TIMEOUT_MS,
    workers: [WRAPPER_WORKER],
    queueGate: (call) => plan.decide(call),
    wrappedBindings: { [QUARANTINE_BINDING]: { scriptName: "platform-faults", entrypoint: "bucket" } },
    bindings: { PLATFORM_RETRY_SECONDS: "1" },
  });
  try {
    await g.putConnector(id, connectorConfig(token, writeKey));
    const list = events("gr", N);
    const ours = new Set(list.map((e) => e.id));
    // Segment refuses the request as a whole (404: no split), so each attempt must quarantine
    // the message; R2 refuses that write and the queue the hold: the fate cannot be stored.
    g.sink.setFaults({ rate: 1, modes: ["404"] });
    plan.refuse({ kind: "r2", connector: id, times: K });
    plan.refuse({ kind: "queue", connector: id, op: "send", times: K });
    const res = await g.post(id, { events: list }, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.messages, 1, res.text);

    // When each of the K + 1 attempts reached Segment (10 ms polling).
    const at = [];
    for (let k = 1; k <= K + 1; k++) {
      at.push(await waitUntil(() => g.sink.stats().fault_requests >= k && Date.now(), {
        timeoutMs: 30_000, intervalMs: 10, what: `Segment attempt ${k}`, describe: () => ({ sink: g.sink.stats(), calls: plan.of(id, "r2") }),
      }));
    }
    const places = await waitUntil(
      async () => {
        const objects = await g.quarantineObjects(`quarantine/${id}/`);
        return objects.length > 0 ? objects : null;
      },
      { timeoutMs: 20_000, what: "the segment_rejected object", describe: () => plan.of(id, "r2") },
    );
    await g.settled();
    g.sink.setFaults(null);

    // One platform_retry line per refused fate, all for the one message on the delivery queue.
    const retries = logLines(g).filter((l) => l.event === "platform_retry");
    assert.equal(retries.length, K, JSON.stringify(retries));
    assert.ok(retries.every((r) => r.queue === "currents-relay-delivery" && r.level === "warn"), JSON.stringify(retries));
    assert.equal(new Set(retries.map((r) => r.message)).size, 1, "the platform redelivered one and the same message");
    const delays = retries.map((r) => r.delay_s);
    let before = 0;
    retries.forEach((r, k) => {
      // The message has waited at least the delays asked for so far; the next one is as long.
      assert.ok(r.waited_s >= before, `retry ${k}: waited ${r.waited_s} s after delays summing to ${before} s`);
      assert.equal(r.delay_s, Math.max(1, r.waited_s), `retry ${k}: ${JSON.stringify(r)}`);
      before += r.delay_s;
    });
    assert.ok(delays.every((d, k) => k === 0 || d >= delays[k - 1]), `delays shrank: ${delays}`);
    assert.ok(delays[K - 1] >= 4 * delays[0], `delays do not grow: ${delays}`);
    // ... and the platform waited them: each redelivery came no sooner (less the 10 ms polling step).
    for (let k = 0; k < K; k++) {
      assert.ok(at[k + 1] - at[k] >= delays[k] * 1000 - 20, `redelivery ${k + 1} came ${at[k + 1] - at[k]} ms after, asked ${delays[k]} s`);
    }

    // The fifth attempt's write went through: every event quarantined segment_rejected, once.
    const puts = plan.of(id, "r2");
    assert.deepEqual(puts.map((p) => p.refused), [...Array(K).fill(true), false]);
    assert.equal(logLines(g).filter((l) => l.event === "platform_failure" && l.what === "quarantine_write").length, K);
    assert.equal(logLines(g).filter((l) => l.event === "platform_failure" && l.what === "queue_send").length, K);
    assert.equal(places.length, 1, JSON.stringify(places.map((p) => p.key)));
    assert.deepEqual(places[0].doc.reasons, { segment_rejected: N });
    assert.deepEqual(new Set(places[0].doc.events.map((e) => e.event_id)), ours);
    assert.equal(g.sink.stats().accepted_events, 0);
    assert.deepEqual(countsOf(await stats(g, id)), {
      received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: N }, delivered: 0, replayed: 0,
    });
    assertNoSecrets(g.logText(), "the logs");
  } finally {
    plan.heal();
    await g.close();
  }
});

test("no secret in any log line of these faults", async () => {
  await h.logBarrier();
  assert.ok(logLines().some((l) => l.event === "platform_failure"), "no platform_failure line: the check would be vacuous");
  assertNoSecrets(h.logText(), "the logs");
});
