//! Translate+batch throughput against a serde_json baseline measured in the same run.
//!
//! Ours: `process()` (parse, validate, translate, batch) plus rendering every Segment request
//! body. Baseline: `serde_json::from_slice::<Value>` of the same input bytes plus `to_string` of
//! a `Value` the size of our output — the least any Value-based translator would have to do.
//! Run: `cargo bench --bench translate`; report in docs/BENCHMARKS.md.
#![allow(missing_docs, clippy::print_stdout)] // a report on stdout; criterion's and dhat's macros define undocumented items

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

fn ours(body: &[u8], config: &ConnectorConfig) -> usize {
    let ctx = ProcessContext {
        connector_id: "bench",
        nearest_region: None,
        received_ms: 0,
    };
    let outcome = process(body, config, &ctx).unwrap();
    outcome
        .batches
        .iter()
        .map(|b| b.segment_body(SENT_AT).len())
        .sum()
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
        let ctx = ProcessContext {
            connector_id: "bench",
            nearest_region: None,
            received_ms: 0,
        };
        let outcome = process(&body, &config, &ctx).unwrap();
        assert_eq!(outcome.accepted(), n, "every bench event is forwarded");
        let output: Vec<Value> = outcome
            .batches
            .iter()
            .map(|b| serde_json::from_str(&b.segment_body(SENT_AT)).unwrap())
            .collect();
        let output = Value::from(output);

        let mut group = c.benchmark_group(format!("batch_{n}"));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function("baseline_serde_value", |b| {
            b.iter(|| baseline(black_box(&body), black_box(&output)))
        });
        group.bench_function("translate_and_batch", |b| {
            b.iter(|| ours(black_box(&body), black_box(&config)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
