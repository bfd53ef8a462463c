// Malformed events never fail the batch: they are kept in R2 with their reason (CONTRACTS §4).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, connectorConfig, newToken, newWriteKey, startHarness } from "./harness.mjs";

const token = newToken();
const writeKey = newWriteKey("q");
const CONNECTOR = "quarantine-test";
const KEY_PATTERN = new RegExp(`^quarantine/${CONNECTOR}/(\\d{4}-\\d{2}-\\d{2})/(\\d+)-[0-9a-f]+\\.json$`);
let h;

before(async () => {
  h = await startHarness({ writeKeys: { main: writeKey }, meterQueue: true });
  await h.putConnector(CONNECTOR, connectorConfig(token, writeKey));
  await h.putConnector("clean", connectorConfig(token, writeKey));
});
after(() => h?.close());

function malformed() {
  const noId = brazeEvent("x");
  delete noId.id;
  const noTime = brazeEvent("q-notime");
  delete noTime.time;
  const badTime = brazeEvent("q-badtime", { time: "yesterday" });
  const noType = brazeEvent("q-notype");
  delete noType.event_type;
  return { noId, noTime, badTime, noType };
}

test("bad events are quarantined in R2, good ones delivered", async () => {
  const m = malformed();
  const events = [brazeEvent("q-ok1"), m.noId, m.noTime, 42, m.badTime, m.noType, brazeEvent("q-ok2")];
  const startedAt = Date.now();
  const res = await h.post(CONNECTOR, { events }, { token });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, {
    received: 7,
    accepted: 2,
    filtered: 0,
    quarantined: 5,
    batches: 1,
    messages: 1,
  });
  await h.waitForMessages(2);
  await h.waitForQueueIdle(); // the queued message is done: nothing else of it can arrive
  assert.equal(h.sink.stats().accepted_events, 2);

  const objects = await h.quarantineObjects(`quarantine/${CONNECTOR}/`);
  assert.equal(objects.length, 1, `objects: ${objects.map((o) => o.key).join(", ")}`);
  const [{ key, doc }] = objects;
  const [, day, ms] = KEY_PATTERN.exec(key) ?? [];
  assert.ok(day, `key ${key} does not match quarantine/{connector}/{YYYY-MM-DD}/{ms}-{hex}.json`);
  assert.ok(Number(ms) >= startedAt - 60_000 && Number(ms) <= Date.now() + 60_000, `ms ${ms}`);
  assert.equal(day, new Date(Number(ms)).toISOString().slice(0, 10));

  assert.equal(doc.connector, CONNECTOR);
  assert.ok(Number.isFinite(Date.parse(doc.received_at)), `received_at ${doc.received_at}`);
  assert.deepEqual(doc.reasons, {
    missing_id: 1,
    missing_time: 1,
    not_an_object: 1,
    invalid_time: 1,
    missing_event_type: 1,
  });
  const byIndex = Object.fromEntries(doc.events.map((e) => [e.index, e]));
  assert.deepEqual(Object.keys(byIndex).map(Number).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
  assert.equal(byIndex[1].reason, "missing_id");
  assert.deepEqual(byIndex[1].raw, m.noId);
  assert.equal(byIndex[2].reason, "missing_time");
  assert.equal(byIndex[2].event_id, "q-notime");
  assert.equal(byIndex[2].event_type, "users.messages.email.Open");
  assert.deepEqual(byIndex[2].raw, m.noTime);
  assert.equal(byIndex[3].reason, "not_an_object");
  assert.deepEqual(byIndex[3].raw, 42);
  assert.equal(byIndex[4].reason, "invalid_time");
  assert.deepEqual(byIndex[4].raw, m.badTime);
  assert.equal(byIndex[5].reason, "missing_event_type");
  for (const e of doc.events) assert.equal(typeof e.detail, "string", JSON.stringify(e));
});

test("a batch of only bad events is still 200 and quarantined", async () => {
  const { noTime } = malformed();
  const res = await h.post(CONNECTOR, { events: [noTime] }, { token });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, {
    received: 1,
    accepted: 0,
    filtered: 0,
    quarantined: 1,
    batches: 0,
    messages: 0,
  });
  const objects = await h.quarantineObjects(`quarantine/${CONNECTOR}/`);
  assert.equal(objects.length, 2);
});

