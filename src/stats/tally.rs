//! Stats deltas the Worker sends to each connector's `ConnectorStats` Durable Object: one per
//! ingest request, one per connector per queue-consumer invocation. Delivery's decisions say
//! what to count ([`Tick`]) once their effect has succeeded; counting is pure, the shell only
//! posts the JSON.

use std::collections::BTreeMap;

use super::{LastError, Stats};
use crate::delivery::HoldReason;
use crate::drift;
use crate::pipeline::Outcome;

/// What ingest sends its connector's stats object, in one call per request: the stats delta and
/// the batch's drift report. On the wire ([`ingest_body`]) it is the delta's JSON, then, when the
/// batch had drift, a newline and the report's JSON (compact JSON never holds a raw newline), so
/// the object reads each part with the reader it has for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestDelta {
    /// The request's counters ([`ingest_delta`]).
    pub stats: Stats,
    /// What the batch carried that the mapping table does not describe.
    pub drift: drift::Report,
}

/// The body of the stats object's `POST /ingest` ([`IngestDelta`]).
pub fn ingest_body(stats: &Stats, drift: &drift::Report) -> String {
    let mut body = serde_json::to_string(stats).unwrap_or_default();
    if !drift.is_empty() {
        body.push('\n');
        body.push_str(&serde_json::to_string(drift).unwrap_or_default());
    }
    body
}

impl IngestDelta {
    /// A delta without drift (a consumer's or a replay's).
    pub fn of(stats: Stats) -> IngestDelta {
        IngestDelta {
            stats,
            drift: drift::Report::default(),
        }
    }

    /// Reads an [`ingest_body`]; `None` when its first part is not a stats delta.
    pub fn from_body(body: &str) -> Option<IngestDelta> {
        let (stats, drift) = body.split_once('\n').unwrap_or((body, ""));
        Some(IngestDelta {
            stats: serde_json::from_str(stats).ok()?,
            drift: drift::Report::from_json(drift),
        })
    }
}

/// What one finished delivery step adds to a connector's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// The connector counted.
    pub connector: String,
    /// Its generation (stats are kept per generation: [`super::object_name`]).
    pub generation: Option<String>,
    /// When the Worker accepted the events (their message's `received_ms`), when known: dates
    /// their pending-ledger entry and their delivery lag.
    pub received_ms: Option<u64>,
    /// The Segment request the step made, if it made one.
    pub request: Option<SegmentRequest>,
    /// What happened.
    pub counted: Counted,
}

/// A Segment request: its answer's HTTP status, or none (a timeout, a network failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRequest(pub Option<u16>);

impl SegmentRequest {
    /// The answer's class: `2xx`, `4xx`, `5xx`..., or `error` when no answer came.
    pub fn class(self) -> String {
        match self.0 {
            Some(status) => format!("{}xx", status / 100),
            None => "error".to_owned(),
        }
    }
}

/// The kinds of delivery step that are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// `n` events reached Segment.
    Delivered(usize),
    /// `n` events went back to the queue after a transient failure (`status`, if Segment answered).
    Retried(usize, Option<u16>),
    /// `n` events went back to the queue in two halves after Segment refused their batch.
    Split(usize, u16),
    /// `n` events were held.
    Held(HoldReason, usize),
    /// Events went to quarantine: count per reason code, and Segment's status if any.
    Quarantined(BTreeMap<String, usize>, Option<u16>),
}

/// The delta of one ingest request: received, accepted (queued), filtered and quarantined.
pub fn ingest_delta(outcome: &Outcome, quarantined_extra: &[(&str, u64)], now_ms: u64) -> Stats {
    let mut d = Stats {
        received: outcome.received as u64,
        accepted: outcome.accepted() as u64,
        ..Stats::default()
    };
    for f in &outcome.filtered {
        *d.filtered.entry(f.reason.code().to_owned()).or_insert(0) += 1;
    }
    for q in &outcome.quarantined {
        *d.quarantined.entry(q.reason.code().to_owned()).or_insert(0) += 1;
    }
    for (code, n) in quarantined_extra {
        *d.quarantined.entry((*code).to_owned()).or_insert(0) += n;
    }
    d.add_pending(now_ms, outcome.accepted() as i64);
    let (filtered, quarantined) = (d.filtered_total(), d.quarantined_total());
    let b = d.bucket(now_ms);
    b.received = outcome.received as u64;
    b.filtered = filtered;
    b.quarantined = quarantined;
    d
}

/// Per-connector deltas of one consumer invocation.
#[derive(Debug, Default)]
pub struct Tally {
    /// Stats object name ([`super::object_name`]: the connector and its generation) → delta.
    pub by_object: BTreeMap<String, Stats>,
}

