#!/usr/bin/env node
// Durable delivery benchmark (docs/BENCHMARKS.md §5): the built Worker under Miniflare/workerd
// with its real Queue, Durable Object and R2, and the local Segment sink.
//
//   1. Ingest latency with the queue: 100-event Currents batches, answered once queued
//      (p50/p99 at the caller), at 1 and 8 requests in flight.
//   2. End-to-end delivery lag: time from the ingest 200 of a batch to the first arrival of each
//      of its events at the sink, without faults and with the sink failing 30 % of its requests
//      (500, 503, 429 + Retry-After 1, hangs past the Worker's Segment timeout, dropped connections).
//   3. Queue operations per 100 events in the fault run, from the ingest answers' `messages` and
//      the connector's stats (`retried`, `held`, `split`).
//   4. A refused event in every 100-event message (the sink's `poison` fault answers 400 to any
//      batch holding one): the cost of bisecting down to it, in Segment requests and lag.
//
// Usage: node scripts/bench-delivery.mjs [--batches N] [--lag-batches N] [--warmup N]
// Prints a markdown report for docs/BENCHMARKS.md.

import os from "node:os";
import { EVENTS_PER_BATCH, bodies, ms, percentile } from "./bench-common.mjs";
import { connectorConfig, newToken, newWriteKey, requireBuild } from "../tests/e2e/harness.mjs";
import {
  HANG_MS,
  SEGMENT_TIMEOUT_MS,
  idOf,
  startDeliveryHarness,
  stats,
  total,
  waitUntil,
} from "../tests/e2e/delivery-helpers.mjs";


function parseArgs(argv) {
  const args = { batches: 500, lagBatches: 50, warmup: 30 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--batches") args.batches = Number(argv[++i]);
    else if (argv[i] === "--lag-batches") args.lagBatches = Number(argv[++i]);
    else if (argv[i] === "--warmup") args.warmup = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

const secs = (v) => `${(v / 1000).toFixed(2)} s`;

/** Pre-serialised 100-event bodies with distinct ids `${tag}-${b}-${i}`. */

/** Posts `list` with `concurrency` in flight; returns per-request {status, json, startedAt, doneAt}. */
async function post(h, connector, token, list, concurrency) {
  const out = new Array(list.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < list.length) {
        const i = next++;
        const startedAt = performance.now();
        const res = await h.post(connector, list[i], { token });
        out[i] = { status: res.status, json: res.json, startedAt, doneAt: performance.now() };
      }
    }),
  );
  return out;
}

/** Waits until every event of `tag` reached the sink (or throws after `timeoutMs`). */
function drained(h, expected, timeoutMs) {
  return waitUntil(() => h.sink.stats().distinct_message_ids >= expected, {
    timeoutMs,
    intervalMs: 100,
    what: `${expected} distinct messageIds at the sink`,
    describe: () => h.sink.stats(),
  });
}

async function ingestLatency(h, token, args) {
  const rows = [];
  let expected = 0;
  await h.putConnector("bench-ingest", connectorConfig(token, h.writeKey));
  // Warm-up (isolate, wasm compile, KV/DO first touch), delivered before measuring.
  await post(h, "bench-ingest", token, bodies(args.warmup, "w"), 4);
  expected += args.warmup * EVENTS_PER_BATCH;
  await drained(h, expected, 120_000);
  for (const concurrency of [1, 8]) {
    const list = bodies(args.batches, `i${concurrency}`);
    const t0 = performance.now();
    const answers = await post(h, "bench-ingest", token, list, concurrency);
    const seconds = (performance.now() - t0) / 1000;
    const lat = answers.map((a) => a.doneAt - a.startedAt).sort((a, b) => a - b);
    const failures = answers.filter((a) => a.status !== 200 || a.json?.accepted !== EVENTS_PER_BATCH).length;
    rows.push({
      concurrency,
      batchesPerSecond: args.batches / seconds,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      failures,
    });
    expected += args.batches * EVENTS_PER_BATCH;
    // Let the consumer drain, so the next row does not measure ingest against a busy consumer.
    await drained(h, expected, 300_000);
  }
  return rows;
}

