//! Shared by the fuzz targets: the fixed connector configs and the invariant checks.
#![allow(dead_code)]

use currents_relay::Outcome;
use currents_relay::config::{ConnectorConfig, Region};
use currents_relay::delivery::MAX_MESSAGE_BYTES;
use currents_relay::drift::{MAX_EXAMPLE_PROPERTIES, MAX_FIELDS, MAX_NAME_BYTES, MAX_TYPES};
use currents_relay::segment::{
    MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_MESSAGE_ID_LEN,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The fields of a Segment `track` call the invariants look at. Typed rather than a `Value`: a
/// number such as `1e999` is valid JSON (and is forwarded verbatim) but out of `Value`'s range.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct TrackFields {
    r#type: String,
    event: String,
    userId: Option<String>,
    anonymousId: Option<String>,
    messageId: String,
}

#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct BatchBody {
    batch: Vec<IgnoredAny>,
    sentAt: String,
}

pub const SENT_AT: &str = "2026-11-28T15:39:14.123Z";
pub const CONNECTOR_ID: &str = "fuzz-connector";
const TOKEN: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// 0: every default, one US destination (the golden connector).
/// 1: anonymous users forwarded, Segment catalog names, custom event names, overrides, a
///    non-default library, message ids from Braze's event id.
/// 2: routing by app_id to two destinations (one `auto`), forward_unknown off, an include list.
pub fn configs() -> [ConnectorConfig; 3] {
    let default = format!(
        r#"{{"token_sha256":"{TOKEN}","destinations":{{"main":{{"write_key":"golden_write_key_0001","region":"us"}}}}}}"#
    );
    let rich = format!(
        r#"{{"token_sha256":"{TOKEN}",
            "destinations":{{"main":{{"write_key":"wk_main_0001","region":"eu"}}}},
            "identity":{{"include_anonymous":true}},
            "naming":{{"profile":"segment_catalog","custom_event_names":true,
                       "overrides":{{"users.messages.email.Open":"Opened!","x.y":"Renamed Unknown"}}}},
            "message_id":"event_id",
            "integrations":{{"Braze":false,"All":true,"Amplitude":{{"session_id":1}}}},
            "library":{{"name":"fuzz","version":"9.9.9"}}}}"#
    );
    let routed = format!(
        r#"{{"token_sha256":"{TOKEN}",
            "destinations":{{"main":{{"write_key":"wk_main_0001","region":"us"}},
                             "eu":{{"write_key":"wk_eu_000001","region":"auto"}}}},
            "default_destination":"main",
            "routing":{{"by":"app_id","routes":{{"a2":"eu","f47ac10b-58cc-4372-a567-0e02b2c3d479":"eu"}}}},
            "events":{{"forward_unknown":false,
                       "include":["users.messages.email.Open","users.messages.email.Click",
                                  "users.messages.sms.InboundReceive","users.behaviors.CustomEvent","x.y"]}}}}"#
    );
    [default, rich, routed].map(|t| ConnectorConfig::from_json(&t).expect("fixed config is valid"))
}

/// Every invariant of one `process` outcome.
pub fn check_outcome(outcome: &Outcome, config: &ConnectorConfig, nearest: Option<Region>) {
    check_drift(outcome);
    // Conservation: every event in exactly one of batches / filtered / quarantined.
    let indices = outcome.outcome_indices();
    assert!(
        indices.iter().copied().eq(0..outcome.received),
        "each event in exactly one outcome: received {} got {:?}",
        outcome.received,
        indices
    );
    for b in &outcome.batches {
        assert!(!b.events.is_empty(), "empty batch");
        assert!(
            b.events.len() <= MAX_BATCH_EVENTS,
            "{} events",
            b.events.len()
        );
        let body = b.segment_body(SENT_AT);
        assert!(
            body.len() <= MAX_BATCH_BYTES,
            "batch body {} bytes",
            body.len()
        );
        let mut largest = b.clone();
        (largest.attempt, largest.held, largest.splits) = (u32::MAX, u32::MAX, u32::MAX);
        let queued = largest.to_json().len();
        assert!(queued <= MAX_MESSAGE_BYTES, "queue message {queued} bytes");
        let parsed: BatchBody = serde_json::from_str(&body).expect("batch body is JSON");
        assert_eq!(parsed.batch.len(), b.events.len());
        let dest = config
            .destinations
            .get(&b.destination)
            .unwrap_or_else(|| panic!("unknown destination {:?}", b.destination));
        assert_eq!(
            b.region,
            dest.region.resolve(nearest),
            "region of {}",
            b.destination
        );
        let mut last = None;
        for e in &b.events {
            assert!(last < e.index, "order within a batch is kept");
            last = e.index;
            let json = e.json.get();
            assert!(json.len() <= MAX_EVENT_BYTES, "event {} bytes", json.len());
            let v: TrackFields = serde_json::from_str(json)
                .unwrap_or_else(|err| panic!("event is not a track call ({err}): {json}"));
            assert_eq!(v.r#type, "track", "{json}");
            assert!(!v.event.trim().is_empty(), "event name in {json}");
            assert!(
                v.userId.as_deref().is_some_and(|s| !s.is_empty())
                    || v.anonymousId.as_deref().is_some_and(|s| !s.is_empty()),
                "no identity in {json}"
            );
            let mid = v.messageId.as_str();
            assert_eq!(mid, e.message_id);
            assert!(!mid.is_empty());
            assert!(
                mid.chars().count() <= MAX_MESSAGE_ID_LEN,
                "messageId {mid:?}"
            );
        }
    }
    for q in &outcome.quarantined {
        // Syntax only: a number such as 1e999 is valid JSON that `Value` cannot hold.
        let _: IgnoredAny = serde_json::from_str(q.raw.get()).expect("quarantined raw is JSON");
    }
}

/// The drift report keeps its bounds whatever the body: entries, example sizes, name lengths.
fn check_drift(outcome: &Outcome) {
    let drift = &outcome.drift;
    assert!(drift.types.len() <= MAX_TYPES, "{} types", drift.types.len());
    assert!(drift.fields.len() <= MAX_FIELDS, "{} fields", drift.fields.len());
    for e in drift.types.iter().chain(&drift.fields) {
        assert!(e.count >= 1 && e.example.len() <= MAX_EXAMPLE_PROPERTIES);
        let names = std::iter::once(&e.event_type)
            .chain(&e.field)
            .chain(e.example.iter().map(|(name, _)| name));
        for name in names {
            assert!(name.len() <= MAX_NAME_BYTES + '…'.len_utf8(), "{name:?}");
        }
    }
}