impl Tally {
    fn of(&mut self, connector: &str) -> &mut Stats {
        self.by_object.entry(connector.to_owned()).or_default()
    }

    fn error(&mut self, connector: &str, code: &str, status: Option<u16>, now_ms: u64) {
        let d = self.of(connector);
        if d.last_error.as_ref().is_none_or(|e| e.at_ms <= now_ms) {
            d.last_error = Some(LastError {
                code: code.to_owned(),
                status,
                at_ms: now_ms,
            });
        }
    }

    /// `n` events reached Segment.
    fn delivered(&mut self, connector: &str, n: usize, now_ms: u64) {
        let d = self.of(connector);
        d.delivered += n as u64;
        d.last_success_ms = d.last_success_ms.max(Some(now_ms));
        d.bucket(now_ms).delivered += n as u64;
    }

    /// `n` events go back to the queue after a transient failure.
    fn retried(&mut self, connector: &str, n: usize, status: Option<u16>, now_ms: u64) {
        self.of(connector).retried += n as u64;
        self.error(connector, "segment_unavailable", status, now_ms);
    }

    /// `n` events go back to the queue in two halves after Segment refused their batch.
    fn split(&mut self, connector: &str, n: usize, status: u16, now_ms: u64) {
        self.of(connector).split += n as u64;
        self.error(connector, "segment_rejected", Some(status), now_ms);
    }

    /// `n` events are held for `reason`.
    fn held(&mut self, connector: &str, reason: HoldReason, n: usize, now_ms: u64) {
        *self
            .of(connector)
            .held
            .entry(reason.code().to_owned())
            .or_insert(0) += n as u64;
        self.error(connector, reason.code(), None, now_ms);
    }

    /// `n` events went to quarantine for `reason`.
    fn quarantined(
        &mut self,
        connector: &str,
        reason: &str,
        n: usize,
        status: Option<u16>,
        now_ms: u64,
    ) {
        let d = self.of(connector);
        *d.quarantined.entry(reason.to_owned()).or_insert(0) += n as u64;
        d.bucket(now_ms).quarantined += n as u64;
        self.error(connector, reason, status, now_ms);
    }

    /// Counts a finished delivery step.
    pub fn count(&mut self, tick: &Tick, now_ms: u64) {
        let name = super::object_name(&tick.connector, tick.generation.as_deref());
        let c = name.as_str();
        if let Some(request) = tick.request {
            *self
                .of(c)
                .segment_requests
                .entry(request.class())
                .or_insert(0) += 1;
        }
        let finished = match &tick.counted {
            Counted::Delivered(n) => *n,
            Counted::Quarantined(reasons, _) => reasons.values().sum(),
            _ => 0,
        };
        if let Some(received_ms) = tick.received_ms {
            let d = self.of(c);
            d.add_pending(received_ms, -(finished as i64));
            if let Counted::Delivered(n) = tick.counted {
                d.delivery_lag
                    .observe(now_ms.saturating_sub(received_ms), n as u64);
            }
        }
        match &tick.counted {
            Counted::Delivered(n) => self.delivered(c, *n, now_ms),
            Counted::Retried(n, status) => self.retried(c, *n, *status, now_ms),
            Counted::Split(n, status) => self.split(c, *n, *status, now_ms),
            Counted::Held(reason, n) => self.held(c, *reason, *n, now_ms),
            Counted::Quarantined(reasons, status) => {
                for (reason, n) in reasons {
                    self.quarantined(c, reason, *n, *status, now_ms);
                }
            }
        }
    }

