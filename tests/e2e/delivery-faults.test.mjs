// Never lose an event under Segment faults: 5,000 events through the queue while the sink fails
// 30 % of its requests (500, 503, 429 + Retry-After, hangs past the Worker's timeout, dropped
// connections). Braze always gets 200 once the events are queued; Segment ends with every event
// (duplicates allowed, nothing missing, nothing invented) and the stats say exactly what happened.
// A 429 with `Retry-After: 0` still backs off (the backoff is a floor `Retry-After` can only raise).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { connectorConfig, newToken, newWriteKey } from "./harness.mjs";
import {
  HANG_MS,
  assertExactlyDelivered,
  events,
  settledStats,
  startDeliveryHarness,
  stats,
  total,
  waitUntil,
} from "./delivery-helpers.mjs";

const token = newToken();
const writeKey = newWriteKey("faults");
const CONNECTOR = "faults";
const BATCHES = 50;
const PER_BATCH = 100;
const N = BATCHES * PER_BATCH;
const DEADLINE_MS = 120_000;
let h;

before(async () => {
  h = await startDeliveryHarness({ writeKeys: { main: writeKey }, meterQueue: true });
  await h.putConnector(CONNECTOR, connectorConfig(token, writeKey));
});
after(() => h?.close());

test("5,000 events under 30 % Segment faults: all 200, every event delivered, stats exact", async () => {
  h.sink.setFaults({
    rate: 0.3,
    modes: ["500", "503", "429", "hang", "drop"],
    retryAfter: 1,
    hangMs: HANG_MS,
    seed: 1, // 23 faults in the first 65 requests, every mode 4-5 times
  });
  const ours = new Set();
  const bodies = [];
  for (let b = 0; b < BATCHES; b++) {
    const list = events(`f${b}`, PER_BATCH);
    for (const e of list) ours.add(e.id);
    bodies.push({ events: list });
  }
  assert.equal(ours.size, N);

  const t0 = Date.now();
  // 4 requests in flight, like a Braze connector's few parallel pushes.
  const answers = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < bodies.length) {
        const i = next++;
        answers[i] = await h.post(CONNECTOR, bodies[i], { token });
      }
    }),
  );
  const ingestMs = Date.now() - t0;
  for (const [i, a] of answers.entries()) {
    assert.equal(a.status, 200, `batch ${i}: ${a.status} ${a.text}`);
    assert.equal(a.json.received, PER_BATCH, `batch ${i}: ${a.text}`);
    assert.equal(a.json.accepted, PER_BATCH, `batch ${i}: ${a.text}`);
    assert.equal(a.json.filtered, 0, `batch ${i}: ${a.text}`);
    assert.equal(a.json.quarantined, 0, `batch ${i}: ${a.text}`);
    assert.ok(a.json.messages >= 1, `batch ${i}: no queue message in ${a.text}`);
  }
  const messages = answers.reduce((n, a) => n + a.json.messages, 0);

  await waitUntil(() => h.sink.stats().distinct_message_ids >= N, {
    timeoutMs: DEADLINE_MS,
    intervalMs: 250,
    what: `${N} distinct messageIds at the sink`,
    describe: () => {
      const s = h.sink.stats();
      return { distinct: s.distinct_message_ids, faults: s.faults, requests: s.requests };
    },
  });
  const deliveredMs = Date.now() - t0;
  // Faults stop only now: everything above was delivered through them.
  const faultStats = h.sink.stats();
  h.sink.setFaults(null);

  const view = assertExactlyDelivered(h.sink, ours, "faults:");
  assert.equal(faultStats.distinct_message_ids, N, "no messageId beyond ours");
  const faulted = total(faultStats.faults);
  assert.ok(faulted > 0, "the sink injected no fault: the test proves nothing");
  for (const mode of ["500", "503", "429", "hang", "drop"]) {
    assert.ok((faultStats.faults[mode] ?? 0) > 0, `fault mode ${mode} never fired: ${JSON.stringify(faultStats.faults)}`);
  }

  // Stats once every message is done (the consumer reports after its sends) and every ingest
  // delta has landed: nothing can change them, or the sink, any more.
  const s = await settledStats(h, CONNECTOR, N);
  const sinkNow = h.sink.stats();
  // Ingest deltas arrive concurrently (4 requests in flight): a lost update shows here.
  assert.equal(s.received, N, "stats.received: ingest deltas were lost (concurrent updates of ConnectorStats)");
  assert.equal(s.accepted, N, "stats.accepted: ingest deltas were lost (concurrent updates of ConnectorStats)");
  assert.equal(total(s.filtered), 0, JSON.stringify(s.filtered));
  assert.equal(total(s.quarantined), 0, JSON.stringify(s.quarantined));
  assert.equal(s.replayed ?? 0, 0);
  assert.equal(s.delivered, sinkNow.accepted_events, "stats.delivered = events the sink accepted (duplicates included)");
  assert.ok(s.retried > 0, "stats.retried must count the re-enqueued events");
  assert.equal(s.retried, faultStats.faulted_events, "every faulted event was retried once per fault, no more");
  assert.equal(total(s.held), 0, JSON.stringify(s.held));
  assert.ok(s.last_success_ms > 0, "last_success_ms");
  assert.ok(s.last_error && typeof s.last_error.code === "string", `last_error ${JSON.stringify(s.last_error)}`);

  console.log(
    `# faults: ingest of ${N} events (${BATCHES} × ${PER_BATCH}) in ${ingestMs} ms, ${messages} queue messages; ` +
      `all delivered after ${deliveredMs} ms; sink requests ${faultStats.requests}, faults ${JSON.stringify(faultStats.faults)} ` +
      `(${faulted} requests, ${faultStats.faulted_events} events); duplicates ${view.copies - N}; ` +
      `stats retried ${s.retried}, delivered ${s.delivered}`,
  );
});