test("a clean batch writes no quarantine object", async () => {
  const res = await h.post("clean", { events: [brazeEvent("c1")] }, { token });
  assert.equal(res.status, 200, res.text);
  await h.waitForMessages(3);
  // Its message is done (delivered and acked) before the next test's faults, and whatever it
  // wrote has been written.
  await h.waitForQueueIdle();
  assert.deepEqual(await h.quarantineObjects("quarantine/clean/"), []);
});

test("events Segment refuses for good (400) are quarantined one by one, not lost and not retried", async () => {
  await h.putConnector("refused", connectorConfig(token, writeKey));
  // The sink refuses (400) every batch holding one of these events, as Segment refuses a batch
  // with an event it cannot take: the pair is split, then each event is refused on its own.
  const marker = `refuse${Date.now().toString(36)}`;
  const events = [brazeEvent(`${marker}-rf1`), brazeEvent(`${marker}-rf2`)];
  const acceptedBefore = h.sink.stats().accepted_events;
  h.sink.setFaults({ poison: marker });
  let res;
  let objects;
  try {
    res = await h.post("refused", { events }, { token });
    // Accepted (queued) for Braze; the consumer then meets Segment's 400.
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {
      received: 2,
      accepted: 2,
      filtered: 0,
      quarantined: 0,
      batches: 1,
      messages: 1,
    });
    objects = await h.waitFor(async () => {
      const list = await h.quarantineObjects("quarantine/refused/");
      return list.length >= 2 && list;
    }, { message: "no quarantine objects for the refused events" });
    // Every half of the split is done: no further object, request or stats delta can come.
    await h.waitForQueueIdle();
  } finally {
    h.sink.setFaults(null);
  }
  assert.equal(objects.length, 2, "one object per refused event");
  const ids = [];
  for (const { doc } of objects) {
    assert.deepEqual(doc.reasons, { segment_rejected: 1 });
    assert.equal(doc.segment.status, 400);
    assert.equal(doc.segment.destination, "main");
    assert.equal(doc.events.length, 1);
    const [e] = doc.events;
    ids.push(e.event_id);
    assert.equal(e.reason, "segment_rejected");
    assert.match(e.detail, /HTTP 400/);
    assert.match(e.detail, /after 1 split\(s\)/);
    assert.equal(e.segment.messageId, e.message_id, "the translated call is kept for replay");
  }
  assert.deepEqual(ids.sort(), events.map((e) => e.id).sort());
  const stats = await h.waitFor(async () => {
    const s = await h.stats("refused");
    return (s.quarantined?.segment_rejected ?? 0) >= 2 && s;
  }, { message: "stats" });
  assert.equal(stats.retried, 0, "a 400 is never retried as is");
  assert.equal(stats.split, 2, "the pair was split once");
  assert.equal(h.sink.stats().accepted_events, acceptedBefore, "nothing delivered");
});

