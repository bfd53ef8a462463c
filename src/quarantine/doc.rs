//! The quarantine document: one R2 object per batch of events that cannot be forwarded as they
//! are, with their reasons (CONTRACTS §4).
//!
//! Two kinds of entry share one format: events rejected at ingest keep the `raw` event as Braze
//! sent it; events that failed delivery keep the translated `segment` call and its `message_id`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::Region;
use crate::delivery::DeliveryMessage;
use crate::pipeline::QuarantinedEvent;

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
    /// The connector was deleted and created again under the same id: these events belong to
    /// the earlier connector (another generation) and are never sent with the new one's config.
    ConnectorReplaced,
    /// A queue message that is not a delivery message: kept whole as text.
    MalformedMessage,
}

impl DeliveryReason {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::SegmentRejected => "segment_rejected",
            Self::RetentionExceeded => "retention_exceeded",
            Self::DeadLetter => "dead_letter",
            Self::ConnectorReplaced => "connector_replaced",
            Self::MalformedMessage => "malformed_message",
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
    /// The connector's generation the events belong to (absent for connectors without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
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
    pub fn from_rejected(
        connector: &str,
        generation: Option<&str>,
        received_at: &str,
        events: &[QuarantinedEvent],
    ) -> Self {
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
        let mut doc = Self::new(connector, received_at, None, entries);
        doc.generation = generation.map(str::to_owned);
        doc
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
                index: e.index,
                event_id: Some(e.event_id.clone()),
                event_type: Some(e.event_type.to_string()),
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
        let mut doc = Self::new(&msg.connector, received_at, Some(answer), entries);
        doc.generation = msg.generation.clone();
        doc
    }

    /// The object for a queue body that cannot be read as a delivery message: the body is kept
    /// whole as `raw` (a JSON string).
    pub fn from_unreadable(
        connector: &str,
        received_at: &str,
        reason: DeliveryReason,
        body: &str,
    ) -> Self {
        let raw = serde_json::to_string(body)
            .ok()
            .and_then(|text| RawValue::from_string(text).ok());
        let entry = QuarantineEntry {
            index: None,
            event_id: None,
            event_type: None,
            reason: reason.code().to_owned(),
            detail:
                "the queue message is not a delivery message; its body is kept as `raw` (a string)"
                    .to_owned(),
            message_id: None,
            raw,
            segment: None,
        };
        Self::new(connector, received_at, None, vec![entry])
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
            generation: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::message::tests::message;

    #[test]
    fn delivery_failures_keep_the_translated_calls() {
        let msg = message(2);
        let doc = QuarantineDoc::from_message(
            &msg,
            "2026-11-28T00:00:00.000Z",
            DeliveryReason::SegmentRejected,
            Some(400),
            "HTTP 400",
        );
        assert_eq!(doc.reasons["segment_rejected"], 2);
        let stored: QuarantineDoc = serde_json::from_str(&doc.to_json()).unwrap();
        assert_eq!(stored.events[1].message_id.as_deref(), Some("m1"));
        assert_eq!(stored.events[1].index, Some(1));
        assert_eq!(stored.segment.as_ref().unwrap().status, Some(400));
        assert_eq!(stored.segment.unwrap().region, Region::Eu);
    }

    #[test]
    fn unreadable_bodies_are_kept_as_text() {
        let doc = QuarantineDoc::from_unreadable(
            "_unknown",
            "2026-11-28T00:00:00.000Z",
            DeliveryReason::MalformedMessage,
            "not json {",
        );
        assert_eq!(doc.reasons["malformed_message"], 1);
        let v: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
        assert_eq!(v["events"][0]["raw"], "not json {");
    }
}
