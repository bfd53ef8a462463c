// A permanent Segment refusal never drops events. One that concerns the whole request (404 here)
// sends the message to R2 quarantine with reason `segment_rejected` and Segment's status; a
// replay delivers it with the same messageIds, so replaying twice gives Segment duplicates it
// dedupes, never new events. A 400 on a batch is split down to the events Segment refuses on
// their own: only those are quarantined.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, connectorConfig, newToken, newWriteKey } from "./harness.mjs";
import {
  admin,
  assertExactlyDelivered,
  countsOf,
  events,
  listQuarantine,
  replay,
  settledStats,
  startDeliveryHarness,
  stats,
  waitUntil,
} from "./delivery-helpers.mjs";

const token = newToken();
const writeKey = newWriteKey("rej");
const C = "rejected";
const N = 40;
let h;

before(async () => {
  h = await startDeliveryHarness({ writeKeys: { main: writeKey }, meterQueue: true });
  await h.putConnector(C, connectorConfig(token, writeKey));
});
after(() => h?.close());

test("Segment 404 → quarantined segment_rejected with status; replay delivers once; replaying again adds no new messageId", async () => {
  h.sink.setFaults({ next: [404] });
  const list = events("r", N);
  const ours = new Set(list.map((e) => e.id));
  const res = await h.post(C, { events: list }, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, N, res.text);
  assert.equal(res.json.messages, 1, `one queue message expected for ${N} small events: ${res.text}`);

  const [entry] = await waitUntil(
    async () => {
      const objs = await listQuarantine(h, C, "segment_rejected");
      return objs.length > 0 ? objs : null;
    },
    { timeoutMs: 20_000, what: "a segment_rejected quarantine object", describe: () => stats(h, C) },
  );
  // The consumer that wrote it is done (its stats delta written), and nothing else is queued.
  await h.waitForQueueIdle();
  h.sink.setFaults(null);
  assert.equal(h.sink.stats().faults["404"], 1, "the 404 was answered");
  assert.equal(h.sink.stats().accepted_events, 0, "nothing delivered");
  assert.deepEqual(entry.reasons, { segment_rejected: N });
  assert.equal(entry.connector, C);
  assert.ok(!entry.replayed_at, "not replayed yet");

  const obj = await admin(h, "GET", `/admin/quarantine/object?key=${encodeURIComponent(entry.key)}`);
  assert.equal(obj.status, 200, obj.text);
  const doc = obj.json;
  assert.equal(doc.connector, C);
  assert.deepEqual(doc.reasons, { segment_rejected: N });
  assert.equal(doc.segment.status, 404, JSON.stringify(doc.segment));
  assert.equal(doc.segment.destination, "main");
  assert.equal(doc.segment.region, "us");
  assert.equal(doc.events.length, N);
  assert.deepEqual(new Set(doc.events.map((e) => e.event_id)), ours);
  for (const e of doc.events) {
    assert.equal(e.reason, "segment_rejected");
    assert.match(e.message_id, /^crl-[0-9a-f]{64}$/);
    assert.equal(e.segment.messageId, e.message_id, "the stored call keeps its messageId");
  }
  // The R2 object is the same document.
  const r2 = await h.r2.get(entry.key);
  assert.ok(r2, `R2 has no ${entry.key}`);
  assert.deepEqual(JSON.parse(await r2.text()).reasons, { segment_rejected: N });

  let s = await settledStats(h, C, N);
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: N }, delivered: 0, replayed: 0,
  });
  assert.equal(s.last_error?.code, "segment_rejected", JSON.stringify(s.last_error));
  assert.equal(s.last_error?.status, 404, JSON.stringify(s.last_error));

  // First replay: delivered once, with the stored messageIds.
  let answer = await replay(h, { key: entry.key });
  assert.deepEqual(answer, { objects: 1, requeued: N, still_quarantined: 0, filtered: 0, remaining: 0, cursor: null });
  await waitUntil(() => h.sink.stats().distinct_message_ids >= N, {
    timeoutMs: 20_000, what: "the replayed events at the sink", describe: () => h.sink.stats(),
  });
  // Every message the replay queued is done (acked): no further copy can still arrive.
  await h.waitForQueueIdle();
  const v = assertExactlyDelivered(h.sink, ours, "replay 1:");
  assert.deepEqual(new Set(v.messageIds.keys()), new Set(doc.events.map((e) => e.message_id)), "same messageIds");
  assert.equal(h.sink.stats().accepted_events, N);
  const [afterFirst] = await listQuarantine(h, C);
  assert.ok(afterFirst.replayed_at, `replayed_at missing: ${JSON.stringify(afterFirst)}`);

  // Second replay of the same object: Segment receives the same messageIds again (it dedupes them).
  answer = await replay(h, { key: entry.key });
  assert.equal(answer.requeued, N, JSON.stringify(answer));
  await waitUntil(() => h.sink.stats().accepted_events >= 2 * N, {
    timeoutMs: 20_000, what: "the second replay at the sink", describe: () => h.sink.stats(),
  });
  await h.waitForQueueIdle();
  const sink = h.sink.stats();
  assert.equal(sink.distinct_message_ids, N, "a second replay created new messageIds");
  assert.equal(sink.duplicate_message_ids, N, "every event exactly twice");
  assertExactlyDelivered(h.sink, ours, "replay 2:");

  s = await settledStats(h, C, N);
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: N }, delivered: 2 * N, replayed: 2 * N,
  });
  assert.ok(s.last_success_ms > 0);
});

