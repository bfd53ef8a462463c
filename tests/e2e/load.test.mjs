// 200 concurrent Currents batches of 100 events each: every event reaches Segment exactly once.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brazeEvent, connectorConfig, newToken, newWriteKey, startHarness } from "./harness.mjs";

const BATCHES = 200;
const PER_BATCH = 100;
const token = newToken();
const writeKey = newWriteKey("load");
let h;

before(async () => {
  // A generous Segment timeout: under this load a slow sink answer must not turn into a retry
  // (which Segment would dedupe, but the exactly-once count here would not).
  h = await startHarness({ writeKeys: { main: writeKey }, segmentTimeoutMs: 30_000, meterQueue: true });
  await h.putConnector("load", connectorConfig(token, writeKey));
});
after(() => h?.close());

test(`${BATCHES} concurrent batches of ${PER_BATCH} events are queued and delivered exactly once`, async () => {
  const requests = [];
  for (let b = 0; b < BATCHES; b++) {
    const events = [];
    for (let i = 0; i < PER_BATCH; i++) events.push(brazeEvent(`load-${b}-${i}`));
    requests.push(h.post("load", { events }, { token }));
  }
  const results = await Promise.all(requests);
  const failed = results.filter((r) => r.status !== 200);
  assert.equal(failed.length, 0, `first failure: ${failed[0]?.status} ${failed[0]?.text}`);
  for (const r of results) assert.equal(r.json.accepted, PER_BATCH, r.text);
  await h.waitForMessages(BATCHES * PER_BATCH, { timeoutMs: 90_000 });
  // Every queued message is done: a duplicate still on its way would show here.
  await h.waitForQueueIdle();
  const stats = h.sink.stats();
  assert.equal(stats.distinct_message_ids, BATCHES * PER_BATCH);
  assert.equal(stats.accepted_events, BATCHES * PER_BATCH);
  assert.equal(stats.duplicate_message_ids, 0);
  const userIds = new Set(h.sink.events().map((e) => e.userId));
  assert.equal(userIds.size, BATCHES * PER_BATCH);
});
