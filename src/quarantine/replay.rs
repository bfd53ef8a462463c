//! Replay: what `POST /admin/quarantine/replay` names, and what replaying one object does.
//! Translated events go back as they are (same `messageId`); raw events are validated and
//! translated again (same connector id, so the same `messageId`). Segment dedupes anything
//! already delivered, so replaying twice is harmless.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::doc::QuarantineDoc;
use super::keys::quarantine_key_param;
use crate::config::{ConnectorConfig, is_valid_connector_id};
use crate::currents::RejectReason;
use crate::delivery::{DeliveryMessage, QueuedEvent, pack};
use crate::pipeline::{FilteredEvent, ProcessContext, QuarantinedEvent, process};
use crate::web::Problem;

/// What replaying a quarantine object does.
#[derive(Debug, Default)]
pub struct ReplayPlan {
    /// Queue messages to send.
    pub messages: Vec<DeliveryMessage>,
    /// Events in those messages.
    pub requeued: usize,
    /// Events that still cannot be forwarded: they stay quarantined.
    pub still_quarantined: Vec<QuarantinedEvent>,
    /// Raw events the connector now filters.
    pub filtered: Vec<FilteredEvent>,
}

/// Plans the replay of a quarantine object under the connector's current config. Retention
/// restarts at `now_ms`: a replay is an operator's decision. An object of another generation
/// (an earlier connector with the same id) is refused: `connector_replaced`.
pub fn replay(
    doc: &QuarantineDoc,
    config: &ConnectorConfig,
    connector_id: &str,
    now_ms: u64,
) -> Result<ReplayPlan, Problem> {
    if doc.generation != config.generation {
        return Err(Problem::ConnectorReplaced);
    }
    let mut plan = ReplayPlan::default();
    let translated: Vec<QueuedEvent> = doc
        .events
        .iter()
        .filter_map(|e| {
            Some(QueuedEvent {
                index: e.index,
                event_id: e.event_id.clone().unwrap_or_default(),
                event_type: e.event_type.clone().unwrap_or_default(),
                message_id: e.message_id.clone()?,
                json: e.segment.clone()?,
            })
        })
        .collect();
    if let (Some(answer), false) = (&doc.segment, translated.is_empty()) {
        let (messages, refused) = pack(
            connector_id,
            config.generation.as_deref(),
            &answer.destination,
            answer.region,
            now_ms,
            translated,
        );
        plan.requeued += messages.iter().map(|m| m.events.len()).sum::<usize>();
        plan.messages.extend(messages);
        plan.still_quarantined
            .extend(refused.into_iter().map(|r| QuarantinedEvent {
                index: r.event.index.unwrap_or_default(),
                event_id: Some(r.event.event_id.clone()),
                event_type: Some(r.event.event_type.clone()),
                reason: RejectReason::EventTooLarge,
                detail: r.detail(),
                raw: r.event.json,
            }));
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
            received_ms: now_ms,
        };
        // The body is built from stored JSON values, so it is always a batch.
        if let Ok(outcome) = process(body.as_bytes(), config, &ctx) {
            plan.requeued += outcome.accepted();
            plan.messages.extend(outcome.batches);
            plan.still_quarantined.extend(outcome.quarantined);
            plan.filtered = outcome.filtered;
        }
    }
    Ok(plan)
}

/// What `POST /admin/quarantine/replay` replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// One object.
    Key(String),
    /// Every object of a connector (not yet replayed ones unless `force`).
    Connector {
        /// Connector id.
        id: String,
        /// Include objects already replayed.
        force: bool,
    },
}

/// Parses the replay body: `{"key": K}` or `{"connector": ID, "force"?: bool}`.
pub fn parse_replay(body: &[u8]) -> Result<ReplayTarget, Problem> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        connector: Option<String>,
        #[serde(default)]
        force: bool,
    }
    let invalid = |detail: &str| Problem::InvalidAdminRequest {
        detail: detail.to_owned(),
    };
    let body: Body = serde_json::from_slice(body).map_err(|_| {
        invalid("body must be {\"key\": K} or {\"connector\": ID, \"force\"?: bool}")
    })?;
    match (body.key, body.connector) {
        (Some(key), None) => quarantine_key_param(Some(&key)).map(ReplayTarget::Key),
        (None, Some(id)) if is_valid_connector_id(&id) => Ok(ReplayTarget::Connector {
            id,
            force: body.force,
        }),
        (None, Some(_)) => Err(invalid("`connector` must be a connector id")),
        _ => Err(invalid("give exactly one of `key` or `connector`")),
    }
}