test("replay of an unknown key or connector is refused, not a silent no-op", async () => {
  const unknown = await admin(h, "POST", "/admin/quarantine/replay", { key: `quarantine/${C}/1999-01-01/0-deadbeef.json` });
  assert.ok(unknown.status === 404, `unknown key: ${unknown.status} ${unknown.text ?? JSON.stringify(unknown.json)}`);
  const none = await admin(h, "POST", "/admin/quarantine/replay", { connector: "no-such-connector" });
  assert.ok(
    none.status === 404 || (none.status === 200 && none.json?.objects === 0 && none.json?.requeued === 0),
    `unknown connector: ${none.status} ${JSON.stringify(none.json)}`,
  );
  const noAuth = await h.fetch("/admin/quarantine/replay", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: "x" }),
  });
  assert.equal(noAuth.status, 401, "the admin API without its token");
  await noAuth.text();
});

test("one event Segment refuses in a batch of 40: the batch is split down to it, the 38 others are delivered, only the 2 refused are quarantined", async () => {
  h.sink.reset();
  const C2 = "rejected-split";
  const token2 = newToken();
  await h.putConnector(C2, connectorConfig(token2, writeKey));
  const marker = `poison${Date.now().toString(36)}`;
  const bad = new Set([5, 31]);
  const list = Array.from({ length: N }, (_, i) => brazeEvent(bad.has(i) ? `${marker}-${i}` : `split-${i}`));
  const badIds = new Set(list.filter((_, i) => bad.has(i)).map((e) => e.id));
  const goodIds = new Set(list.filter((_, i) => !bad.has(i)).map((e) => e.id));
  // The sink refuses, with 400, any batch holding an event that carries the marker (its userId).
  h.sink.setFaults({ poison: marker });

  const res = await h.post(C2, { events: list }, { token: token2 });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, N, res.text);
  assert.equal(res.json.messages, 1, res.text);

  const objs = await waitUntil(
    async () => {
      const o = await listQuarantine(h, C2, "segment_rejected");
      return o.length >= bad.size && h.sink.stats().accepted_events >= goodIds.size ? o : null;
    },
    { timeoutMs: 30_000, what: "2 isolated events in quarantine and 38 at the sink", describe: () => h.sink.stats() },
  );
  // Every half of every split is done: no request, delivery or quarantine object is still to come.
  await h.waitForQueueIdle();
  // Every good event exactly once; no refused event reached the sink.
  assertExactlyDelivered(h.sink, goodIds, "after the split:");
  assert.equal(objs.length, bad.size, `one object per refused event: ${JSON.stringify(objs)}`);
  const quarantinedIds = new Set();
  for (const entry of objs) {
    assert.deepEqual(entry.reasons, { segment_rejected: 1 });
    const obj = await admin(h, "GET", `/admin/quarantine/object?key=${encodeURIComponent(entry.key)}`);
    assert.equal(obj.status, 200, obj.text);
    assert.equal(obj.json.segment.status, 400);
    assert.equal(obj.json.events.length, 1);
    const [e] = obj.json.events;
    assert.match(e.detail, /poisoned_event/, e.detail);
    assert.match(e.detail, /refused on its own, after [1-9]\d* split\(s\)/, e.detail);
    quarantinedIds.add(e.event_id);
  }
  assert.deepEqual(quarantinedIds, badIds, "exactly the refused events are quarantined");

  // Bisection, not one request per event: a refused batch splits only where a refused event is.
  const sink = h.sink.stats();
  const splitting = sink.rejected.poisoned_event - bad.size; // refused batches of 2+ events
  assert.ok(splitting >= 1, JSON.stringify(sink.rejected));
  assert.equal(sink.requests, 1 + 2 * splitting, "each refused batch of 2+ comes back as two halves");
  assert.ok(sink.requests <= 1 + 2 * bad.size * Math.ceil(Math.log2(N)), `too many requests: ${sink.requests}`);

  const s = await settledStats(h, C2, N);
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: bad.size }, delivered: goodIds.size, replayed: 0,
  });
  assert.ok(s.split >= N, `every event was split at least once: ${s.split}`);

  // Still refused on replay while Segment refuses them; delivered once it takes them.
  h.sink.setFaults(null);
  const answer = await replay(h, { connector: C2 });
  assert.equal(answer.requeued, bad.size, JSON.stringify(answer));
  await waitUntil(() => h.sink.stats().accepted_events >= N, {
    timeoutMs: 20_000, what: "the replayed events at the sink", describe: () => h.sink.stats(),
  });
  await h.waitForQueueIdle();
  assertExactlyDelivered(h.sink, new Set(list.map((e) => e.id)), "after the replay:");
  assert.equal(h.sink.stats().accepted_events, N, "each event delivered once");
});

