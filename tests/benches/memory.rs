//! Peak heap per Currents batch: what the Worker's ingest holds on the wasm heap, measured with
//! dhat's allocator (bytes, not time, so the figure is exact and repeatable), once the process's
//! one-time state exists: `process()`, `ingest::plan()` and every queue body written in the
//! pieces the Worker copies out to JavaScript (`DeliveryMessage::write_json_pieces`). The input
//! is allocated before counting starts.
//! Run: `cargo bench --bench memory`; report in docs/BENCHMARKS.md.
#![allow(missing_docs, clippy::print_stdout)] // a report on stdout; criterion's and dhat's macros define undocumented items

use std::fs;
use std::path::Path;

use currents_relay::delivery::QUEUE_PIECE_BYTES;
use currents_relay::{ConnectorConfig, ProcessContext, ingest, process};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn batch(n: usize) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut samples: Vec<(String, Value)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".braze.json"))
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = samples[i % samples.len()].1.clone();
            e["id"] = json!(format!("{i:08x}-5b2c-4a4e-9a8e-{:012x}", i * 7919));
            e
        })
        .collect();
    json!({ "events": events }).to_string().into_bytes()
}

fn main() {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/connector.json"),
    )
    .unwrap();
    let config = ConnectorConfig::from_json(&text).unwrap();
    let ctx = ProcessContext {
        connector_id: "bench",
        nearest_region: None,
        received_ms: 0,
    };
    // What a process builds once and keeps (the mapping table's name index) is not a batch's
    // cost: built here, before counting starts.
    process(&batch(1), &config, &ctx).unwrap();
    println!(
        "| batch | input bytes | queue body bytes | peak heap during ingest | peak ÷ input | allocations |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [100usize, 2_500] {
        let body = batch(n);
        let profiler = dhat::Profiler::builder().testing().build();
        let outcome = process(&body, &config, &ctx).unwrap();
        let plan = ingest::plan("bench", None, &outcome, 0);
        let (mut buf, mut out_bytes) = (String::new(), 0);
        for message in &outcome.batches {
            message.write_json_pieces(&mut buf, QUEUE_PIECE_BYTES, |piece| {
                out_bytes += piece.len();
            });
        }
        assert_eq!(outcome.accepted(), n);
        assert_eq!(plan.summary.messages, outcome.batches.len());
        drop(plan);
        drop(outcome);
        let stats = dhat::HeapStats::get();
        drop(profiler);
        println!(
            "| {n} | {} | {out_bytes} | {} | {:.2} | {} |",
            body.len(),
            stats.max_bytes,
            stats.max_bytes as f64 / body.len() as f64,
            stats.total_blocks
        );
    }
}
