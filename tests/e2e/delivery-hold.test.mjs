// Events that cannot be sent now are held, not lost: a paused connector, a write key (destination)
// removed from the config. Within the connector's retention they are delivered once the config is
// fixed; past it they move to R2 quarantine (`retention_exceeded`) and replay from there.
// The Worker's clock is moved with the test hook (KV `test:clock_offset_ms`), never the machine's.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { connectorConfig, newToken, newWriteKey } from "./harness.mjs";
import {
  assertExactlyDelivered,
  countsOf,
  events,
  listQuarantine,
  replay,
  setClockOffset,
  settledStats,
  startDeliveryHarness,
  stats,
  total,
  waitUntil,
} from "./delivery-helpers.mjs";

const HOUR = 3_600_000;
const N = 120; // two Currents batches: 100 + 20
const token = newToken();
const writeKey = newWriteKey("hold");
const otherKey = newWriteKey("other");
let h;

before(async () => {
  h = await startDeliveryHarness({ writeKeys: { main: writeKey, other: otherKey }, meterQueue: true });
});
afterEach(() => setClockOffset(h, 0));
after(() => h?.close());

/** The connector's config with `main` (the destination the events are routed to). */
const withMain = (extra = {}) => connectorConfig(token, writeKey, extra);
/** The same connector with `main` and its write key gone: only another destination is left. */
const withoutMain = (extra = {}) => ({
  token_sha256: connectorConfig(token, writeKey).token_sha256,
  destinations: { other: { write_key: otherKey, region: "us" } },
  ...extra,
});

/** Posts N events in two batches; asserts both 200 with everything accepted; returns the ids. */
async function ingest(connector, tag) {
  const ours = new Set();
  for (const [from, n] of [[0, 100], [100, N - 100]]) {
    const list = events(tag, n, from);
    for (const e of list) ours.add(e.id);
    const res = await h.post(connector, { events: list }, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.received, n, res.text);
    assert.equal(res.json.accepted, n, res.text);
    assert.equal(res.json.quarantined, 0, res.text);
    assert.equal(res.json.filtered, 0, res.text);
  }
  return ours;
}

/** Events held for `reason` so far (each look at a held message counts its events again). */
const heldCount = async (connector, reason) => (await stats(h, connector)).held?.[reason] ?? 0;

/**
 * Waits until the stats show at least `n` (default N) events held for `reason`: the consumer has
 * looked at the held messages (and put them back) that often.
 */
const heldFor = (connector, reason, n = N) =>
  waitUntil(async () => (await heldCount(connector, reason)) >= n, {
    timeoutMs: 30_000,
    what: `${n} events held (${reason}) on ${connector}`,
    describe: () => stats(h, connector),
  });

/** Waits until the sink holds `n` distinct messageIds. */
const sinkHas = (n, what) =>
  waitUntil(() => h.sink.stats().distinct_message_ids >= n, {
    timeoutMs: 30_000,
    what,
    describe: () => h.sink.stats(),
  });

test("paused connector: accepts and holds, resume delivers every event once", async () => {
  const C = "hold-paused";
  h.sink.reset();
  await h.putConnector(C, withMain({ paused: true }));
  const ours = await ingest(C, "p");
  await heldFor(C, "paused");
  // More looks at the held messages (every one was held, put back and held again): still nothing
  // may leave, not even a request to Segment.
  await heldFor(C, "paused", 2 * N);
  assert.equal(h.sink.stats().requests, 0, "a paused connector called Segment");
  assert.equal(h.sink.stats().accepted_events, 0, "a paused connector sent events");

  await h.putConnector(C, withMain());
  await sinkHas(N, "the resumed connector's events");
  // Every message is done (acked): no second copy can still be on its way.
  const s = await settledStats(h, C, N);
  assertExactlyDelivered(h.sink, ours, "paused:");
  assert.equal(h.sink.stats().accepted_events, N, "each event sent once");
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: {}, delivered: N, replayed: 0,
  });
  assert.ok(s.held.paused >= N, JSON.stringify(s.held));
  assert.equal(s.retried, 0);
});

