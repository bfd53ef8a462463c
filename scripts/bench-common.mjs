// Helpers shared by the end-to-end benchmarks (bench-e2e.mjs, bench-delivery.mjs).

import { brazeEvent } from "../tests/e2e/harness.mjs";

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
