//! Replay: what `POST /admin/quarantine/replay` names, which page of a connector's objects one
//! call replays, what replaying one object does, and what becomes of the object.
//! Translated events go back as they are (same `messageId`); raw events are validated and
//! translated again (same connector id, so the same `messageId`). Segment dedupes anything
//! already delivered, so replaying twice is harmless. A replay moves events, it never copies
//! them: the object is kept or rewritten at its own key ([`Disposition`]), so the bucket never
//! grows by replaying.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::doc::QuarantineDoc;
use super::keys::{connector_prefix, quarantine_key_param};
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

/// Most objects one `POST /admin/quarantine/replay {"connector"}` call replays: each costs about
/// three subrequests (R2 get, queue send, R2 put), so a page stays far below a Worker's limit.
pub const REPLAY_PAGE_MAX: usize = 50;

/// What becomes of a replayed object. Either way it stays at its key: nothing is copied.
#[derive(Debug)]
pub enum Disposition {
    /// Keep the object as it is (marked replayed): nothing left the quarantine, or everything did
    /// (the object stays as the record of what was replayed; a forced replay sends the same
    /// messageIds again), or not every event is accounted for (nothing may be dropped).
    Keep,
    /// Rewrite the object with only the events still quarantined: some were requeued or
    /// filtered, the rest stay.
    Replace(QuarantineDoc),
}

impl ReplayPlan {
    /// What to do with the replayed object `doc` of `connector` after this plan.
    pub fn disposition(&self, doc: &QuarantineDoc, connector: &str) -> Disposition {
        let left = self.requeued + self.filtered.len();
        let accounted = left + self.still_quarantined.len() == doc.events.len();
        if left == 0 || self.still_quarantined.is_empty() || !accounted {
            return Disposition::Keep;
        }
        Disposition::Replace(QuarantineDoc::from_rejected(
            connector,
            doc.generation.as_deref(),
            &doc.received_at,
            &self.still_quarantined,
        ))
    }
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
                event_type: e.event_type.clone().unwrap_or_default().into(),
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
                event_type: Some(r.event.event_type.to_string()),
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
    /// A page of a connector's objects (not yet replayed ones unless `force`).
    Connector {
        /// Connector id.
        id: String,
        /// Include objects already replayed.
        force: bool,
        /// Objects per call, 1 to [`REPLAY_PAGE_MAX`].
        limit: usize,
        /// Replay only keys after this one (the previous answer's `cursor`).
        cursor: Option<String>,
    },
}

/// One call's share of a connector replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayPage {
    /// Keys to replay now, in order.
    pub keys: Vec<String>,
    /// Objects left for later calls.
    pub remaining: usize,
    /// The last key of this page while objects remain: the next call's `cursor`.
    pub cursor: Option<String>,
}

/// The page of `candidates` (a connector's keys to replay, in any order) after `cursor`: keys
/// in order, at most `limit`. Objects are rewritten at their own keys, so a cursor stays valid.
pub fn replay_page(mut candidates: Vec<String>, cursor: Option<&str>, limit: usize) -> ReplayPage {
    candidates.sort_unstable();
    candidates.dedup();
    candidates.retain(|k| cursor.is_none_or(|c| k.as_str() > c));
    let remaining = candidates.len().saturating_sub(limit);
    candidates.truncate(limit);
    let cursor = if remaining > 0 {
        candidates.last().cloned()
    } else {
        None
    };
    ReplayPage {
        keys: candidates,
        remaining,
        cursor,
    }
}

