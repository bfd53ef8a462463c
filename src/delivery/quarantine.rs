//! Quarantine objects (one R2 object per batch of events that cannot be delivered as they are)
//! and their replay.
//!
//! Two kinds of entry share one format: events rejected at ingest keep the `raw` event as Braze
//! sent it; events that failed delivery keep the translated `segment` call and its `message_id`.
//! Replay re-enqueues both with the same `messageId`s, so Segment dedupes anything already
//! delivered and replaying twice is harmless.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::message::{DeliveryMessage, QueuedEvent, messages_for_batch, messages_for_events};
use crate::config::{ConnectorConfig, Region};
use crate::pipeline::{FilteredEvent, ProcessContext, QuarantinedEvent, process};

/// Why a translated event left the delivery path for quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryReason {
    /// Segment answered a permanent error (400, other 4xx, 501, 505).
    SegmentRejected,
    /// The connector's retention passed while the events were held or retried.
    RetentionExceeded,
    /// The queue gave up on the message (dead-letter queue).
    DeadLetter,
}

impl DeliveryReason {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::SegmentRejected => "segment_rejected",
            Self::RetentionExceeded => "retention_exceeded",
            Self::DeadLetter => "dead_letter",
        }
    }
}

/// Segment's answer and the destination, on delivery-failure objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentAnswer {
    /// HTTP status, when Segment answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Destination name in the connector config.
    pub destination: String,
    /// Region code.
    pub region: Region,
}

/// One quarantined event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// Position in the Currents batch, for ingest rejections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Braze's event id, when readable.
    #[serde(default)]
    pub event_id: Option<String>,
    /// Braze's event type, when readable.
    #[serde(default)]
    pub event_type: Option<String>,
    /// Stable reason code.
    pub reason: String,
    /// What exactly happened.
    #[serde(default)]
    pub detail: String,
    /// Segment `messageId`, for translated events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The event as Braze sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Box<RawValue>>,
    /// The translated Segment call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Box<RawValue>>,
}

/// A quarantine object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineDoc {
    /// Connector id.
    pub connector: String,
    /// When Braze's batch was received (ISO-8601).
    pub received_at: String,
    /// Event count per reason code.
    pub reasons: BTreeMap<String, usize>,
    /// Segment's answer and destination, for delivery failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentAnswer>,
    /// The events.
    pub events: Vec<QuarantineEntry>,
}

impl QuarantineDoc {
    /// The object for events rejected at ingest.
    pub fn from_rejected(connector: &str, received_at: &str, events: &[QuarantinedEvent]) -> Self {
        let entries: Vec<QuarantineEntry> = events
            .iter()
            .map(|e| QuarantineEntry {
                index: Some(e.index),
                event_id: e.event_id.clone(),
                event_type: e.event_type.clone(),
                reason: e.reason.code().to_owned(),
                detail: e.detail.clone(),
                message_id: None,
                raw: Some(e.raw.clone()),
                segment: None,
            })
            .collect();
        Self::new(connector, received_at, None, entries)
    }

    /// The object for a queue message that left the delivery path.
    pub fn from_message(
        msg: &DeliveryMessage,
        received_at: &str,
        reason: DeliveryReason,
        status: Option<u16>,
        detail: &str,
    ) -> Self {
        let entries = msg
            .events
            .iter()
            .map(|e| QuarantineEntry {
                index: None,
                event_id: Some(e.event_id.clone()),
                event_type: Some(e.event_type.clone()),
                reason: reason.code().to_owned(),
                detail: detail.to_owned(),
                message_id: Some(e.message_id.clone()),
                raw: None,
                segment: Some(e.json.clone()),
            })
            .collect();
        let answer = SegmentAnswer {
            status,
            destination: msg.destination.clone(),
            region: msg.region,
        };
        Self::new(&msg.connector, received_at, Some(answer), entries)
    }

    fn new(
        connector: &str,
        received_at: &str,
        segment: Option<SegmentAnswer>,
        events: Vec<QuarantineEntry>,
    ) -> Self {
        let mut reasons = BTreeMap::new();
        for e in &events {
            *reasons.entry(e.reason.clone()).or_insert(0) += 1;
        }
        QuarantineDoc {
            connector: connector.to_owned(),
            received_at: received_at.to_owned(),
            reasons,
            segment,
            events,
        }
    }

    /// The R2 object body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a quarantine document always serialises")
    }
}

/// What replaying a quarantine object does.
#[derive(Debug, Default)]
pub struct ReplayPlan {
    /// Queue message bodies to send.
    pub messages: Vec<String>,
    /// Events in those messages.
    pub requeued: usize,
    /// Raw events that still fail validation: they stay quarantined.
    pub still_quarantined: Vec<QuarantinedEvent>,
    /// Raw events the connector now filters.
    pub filtered: Vec<FilteredEvent>,
}

