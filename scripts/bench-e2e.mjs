#!/usr/bin/env node
// `npm run bench:e2e`: end-to-end throughput and latency of 100-event Currents batches through
// the built Worker (Miniflare/workerd) to the local Segment sink, plus the wasm bundle size.
// Prints a markdown table for docs/BENCHMARKS.md.
//
// Options: --batches N (per scenario, default 2000), --concurrency a,b,... (default 1,8,32),
//          --warmup N (default 30).
// Latency is measured at the caller (Node → workerd → Worker → sink → back), on loopback.

import { EVENTS_PER_BATCH, bodies, percentile } from "./bench-common.mjs";
import { readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import {
  ROOT,
  SHIM,
  connectorConfig,
  newToken,
  newWriteKey,
  requireBuild,
  startHarness,
} from "../tests/e2e/harness.mjs";


function parseArgs(argv) {
  const args = { batches: 2000, concurrency: [1, 8, 32], warmup: 30 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--batches") args.batches = Number(argv[++i]);
    else if (argv[i] === "--concurrency") args.concurrency = argv[++i].split(",").map(Number);
    else if (argv[i] === "--warmup") args.warmup = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}


/** Pre-serialised bodies with distinct event ids, so nothing is deduplicated or cached. */

async function scenario(h, token, concurrency, list) {
  const latencies = [];
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < list.length) {
      const body = list[next++];
      const t0 = performance.now();
      const res = await h.post("bench", body, { token });
      latencies.push(performance.now() - t0);
      if (res.status !== 200 || res.json?.accepted !== EVENTS_PER_BATCH) failures++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    batches: list.length,
    failures,
    batchesPerSec: list.length / seconds,
    eventsPerSec: (list.length * EVENTS_PER_BATCH) / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** The wasm files next to the Worker's entry point (build/index_bg.wasm). */
function wasmSizes() {
  const dir = path.dirname(SHIM);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".wasm"))
    .map((name) => {
      const file = path.join(dir, name);
      return {
        file: path.relative(ROOT, file),
        raw: statSync(file).size,
        gzip: gzipSync(readFileSync(file), { level: 9 }).length,
      };
    });
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  requireBuild();
  const token = newToken();
  const writeKey = newWriteKey("bench");
  const h = await startHarness({ writeKeys: { main: writeKey }, batchTimeoutS: 1 });
  try {
    await h.putConnector("bench", connectorConfig(token, writeKey));
    await scenario(h, token, 4, bodies(args.warmup, "warm"));
    const results = [];
    for (const c of args.concurrency) {
      h.sink.reset();
      const r = await scenario(h, token, c, bodies(args.batches, `c${c}`));
      const delivered = h.sink.stats().distinct_message_ids;
      if (delivered !== args.batches * EVENTS_PER_BATCH) r.failures += 1;
      results.push(r);
      console.error(`concurrency ${c}: ${r.batchesPerSec.toFixed(1)} batches/s, failures ${r.failures}`);
    }
    const sizes = wasmSizes();
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const lines = [
      `End-to-end: 100-event Currents batches → Worker (Miniflare ${pkgVersion("miniflare")}, workerd) → local Segment sink.`,
      `Machine: ${os.cpus().length} × ${cpu}, Node ${process.version}; ${args.batches} batches per row after ${args.warmup} warm-up batches.`,
      "",
      "| in flight | batches | batches/s | events/s | p50 latency | p99 latency | failures |",
      "|---:|---:|---:|---:|---:|---:|---:|",
      ...results.map((r) =>
        `| ${r.concurrency} | ${r.batches} | ${r.batchesPerSec.toFixed(1)} | ${Math.round(r.eventsPerSec)} | ` +
        `${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.failures} |`),
      "",
      "| wasm bundle | raw | gzip -9 |",
      "|---|---:|---:|",
      ...sizes.map((s) => `| \`${s.file}\` | ${s.raw} B (${kib(s.raw)}) | ${s.gzip} B (${kib(s.gzip)}) |`),
    ];
    console.log(lines.join("\n"));
    if (results.some((r) => r.failures > 0)) process.exitCode = 1;
  } finally {
    await h.close();
  }
}

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

main().catch((e) => {
  console.error(`bench-e2e: ${e.message}`);
  process.exit(1);
});
