//! Quarantine records: one R2 object per request holding the events that cannot be forwarded as
//! they are, with their reasons, for inspection and replay (CONTRACTS §4).
//!
//! Key: `quarantine/{connector}/{YYYY-MM-DD}/{received_ms}-{8 hex}.json`. Body:
//! `{"connector", "received_at", "reasons": {code: count}, "events": [...]}`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::pipeline::QuarantinedEvent;
use crate::segment::SegmentBatch;

/// Reason code of events in a batch Segment refused for good (a permanent 4xx).
pub const SEGMENT_REJECTED: &str = "segment_rejected";

/// The R2 key of one quarantine record. `random` keeps two requests of the same millisecond apart.
pub fn quarantine_key(connector: &str, received_ms: u64, random: u32) -> String {
    format!(
        "quarantine/{connector}/{}/{received_ms}-{random:08x}.json",
        super::ymd(received_ms)
    )
}

#[derive(Serialize)]
struct Document<'a, E: Serialize> {
    connector: &'a str,
    received_at: &'a str,
    reasons: BTreeMap<&'a str, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<SegmentAnswer<'a>>,
    events: &'a [E],
}

#[derive(Serialize)]
struct SegmentAnswer<'a> {
    status: u16,
    destination: &'a str,
    region: &'a str,
}

/// The record of events rejected by validation or the size limit: the core's
/// [`QuarantinedEvent`]s as they are (each with `reason`, `detail` and the `raw` event).
pub fn quarantine_document(
    connector: &str,
    received_at: &str,
    events: &[QuarantinedEvent],
) -> String {
    let mut reasons = BTreeMap::new();
    for e in events {
        *reasons.entry(e.reason.code()).or_insert(0) += 1;
    }
    let doc = Document {
        connector,
        received_at,
        reasons,
        segment: None,
        events,
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

/// One event of a batch Segment refused: the same fields as a [`QuarantinedEvent`] plus the
/// translated call, so it can be replayed from either form.
#[derive(Serialize)]
struct RejectedEvent<'a> {
    index: usize,
    event_id: &'a str,
    event_type: &'a str,
    reason: &'static str,
    detail: String,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a RawValue>,
    segment: &'a RawValue,
}

/// The record of a batch Segment answered with a permanent error `status`. `raw_events` are
/// the request's events as Braze sent them (indexed like the batch's events).
pub fn rejected_batch_document(
    connector: &str,
    received_at: &str,
    status: u16,
    batch: &SegmentBatch,
    raw_events: &[&RawValue],
) -> String {
    let events: Vec<RejectedEvent<'_>> = batch
        .events
        .iter()
        .map(|e| RejectedEvent {
            index: e.index,
            event_id: &e.event_id,
            event_type: &e.event_type,
            reason: SEGMENT_REJECTED,
            detail: format!("Segment answered HTTP {status}"),
            message_id: &e.message_id,
            raw: raw_events.get(e.index).copied(),
            segment: &e.json,
        })
        .collect();
    let doc = Document {
        connector,
        received_at,
        reasons: BTreeMap::from([(SEGMENT_REJECTED, events.len())]),
        segment: Some(SegmentAnswer {
            status,
            destination: &batch.destination,
            region: batch.region.code(),
        }),
        events: &events,
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConnectorConfig;
    use crate::currents::Envelope;
    use crate::pipeline::{ProcessContext, process};

    const CONFIG: &str = r#"{
        "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "destinations": {"main": {"write_key": "wk_test_123456789", "region": "us"}}
    }"#;

    const BODY: &str = r#"{"events":[
        {"id":"e1","event_type":"users.messages.email.Open","time":1700000000,
         "user":{"user_id":"u1","external_user_id":"x1"},"properties":{"email_address":"a@b.c"}},
        {"event_type":"users.messages.email.Open","time":1700000000},
        {"id":"e3","event_type":"users.messages.email.Open","time":"soon"}
    ]}"#;

    #[test]
    fn key_layout() {
        assert_eq!(
            quarantine_key("acme", 1_764_345_600_123, 0xab),
            "quarantine/acme/2025-11-28/1764345600123-000000ab.json"
        );
    }

    #[test]
    fn validation_record_counts_reasons_and_keeps_raw_events() {
        let config = ConnectorConfig::from_json(CONFIG).unwrap();
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
        };
        let out = process(BODY.as_bytes(), &config, &ctx).unwrap();
        assert_eq!(out.quarantined.len(), 2);
        let doc = quarantine_document("acme", "2025-11-28T16:00:00.123Z", &out.quarantined);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["connector"], "acme");
        assert_eq!(v["received_at"], "2025-11-28T16:00:00.123Z");
        assert_eq!(v["reasons"]["missing_id"], 1);
        assert_eq!(v["reasons"]["invalid_time"], 1);
        assert_eq!(v["events"][0]["index"], 1);
        assert_eq!(v["events"][1]["raw"]["time"], "soon");
        assert!(v.get("segment").is_none());
    }

    #[test]
    fn rejected_batch_record_keeps_both_forms() {
        let config = ConnectorConfig::from_json(CONFIG).unwrap();
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
        };
        let out = process(BODY.as_bytes(), &config, &ctx).unwrap();
        let raws = Envelope::parse(BODY.as_bytes()).unwrap().events;
        let doc = rejected_batch_document("acme", "t", 400, &out.batches[0], &raws);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["reasons"][SEGMENT_REJECTED], 1);
        assert_eq!(v["segment"]["status"], 400);
        assert_eq!(v["segment"]["destination"], "main");
        assert_eq!(v["segment"]["region"], "us");
        let e = &v["events"][0];
        assert_eq!(e["event_id"], "e1");
        assert_eq!(e["reason"], SEGMENT_REJECTED);
        assert_eq!(e["raw"]["id"], "e1");
        assert_eq!(e["segment"]["type"], "track");
        assert!(!doc.contains("wk_test"), "no write key in records");
    }
}
