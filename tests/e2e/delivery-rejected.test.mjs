// A permanent Segment refusal (400) never drops events: the message goes to R2 quarantine with
// reason `segment_rejected` and Segment's status; a replay delivers it with the same messageIds,
// so replaying twice gives Segment duplicates it dedupes, never new events.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectorConfig, newToken, newWriteKey } from "./harness.mjs";
import {
  admin,
  assertExactlyDelivered,
  countsOf,
  events,
  listQuarantine,
  replay,
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
  h = await startDeliveryHarness({ writeKeys: { main: writeKey } });
  await h.putConnector(C, connectorConfig(token, writeKey));
});
after(() => h?.close());

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

test("Segment 400 → quarantined segment_rejected with status; replay delivers once; replaying again adds no new messageId", async () => {
  h.sink.setFaults({ next: [400] });
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
  h.sink.setFaults(null);
  assert.equal(h.sink.stats().faults["400"], 1, "the 400 was answered");
  assert.equal(h.sink.stats().accepted_events, 0, "nothing delivered");
  assert.deepEqual(entry.reasons, { segment_rejected: N });
  assert.equal(entry.connector, C);
  assert.ok(!entry.replayed_at, "not replayed yet");

  const obj = await admin(h, "GET", `/admin/quarantine/object?key=${encodeURIComponent(entry.key)}`);
  assert.equal(obj.status, 200, obj.text);
  const doc = obj.json;
  assert.equal(doc.connector, C);
  assert.deepEqual(doc.reasons, { segment_rejected: N });
  assert.equal(doc.segment.status, 400, JSON.stringify(doc.segment));
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

  let s = await stats(h, C);
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: { segment_rejected: N }, delivered: 0, replayed: 0,
  });
  assert.equal(s.last_error?.code, "segment_rejected", JSON.stringify(s.last_error));
  assert.equal(s.last_error?.status, 400, JSON.stringify(s.last_error));

  // First replay: delivered once, with the stored messageIds.
  let answer = await replay(h, { key: entry.key });
  assert.deepEqual(answer, { objects: 1, requeued: N, still_quarantined: 0, filtered: 0 });
  await waitUntil(() => h.sink.stats().distinct_message_ids >= N, {
    timeoutMs: 20_000, what: "the replayed events at the sink", describe: () => h.sink.stats(),
  });
  await settle(500);
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
  await settle(500);
  const sink = h.sink.stats();
  assert.equal(sink.distinct_message_ids, N, "a second replay created new messageIds");
  assert.equal(sink.duplicate_message_ids, N, "every event exactly twice");
  assertExactlyDelivered(h.sink, ours, "replay 2:");

  s = await stats(h, C);
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
