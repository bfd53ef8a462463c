#!/usr/bin/env node
// `npm run send-samples`: posts every Braze sample event (tests/fixtures/braze-samples/users/**)
// to the demo connector of a running `npm start`, in Currents batches of 100, then prints the
// Worker's summaries and what the Segment sink received.
//
// Reads the demo token from .wrangler/demo-connector.json (written by `npm start`).
// Overrides: RELAY_URL (Worker base URL), SINK_URL (sink base URL).

import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DEMO_FILE = path.join(ROOT, ".wrangler/demo-connector.json");
const SAMPLES_DIR = path.join(ROOT, "tests/fixtures/braze-samples/users");
/** Braze's default Currents batch size (CONTRACTS §1). */
const BATCH_SIZE = 100;

function samples(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...samples(full));
    else if (entry.name.endsWith(".json")) out.push(JSON.parse(readFileSync(full, "utf8")));
  }
  return out;
}

async function main() {
  if (!existsSync(DEMO_FILE)) {
    throw new Error(`${path.relative(ROOT, DEMO_FILE)} not found: start the relay with \`npm start\` first`);
  }
  const demo = JSON.parse(readFileSync(DEMO_FILE, "utf8"));
  const endpoint = process.env.RELAY_URL
    ? `${process.env.RELAY_URL.replace(/\/$/, "")}/v1/currents/${demo.connector}`
    : demo.endpoint;
  const sinkUrl = (process.env.SINK_URL ?? demo.sink).replace(/\/$/, "");
  const events = samples(SAMPLES_DIR);
  console.log(`sending ${events.length} sample events to ${endpoint} in batches of ${BATCH_SIZE}`);

  const totals = { received: 0, accepted: 0, filtered: 0, quarantined: 0, batches: 0 };
  for (let i = 0; i < events.length; i += BATCH_SIZE) {
    const batch = events.slice(i, i + BATCH_SIZE);
    const res = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "braze-currents-version": "1",
        authorization: `Bearer ${demo.token}`,
      },
      body: JSON.stringify({ events: batch }),
    });
    const text = await res.text();
    console.log(`  batch ${i / BATCH_SIZE + 1} (${batch.length} events): ${res.status} ${text}`);
    if (!res.ok) process.exitCode = 1;
    else for (const k of Object.keys(totals)) totals[k] += JSON.parse(text)[k] ?? 0;
  }
  console.log(`Worker totals: ${JSON.stringify(totals)}`);

  // Delivery is asynchronous (the Worker's queue consumer): wait up to 30 s for the sink.
  let stats;
  for (let i = 0; i < 60; i++) {
    stats = await (await fetch(`${sinkUrl}/stats`)).json();
    if (stats.accepted_events >= totals.accepted) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`Segment sink (${sinkUrl}/stats):`);
  console.log(`  requests ${stats.requests}, accepted batches ${stats.accepted_batches}, ` +
    `accepted events ${stats.accepted_events}, distinct messageIds ${stats.distinct_message_ids}`);
  console.log(`  by source ${JSON.stringify(stats.by_source)}, by region ${JSON.stringify(stats.by_region)}`);
  if (stats.distinct_message_ids < stats.accepted_events) {
    console.log("  (the official samples share one event id, so they share messageIds: Segment would dedupe them)");
  }
  if (Object.keys(stats.rejected).length) console.log(`  rejected ${JSON.stringify(stats.rejected)}`);
  if (stats.auth_invalid) console.log(`  requests with an unknown write key: ${stats.auth_invalid}`);
  const names = {};
  for (const e of await (await fetch(`${sinkUrl}/events`)).json()) names[e.event] = (names[e.event] ?? 0) + 1;
  console.log(`  event names: ${Object.keys(names).length} distinct`);
  for (const [name, n] of Object.entries(names).sort()) console.log(`    ${String(n).padStart(4)}  ${name}`);
  if (totals.accepted === 0 || stats.accepted_events === 0) {
    console.error("nothing reached the sink");
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`send-samples: ${e.message}`);
  process.exit(1);
});