/** `POST /admin/quarantine/replay` → its JSON answer (asserts 200). */
async function replay(body) {
  const r = await h.admin("POST", "/admin/quarantine/replay", body);
  assert.equal(r.status, 200, `replay ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
}

test("replaying events that are still invalid keeps the one object: replay twice, the bucket does not grow", async () => {
  const C = "replay-still-bad";
  await h.putConnector(C, connectorConfig(token, writeKey));
  const { noTime, badTime } = malformed();
  const res = await h.post(C, { events: [noTime, badTime] }, { token });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.quarantined, 2);
  const [only] = await h.listQuarantine(C);
  for (const body of [{ key: only.key }, { key: only.key }, { connector: C, force: true }]) {
    const r = await replay(body);
    assert.equal(r.objects, 1, JSON.stringify(r));
    assert.equal(r.requeued, 0);
    assert.equal(r.still_quarantined, 2);
    const objects = await h.listQuarantine(C);
    assert.deepEqual(objects.map((o) => o.key), [only.key], "no new object");
    assert.equal(objects[0].doc.events.length, 2);
    assert.ok(objects[0].customMetadata.replayed_at, "marked replayed");
    assert.deepEqual(objects[0].doc.events.map((e) => e.raw), only.doc.events.map((e) => e.raw), "the events are kept as they were");
  }
});

test("a replay that forwards some events rewrites the object with the rest only; replaying it again adds nothing", async () => {
  const C = "replay-partly";
  await h.putConnector(C, connectorConfig(token, writeKey));
  const { badTime } = malformed();
  const fixed = brazeEvent("partly-fixed");
  // An object as an operator may hold: one event that is valid now, one that is not.
  const key = `quarantine/${C}/2026-01-01/1767225600000-0000beef.json`;
  const doc = {
    connector: C,
    received_at: "2026-01-01T00:00:00.000Z",
    reasons: { invalid_time: 2 },
    events: [
      { index: 0, event_id: fixed.id, reason: "invalid_time", detail: "", raw: fixed },
      { index: 1, event_id: badTime.id, reason: "invalid_time", detail: "", raw: badTime },
    ],
  };
  await h.r2.put(key, JSON.stringify(doc));
  const before = h.sink.stats().distinct_message_ids;
  const first = await replay({ key });
  assert.deepEqual(
    { objects: first.objects, requeued: first.requeued, still: first.still_quarantined },
    { objects: 1, requeued: 1, still: 1 },
  );
  await h.waitForMessages(before + 1);
  await h.waitForQueueIdle();
  let objects = await h.listQuarantine(C);
  assert.deepEqual(objects.map((o) => o.key), [key], "the same key, no copy");
  assert.deepEqual(objects[0].doc.events.map((e) => e.event_id), [badTime.id], "only the event still quarantined");
  assert.deepEqual(objects[0].doc.received_at, doc.received_at, "receipt time kept");
  assert.equal(objects[0].customMetadata.events, "1");
  assert.ok(objects[0].customMetadata.replayed_at);
  const second = await replay({ key });
  assert.deepEqual([second.requeued, second.still_quarantined], [0, 1]);
  objects = await h.listQuarantine(C);
  assert.equal(objects.length, 1);
  assert.equal(objects[0].doc.events.length, 1);
});

test("replay of a whole connector is paged: `limit` objects per call, `remaining` and `cursor` until done", async () => {
  const C = "replay-paged";
  await h.putConnector(C, connectorConfig(token, writeKey));
  const { noTime } = malformed();
  for (let i = 0; i < 5; i += 1) {
    const res = await h.post(C, { events: [noTime] }, { token });
    assert.equal(res.status, 200, res.text);
  }
  const keys = (await h.listQuarantine(C)).map((o) => o.key).sort();
  assert.equal(keys.length, 5);

  const pages = [];
  let page = await replay({ connector: C, limit: 2 });
  pages.push(page);
  while (page.remaining > 0) {
    assert.equal(typeof page.cursor, "string", JSON.stringify(page));
    assert.ok(pages.length < 10, "paging must end");
    page = await replay({ connector: C, limit: 2, cursor: page.cursor });
    pages.push(page);
  }
  assert.deepEqual(pages.map((p) => [p.objects, p.remaining]), [[2, 3], [2, 1], [1, 0]]);
  assert.equal(page.cursor, null);
  const after = await h.listQuarantine(C);
  assert.deepEqual(after.map((o) => o.key).sort(), keys, "no object added or lost");
  assert.ok(after.every((o) => o.customMetadata.replayed_at), "every object replayed");
  assert.deepEqual(await replay({ connector: C }), {
    objects: 0, requeued: 0, still_quarantined: 0, filtered: 0, remaining: 0, cursor: null,
  }, "without force, replayed objects are skipped");

  // force: the cursor carries the pages through objects already replayed.
  const forced = [];
  let cursor;
  do {
    const p = await replay({ connector: C, force: true, limit: 3, ...(cursor ? { cursor } : {}) });
    forced.push(p.objects);
    cursor = p.cursor;
  } while (cursor);
  assert.deepEqual(forced, [3, 2]);
  assert.equal((await h.listQuarantine(C)).length, 5);

  for (const bad of [{ connector: C, limit: 0 }, { connector: C, limit: 51 }, { connector: C, cursor: "quarantine/other/x.json" }, { key: keys[0], limit: 2 }]) {
    const r = await h.admin("POST", "/admin/quarantine/replay", bad);
    assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
    assert.equal(r.json.code, "invalid_admin_request");
  }
});