/// The answer to a replay: objects replayed and what became of their events.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    /// Objects replayed.
    pub objects: usize,
    /// Events sent back to the delivery queue.
    pub requeued: usize,
    /// Events that stay quarantined.
    pub still_quarantined: usize,
    /// Events the connector now filters.
    pub filtered: usize,
}

impl ReplaySummary {
    /// Adds one object's plan.
    pub fn add(&mut self, plan: &ReplayPlan) {
        self.objects += 1;
        self.requeued += plan.requeued;
        self.still_quarantined += plan.still_quarantined.len();
        self.filtered += plan.filtered.len();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::{MessageIdScope, Region};
    use crate::quarantine::{DeliveryReason, QuarantineEntry};

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
            received_ms: 5,
        }
    }

    #[test]
    fn delivery_failures_replay_with_the_same_message_ids() {
        let out = process(BODY.as_bytes(), &config(), &ctx()).unwrap();
        let msg = &out.batches[0];
        let doc = QuarantineDoc::from_message(
            msg,
            "2026-11-28T00:00:00.000Z",
            DeliveryReason::SegmentRejected,
            Some(400),
            "HTTP 400",
        );
        let stored: QuarantineDoc = serde_json::from_str(&doc.to_json()).unwrap();
        let plan = replay(&stored, &config(), "acme", 99).unwrap();
        assert_eq!(plan.requeued, 2);
        let again = &plan.messages[0];
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
        assert_eq!(ids(again), ids(msg));
        assert_eq!(again.events[0].json.get(), msg.events[0].json.get());
    }

    #[test]
    fn ingest_rejections_are_validated_again() {
        let out = process(BODY.as_bytes(), &config(), &ctx()).unwrap();
        let doc = QuarantineDoc::from_rejected(
            "acme",
            None,
            "2026-11-28T00:00:00.000Z",
            &out.quarantined,
        );
        assert_eq!(doc.reasons["invalid_time"], 1);
        let stored: QuarantineDoc = serde_json::from_str(&doc.to_json()).unwrap();
        let plan = replay(&stored, &config(), "acme", 1).unwrap();
        assert_eq!(plan.requeued, 0);
        assert_eq!(
            plan.still_quarantined.len(),
            1,
            "still invalid: stays in quarantine"
        );
        assert!(plan.messages.is_empty());
        let mut summary = ReplaySummary::default();
        summary.add(&plan);
        assert_eq!((summary.objects, summary.still_quarantined), (1, 1));
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
            generation: None,
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
        let plan = replay(&doc, &config(), "acme", 1).unwrap();
        assert_eq!(plan.requeued, 1);
        assert_eq!(
            plan.messages[0].events[0].message_id,
            crate::segment::message_id(MessageIdScope::Connector, "acme", "late")
        );
    }

    #[test]
    fn objects_of_another_generation_are_not_replayed() {
        let out = process(BODY.as_bytes(), &config(), &ctx()).unwrap();
        let mut doc = QuarantineDoc::from_message(
            &out.batches[0],
            "2026-11-28T00:00:00.000Z",
            DeliveryReason::ConnectorReplaced,
            None,
            "replaced",
        );
        doc.generation = Some("g1".into());
        let mut recreated = config();
        recreated.generation = Some("g2".into());
        assert_eq!(
            replay(&doc, &recreated, "acme", 1).unwrap_err(),
            Problem::ConnectorReplaced
        );
        recreated.generation = Some("g1".into());
        let plan = replay(&doc, &recreated, "acme", 1).unwrap();
        assert_eq!(plan.messages[0].generation.as_deref(), Some("g1"));
    }

    #[test]
    fn replay_bodies() {
        assert_eq!(
            parse_replay(br#"{"key":"quarantine/acme/x.json"}"#),
            Ok(ReplayTarget::Key("quarantine/acme/x.json".into()))
        );
        assert_eq!(
            parse_replay(br#"{"connector":"acme","force":true}"#),
            Ok(ReplayTarget::Connector {
                id: "acme".into(),
                force: true
            })
        );
        for bad in [
            &b"{}"[..],
            br#"{"key":"x","connector":"acme"}"#,
            br#"{"connector":"a/b"}"#,
            br#"{"key":"nope"}"#,
            br#"{"connector":"acme","extra":1}"#,
            b"not json",
        ] {
            assert_eq!(parse_replay(bad).unwrap_err().status(), 400);
        }
    }
}