/// Parses the replay body: `{"key": K}` or `{"connector": ID, "force"?: bool, "limit"?: N,
/// "cursor"?: K}`.
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
        #[serde(default)]
        limit: Option<usize>,
        #[serde(default)]
        cursor: Option<String>,
    }
    let invalid = |detail: &str| Problem::InvalidAdminRequest {
        detail: detail.to_owned(),
    };
    let body: Body = serde_json::from_slice(body).map_err(|_| {
        invalid(
            "body must be {\"key\": K} or {\"connector\": ID, \"force\"?: bool, \"limit\"?: N, \"cursor\"?: K}",
        )
    })?;
    match (body.key, body.connector) {
        (Some(_), None) if body.limit.is_some() || body.cursor.is_some() => {
            Err(invalid("`limit` and `cursor` page a `connector` replay"))
        }
        (Some(key), None) => quarantine_key_param(Some(&key)).map(ReplayTarget::Key),
        (None, Some(id)) if is_valid_connector_id(&id) => {
            let limit = body.limit.unwrap_or(REPLAY_PAGE_MAX);
            if !(1..=REPLAY_PAGE_MAX).contains(&limit) {
                return Err(invalid("`limit` must be between 1 and 50"));
            }
            if let Some(c) = &body.cursor
                && (!c.starts_with(&connector_prefix(&id)) || c.contains(".."))
            {
                return Err(invalid("`cursor` must be a key the previous answer gave"));
            }
            Ok(ReplayTarget::Connector {
                id,
                force: body.force,
                limit,
                cursor: body.cursor,
            })
        }
        (None, Some(_)) => Err(invalid("`connector` must be a connector id")),
        _ => Err(invalid("give exactly one of `key` or `connector`")),
    }
}

