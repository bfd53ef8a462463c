//! Backfill throughput, natively, no network: reading Avro storage files and translating their
//! events against `apache-avro` decoding alone, measured in the same run.
//!
//! Input: 80 files, one per Segment-shaped type of Braze's glossary, 125 records each (10,000
//! events, every storage field set), in memory, written with `apache-avro` in each codec.
//! **Decode** = `apache_avro::Reader` over every file, each record decoded to a `Value` (what
//! any reader of these files pays). **Read + translate** = the same decoding plus what the
//! command adds: the records held in chunks (of up to 1,000; here a file's 125) as the decoding
//! thread hands them over, each record written into its chunk's batch, `process_events()` on the
//! batch (validate, translate, `messageId`), the calls packed into Segment requests and each
//! request body rendered. The difference is the translation's cost.
//!
//! After criterion's groups, a report on stdout: each measure taken in turn, 15 rounds, the
//! fastest round of each kept (on a shared machine the fastest is the least disturbed), the
//! translation's cost as a share of decoding's, and parts of it measured alone: holding the
//! decoded records in chunks instead of dropping each at once (the allocator's cost of freeing
//! them together), mapping the records, `process_events()` (on batches mapped beforehand; parts
//! measured alone run in a warmer, tidier heap, so they add up to a little more than the whole).
//! Run: `cargo bench --features backfill --bench backfill`; report in docs/BENCHMARKS.md §8.
#![allow(missing_docs, clippy::print_stdout)] // criterion's macros define undocumented items; a report on stdout

#[path = "../backfill/support.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use apache_avro::{Reader, Writer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use currents_relay::backfill::record::EventBatch;
use currents_relay::backfill::requests::{Origin, RequestPacker};
use currents_relay::pipeline::{Drift, process_events};
use currents_relay::{ConnectorConfig, ProcessContext};

const PER_FILE: usize = 125;
const CHUNK: usize = 1_000;
const SENT_AT: &str = "2026-12-01T00:00:00.000Z";

/// One in-memory file per type: (event type, bytes).
fn files(codec: apache_avro::Codec) -> Vec<(String, Vec<u8>)> {
    support::glossary()
        .iter()
        .map(|entry| {
            let schema = support::schema(entry);
            let mut w = Writer::with_codec(&schema, Vec::new(), codec);
            for i in 0..PER_FILE {
                let id = format!("{:08x}-5b2c-4a4e-9a8e-{i:012x}", entry.event_type.len());
                w.append(support::record(entry, &id, false).0).unwrap();
            }
            (entry.event_type.clone(), w.into_inner().unwrap())
        })
        .collect()
}

fn decode(files: &[(String, Vec<u8>)]) -> usize {
    let mut n = 0;
    for (_, bytes) in files {
        for value in Reader::new(&bytes[..]).unwrap() {
            black_box(value.unwrap());
            n += 1;
        }
    }
    n
}

