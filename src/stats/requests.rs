//! The stats object's requests, pure: what each one does to a connector's totals and drift
//! report ([`object_request`]; the object's shell loads both, calls it and performs the writes
//! it returns), and what the admin routes ask of the object ([`ObjectView`]).

use serde::Serialize;

use super::{IngestDelta, Stats, stats_json};
use crate::alerts::{self, AlertState};
use crate::drift::{Report, report_json};
use crate::web::{Answer, Problem, json_answer};

/// What the stats object answers and writes for one request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ObjectEffects {
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: String,
    /// The totals' JSON to store, when they changed.
    pub put_stats: Option<String>,
    /// The drift report's JSON to store, when it changed.
    pub put_drift: Option<String>,
    /// Whether the stored drift report is to be deleted.
    pub delete_drift: bool,
    /// The alert state's JSON to store, when it changed.
    pub put_alerts: Option<String>,
}

/// What a connector's stats object keeps, as one scrape or alert check reads it (`GET
/// /metrics`). On the wire ([`Kept::body`]) the counters' JSON, a newline, the alert state's
/// JSON, a newline, and the drift report's new types as a JSON array (compact JSON never holds a
/// raw newline), so each part is read by the reader its type already has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// The counters.
    pub stats: Stats,
    /// The alert state.
    pub alerts: AlertState,
    /// The new event types of the drift report.
    pub new_types: Vec<String>,
}

impl Kept {
    /// The `GET /metrics` body.
    pub fn body(stats: &Stats, alerts: &AlertState, drift: &Report) -> String {
        let types: Vec<&str> = drift.types.iter().map(|t| t.event_type.as_str()).collect();
        format!(
            "{}\n{}\n{}",
            to_json(stats),
            to_json(alerts),
            to_json(&types)
        )
    }

    /// Reads a [`Kept::body`]; `None` when its counters are not readable.
    pub fn from_body(body: &str) -> Option<Kept> {
        let mut parts = body.splitn(3, '\n');
        let stats = serde_json::from_str(parts.next()?).ok()?;
        let alerts = AlertState::from_json(parts.next().unwrap_or(""));
        let new_types = serde_json::from_str(parts.next().unwrap_or("")).unwrap_or_default();
        Some(Kept {
            stats,
            alerts,
            new_types,
        })
    }
}

