//! Per-connector counters, kept by the stats Durable Object. The Worker builds a [`Stats`] delta
//! per request or consumer batch and the object adds it to its total: the merge is here, pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Length of a time-series bucket: one hour.
pub const BUCKET_MS: u64 = 3_600_000;
/// Buckets kept: 7 days of hours.
pub const MAX_BUCKETS: usize = 7 * 24;

/// Counts of one time-series bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Events received.
    #[serde(default)]
    pub received: u64,
    /// Events delivered to Segment.
    #[serde(default)]
    pub delivered: u64,
    /// Events filtered.
    #[serde(default)]
    pub filtered: u64,
    /// Events quarantined.
    #[serde(default)]
    pub quarantined: u64,
}

/// The last delivery error of a connector (no secrets: a code, a status, a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// Stable code (`segment_unavailable`, `segment_rejected`, a hold reason...).
    pub code: String,
    /// Segment's HTTP status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When (UNIX ms).
    pub at_ms: u64,
}

/// A connector's counters, or a delta to add to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Events in Currents requests.
    #[serde(default)]
    pub received: u64,
    /// Events accepted for delivery (queued).
    #[serde(default)]
    pub accepted: u64,
    /// Events filtered, by reason code.
    #[serde(default)]
    pub filtered: BTreeMap<String, u64>,
    /// Events quarantined, by reason code.
    #[serde(default)]
    pub quarantined: BTreeMap<String, u64>,
    /// Events Segment accepted.
    #[serde(default)]
    pub delivered: u64,
    /// Events re-enqueued after a transient Segment failure.
    #[serde(default)]
    pub retried: u64,
    /// Events re-enqueued in two smaller messages because Segment refused their batch as a
    /// whole (400, 413): counted once per split, so an event isolated from a batch of 100 counts
    /// up to 7 times.
    #[serde(default)]
    pub split: u64,
    /// Events re-enqueued because they could not be sent (paused, missing write key), by reason.
    #[serde(default)]
    pub held: BTreeMap<String, u64>,
    /// Events re-enqueued from quarantine.
    #[serde(default)]
    pub replayed: u64,
    /// Last successful delivery (UNIX ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_ms: Option<u64>,
    /// Last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// Hourly buckets, keyed by the bucket's start (UNIX ms).
    #[serde(default)]
    pub series: BTreeMap<u64, Bucket>,
}

/// A delta is a [`Stats`] holding only what changed.
pub type StatsDelta = Stats;

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

impl Stats {
    /// Adds `delta` to these totals; timestamps keep the latest, the series its last
    /// [`MAX_BUCKETS`] hours.
    pub fn merge(&mut self, delta: &StatsDelta) {
        self.received += delta.received;
        self.accepted += delta.accepted;
        add_map(&mut self.filtered, &delta.filtered);
        add_map(&mut self.quarantined, &delta.quarantined);
        self.delivered += delta.delivered;
        self.retried += delta.retried;
        self.split += delta.split;
        add_map(&mut self.held, &delta.held);
        self.replayed += delta.replayed;
        self.last_success_ms = self.last_success_ms.max(delta.last_success_ms);
        if let Some(e) = &delta.last_error
            && self
                .last_error
                .as_ref()
                .is_none_or(|old| old.at_ms <= e.at_ms)
        {
            self.last_error = Some(e.clone());
        }
        for (at, b) in &delta.series {
            let slot = self.series.entry(*at).or_default();
            slot.received += b.received;
            slot.delivered += b.delivered;
            slot.filtered += b.filtered;
            slot.quarantined += b.quarantined;
        }
        while self.series.len() > MAX_BUCKETS {
            self.series.pop_first();
        }
    }

    /// The bucket of time `at_ms` in this delta, created if needed.
    pub fn bucket(&mut self, at_ms: u64) -> &mut Bucket {
        self.series.entry(at_ms - at_ms % BUCKET_MS).or_default()
    }

    /// Total quarantined events.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Total filtered events.
    pub fn filtered_total(&self) -> u64 {
        self.filtered.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_keeps_latest_times() {
        let mut total = Stats::default();
        let mut d1 = Stats {
            received: 10,
            accepted: 7,
            delivered: 7,
            last_success_ms: Some(5),
            ..Stats::default()
        };
        d1.filtered.insert("anonymous_user".into(), 2);
        d1.quarantined.insert("missing_id".into(), 1);
        d1.bucket(BUCKET_MS + 5).received = 10;
        let mut d2 = Stats {
            received: 3,
            last_success_ms: Some(4),
            last_error: Some(LastError {
                code: "segment_unavailable".into(),
                status: Some(503),
                at_ms: 9,
            }),
            ..Stats::default()
        };
        d2.quarantined.insert("missing_id".into(), 2);
        d2.bucket(BUCKET_MS + 99).received = 3;
        total.merge(&d1);
        total.merge(&d2);
        assert_eq!(
            (total.received, total.accepted, total.delivered),
            (13, 7, 7)
        );
        assert_eq!(total.quarantined["missing_id"], 3);
        assert_eq!(total.quarantined_total(), 3);
        assert_eq!(total.filtered_total(), 2);
        assert_eq!(total.last_success_ms, Some(5));
        assert_eq!(total.last_error.as_ref().unwrap().status, Some(503));
        assert_eq!(total.series[&BUCKET_MS].received, 13);
    }

    #[test]
    fn series_keeps_a_week_of_hours() {
        let mut total = Stats::default();
        for h in 0..(MAX_BUCKETS as u64 + 10) {
            let mut d = Stats::default();
            d.bucket(h * BUCKET_MS).delivered = 1;
            total.merge(&d);
        }
        assert_eq!(total.series.len(), MAX_BUCKETS);
        assert_eq!(*total.series.keys().next().unwrap(), 10 * BUCKET_MS);
    }

    #[test]
    fn round_trips_through_json() {
        let mut s = Stats {
            received: 1,
            ..Stats::default()
        };
        s.held.insert("paused".into(), 4);
        s.bucket(7).received = 1;
        let back: Stats = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(s, back);
        assert_eq!(
            serde_json::from_str::<Stats>("{}").unwrap(),
            Stats::default()
        );
    }
}