/// The answer to a replay: objects replayed, what became of their events, and what is left.
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
    /// Objects of the connector left for later calls (0 for a key).
    pub remaining: usize,
    /// Where the next call starts (`null` when nothing remains).
    pub cursor: Option<String>,
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
                force: true,
                limit: REPLAY_PAGE_MAX,
                cursor: None,
            })
        );
        assert_eq!(
            parse_replay(
                br#"{"connector":"acme","limit":2,"cursor":"quarantine/acme/d/1-a.json"}"#
            ),
            Ok(ReplayTarget::Connector {
                id: "acme".into(),
                force: false,
                limit: 2,
                cursor: Some("quarantine/acme/d/1-a.json".into()),
            })
        );
        for bad in [
            &br#"{"connector":"acme","limit":0}"#[..],
            br#"{"connector":"acme","limit":51}"#,
            br#"{"connector":"acme","limit":-1}"#,
            br#"{"connector":"acme","cursor":"quarantine/other/x.json"}"#,
            br#"{"connector":"acme","cursor":"quarantine/acme/../x"}"#,
            br#"{"key":"quarantine/acme/x.json","limit":2}"#,
            br#"{"key":"quarantine/acme/x.json","cursor":"quarantine/acme/a"}"#,
        ] {
            assert_eq!(
                parse_replay(bad).unwrap_err().status(),
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
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

    fn rejected_doc(body: &str) -> QuarantineDoc {
        let out = process(body.as_bytes(), &config(), &ctx()).unwrap();
        let doc = QuarantineDoc::from_rejected(
            "acme",
            None,
            "2026-11-28T00:00:00.000Z",
            &out.quarantined,
        );
        serde_json::from_str(&doc.to_json()).unwrap()
    }

    fn raw_entry(event: &str) -> QuarantineEntry {
        QuarantineEntry {
            index: Some(0),
            event_id: None,
            event_type: None,
            reason: "invalid_time".into(),
            detail: String::new(),
            message_id: None,
            raw: Some(RawValue::from_string(event.into()).unwrap()),
            segment: None,
        }
    }

    const GOOD: &str = r#"{"id":"now-ok","event_type":"users.messages.email.Send","time":1700000000,"user":{"user_id":"b","external_user_id":"u"}}"#;
    const BAD: &str = r#"{"id":"still-bad","event_type":"users.messages.email.Send","time":"later","user":{"user_id":"b","external_user_id":"u"}}"#;

    #[test]
    fn still_invalid_events_keep_the_object() {
        let doc = rejected_doc(BODY);
        let plan = replay(&doc, &config(), "acme", 1).unwrap();
        assert_eq!((plan.requeued, plan.still_quarantined.len()), (0, 1));
        assert!(matches!(plan.disposition(&doc, "acme"), Disposition::Keep));
    }

    #[test]
    fn partly_forwarded_objects_are_replaced_by_the_rest() {
        let mut doc = rejected_doc(BODY);
        doc.events = vec![raw_entry(GOOD), raw_entry(BAD)];
        let plan = replay(&doc, &config(), "acme", 1).unwrap();
        assert_eq!((plan.requeued, plan.still_quarantined.len()), (1, 1));
        let Disposition::Replace(rest) = plan.disposition(&doc, "acme") else {
            panic!("expected a replacement");
        };
        assert_eq!(rest.events.len(), 1);
        assert_eq!(rest.events[0].event_id.as_deref(), Some("still-bad"));
        assert_eq!(rest.received_at, doc.received_at, "receipt time kept");
        assert_eq!(rest.reasons["invalid_time"], 1);
        // Replaying the replacement again changes nothing: it is kept.
        let stored: QuarantineDoc = serde_json::from_str(&rest.to_json()).unwrap();
        let again = replay(&stored, &config(), "acme", 2).unwrap();
        assert!(matches!(
            again.disposition(&stored, "acme"),
            Disposition::Keep
        ));
    }

    #[test]
    fn fully_forwarded_objects_are_kept_as_the_record() {
        let mut doc = rejected_doc(BODY);
        doc.events = vec![raw_entry(GOOD)];
        let plan = replay(&doc, &config(), "acme", 1).unwrap();
        assert_eq!((plan.requeued, plan.still_quarantined.len()), (1, 0));
        assert!(matches!(plan.disposition(&doc, "acme"), Disposition::Keep));
    }

    #[test]
    fn unaccounted_events_keep_the_object_whole() {
        let mut doc = rejected_doc(BODY);
        // A translated entry without a destination answer: replay cannot send it, so it must
        // not be dropped by rewriting the object with the others.
        let mut orphan = raw_entry(GOOD);
        orphan.raw = None;
        orphan.segment = Some(RawValue::from_string("{}".into()).unwrap());
        orphan.message_id = Some("m".into());
        doc.events = vec![raw_entry(GOOD), raw_entry(BAD), orphan];
        let plan = replay(&doc, &config(), "acme", 1).unwrap();
        assert_eq!((plan.requeued, plan.still_quarantined.len()), (1, 1));
        assert!(matches!(plan.disposition(&doc, "acme"), Disposition::Keep));
    }

    #[test]
    fn connector_replay_is_paged() {
        let keys: Vec<String> = ["c", "a", "e", "b", "d"]
            .iter()
            .map(|k| format!("quarantine/acme/{k}"))
            .collect();
        let first = replay_page(keys.clone(), None, 2);
        assert_eq!(first.keys, ["quarantine/acme/a", "quarantine/acme/b"]);
        assert_eq!(
            (first.remaining, first.cursor.as_deref()),
            (3, Some("quarantine/acme/b"))
        );
        let second = replay_page(keys.clone(), first.cursor.as_deref(), 2);
        assert_eq!(second.keys, ["quarantine/acme/c", "quarantine/acme/d"]);
        assert_eq!(second.remaining, 1);
        let last = replay_page(keys.clone(), second.cursor.as_deref(), 2);
        assert_eq!(last.keys, ["quarantine/acme/e"]);
        assert_eq!((last.remaining, last.cursor), (0, None));
        // Without force, replayed objects drop out of the candidates: the cursor still holds.
        let unreplayed: Vec<String> = ["e", "c", "d"]
            .iter()
            .map(|k| format!("quarantine/acme/{k}"))
            .collect();
        assert_eq!(replay_page(unreplayed, first.cursor.as_deref(), 2), second);
        let all = replay_page(keys, None, REPLAY_PAGE_MAX);
        assert_eq!((all.keys.len(), all.remaining, all.cursor), (5, 0, None));
        let many: Vec<String> = (0..120)
            .map(|i| format!("quarantine/acme/{i:03}"))
            .collect();
        let page = replay_page(many, None, REPLAY_PAGE_MAX);
        assert_eq!((page.keys.len(), page.remaining), (50, 70));
        assert!(replay_page(Vec::new(), None, 1).keys.is_empty());
    }
}