fn effects(status: u16, body: impl Into<String>) -> ObjectEffects {
    ObjectEffects {
        status,
        body: body.into(),
        ..ObjectEffects::default()
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// One request to the stats object, with the connector's `total`, `drift` and `alerts` as
/// loaded: `POST /add` merges a stats delta, `POST /ingest` a delta and a drift report
/// ([`super::ingest_body`]), `GET /` answers the totals, `GET /drift` the report, `DELETE
/// /drift` empties it, `GET /alerts` answers the alert state, `POST /alerts` stores the one an
/// evaluation made (and forgets the pending slots before its cutoff), and `GET /metrics` answers
/// all three ([`Kept`]). Only what changed is written: the report only when its merge says so.
pub fn object_request(
    (method, path, body): (&str, &str, &str),
    total: &mut Stats,
    drift: &mut Report,
    alerts: &mut AlertState,
) -> ObjectEffects {
    let delta = match (method, path) {
        ("POST", "/add") => serde_json::from_str(body).ok().map(IngestDelta::of),
        ("POST", "/ingest") => IngestDelta::from_body(body),
        ("POST", "/alerts") => return update_alerts(body, total, alerts),
        ("GET", "/") => return effects(200, to_json(total)),
        ("GET", "/drift") => return effects(200, to_json(drift)),
        ("GET", "/alerts") => return effects(200, to_json(alerts)),
        ("GET", "/metrics") => return effects(200, Kept::body(total, alerts, drift)),
        ("DELETE", "/drift") => {
            drift.reset();
            return ObjectEffects {
                delete_drift: true,
                ..effects(200, "")
            };
        }
        _ => return effects(404, "not found"),
    };
    let Some(delta) = delta else {
        return effects(400, "invalid delta");
    };
    total.merge(&delta.stats);
    let totals = to_json(total);
    let put_drift = drift.merge(delta.drift).then(|| to_json(drift));
    ObjectEffects {
        put_stats: Some(totals.clone()),
        put_drift,
        ..effects(200, totals)
    }
}

/// `POST /alerts`: stores an evaluation's alert state and forgets the pending slots before its
/// cutoff.
fn update_alerts(body: &str, total: &mut Stats, alerts: &mut AlertState) -> ObjectEffects {
    let Ok(update) = serde_json::from_str::<AlertState>(body) else {
        return effects(400, "invalid alert state");
    };
    *alerts = update;
    let forgot = total.forget_pending_before(alerts.pending_cutoff_ms);
    ObjectEffects {
        put_alerts: Some(to_json(alerts)),
        put_stats: forgot.then(|| to_json(total)),
        ..effects(200, "")
    }
}

/// What an admin route reads from, or does to, a connector's stats object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectView {
    /// `GET /admin/connectors/{id}/stats`: the counters.
    Counters,
    /// `GET /admin/connectors/{id}/drift`: the drift report.
    Drift,
    /// `DELETE /admin/connectors/{id}/drift`: empties the drift report.
    DriftReset,
    /// `GET /admin/connectors/{id}/alerts`: each alert rule's state.
    Alerts,
}

impl ObjectView {
    /// The stats object request that serves it: method and path.
    pub fn request(self) -> (&'static str, &'static str) {
        match self {
            ObjectView::Counters => ("GET", "/"),
            ObjectView::Drift => ("GET", "/drift"),
            ObjectView::DriftReset => ("DELETE", "/drift"),
            ObjectView::Alerts => ("GET", "/alerts"),
        }
    }

    /// The admin answer for `connector`, from the object's answer (status and body).
    pub fn answer(self, connector: &str, status: u16, body: &str) -> Result<Answer, Problem> {
        if status != 200 {
            return Err(Problem::Internal);
        }
        Ok(match self {
            ObjectView::Counters => {
                let stats = serde_json::from_str(body).unwrap_or_default();
                json_answer(200, stats_json(connector, &stats))
            }
            ObjectView::Drift => json_answer(200, report_json(connector, &Report::from_json(body))),
            ObjectView::Alerts => json_answer(
                200,
                alerts::state_json(connector, &AlertState::from_json(body)),
            ),
            ObjectView::DriftReset => Answer {
                status: 204,
                headers: Vec::new(),
                body: String::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::Kind;
    use crate::stats::ingest_body;

    fn drift_of(event_type: &str, at_ms: u64) -> Report {
        let entry = format!(
            r#"{{"types":[{{"event_type":"{event_type}","count":1,"first_seen_ms":{at_ms},"last_seen_ms":{at_ms},"example":[["a","string"]]}}]}}"#
        );
        Report::from_json(&entry)
    }

    #[test]
    fn ingest_merges_both_and_writes_the_report_only_when_it_changed() {
        let (mut total, mut drift) = (Stats::default(), Report::default());
        let mut alerts = AlertState::default();
        let stats = Stats {
            received: 3,
            ..Stats::default()
        };
        let plain = ingest_body(&stats, &Report::default());
        let e = object_request(
            ("POST", "/ingest", &plain),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!(
            (e.status, e.put_drift.is_some(), e.delete_drift),
            (200, false, false)
        );
        assert_eq!(e.put_stats.as_deref(), Some(e.body.as_str()));
        assert_eq!(total.received, 3);

        let body = ingest_body(&stats, &drift_of("users.new.A", 7));
        let e = object_request(
            ("POST", "/ingest", &body),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!(total.received, 6);
        let stored = Report::from_json(&e.put_drift.unwrap());
        assert_eq!(stored, drift, "what is written is the merged report");
        assert_eq!(
            (drift.types[0].count, drift.types[0].example[0].1),
            (1, Kind::String)
        );

        let later = ingest_body(&Stats::default(), &drift_of("users.new.A", 9));
        object_request(
            ("POST", "/ingest", &later),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        let t = &drift.types[0];
        assert_eq!((t.count, t.first_seen_ms, t.last_seen_ms), (2, 7, 9));
    }

    #[test]
    fn add_reads_and_reset() {
        let (mut total, mut drift) = (Stats::default(), drift_of("users.new.A", 1));
        let mut alerts = AlertState::default();
        let e = object_request(
            ("POST", "/add", r#"{"delivered":2}"#),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!((e.status, total.delivered, e.put_drift), (200, 2, None));
        let e = object_request(("GET", "/", ""), &mut total, &mut drift, &mut alerts);
        assert_eq!(
            (e.status, e.put_stats, e.body.contains(r#""delivered":2"#)),
            (200, None, true)
        );
        let e = object_request(("GET", "/drift", ""), &mut total, &mut drift, &mut alerts);
        assert_eq!(Report::from_json(&e.body), drift);
        let e = object_request(
            ("DELETE", "/drift", ""),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!((e.status, e.delete_drift, e.put_drift), (200, true, None));
        assert!(drift.is_empty());
        assert_eq!(total.delivered, 2, "the counters stay");
        let bad = object_request(
            ("POST", "/add", "nope"),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!((bad.status, bad.put_stats), (400, None));
        let bad = object_request(
            ("POST", "/ingest", "nope\n{}"),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!(bad.status, 400);
        assert_eq!(
            object_request(("PUT", "/", ""), &mut total, &mut drift, &mut alerts).status,
            404
        );
    }

    #[test]
    fn admin_views() {
        assert_eq!(ObjectView::Counters.request(), ("GET", "/"));
        assert_eq!(ObjectView::Drift.request(), ("GET", "/drift"));
        assert_eq!(ObjectView::DriftReset.request(), ("DELETE", "/drift"));
        let drift = to_json(&drift_of("users.new.A", 1));
        let a = ObjectView::Drift.answer("acme", 200, &drift).unwrap();
        assert_eq!(a.body, report_json("acme", &Report::from_json(&drift)));
        let c = ObjectView::Counters
            .answer("acme", 200, r#"{"received":4}"#)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&c.body).unwrap();
        assert_eq!(
            (v["connector"].as_str(), v["received"].as_u64()),
            (Some("acme"), Some(4))
        );
        let r = ObjectView::DriftReset.answer("acme", 200, "").unwrap();
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        assert_eq!(
            ObjectView::Drift.answer("acme", 500, ""),
            Err(Problem::Internal)
        );
    }

    #[test]
    fn alerts_are_stored_read_and_scraped() {
        let (mut total, mut drift) = (Stats::default(), drift_of("users.new.A", 1));
        let mut alerts = AlertState::default();
        total.add_pending(0, 2);
        total.add_pending(3_600_000, 1);
        let state: AlertState = serde_json::from_str(
            r#"{"rules":[{"rule":"new_event_types","threshold":0,"firing":true,
                "since_ms":5,"detail":"1 new event types","notified":true}],"evaluated_ms":5,
                "pending_cutoff_ms":60000}"#,
        )
        .unwrap();
        let body = to_json(&state);
        let e = object_request(
            ("POST", "/alerts", &body),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!((e.status, alerts.clone()), (200, state.clone()));
        assert_eq!(
            e.put_alerts.as_deref().map(AlertState::from_json),
            Some(state.clone())
        );
        assert_eq!(total.pending_events(), 1, "the stale slot is forgotten");
        assert!(e.put_stats.is_some());
        let e = object_request(("GET", "/alerts", ""), &mut total, &mut drift, &mut alerts);
        assert_eq!(AlertState::from_json(&e.body), state);
        let e = object_request(("GET", "/metrics", ""), &mut total, &mut drift, &mut alerts);
        let kept = Kept::from_body(&e.body).unwrap();
        assert_eq!(kept.new_types, ["users.new.A"]);
        assert_eq!((kept.alerts, kept.stats), (state, total.clone()));
        let e = object_request(
            ("POST", "/alerts", "nope"),
            &mut total,
            &mut drift,
            &mut alerts,
        );
        assert_eq!((e.status, e.put_alerts), (400, None));
        let a = ObjectView::Alerts
            .answer("acme", 200, &to_json(&alerts))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(
            (v["connector"].as_str(), v["rules"][0]["rule"].as_str()),
            (Some("acme"), Some("new_event_types"))
        );
        assert_eq!(
            (
                v["rules"][0]["firing"].as_bool(),
                v["evaluated_ms"].as_u64()
            ),
            (Some(true), Some(5))
        );
    }
}