/// Plans the replay of a quarantine object under the connector's current config. Translated
/// events go back as they are (same `messageId`); raw events are validated and translated again
/// (same connector id, so the same `messageId`). Retention restarts at `now_ms`: a replay is an
/// operator's decision.
pub fn replay(
    doc: &QuarantineDoc,
    config: &ConnectorConfig,
    connector_id: &str,
    now_ms: u64,
) -> ReplayPlan {
    let mut plan = ReplayPlan::default();
    let translated: Vec<QueuedEvent> = doc
        .events
        .iter()
        .filter_map(|e| {
            Some(QueuedEvent {
                event_id: e.event_id.clone().unwrap_or_default(),
                event_type: e.event_type.clone().unwrap_or_default(),
                message_id: e.message_id.clone()?,
                json: e.segment.clone()?,
            })
        })
        .collect();
    if let (Some(answer), false) = (&doc.segment, translated.is_empty()) {
        plan.requeued += translated.len();
        plan.messages.extend(messages_for_events(
            connector_id,
            &answer.destination,
            answer.region,
            now_ms,
            translated,
        ));
    }
    let raws: Vec<&RawValue> = doc
        .events
        .iter()
        .filter(|e| e.segment.is_none())
        .filter_map(|e| e.raw.as_deref())
        .collect();
    if !raws.is_empty() {
        let body = format!(
            r#"{{"events":[{}]}}"#,
            raws.iter().map(|r| r.get()).collect::<Vec<_>>().join(",")
        );
        let ctx = ProcessContext {
            connector_id,
            nearest_region: None,
        };
        // The body is built from stored JSON values, so it is always a batch.
        if let Ok(outcome) = process(body.as_bytes(), config, &ctx) {
            for batch in &outcome.batches {
                plan.requeued += batch.events.len();
                plan.messages
                    .extend(messages_for_batch(connector_id, batch, now_ms));
            }
            plan.still_quarantined = outcome.quarantined;
            plan.filtered = outcome.filtered;
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::DeliveryMessage;

    fn config() -> ConnectorConfig {
        let text = format!(
            r#"{{"token_sha256":"{}","destinations":{{"main":{{"write_key":"wk_main_0001","region":"eu"}}}}}}"#,
            "0".repeat(64)
        );
        ConnectorConfig::from_json(&text).unwrap()
    }

    const BODY: &str = r#"{"events":[
        {"id":"ok1","event_type":"users.messages.email.Send","time":1700000000,"user":{"user_id":"b","external_user_id":"u"}},
        {"id":"bad","event_type":"users.messages.email.Send","time":"later","user":{"user_id":"b","external_user_id":"u"}},
        {"id":"ok2","event_type":"users.messages.email.Send","time":1700000001,"user":{"user_id":"b","external_user_id":"u"}}
    ]}"#;

    fn ctx() -> ProcessContext<'static> {
        ProcessContext {
            connector_id: "acme",
            nearest_region: None,
        }
    }

    #[test]
    fn delivery_failures_replay_with_the_same_message_ids() {
        let out = process(BODY.as_bytes(), &config(), &ctx()).unwrap();
        let body = &messages_for_batch("acme", &out.batches[0], 5)[0];
        let msg = DeliveryMessage::from_json(body).unwrap();
        let doc = QuarantineDoc::from_message(
            &msg,
            "2026-11-28T00:00:00.000Z",
            DeliveryReason::SegmentRejected,
            Some(400),
            "HTTP 400",
        );
        assert_eq!(doc.reasons["segment_rejected"], 2);
        let stored: QuarantineDoc = serde_json::from_str(&doc.to_json()).unwrap();
        let plan = replay(&stored, &config(), "acme", 99);
        assert_eq!(plan.requeued, 2);
        let again = DeliveryMessage::from_json(&plan.messages[0]).unwrap();
        assert_eq!(again.received_ms, 99);
        assert_eq!(
            (again.destination.as_str(), again.region),
            ("main", Region::Eu)
        );
        let ids = |m: &DeliveryMessage| {
            m.events
                .iter()
                .map(|e| e.message_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&again), ids(&msg));
        assert_eq!(again.events[0].json.get(), msg.events[0].json.get());
    }

    #[test]
    fn ingest_rejections_are_validated_again() {
        let out = process(BODY.as_bytes(), &config(), &ctx()).unwrap();
        let doc =
            QuarantineDoc::from_rejected("acme", "2026-11-28T00:00:00.000Z", &out.quarantined);
        assert_eq!(doc.reasons["invalid_time"], 1);
        let stored: QuarantineDoc = serde_json::from_str(&doc.to_json()).unwrap();
        let plan = replay(&stored, &config(), "acme", 1);
        assert_eq!(plan.requeued, 0);
        assert_eq!(
            plan.still_quarantined.len(),
            1,
            "still invalid: stays in quarantine"
        );
        assert!(plan.messages.is_empty());
    }

    #[test]
    fn fixed_raw_events_replay_into_messages_with_stable_ids() {
        let fixed = r#"{"events":[{"id":"late","event_type":"users.messages.email.Send","time":1700000000,"user":{"user_id":"b"}}]}"#;
        let out = process(fixed.as_bytes(), &config(), &ctx()).unwrap();
        assert_eq!(
            out.filtered.len(),
            1,
            "anonymous: filtered by the first config"
        );
        let doc = QuarantineDoc {
            connector: "acme".into(),
            received_at: "x".into(),
            reasons: BTreeMap::new(),
            segment: None,
            events: vec![QuarantineEntry {
                index: Some(0),
                event_id: Some("late".into()),
                event_type: None,
                reason: "manual".into(),
                detail: String::new(),
                message_id: None,
                raw: Some(RawValue::from_string(
                    r#"{"id":"late","event_type":"users.messages.email.Send","time":1700000000,"user":{"user_id":"b","external_user_id":"u"}}"#.into(),
                ).unwrap()),
                segment: None,
            }],
        };
        let plan = replay(&doc, &config(), "acme", 1);
        assert_eq!(plan.requeued, 1);
        let msg = DeliveryMessage::from_json(&plan.messages[0]).unwrap();
        assert_eq!(
            msg.events[0].message_id,
            crate::segment::message_id(crate::config::MessageIdScope::Connector, "acme", "late")
        );
    }
}
