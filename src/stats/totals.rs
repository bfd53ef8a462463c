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
    /// Segment requests by answer class: `2xx`, `4xx`, `5xx`..., or `error` when no answer came
    /// (timeout, network).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segment_requests: BTreeMap<String, u64>,
    /// Delivery lag of the delivered events.
    #[serde(default, skip_serializing_if = "LagHistogram::is_empty")]
    pub delivery_lag: LagHistogram,
    /// The pending ledger: events accepted and not yet delivered or quarantined, by when they
    /// were received (the start of a [`Stats::pending_step_ms`]-wide slot, UNIX ms), in order. Ingest
    /// and replays add to it, deliveries and quarantines take from it; entries that reach zero
    /// go. In a delta, keys are exact receipt times and the totals' slot width applies on merge,
    /// so additions and removals meet in the same entry whatever order they arrive in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<(u64, i64)>,
    /// Width of one pending-ledger slot (0 means [`PENDING_STEP_MS`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending_step_ms: u64,
}

/// A delta is a [`Stats`] holding only what changed.
pub type StatsDelta = Stats;

/// Upper bounds (seconds) of the delivery-lag histogram's buckets; a last bucket holds the rest.
pub const LAG_BOUNDS_SECONDS: [u64; 12] =
    [1, 5, 15, 30, 60, 300, 900, 3600, 10800, 21600, 43200, 86400];

/// Delivery lag: from the moment the Worker accepted an event (its queue message's
/// `received_ms`) to the moment Segment accepted it, per event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagHistogram {
    /// Events per bucket: `counts[i]` lagged at most [`LAG_BOUNDS_SECONDS`]`[i]` (and more than
    /// the bound before); the last entry counts the events over the last bound. Not cumulative.
    #[serde(default)]
    pub counts: Vec<u64>,
    /// Sum of every counted lag, in milliseconds.
    #[serde(default)]
    pub sum_ms: u64,
}

impl LagHistogram {
    /// Counts `n` events that waited `lag_ms`.
    pub fn observe(&mut self, lag_ms: u64, n: u64) {
        let i = LAG_BOUNDS_SECONDS
            .iter()
            .position(|bound| lag_ms <= bound * 1000)
            .unwrap_or(LAG_BOUNDS_SECONDS.len());
        self.counts.resize(LAG_BOUNDS_SECONDS.len() + 1, 0);
        self.counts[i] += n;
        self.sum_ms += lag_ms.saturating_mul(n);
    }