/** The event of each 100-event batch that the poison run marks for refusal. */
const POISONED_INDEX = 37;
const POISON = "bench-refused-event";

/** `list` with event POISONED_INDEX of every body carrying the poison marker in a property. */
function poisoned(list) {
  return list.map((body) => {
    const doc = JSON.parse(body);
    doc.events[POISONED_INDEX].properties.campaign_name = POISON;
    return JSON.stringify(doc);
  });
}

async function lagRun(h, token, args, label, faults, pauseMs = 0) {
  const connector = `bench-lag-${label}`;
  await h.putConnector(connector, connectorConfig(token, h.writeKey, { paused: pauseMs > 0 }));
  const before = h.sink.stats();
  const startDistinct = before.distinct_message_ids;
  h.sink.setFaults(faults);
  const tag = `l${label}`;
  const poison = faults?.poison !== undefined;
  const list = poison ? poisoned(bodies(args.lagBatches, tag)) : bodies(args.lagBatches, tag);
  const refused = poison ? args.lagBatches : 0;
  const t0 = performance.now();
  const answers = await post(h, connector, token, list, 4);
  if (pauseMs > 0) {
    await new Promise((r) => setTimeout(r, pauseMs));
    await h.putConnector(connector, connectorConfig(token, h.writeKey));
  }
  const n = args.lagBatches * EVENTS_PER_BATCH;
  await drained(h, startDistinct + n - refused, 180_000);
  const wallMs = performance.now() - t0;
  const sinkAfter = h.sink.stats();
  h.sink.setFaults(null);

  // performance.now() ↔ Date.now(): the sink stamps arrivals with Date.now().
  const toEpoch = Date.now() - performance.now();
  const doneAt = answers.map((a) => a.doneAt + toEpoch);
  const firstSeen = h.sink.firstSeen();
  const lags = [];
  const seen = new Set();
  for (const e of h.sink.events()) {
    const id = idOf(e);
    if (!id?.startsWith(`${tag}-`) || seen.has(e.messageId)) continue;
    seen.add(e.messageId);
    const batch = Number(id.split("-")[1]);
    lags.push(firstSeen.get(e.messageId) - doneAt[batch]);
  }
  lags.sort((a, b) => a - b);
  // Stats catch up with the sink's count.
  const s = await waitUntil(
    async () => {
      const st = await stats(h, connector);
      return st.delivered >= n - refused && total(st.quarantined) >= refused ? st : null;
    },
    { timeoutMs: 15_000, what: "stats.delivered", describe: () => stats(h, connector) },
  );
  if (poison && (total(s.quarantined) !== refused || s.quarantined.segment_rejected !== refused)) {
    throw new Error(`poison run: expected ${refused} segment_rejected, got ${JSON.stringify(s.quarantined)}`);
  }
  const messages = answers.reduce((m, a) => m + (a.json?.messages ?? 0), 0);
  const held = total(s.held);
  const eventsPerMessage = n / messages;
  const requests = sinkAfter.requests - before.requests;
  const faultRequests = (sinkAfter.fault_requests ?? 0) - (before.fault_requests ?? 0);
  // Every message written is read once and acked once by the consumer; a retry or a hold is an
  // ack of the read message plus one new (delayed) message.
  // A split writes two messages for one read: as many new messages as events split / their size
  // is not fixed, so count split writes from the requests instead: every request beyond the
  // first of a message came from a split (no other faults in that run).
  const splitWrites = poison ? (sinkAfter.requests - before.requests) - messages : 0;
  const rewrites = (s.retried + held) / eventsPerMessage + splitWrites;
  const writes = messages + rewrites;
  const per100 = (v) => (v * 100) / n;
  return {
    label,
    events: n,
    failures: answers.filter((a) => a.status !== 200).length,
    wallMs,
    lag: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags[lags.length - 1], count: lags.length },
    faults: Object.fromEntries(
      Object.entries(sinkAfter.faults).map(([k, v]) => [k, v - (before.faults[k] ?? 0)]),
    ),
    ops: {
      messages,
      retried: s.retried,
      held,
      eventsPerMessage,
      writesPer100: per100(writes),
      readsPer100: per100(writes),
      acksPer100: per100(writes),
      segmentRequestsPer100: per100(requests),
      faultRequests,
      delivered: s.delivered,
      duplicates: s.delivered - (n - refused),
      split: s.split ?? 0,
      quarantined: total(s.quarantined),
    },
  };
}