test("write key removed for 73 h (retention 168 h): held, then all delivered when restored", async () => {
  const C = "hold-outage";
  h.sink.reset();
  // Ingest while paused so that the destination's removal wins every race with the consumer.
  await h.putConnector(C, withMain({ paused: true }));
  const ours = await ingest(C, "o");
  await heldFor(C, "paused");
  await h.putConnector(C, withoutMain());
  await heldFor(C, "destination_missing");
  assert.equal(h.sink.stats().accepted_events, 0, "events left without their write key");
  let s = await stats(h, C);
  assert.equal(s.delivered, 0);
  assert.equal(total(s.quarantined), 0, JSON.stringify(s.quarantined));

  await setClockOffset(h, 73 * HOUR);
  // The held messages are looked at with the clock 73 h on: still within 168 h, so held again,
  // neither sent nor quarantined. Looks already running when the clock moved add at most N
  // events to the count (each message is in one look at a time): 2 N more than now means at
  // least N events were looked at on the new clock.
  const before = await heldCount(C, "destination_missing");
  await heldFor(C, "destination_missing", before + 2 * N);
  assert.equal(h.sink.stats().requests, 0, "a held event was sent without its write key");
  assert.equal((await listQuarantine(h, C)).length, 0, "quarantined at 73 h of a 168 h retention");
  await h.putConnector(C, withMain());
  await sinkHas(N, "the restored destination's events");
  s = await settledStats(h, C, N);
  assertExactlyDelivered(h.sink, ours, "outage:");
  assert.equal(h.sink.stats().accepted_events, N, "each event sent once");
  assert.equal(h.sink.stats().by_source.main, N, "delivered with the restored write key");
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: {}, delivered: N, replayed: 0,
  });
  assert.ok(s.held.destination_missing >= N, JSON.stringify(s.held));
  assert.equal((await listQuarantine(h, C)).length, 0, "nothing quarantined within retention");
});

test("retention exceeded (24 h, clock +25 h): quarantined retention_exceeded, replay delivers once", async () => {
  const C = "hold-expired";
  h.sink.reset();
  await h.putConnector(C, withMain({ paused: true, retention_hours: 24 }));
  const ours = await ingest(C, "x");
  await heldFor(C, "paused");
  await h.putConnector(C, withoutMain({ retention_hours: 24 }));
  await heldFor(C, "destination_missing");

  await setClockOffset(h, 25 * HOUR);
  const listed = await waitUntil(
    async () => {
      const objs = await listQuarantine(h, C, "retention_exceeded");
      return objs.reduce((n, o) => n + (o.reasons?.retention_exceeded ?? 0), 0) >= N ? objs : null;
    },
    { timeoutMs: 30_000, what: `${N} events quarantined retention_exceeded`, describe: () => listQuarantine(h, C) },
  );
  // Nothing is held any more: the queue is idle once the consumers that wrote these are done.
  await h.waitForQueueIdle();
  assert.equal(h.sink.stats().accepted_events, 0, "expired events reached Segment");
  // The R2 objects themselves: every event, with its messageId and translated call, no other reason.
  const inR2 = await h.quarantineObjects(`quarantine/${C}/`);
  assert.equal(inR2.length, listed.length, "listing = R2 objects");
  const quarantinedIds = new Set();
  for (const { key, doc } of inR2) {
    assert.match(key, new RegExp(`^quarantine/${C}/\\d{4}-\\d{2}-\\d{2}/\\d+-[0-9a-f]+\\.json$`));
    assert.equal(doc.connector, C);
    assert.deepEqual(Object.keys(doc.reasons), ["retention_exceeded"]);
    assert.equal(doc.segment?.destination, "main");
    for (const e of doc.events) {
      assert.equal(e.reason, "retention_exceeded");
      assert.ok(e.message_id && e.segment, `event without message_id/segment: ${JSON.stringify(e).slice(0, 200)}`);
      quarantinedIds.add(e.event_id);
    }
  }
  assert.deepEqual([...quarantinedIds].sort(), [...ours].sort(), "every held event is in quarantine");
  let s = await settledStats(h, C, N);
  assert.deepEqual(s.quarantined, { retention_exceeded: N });
  assert.equal(s.delivered, 0);

  // The operator fixes the write key and replays the connector's quarantine.
  await h.putConnector(C, withMain({ retention_hours: 24 }));
  await setClockOffset(h, 0);
  const answer = await replay(h, { connector: C });
  assert.equal(answer.objects, inR2.length, JSON.stringify(answer));
  assert.equal(answer.requeued, N, JSON.stringify(answer));
  assert.equal(answer.still_quarantined, 0, JSON.stringify(answer));
  assert.equal(answer.filtered, 0, JSON.stringify(answer));
  await sinkHas(N, "the replayed events");
  s = await settledStats(h, C, N);
  assertExactlyDelivered(h.sink, ours, "replay:");
  assert.equal(h.sink.stats().accepted_events, N, "each replayed event sent once");
  assert.deepEqual(countsOf(s), {
    received: N, accepted: N, filtered: {}, quarantined: { retention_exceeded: N }, delivered: N, replayed: N,
  });
  for (const o of await listQuarantine(h, C)) {
    assert.ok(o.replayed_at, `object ${o.key} not marked replayed: ${JSON.stringify(o)}`);
  }
});