    /// `n` events were re-enqueued from quarantine at `now_ms` (`object`: the stats object's
    /// name): pending again.
    pub fn replayed(&mut self, object: &str, n: usize, now_ms: u64) {
        let d = self.of(object);
        d.replayed += n as u64;
        d.add_pending(now_ms, n as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConnectorConfig;
    use crate::pipeline::{Outcome, ProcessContext, process};

    /// `body` processed for a connector with one US destination.
    fn processed(body: &[u8]) -> Outcome {
        let config = ConnectorConfig::from_json(&format!(
            r#"{{"token_sha256":"{}","destinations":{{"main":{{"write_key":"wk_1234","region":"us"}}}}}}"#,
            "0".repeat(64)
        ))
        .unwrap();
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
            received_ms: 0,
        };
        process(body, &config, &ctx).unwrap()
    }

    #[test]
    fn ingest_counts_every_event_once() {
        let body = br#"{"events":[
            {"id":"a","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}},
            {"id":"b","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b"}},
            {"event_type":"users.messages.email.Send","time":1}
        ]}"#;
        let out = processed(body);
        let d = ingest_delta(&out, &[], 7_200_123);
        assert_eq!((d.received, d.accepted), (3, 1));
        assert_eq!(d.filtered["anonymous_user"], 1);
        assert_eq!(d.quarantined["missing_id"], 1);
        assert_eq!(d.series[&7_200_000].received, 3);
    }

    #[test]
    fn consumer_tally_per_connector() {
        let tick = |c: &str, counted| Tick {
            connector: c.to_owned(),
            generation: None,
            received_ms: None,
            request: None,
            counted,
        };
        let mut t = Tally::default();
        t.count(&tick("a", Counted::Delivered(3)), 10);
        t.count(&tick("a", Counted::Retried(2, Some(503))), 11);
        t.count(&tick("b", Counted::Held(HoldReason::Paused, 4)), 12);
        let reasons = BTreeMap::from([("segment_rejected".to_owned(), 1)]);
        t.count(&tick("a", Counted::Quarantined(reasons, Some(400))), 13);
        t.replayed("a", 5, 0);
        t.count(&tick("c", Counted::Split(6, 413)), 14);
        let a = &t.by_object["a"];
        assert_eq!((a.delivered, a.retried, a.replayed), (3, 2, 5));
        let c = &t.by_object["c"];
        assert_eq!(c.split, 6);
        assert_eq!(c.last_error.as_ref().unwrap().status, Some(413));
        assert_eq!(a.last_success_ms, Some(10));
        assert_eq!(a.quarantined["segment_rejected"], 1);
        let e = a.last_error.as_ref().unwrap();
        assert_eq!((e.code.as_str(), e.status), ("segment_rejected", Some(400)));
        assert_eq!(t.by_object["b"].held["paused"], 4);
        assert_eq!(t.by_object["b"].last_error.as_ref().unwrap().code, "paused");
        let g2 = Tick {
            connector: "a".into(),
            generation: Some("g2".into()),
            received_ms: None,
            request: None,
            counted: Counted::Delivered(1),
        };
        t.count(&g2, 15);
        assert_eq!(
            t.by_object["a/g2"].delivered, 1,
            "a new generation counts apart"
        );
        assert_eq!(t.by_object["a"].delivered, 3);
    }

    #[test]
    fn pending_ledger_requests_and_lag() {
        let body = br#"{"events":[
            {"id":"a","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}},
            {"id":"b","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}},
            {"id":"c","event_type":"users.messages.email.Send","time":1,"user":{"user_id":"b","external_user_id":"u"}}
        ]}"#;
        let out = processed(body);
        let received_ms = 7_200_123;
        let mut total = ingest_delta(&out, &[], received_ms);
        assert_eq!(total.pending_events(), 3);
        assert_eq!(total.oldest_pending_ms(), Some(7_200_000));

        let tick = |counted, status| Tick {
            connector: "acme".into(),
            generation: None,
            received_ms: Some(received_ms),
            request: Some(SegmentRequest(status)),
            counted,
        };
        let mut t = Tally::default();
        t.count(&tick(Counted::Retried(3, None), None), received_ms + 500);
        t.count(
            &tick(Counted::Retried(3, Some(503)), Some(503)),
            received_ms + 900,
        );
        t.count(&tick(Counted::Delivered(2), Some(200)), received_ms + 4_000);
        let reasons = BTreeMap::from([("segment_rejected".to_owned(), 1)]);
        t.count(
            &tick(Counted::Quarantined(reasons, Some(400)), Some(400)),
            received_ms + 5_000,
        );
        total.merge(&t.by_object["acme"]);
        assert_eq!(total.pending_events(), 0, "2 delivered and 1 quarantined");
        assert!(total.pending.is_empty() && total.oldest_pending_ms().is_none());
        let classes: Vec<(&str, u64)> = total
            .segment_requests
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(classes, [("2xx", 1), ("4xx", 1), ("5xx", 1), ("error", 1)]);
        assert_eq!(total.delivery_lag.count(), 2);
        assert_eq!(total.delivery_lag.sum_ms, 8_000);
        assert_eq!(
            total.delivery_lag.counts[1], 2,
            "4 s is in the (1 s, 5 s] bucket"
        );
    }

    #[test]
    fn a_removal_before_its_addition_meets_it_in_the_same_slot() {
        let mut total = Stats::default();
        let mut removal = Stats::default();
        removal.add_pending(61_000, -2);
        total.merge(&removal);
        assert_eq!(total.pending_events(), 0, "below zero counts as none");
        let mut addition = Stats::default();
        addition.add_pending(61_500, 2);
        total.merge(&addition);
        assert!(total.pending.is_empty());
    }

    #[test]
    fn replays_are_pending_again() {
        let mut t = Tally::default();
        t.replayed("a", 4, 120_000);
        let a = &t.by_object["a"];
        assert_eq!((a.replayed, a.pending_events()), (4, 4));
        assert_eq!(a.oldest_pending_ms(), Some(120_000));
    }
}