/// A file's records in chunks, as the command's decoding thread hands them over.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = Vec<Value>> + '_ {
    let mut reader = Reader::new(bytes).unwrap();
    std::iter::from_fn(move || {
        let chunk: Vec<Value> = reader.by_ref().take(CHUNK).map(Result::unwrap).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}

/// A chunk's records written into its batch, as the command's reader does.
fn batch_of<'a>(records: &'a [Value], event_type: &'a str) -> EventBatch<'a> {
    let mut batch = EventBatch::new(records.len());
    for value in records {
        batch.push(value, Some(event_type)).unwrap();
    }
    batch
}

fn read_and_translate(files: &[(String, Vec<u8>)], config: &ConnectorConfig) -> usize {
    let ctx = ProcessContext {
        connector_id: support::CONNECTOR,
        nearest_region: None,
        received_ms: 0,
    };
    let mut packer = RequestPacker::new(support::CONNECTOR);
    let mut body_bytes = 0;
    let mut sent = 0;
    // As the command's sender: one request body buffer, reused.
    let mut request_body = String::new();
    for (file, (event_type, bytes)) in files.iter().enumerate() {
        // As the command's reader: the records of a chunk decoded, then each written into the
        // chunk's batch, then `process()` on its events.
        for records in chunks(bytes) {
            let batch = batch_of(&records, event_type);
            let outcome = process_events(batch.elements(), config, &ctx, Drift::Skip).unwrap();
            let spans: Vec<_> = (0..batch.len()).map(|i| batch.span(i)).collect();
            let chunk = Arc::new(batch.into_body());
            for b in outcome.batches {
                for event in b.events {
                    let index = event.index.unwrap();
                    let origin = Origin {
                        file: file as u32,
                        record: index as u64,
                        body: Arc::clone(&chunk),
                        span: spans[index].clone(),
                    };
                    sent += 1;
                    if let Some(r) = packer.push(&b.destination, b.region, event, origin, 0) {
                        r.msg.write_segment_body(SENT_AT, &mut request_body);
                        body_bytes += request_body.len();
                    }
                }
            }
        }
    }
    for r in packer.finish() {
        r.msg.write_segment_body(SENT_AT, &mut request_body);
        body_bytes += request_body.len();
    }
    black_box(body_bytes);
    sent
}

fn bench(c: &mut Criterion) {
    let config = ConnectorConfig::from_json(&support::config_text()).unwrap();
    for (name, codec) in support::codecs() {
        let files = files(codec);
        let n = decode(&files);
        assert_eq!(n, 80 * PER_FILE);
        assert_eq!(
            read_and_translate(&files, &config),
            n,
            "every event is sent"
        );
        let mut group = c.benchmark_group(format!("backfill_{name}"));
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(20);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        group.bench_function("decode", |b| b.iter(|| decode(black_box(&files))));
        group.bench_function("read_translate", |b| {
            b.iter(|| read_and_translate(black_box(&files), black_box(&config)))
        });
        group.finish();
    }
}

/// Decoding as the command's decoding thread hands records over: a chunk's records held
/// together (dropped together once translated), instead of each dropped as soon as it is read.
fn decode_in_chunks(files: &[(String, Vec<u8>)]) -> usize {
    let mut n = 0;
    for (_, bytes) in files {
        for records in chunks(bytes) {
            n += black_box(&records).len();
        }
    }
    n
}

/// Decoding in chunks plus mapping each record to its Currents event, written into its chunk's
/// batch as the command does (no translation).
fn decode_and_map(files: &[(String, Vec<u8>)]) -> usize {
    let mut bytes = 0;
    for (event_type, file) in files {
        for records in chunks(file) {
            bytes += batch_of(&records, event_type).into_body().len();
        }
    }
    bytes
}

/// Every file's records, decoded once (each file is one chunk: `PER_FILE` < `CHUNK`).
fn decoded(files: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<Value>)> {
    files
        .iter()
        .map(|(event_type, bytes)| {
            let records = Reader::new(&bytes[..]).unwrap().map(Result::unwrap);
            (event_type.as_str(), records.collect())
        })
        .collect()
}

/// `process_events()` alone on each chunk's batch, as the command calls it (the records mapped
/// beforehand, outside the measure).
fn process_only(batches: &[EventBatch<'_>], config: &ConnectorConfig) -> usize {
    let ctx = ProcessContext {
        connector_id: support::CONNECTOR,
        nearest_region: None,
        received_ms: 0,
    };
    batches
        .iter()
        .map(|b| {
            process_events(b.elements(), config, &ctx, Drift::Skip)
                .unwrap()
                .accepted()
        })
        .sum()
}

/// The fastest of `rounds` runs of `f`, in seconds.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // a benchmark reads the clock
fn fastest(rounds: usize, mut f: impl FnMut() -> usize) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = std::time::Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn report(_: &mut Criterion) {
    let config = ConnectorConfig::from_json(&support::config_text()).unwrap();
    let events = (80 * PER_FILE) as f64;
    // `BENCH_ROUNDS=1` for a run under an instruction counter.
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    println!(
        "\n| codec | decode | read + translate | translation | ÷ decoding | holding chunks | mapping records | process_events() |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, codec) in support::codecs() {
        let files = files(codec);
        let decoded = decoded(&files);
        let batches: Vec<EventBatch<'_>> = decoded
            .iter()
            .map(|(event_type, records)| batch_of(records, event_type))
            .collect();
        let mut best = [f64::INFINITY; 5];
        for _ in 0..rounds {
            best[0] = best[0].min(fastest(1, || decode(&files)));
            best[1] = best[1].min(fastest(1, || read_and_translate(&files, &config)));
            best[2] = best[2].min(fastest(1, || decode_in_chunks(&files)));
            best[3] = best[3].min(fastest(1, || decode_and_map(&files)));
            best[4] = best[4].min(fastest(1, || process_only(&batches, &config)));
        }
        let [dec, all, dec_chunks, dec_map, proc_only] = best;
        let ms = |secs: f64| format!("{:.1} ms", secs * 1e3);
        let rate = |secs: f64| format!("{:.1} ms ({:.0} events/s)", secs * 1e3, events / secs);
        println!(
            "| {name} | {} | {} | {} | **{:.2}** | {} | {} | {} |",
            rate(dec),
            rate(all),
            ms(all - dec),
            (all - dec) / dec,
            ms(dec_chunks - dec),
            ms(dec_map - dec_chunks),
            ms(proc_only),
        );
    }
}

criterion_group!(benches, bench, report);
criterion_main!(benches);
