//! `POST /v1/currents/{connector}`. The order of checks is the contract with Braze
//! (CONTRACTS §4): connector, token, size, body, quarantine, enqueue. Pure here: what a processed
//! batch becomes besides its queue messages ([`plan`]: the quarantine object, the stats delta with the
//! batch's drift report, and the 200 answer) and the header rules; on wasm32, `edge` reads the request and performs the writes.
//! Events are stored durably (R2 for quarantined ones, the delivery queue for the rest) before
//! the 200; the queue consumer delivers them.

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;

use serde::Serialize;

use crate::pipeline::Outcome;
use crate::quarantine::QuarantineDoc;
use crate::stats::{ingest_body, ingest_delta};
use crate::timefmt::iso_millis;

/// Header Braze sends on every Currents request (value `1`).
pub const CURRENTS_VERSION_HEADER: &str = "Braze-Currents-Version";
/// The Currents protocol version this relay was built against.
pub const CURRENTS_VERSION: &str = "1";
/// Longest `Braze-Currents-Version` value logged (it is caller-controlled).
const MAX_LOGGED_VERSION_LEN: usize = 16;

/// The `Braze-Currents-Version` value worth logging: `None` for the expected `1` or absence,
/// else the value cut to 16 characters. Other versions are accepted; the log shows them.
pub fn currents_version(header: Option<&str>) -> Option<String> {
    let v = header?.trim();
    (v != CURRENTS_VERSION).then(|| v.chars().take(MAX_LOGGED_VERSION_LEN).collect())
}

/// The 200 answer to an ingest request: counts only, never event content. Every event of the
/// request is in exactly one of `accepted`, `filtered` and `quarantined`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// Events in the request.
    pub received: usize,
    /// Events queued for delivery.
    pub accepted: usize,
    /// Events the connector chose not to forward.
    pub filtered: usize,
    /// Events kept in quarantine (invalid or too large).
    pub quarantined: usize,
    /// Segment batch requests the accepted events form. Events are packed once: each batch
    /// travels as one queue message and is sent as one Segment request (unless Segment refuses
    /// it and it is split), so this equals `messages`.
    pub batches: usize,
    /// Queue messages sent (one per batch).
    pub messages: usize,
}

impl IngestSummary {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The counts to log when the queue refused the events: nothing was accepted.
    pub fn refused(self) -> Self {
        IngestSummary {
            accepted: 0,
            batches: 0,
            messages: 0,
            ..self
        }
    }
}

/// What one processed Currents batch becomes, besides its queue messages (the outcome's
/// `batches`, sent as they are: [`crate::delivery::DeliveryMessage::write_json_pieces`]).
#[derive(Debug)]
pub struct IngestPlan {
    /// The quarantine object of the events that cannot be forwarded, if any.
    pub quarantine: Option<QuarantineDoc>,
    /// The body of the stats object's `POST /ingest`: the stats delta and the batch's drift
    /// report ([`crate::stats::IngestDelta`]); `None` for an empty batch.
    pub stats_body: Option<String>,
    /// The 200 answer.
    pub summary: IngestSummary,
}