    /// Events counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn merge(&mut self, other: &LagHistogram) {
        if other.counts.is_empty() {
            return;
        }
        self.counts.resize(LAG_BOUNDS_SECONDS.len() + 1, 0);
        for (into, from) in self.counts.iter_mut().zip(&other.counts) {
            *into += from;
        }
        self.sum_ms += other.sum_ms;
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Width of a pending-ledger entry at first: one minute of receipt times.
pub const PENDING_STEP_MS: u64 = 60_000;
/// Most entries the pending ledger keeps: past it, entries are merged two by two (their width
/// doubles), so the ledger stays small however long events wait; the oldest entry's start only
/// moves earlier, never later, so the oldest pending event is never reported younger than it is.
pub const MAX_PENDING_ENTRIES: usize = 720;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

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
        add_map(&mut self.segment_requests, &delta.segment_requests);
        self.delivery_lag.merge(&delta.delivery_lag);
        for (at, n) in &delta.pending {
            self.add_pending(*at, *n);
        }
    }

    fn step_ms(&self) -> u64 {
        if self.pending_step_ms == 0 {
            PENDING_STEP_MS
        } else {
            self.pending_step_ms
        }
    }

    /// Adds `n` (negative: takes) to the pending slot of receipt time `at_ms`, keeping the
    /// ledger within [`MAX_PENDING_ENTRIES`].
    pub fn add_pending(&mut self, at_ms: u64, n: i64) {
        if n == 0 {
            return;
        }
        let slot = at_ms - at_ms % self.step_ms();
        match self.pending.binary_search_by_key(&slot, |(at, _)| *at) {
            Ok(i) => {
                self.pending[i].1 += n;
                if self.pending[i].1 == 0 {
                    self.pending.remove(i);
                }
            }
            Err(i) => self.pending.insert(i, (slot, n)),
        }
        while self.pending.len() > MAX_PENDING_ENTRIES {
            let step = self.step_ms().saturating_mul(2);
            self.pending_step_ms = step;
            let mut merged: Vec<(u64, i64)> = Vec::with_capacity(self.pending.len() / 2 + 1);
            for (at, n) in self.pending.drain(..) {
                let slot = at - at % step;
                match merged.last_mut() {
                    Some(last) if last.0 == slot => last.1 += n,
                    _ => merged.push((slot, n)),
                }
            }
            merged.retain(|(_, n)| *n != 0);
            self.pending = merged;
        }
        if self.pending.is_empty() {
            self.pending_step_ms = 0;
        }
    }

    /// Events pending (accepted, neither delivered nor quarantined yet). Slots below zero (a
    /// removal whose addition was never counted) count as none.
    pub fn pending_events(&self) -> u64 {
        self.pending.iter().map(|(_, n)| (*n).max(0) as u64).sum()
    }

    /// When the oldest pending event was received (UNIX ms, the start of its slot).
    pub fn oldest_pending_ms(&self) -> Option<u64> {
        self.pending.iter().find(|(_, n)| *n > 0).map(|(at, _)| *at)
    }

    /// Drops pending slots that started before `before_ms`: counts that can no longer be events
    /// on the queue (a stats write that was lost), so that they do not keep an alert firing
    /// for ever. Whether anything was dropped.
    pub fn forget_pending_before(&mut self, before_ms: u64) -> bool {
        let old = self.pending.partition_point(|(at, _)| *at < before_ms);
        self.pending.drain(..old);
        if self.pending.is_empty() {
            self.pending_step_ms = 0;
        }
        old > 0
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

    #[test]
    fn the_pending_ledger_stays_small_and_never_looks_younger() {
        let mut total = Stats::default();
        let minutes = (MAX_PENDING_ENTRIES as u64) * 3;
        for m in 0..minutes {
            let mut d = Stats::default();
            d.add_pending(m * PENDING_STEP_MS + 17, 1);
            total.merge(&d);
        }
        assert!(total.pending.len() <= MAX_PENDING_ENTRIES);
        assert_eq!(total.pending_step_ms, 4 * PENDING_STEP_MS);
        assert_eq!(total.pending_events(), minutes);
        assert_eq!(total.oldest_pending_ms(), Some(0));
        // Removing every event, each at its own receipt time, empties it.
        for m in 0..minutes {
            let mut d = Stats::default();
            d.add_pending(m * PENDING_STEP_MS + 17, -1);
            total.merge(&d);
        }
        assert!(total.pending.is_empty());
        assert_eq!(total.pending_step_ms, 0, "back to one-minute slots");
    }

    #[test]
    fn forgetting_old_pending_slots() {
        let mut total = Stats::default();
        total.add_pending(0, 3);
        total.add_pending(10 * PENDING_STEP_MS, 2);
        assert!(!total.forget_pending_before(0));
        assert!(total.forget_pending_before(PENDING_STEP_MS));
        assert_eq!(total.pending_events(), 2);
        assert_eq!(total.oldest_pending_ms(), Some(10 * PENDING_STEP_MS));
    }

    #[test]
    fn lag_buckets() {
        let mut h = LagHistogram::default();
        h.observe(0, 1);
        h.observe(1_000, 1);
        h.observe(1_001, 2);
        h.observe(90_000_000, 1);
        assert_eq!(h.counts[0], 2, "at most 1 s");
        assert_eq!(h.counts[1], 2);
        assert_eq!(h.counts[LAG_BOUNDS_SECONDS.len()], 1, "over a day");
        assert_eq!(h.count(), 5);
        assert_eq!(h.sum_ms, 1_000 + 2_002 + 90_000_000);
    }
}
