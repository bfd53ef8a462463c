//! Backfill throughput, natively, no network: reading Avro storage files and translating their
//! events against `apache-avro` decoding alone, measured in the same run.
//!
//! Input: 80 files, one per Segment-shaped type of Braze's glossary, 125 records each (10,000
//! events, every storage field set), in memory, written with `apache-avro` in each codec.
//! **Decode** = `apache_avro::Reader` over every file, each record decoded to a `Value` (what
//! any reader of these files pays). **Read + translate** = the same decoding plus what the
//! command adds per record: the record mapped to a Currents event, `process()` on chunks of
//! 1,000 (validate, translate, `messageId`), packed into Segment requests and each request body
//! rendered. The difference is the translation's cost.
//! Run: `cargo bench --features backfill --bench backfill`; report in docs/BENCHMARKS.md §8.
#![allow(missing_docs)] // criterion's macros define undocumented items

#[path = "../backfill/support.rs"]
mod support;

use std::hint::black_box;

use apache_avro::{Reader, Writer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use currents_relay::backfill::record::map_record;
use currents_relay::backfill::requests::{Origin, RequestPacker};
use currents_relay::{ConnectorConfig, ProcessContext, process};

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

fn read_and_translate(files: &[(String, Vec<u8>)], config: &ConnectorConfig) -> usize {
    let ctx = ProcessContext {
        connector_id: support::CONNECTOR,
        nearest_region: None,
        received_ms: 0,
    };
    let mut packer = RequestPacker::new(support::CONNECTOR);
    let mut body_bytes = 0;
    let mut sent = 0;
    for (file, (event_type, bytes)) in files.iter().enumerate() {
        let mut mapped = Vec::with_capacity(CHUNK);
        let mut flush = |mapped: &mut Vec<(u64, _)>, packer: &mut RequestPacker| {
            let mut body = String::from(r#"{"events":["#);
            for (i, (_, m)) in mapped.iter().enumerate() {
                let m: &currents_relay::backfill::record::Mapped = m;
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&m.event);
            }
            body.push_str("]}");
            let outcome = process(body.as_bytes(), config, &ctx).unwrap();
            for batch in outcome.batches {
                for event in batch.events {
                    let (record, m) = &mut mapped[event.index.unwrap()];
                    let origin = Origin {
                        file: file as u32,
                        record: *record,
                        event: std::mem::take(&mut m.event),
                    };
                    sent += 1;
                    if let Some(r) = packer.push(&batch.destination, batch.region, event, origin, 0)
                    {
                        body_bytes += r.msg.segment_body(SENT_AT).len();
                    }
                }
            }
            mapped.clear();
        };
        for (i, value) in Reader::new(&bytes[..]).unwrap().enumerate() {
            let value = value.unwrap();
            mapped.push((i as u64, map_record(&value, Some(event_type)).unwrap()));
            if mapped.len() == CHUNK {
                flush(&mut mapped, &mut packer);
            }
        }
        flush(&mut mapped, &mut packer);
    }
    for r in packer.finish() {
        body_bytes += r.msg.segment_body(SENT_AT).len();
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
        group.bench_function("decode", |b| b.iter(|| decode(black_box(&files))));
        group.bench_function("read_translate", |b| {
            b.iter(|| read_and_translate(black_box(&files), black_box(&config)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