/// Plans the writes of one processed batch received at `now_ms`.
pub fn plan(
    connector: &str,
    generation: Option<&str>,
    outcome: &Outcome,
    now_ms: u64,
) -> IngestPlan {
    let summary = IngestSummary {
        received: outcome.received,
        accepted: outcome.accepted(),
        filtered: outcome.filtered.len(),
        quarantined: outcome.quarantined.len(),
        batches: outcome.batches.len(),
        messages: outcome.batches.len(),
    };
    let quarantine = (!outcome.quarantined.is_empty()).then(|| {
        QuarantineDoc::from_rejected(
            connector,
            generation,
            &iso_millis(now_ms),
            &outcome.quarantined,
        )
    });
    let stats_body = (outcome.received > 0)
        .then(|| ingest_body(&ingest_delta(outcome, &[], now_ms), &outcome.drift));
    IngestPlan {
        quarantine,
        stats_body,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConnectorConfig;
    use crate::delivery::DeliveryMessage;
    use crate::pipeline::{ProcessContext, process};
    use crate::stats::IngestDelta;

    /// A connector with one US destination.
    fn one_destination() -> ConnectorConfig {
        ConnectorConfig::from_json(&format!(
            r#"{{"token_sha256":"{}","destinations":{{"main":{{"write_key":"wk_1234","region":"us"}}}}}}"#,
            "0".repeat(64)
        ))
        .unwrap()
    }

    #[test]
    fn summary_json_shape() {
        let s = IngestSummary {
            received: 3,
            accepted: 1,
            filtered: 1,
            quarantined: 1,
            batches: 1,
            messages: 1,
        };
        assert_eq!(
            s.to_json(),
            r#"{"received":3,"accepted":1,"filtered":1,"quarantined":1,"batches":1,"messages":1}"#
        );
        assert_eq!(s.refused().accepted, 0);
        assert_eq!(s.refused().received, 3);
    }

    #[test]
    fn expected_currents_version_is_not_logged() {
        assert_eq!(currents_version(Some("1")), None);
        assert_eq!(currents_version(None), None);
        assert_eq!(currents_version(Some("2")), Some("2".to_owned()));
        assert_eq!(
            currents_version(Some("tok_SECRET_BEARER_abc123")).as_deref(),
            Some("tok_SECRET_BEARE")
        );
    }

    #[test]
    fn a_batch_becomes_one_message_per_destination_and_one_quarantine_object() {
        let config = one_destination();
        let body = br#"{"events":[
            {"id":"a","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}},
            {"id":"b","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b"}},
            {"event_type":"users.messages.email.Send","time":1},
            {"id":"c","event_type":"users.messages.email.Open","time":1,"user":{"user_id":"b","external_user_id":"u"}}
        ]}"#;
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
            received_ms: 7_200_000,
        };
        let out = process(body, &config, &ctx).unwrap();
        let p = plan("acme", Some("g1"), &out, 7_200_000);
        assert_eq!(
            p.summary,
            IngestSummary {
                received: 4,
                accepted: 2,
                filtered: 1,
                quarantined: 1,
                batches: 1,
                messages: 1
            }
        );
        let msg = DeliveryMessage::from_json(&out.batches[0].to_json()).unwrap();
        assert_eq!(
            (msg.connector.as_str(), msg.received_ms),
            ("acme", 7_200_000)
        );
        assert_eq!(msg.events.len(), 2);
        let doc = p.quarantine.unwrap();
        assert_eq!(doc.reasons["missing_id"], 1);
        assert_eq!(doc.generation.as_deref(), Some("g1"));
        let body = p.stats_body.unwrap();
        assert!(!body.contains('\n'), "no drift, no report: {body}");
        let delta = IngestDelta::from_body(&body).unwrap();
        assert_eq!(delta.stats.received, 4);
        assert!(delta.drift.is_empty(), "every property is documented");
        let empty = process(br#"{"events":[]}"#, &config, &ctx).unwrap();
        assert!(plan("acme", None, &empty, 1).stats_body.is_none());
    }

    #[test]
    fn drift_travels_with_the_stats_delta_in_one_body() {
        let config = one_destination();
        let body = br#"{"events":[
            {"id":"a","event_type":"users.messages.hologram.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}},
            {"id":"c","event_type":"users.messages.email.Open","time":1,"user":{"user_id":"b","external_user_id":"u"},"properties":{"ai_score":1}}
        ]}"#;
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
            received_ms: 5,
        };
        let out = process(body, &config, &ctx).unwrap();
        let sent = plan("acme", None, &out, 5).stats_body.unwrap();
        let back = IngestDelta::from_body(&sent).unwrap();
        assert_eq!((back.drift.types.len(), back.drift.fields.len()), (1, 1));
        assert_eq!(
            back.drift, out.drift,
            "what the stats object reads is what ingest saw"
        );
        assert_eq!(back.stats, crate::stats::ingest_delta(&out, &[], 5));
        assert_eq!(IngestDelta::from_body("not json\n{}"), None);
    }
}
