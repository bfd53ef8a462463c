#!/usr/bin/env node
// The wasm half of scripts/bench-speed.sh: `BenchIngest.run` (the Worker's ingest of one batch:
// the body's bytes in, the queue bodies out as JavaScript strings) on the 100-event batch of the native benchmark,
// 21 rounds of at least 150 ms each after a warm-up; prints the median ms per batch and the
// queue body bytes. RELAY_PKG names a Node build with the `bench` feature.

import { createRequire } from "node:module";
import path from "node:path";
import { goldenBatch as batch, goldenConfig as config } from "./bench-common.mjs";

if (!process.env.RELAY_PKG) throw new Error("RELAY_PKG must name a Node build with the bench feature");
const relay = createRequire(import.meta.url)(path.join(path.resolve(process.env.RELAY_PKG), "currents_relay.js"));
if (!relay.BenchIngest) throw new Error("this build has no BenchIngest: build it with --features bench");

const ingest = new relay.BenchIngest(JSON.stringify(config));
const body = Buffer.from(batch(100));
const bytes = ingest.run(body);

function perCall(ms) {
  let reps = 0;
  const t0 = performance.now();
  let elapsed;
  do {
    ingest.run(body);
    reps++;
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return elapsed / reps;
}

perCall(1000);
const rounds = Array.from({ length: 21 }, () => perCall(150)).sort((a, b) => a - b);
console.log(`${rounds[10].toFixed(3)} ${bytes}`);
