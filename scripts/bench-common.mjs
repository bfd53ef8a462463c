// Helpers shared by the benchmarks: the end-to-end ones (bench-e2e.mjs, bench-delivery.mjs) and
// the translator's in wasm (bench-wasm.mjs, bench-speed.mjs).

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brazeEvent } from "../tests/e2e/harness.mjs";

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../tests/golden");

/** The golden connector config (tests/golden/connector.json), as an object. */
export const goldenConfig = JSON.parse(readFileSync(path.join(GOLDEN, "connector.json"), "utf8"));

const samples = readdirSync(GOLDEN)
  .filter((f) => f.endsWith(".braze.json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(GOLDEN, f), "utf8")));

/** The native benchmarks' batch (tests/benches/translate.rs): the golden Braze samples cycled,
 * each event with its own id, as the request body text. */
export function goldenBatch(n) {
  const events = [];
  for (let i = 0; i < n; i++) {
    const e = structuredClone(samples[i % samples.length]);
    e.id = `${i.toString(16).padStart(8, "0")}-5b2c-4a4e-9a8e-${(i * 7919).toString(16).padStart(12, "0")}`;
    events.push(e);
  }
  return JSON.stringify({ events });
}

/** Braze's default Currents batch size. */
export const EVENTS_PER_BATCH = 100;

/** `count` Currents request bodies of 100 realistic email events each, every event id distinct. */
export function bodies(count, tag) {
  return Array.from({ length: count }, (_, b) =>
    JSON.stringify({
      events: Array.from({ length: EVENTS_PER_BATCH }, (_, i) =>
        brazeEvent(`${tag}-${b}-${i}`, {
          properties: {
            app_id: "bench-app",
            campaign_id: "c-1",
            campaign_name: "Spring sale",
            message_variation_id: "v-1",
            email_address: `user${i}@example.com`,
            send_id: `s-${b}`,
          },
        }),
      ),
    }),
  );
}

/** The p-th percentile (nearest rank) of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

/** A duration in ms, rounded for tables. */
export const ms = (v) => (v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);