test("stats count every event of 40 concurrent ingest requests and their deliveries", async () => {
  const C = "faults-concurrent";
  await h.putConnector(C, connectorConfig(token, writeKey));
  h.sink.setFaults(null);
  const before = h.sink.stats().distinct_message_ids;
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, b) => h.post(C, { events: events(`c${b}`, 5) }, { token })),
  );
  for (const a of answers) assert.equal(a.status, 200, a.text);
  await waitUntil(() => h.sink.stats().distinct_message_ids >= before + 200, {
    timeoutMs: 30_000, what: "200 events at the sink", describe: () => h.sink.stats(),
  });
  // Every delivery delta is written once the queue is idle; the ingest deltas (waitUntil, after
  // each answer) once `received` reaches 200: a lost concurrent update never gets there.
  const final = await settledStats(h, C, 200);
  assert.deepEqual(
    { received: final.received, accepted: final.accepted, delivered: final.delivered },
    { received: 200, accepted: 200, delivered: 200 },
    `concurrent stats updates were lost: ${JSON.stringify({ received: final.received, accepted: final.accepted })}`,
  );
});

test("Segment 429 with Retry-After: 0 does not turn backoff off: 4 refusals span ≥ the backoff floors (0.25 + 0.5 + 1 s), then delivered once", async () => {
  const C = "faults-retry-after-0";
  const N = 3;
  const REFUSALS = 4;
  // Backoff floors of attempts 0..2 (0.5 s × 2ⁿ, half of it fixed under equal jitter): the least
  // time between the first and the fourth 429 once Retry-After no longer shortens the backoff.
  const FLOORS_MS = [250, 500, 1000, 2000];
  const SPAN_MS = FLOORS_MS.slice(0, REFUSALS - 1).reduce((a, b) => a + b, 0);
  await h.putConnector(C, connectorConfig(token, writeKey));
  h.sink.reset();
  h.sink.setFaults({ next: Array(REFUSALS).fill(429), retryAfter: 0 });
  try {
    const list = events("ra0", N);
    const ours = new Set(list.map((e) => e.id));
    const res = await h.post(C, { events: list }, { token });
    assert.equal(res.status, 200, res.text);
    const firstAt = await waitUntil(() => h.sink.stats().fault_requests >= 1 && Date.now(), {
      timeoutMs: 20_000, intervalMs: 10, what: "the first 429", describe: () => h.sink.stats(),
    });
    const lastAt = await waitUntil(() => h.sink.stats().fault_requests >= REFUSALS && Date.now(), {
      timeoutMs: 30_000, intervalMs: 10, what: `${REFUSALS} 429s`, describe: () => h.sink.stats(),
    });
    await waitUntil(async () => (await stats(h, C)).delivered >= N, {
      timeoutMs: 30_000, what: "delivered in the stats", describe: async () => ({ sink: h.sink.stats(), stats: await stats(h, C) }),
    });
    await h.settled();

    const sink = h.sink.stats();
    assert.equal(sink.faults["429"], REFUSALS, "the sink answered 429 exactly as planned");
    // Lower bound only (a slow machine is later, never earlier), less twice the 10 ms polling step.
    assert.ok(
      lastAt - firstAt >= SPAN_MS - 20,
      `${REFUSALS} requests within ${lastAt - firstAt} ms: Retry-After: 0 made the retries skip the backoff`,
    );
    // The delays the Worker chose (its segment_failure lines): each at least its attempt's floor.
    const delays = h.logs
      .map(({ message }) => { try { return JSON.parse(message); } catch { return null; } })
      .filter((l) => l?.event === "segment_failure" && l.connector === C)
      .map((l) => [l.status, l.outcome, l.retry_after_ms]);
    assert.equal(delays.length, REFUSALS, JSON.stringify(delays));
    delays.forEach(([status, outcome, ms], attempt) => {
      assert.deepEqual([status, outcome], [429, "retry"]);
      assert.ok(ms >= FLOORS_MS[attempt], `attempt ${attempt}: waits ${ms} ms, below its backoff floor ${FLOORS_MS[attempt]} ms`);
    });
    assertExactlyDelivered(h.sink, ours, "after Retry-After: 0:");
    assert.equal(sink.accepted_events, N, "each event once");
    const s = await stats(h, C);
    assert.equal(s.delivered, N);
    assert.equal(s.retried, REFUSALS * N, "each refusal retried the message's events once");
  } finally {
    h.sink.setFaults(null);
  }
});