async function main() {
  requireBuild();
  const args = parseArgs(process.argv.slice(2));
  const writeKey = newWriteKey("bench");
  const token = newToken();
  const h = await startDeliveryHarness({ writeKeys: { main: writeKey }, batchTimeoutS: 1 });
  h.writeKey = writeKey;
  try {
    const ingest = await ingestLatency(h, token, args);
    const clean = await lagRun(h, token, args, "clean", null);
    const faulty = await lagRun(h, token, args, "faults", {
      rate: 0.3,
      modes: ["500", "503", "429", "hang", "drop"],
      retryAfter: 1,
      hangMs: HANG_MS,
      seed: 1, // 23 faults in the first 65 requests, every mode 4-5 times
    });
    const paused = await lagRun(h, token, args, "paused", null, 10_000);
    const refused = await lagRun(h, token, args, "refused", { poison: POISON });
    report(args, ingest, [clean, faulty, paused, refused]);
  } finally {
    await h.close();
  }
}

const LABELS = {
  clean: "no faults",
  faults: "30 % faults",
  paused: "paused 10 s, then resumed",
  refused: "1 refused event per 100 (400 to any batch holding one)",
};

function report(args, ingest, lagRuns) {
  const cpu = os.cpus()[0]?.model ?? "?";
  console.log(`\nMeasured ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${cpu}), Node ${process.version}; ` +
    `SEGMENT_TIMEOUT_MS ${SEGMENT_TIMEOUT_MS}, hang faults ${HANG_MS} ms.\n`);
  console.log("Ingest latency (100-event batches, answered once queued):\n");
  console.log("| in flight | batches | batches/s | p50 | p99 | failures |");
  console.log("|---:|---:|---:|---:|---:|---:|");
  for (const r of ingest) {
    console.log(`| ${r.concurrency} | ${args.batches} | ${r.batchesPerSecond.toFixed(1)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.failures} |`);
  }
  console.log("\nEnd-to-end delivery lag (ingest 200 → first arrival at the sink, per event; 4 requests in flight):\n");
  console.log("| sink | events | p50 | p99 | max | all delivered after | ingest failures | faults injected |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of lagRuns) {
    const f = Object.entries(r.faults).filter(([, v]) => v > 0).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
    console.log(`| ${LABELS[r.label]} | ${r.lag.count} | ${secs(r.lag.p50)} | ${secs(r.lag.p99)} | ` +
      `${secs(r.lag.max)} | ${secs(r.wallMs)} | ${r.failures} | ${f} |`);
  }
  console.log("\nQueue operations per 100 events:\n");
  console.log("| sink | messages at ingest | events/message | retried events | held events | split events | written / 100 ev | read / 100 ev | acked / 100 ev | Segment requests / 100 ev | delivered (dupes) | quarantined |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of lagRuns) {
    const o = r.ops;
    console.log(`| ${LABELS[r.label]} | ${o.messages} | ${o.eventsPerMessage.toFixed(0)} | ${o.retried} | ${o.held} | ${o.split} | ` +
      `${o.writesPer100.toFixed(2)} | ${o.readsPer100.toFixed(2)} | ${o.acksPer100.toFixed(2)} | ${o.segmentRequestsPer100.toFixed(2)} | ${o.delivered} (${o.duplicates}) | ${o.quarantined} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
