//! Translate+batch throughput against a serde_json baseline measured in the same run.
//!
//! Ours: `process()` (parse, validate, translate, batch) plus rendering every Segment request
//! body. Baseline: `serde_json::from_slice::<Value>` of the same input bytes plus `to_string` of
//! a `Value` the size of our output — the least any Value-based translator would have to do.
//! Also `worker_ingest`: the Worker's ingest work on the batch (`process()` and the queue message
//! bodies, in pieces), the native figure `scripts/bench-wasm.mjs` compares its `BenchIngest` time with.
//! First a table from 21 alternating rounds (the ratio to trust on a shared machine), then
//! criterion's own measurements.
//! Run: `cargo bench --bench translate`; report in docs/BENCHMARKS.md.
#![allow(missing_docs, clippy::print_stdout)] // a report on stdout; criterion's and dhat's macros define undocumented items

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group};
use currents_relay::delivery::QUEUE_PIECE_BYTES;
use currents_relay::{ConnectorConfig, ProcessContext, process};
use serde_json::{Value, json};

fn samples() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut out: Vec<Value> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".braze.json"))
        .map(|p| serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    out.sort_by_key(|v| v["event_type"].as_str().unwrap().to_owned());
    out
}

/// A batch of `n` events cycling through the 50 samples, each with its own id.
fn batch(n: usize) -> Vec<u8> {
    let samples = samples();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = samples[i % samples.len()].clone();
            e["id"] = json!(format!("{:08x}-5b2c-4a4e-9a8e-{:012x}", i, i * 7919));
            e
        })
        .collect();
    json!({ "events": events }).to_string().into_bytes()
}

fn config() -> ConnectorConfig {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/connector.json"),
    )
    .unwrap();
    ConnectorConfig::from_json(&text).unwrap()
}

const SENT_AT: &str = "2026-11-28T15:39:14.123Z";

/// `body` through `process()`, as the Worker does for connector "bench".
fn processed(body: &[u8], config: &ConnectorConfig) -> currents_relay::pipeline::Outcome {
    let ctx = ProcessContext {
        connector_id: "bench",
        nearest_region: None,
        received_ms: 0,
    };
    process(body, config, &ctx).unwrap()
}

/// The Segment bodies of `outcome`, parsed: what the baseline writes back.
fn segment_bodies(outcome: &currents_relay::pipeline::Outcome) -> Value {
    let bodies: Vec<Value> = outcome
        .batches
        .iter()
        .map(|b| serde_json::from_str(&b.segment_body(SENT_AT)).unwrap())
        .collect();
    Value::from(bodies)
}

fn ours(body: &[u8], config: &ConnectorConfig) -> usize {
    let outcome = processed(body, config);
    outcome
        .batches
        .iter()
        .map(|b| b.segment_body(SENT_AT).len())
        .sum()
}

/// What the Worker's ingest does with a batch (`BenchIngest` in the wasm build): `process()`,
/// the stats body and the answer of `ingest::plan`, and the queue message bodies written in the
/// pieces the Worker copies out (here, each piece copied into the message's own string).
fn ingest(body: &[u8], config: &ConnectorConfig) -> usize {
    let outcome = processed(body, config);
    let plan = currents_relay::ingest::plan("bench", None, &outcome, 0);
    let mut buf = String::new();
    let bodies: Vec<String> = outcome
        .batches
        .iter()
        .map(|m| {
            let mut out = String::new();
            m.write_json_pieces(&mut buf, QUEUE_PIECE_BYTES, |piece| out.push_str(piece));
            out
        })
        .collect();
    black_box(&plan);
    bodies.iter().map(String::len).sum()
}

fn baseline(body: &[u8], output: &Value) -> usize {
    let parsed: Value = serde_json::from_slice(body).unwrap();
    black_box(&parsed);
    serde_json::to_string(output).unwrap().len()
}

fn bench(c: &mut Criterion) {
    let config = config();
    for n in [100usize, 2_500] {
        let body = batch(n);
        let outcome = processed(&body, &config);
        assert_eq!(outcome.accepted(), n, "every bench event is forwarded");
        let output = segment_bodies(&outcome);

        let mut group = c.benchmark_group(format!("batch_{n}"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function("baseline_serde_value", |b| {
            b.iter(|| baseline(black_box(&body), black_box(&output)))
        });
        group.bench_function("translate_and_batch", |b| {
            b.iter(|| ours(black_box(&body), black_box(&config)))
        });
        group.bench_function("worker_ingest", |b| {
            b.iter(|| ingest(black_box(&body), black_box(&config)))
        });
        group.finish();
    }
}

/// Mean time per call (µs) of `f` over at least 100 ms.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // a benchmark reads the clock
fn per_call(mut f: impl FnMut() -> usize) -> f64 {
    let start = std::time::Instant::now();
    let mut calls = 0u32;
    while start.elapsed().as_millis() < 100 {
        black_box(f());
        calls += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

fn median(mut list: Vec<f64>) -> f64 {
    list.sort_by(f64::total_cmp);
    list[list.len() / 2]
}

/// The three measures of a 100-event batch in 21 rounds, their order rotating each round so
/// machine noise hits all alike: medians, and the median of the per-round ratios.
fn rounds() {
    let config = config();
    let body = batch(100);
    let outcome = processed(&body, &config);
    let output = segment_bodies(&outcome);
    let mut times: [Vec<f64>; 3] = Default::default();
    for round in 0..21 {
        for k in 0..3 {
            let which = (round + k) % 3;
            times[which].push(match which {
                0 => per_call(|| baseline(&body, &output)),
                1 => per_call(|| ours(&body, &config)),
                _ => per_call(|| ingest(&body, &config)),
            });
        }
    }
    let ratios: Vec<f64> = times[0].iter().zip(&times[1]).map(|(b, o)| b / o).collect();
    println!(
        "| 100 events, 21 rounds | baseline | translate_and_batch | worker_ingest | ours ÷ baseline (speed) |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| median | {:.1} µs | {:.1} µs | {:.1} µs | {:.2} |",
        median(times[0].clone()),
        median(times[1].clone()),
        median(times[2].clone()),
        median(ratios)
    );
}

criterion_group!(benches, bench);

fn main() {
    rounds();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
