//! Segment requests of a backfill, and what each answer means for them.
//!
//! `process()` packs translated events into queue-sized messages (120 KB, for Cloudflare
//! Queues). A backfill has no queue: its events are re-packed into requests as large as Segment
//! takes ([`MAX_BATCH_BYTES`] with `sentAt`, [`MAX_BATCH_EVENTS`] events), one open request per
//! destination and region, in read order. A request is also closed when it has waited
//! [`FLUSH_AFTER_MS`], so a rarely routed destination does not hold the checkpoint back.
//!
//! Each answer is classified by the Worker's own rules (`delivery::classify`: the retry policy of
//! `segment::retry`, `Retry-After` honoured, 400/413 on several events split in halves). Where a
//! backfill differs it is because an operator is there to act: a request that still fails after
//! `max_attempts` is given up for this run (not sent, not checkpointed, so the next run sends it),
//! and a refusal of the request itself (401, 403, 404, 501, 505: wrong URL or credentials, not a
//! bad event) stops the run instead of quarantining every event after it.

use std::time::Duration;

use crate::config::Region;
use crate::delivery::{AfterSend, DeliveryMessage, QueuedEvent, classify, splits};
use crate::segment::{AttemptResult, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, RetryPolicy};

/// An open request is sent after this long even when not full (milliseconds).
pub const FLUSH_AFTER_MS: u64 = 1_000;

/// The bytes of a batch body besides its events: `{"batch":[`, `],"sentAt":"…"}` with a
/// 24-character ISO time, and the commas between events counted per event.
const BODY_OVERHEAD: usize = r#"{"batch":[],"sentAt":"2026-01-01T00:00:00.000Z"}"#.len();

/// Where an event of a request came from, and the Currents event it was translated from (for
/// the quarantine, should Segment refuse it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file's number in this run.
    pub file: u32,
    /// The record's position in its file.
    pub record: u64,
    /// The Currents event, JSON text.
    pub event: String,
}

/// One Segment batch request: a delivery message (destination, region, attempts, splits,
/// events) and, event by event, where each came from.
#[derive(Debug, Clone)]
pub struct Request {
    /// The events and the state that survives retries.
    pub msg: DeliveryMessage,
    /// `origins[i]` is where `msg.events[i]` came from.
    pub origins: Vec<Origin>,
}

impl Request {
    /// The two halves of a request Segment refused as a whole (as `DeliveryMessage::into_halves`).
    pub fn into_halves(self) -> Option<(Request, Request)> {
        let Request { msg, mut origins } = self;
        let (a, b) = msg.into_halves()?;
        let second = origins.split_off(a.events.len());
        Some((
            Request { msg: a, origins },
            Request {
                msg: b,
                origins: second,
            },
        ))
    }

    /// The request body's size for `sentAt` of the usual length.
    pub fn body_bytes(&self) -> usize {
        body_bytes(self.msg.events.iter().map(|e| e.json.get().len()))
    }
}

fn body_bytes(events: impl Iterator<Item = usize>) -> usize {
    let (n, sum) = events.fold((0usize, 0usize), |(n, sum), len| (n + 1, sum + len));
    BODY_OVERHEAD + sum + n.saturating_sub(1)
}

/// An open request and when it was opened.
#[derive(Debug)]
struct Open {
    request: Request,
    bytes: usize,
    opened_ms: u64,
}

/// Packs translated events into requests within Segment's limits.
#[derive(Debug)]
pub struct RequestPacker {
    connector: String,
    open: Vec<Open>,
}

impl RequestPacker {
    /// A packer for `connector`'s events.
    pub fn new(connector: &str) -> Self {
        RequestPacker {
            connector: connector.to_owned(),
            open: Vec::new(),
        }
    }

    /// Adds an event (already within Segment's per-event limit: `process()` quarantines larger
    /// ones) for `destination` in `region`; returns the request it closed, if any.
    pub fn push(
        &mut self,
        destination: &str,
        region: Region,
        event: QueuedEvent,
        origin: Origin,
        now_ms: u64,
    ) -> Option<Request> {
        let len = event.json.get().len();
        let slot = self.open.iter().position(|o| {
            o.request.msg.destination == destination && o.request.msg.region == region
        });
        let mut closed = None;
        let fits = |o: &Open| {
            o.request.msg.events.len() < MAX_BATCH_EVENTS && o.bytes + 1 + len <= MAX_BATCH_BYTES
        };
        let at = match slot {
            Some(s) if fits(&self.open[s]) => s,
            Some(s) => {
                closed = Some(self.open.swap_remove(s).request);
                self.open_new(destination, region, now_ms)
            }
            None => self.open_new(destination, region, now_ms),
        };
        let open = &mut self.open[at];
        if !open.request.msg.events.is_empty() {
            open.bytes += 1;
        }
        open.bytes += len;
        open.request.msg.events.push(event);
        open.request.origins.push(origin);
        closed
    }

    fn open_new(&mut self, destination: &str, region: Region, now_ms: u64) -> usize {
        let msg = DeliveryMessage::new(&self.connector, destination, region, now_ms);
        self.open.push(Open {
            request: Request {
                msg,
                origins: Vec::new(),
            },
            bytes: BODY_OVERHEAD,
            opened_ms: now_ms,
        });
        self.open.len() - 1
    }

    /// The requests open for [`FLUSH_AFTER_MS`] or longer at `now_ms`, closed.
    pub fn due(&mut self, now_ms: u64) -> Vec<Request> {
        let (due, open) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|o| now_ms.saturating_sub(o.opened_ms) >= FLUSH_AFTER_MS);
        self.open = open;
        due.into_iter().map(|o: Open| o.request).collect()
    }

    /// Every open request, closed.
    pub fn finish(self) -> Vec<Request> {
        self.open.into_iter().map(|o| o.request).collect()
    }
}

/// What to do with a request after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Segment has the events.
    Delivered,
    /// Try again after `delay` (the attempt counter is already one more).
    Retry {
        /// The wait: the Worker's backoff, or `Retry-After` when longer.
        delay: Duration,
    },
    /// Segment refused the batch (400/413) and it holds several events: send each half.
    Split {
        /// Segment's status.
        status: u16,
    },
    /// Segment refuses this one event for good: quarantine it (`segment_rejected`).
    Rejected {
        /// Segment's status.
        status: u16,
    },
    /// Segment refuses the request itself (wrong URL, credentials): stop the run.
    Stop {
        /// Segment's status.
        status: u16,
    },
    /// Still failing after `max_attempts`: leave it unsent for the next run.
    GiveUp,
}

/// Decides the next step for `request` after an attempt; on a retry its attempt counter grows.
pub fn after_attempt(
    request: &mut Request,
    result: AttemptResult,
    policy: &RetryPolicy,
    seed: u64,
    max_attempts: u32,
) -> Step {
    match classify(&request.msg, result, policy, seed) {
        AfterSend::Delivered => Step::Delivered,
        AfterSend::Retry { delay } => {
            request.msg.attempt += 1;
            if request.msg.attempt >= max_attempts {
                Step::GiveUp
            } else {
                Step::Retry { delay }
            }
        }
        AfterSend::Split { status } => Step::Split { status },
        AfterSend::Rejected { status } if splits(status) => Step::Rejected { status },
        AfterSend::Rejected { status } => Step::Stop { status },
    }
}

/// Paces requests to at most `rps` per second across every sender: each attempt reserves the
/// next free slot. Pure: the caller passes the time and sleeps the returned wait.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval_us: u64,
    next_us: u64,
}

impl Pacer {
    /// A pacer for `rps` requests per second (0: no limit).
    pub fn new(rps: u32) -> Self {
        Pacer {
            interval_us: if rps == 0 {
                0
            } else {
                1_000_000 / u64::from(rps)
            },
            next_us: 0,
        }
    }

    /// Reserves a slot at or after `now_us`; returns how long to wait for it.
    pub fn reserve(&mut self, now_us: u64) -> Duration {
        let slot = self.next_us.max(now_us);
        self.next_us = slot + self.interval_us;
        Duration::from_micros(slot - now_us)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;
    use crate::segment::batch_body;

    fn event(i: usize, payload: usize) -> (QueuedEvent, Origin) {
        let json = format!(
            r#"{{"type":"track","i":{i},"p":"{}"}}"#,
            "x".repeat(payload)
        );
        let event = QueuedEvent {
            index: Some(i),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            message_id: format!("m{i}"),
            json: RawValue::from_string(json).unwrap(),
        };
        let origin = Origin {
            file: (i % 3) as u32,
            record: i as u64,
            event: format!("{{\"n\":{i}}}"),
        };
        (event, origin)
    }

    fn ids(r: &Request) -> Vec<u64> {
        r.origins.iter().map(|o| o.record).collect()
    }

    #[test]
    fn requests_fill_to_segments_limits_and_never_beyond() {
        let mut p = RequestPacker::new("acme");
        let mut closed = Vec::new();
        // 31 KB events: the byte limit closes requests at 15 events.
        for i in 0..100 {
            let (e, o) = event(i, 31_000);
            closed.extend(p.push("main", Region::Us, e, o, 0));
        }
        closed.extend(p.finish());
        let mut all = Vec::new();
        for (i, r) in closed.iter().enumerate() {
            let body = r.msg.segment_body("2026-11-28T00:00:00.000Z");
            assert_eq!(body.len(), r.body_bytes(), "the size bound is exact");
            assert!(body.len() <= MAX_BATCH_BYTES);
            if i + 1 < closed.len() {
                assert!(
                    body.len() > MAX_BATCH_BYTES - 32_000,
                    "full: {}",
                    body.len()
                );
            }
            assert_eq!(r.msg.events.len(), r.origins.len());
            all.extend(ids(r));
        }
        assert_eq!(
            all,
            (0..100).collect::<Vec<u64>>(),
            "every event once, in order"
        );
        // Small events: the count limit closes them.
        let mut p = RequestPacker::new("acme");
        let mut sizes = Vec::new();
        for i in 0..MAX_BATCH_EVENTS * 2 + 1 {
            let (e, o) = event(i, 0);
            sizes.extend(
                p.push("main", Region::Eu, e, o, 0)
                    .map(|r| r.msg.events.len()),
            );
        }
        sizes.extend(p.finish().iter().map(|r| r.msg.events.len()));
        assert_eq!(sizes, vec![MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 1]);
        let empty: Vec<&RawValue> = Vec::new();
        assert_eq!(
            batch_body(empty.into_iter(), "2026-01-01T00:00:00.000Z").len(),
            BODY_OVERHEAD
        );
    }

    #[test]
    fn destinations_and_regions_never_share_a_request() {
        let mut p = RequestPacker::new("acme");
        for (i, (d, r)) in [
            ("a", Region::Us),
            ("b", Region::Us),
            ("a", Region::Eu),
            ("a", Region::Us),
        ]
        .into_iter()
        .enumerate()
        {
            let (e, o) = event(i, 1);
            assert!(p.push(d, r, e, o, 0).is_none());
        }
        let shape: Vec<(String, Region, Vec<u64>)> = p
            .finish()
            .iter()
            .map(|r| (r.msg.destination.clone(), r.msg.region, ids(r)))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a".into(), Region::Us, vec![0, 3]),
                ("b".into(), Region::Us, vec![1]),
                ("a".into(), Region::Eu, vec![2])
            ]
        );
    }

    #[test]
    fn a_waiting_request_is_due_after_a_second() {
        let mut p = RequestPacker::new("acme");
        let (e, o) = event(0, 1);
        p.push("a", Region::Us, e, o, 10_000);
        let (e, o) = event(1, 1);
        p.push("b", Region::Us, e, o, 10_500);
        assert!(p.due(10_999).is_empty());
        let due = p.due(11_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].msg.destination, "a");
        assert_eq!(p.due(11_500).len(), 1);
        assert!(p.finish().is_empty());
    }

    #[test]
    fn halves_keep_origins_with_their_events() {
        let mut p = RequestPacker::new("acme");
        for i in 0..5 {
            let (e, o) = event(i, 1);
            p.push("a", Region::Us, e, o, 0);
        }
        let r = p.finish().pop().unwrap();
        let (a, b) = r.into_halves().unwrap();
        assert_eq!((ids(&a), ids(&b)), (vec![0, 1], vec![2, 3, 4]));
        for h in [&a, &b] {
            for (e, o) in h.msg.events.iter().zip(&h.origins) {
                assert_eq!(e.index, Some(o.record as usize));
            }
            assert_eq!(h.msg.splits, 1);
        }
        let (single, _) = a.into_halves().unwrap();
        assert!(single.into_halves().is_none());
    }

    #[test]
    fn answers_follow_the_workers_policy_with_a_bounded_number_of_attempts() {
        let policy = RetryPolicy::default();
        let mut p = RequestPacker::new("acme");
        for i in 0..2 {
            let (e, o) = event(i, 1);
            p.push("a", Region::Us, e, o, 0);
        }
        let mut r = p.finish().pop().unwrap();
        let status = |code| AttemptResult::Status {
            code,
            retry_after: None,
        };
        assert_eq!(
            after_attempt(&mut r, status(200), &policy, 1, 3),
            Step::Delivered
        );
        assert_eq!(
            after_attempt(&mut r, status(400), &policy, 1, 3),
            Step::Split { status: 400 }
        );
        assert_eq!(
            after_attempt(&mut r, status(413), &policy, 1, 3),
            Step::Split { status: 413 }
        );
        for code in [401, 403, 404, 501] {
            assert_eq!(
                after_attempt(&mut r, status(code), &policy, 1, 3),
                Step::Stop { status: code }
            );
        }
        // A 429 asking for 30 s waits 30 s; the third failure gives up.
        let slow = AttemptResult::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            after_attempt(&mut r, slow, &policy, 1, 3),
            Step::Retry {
                delay: Duration::from_secs(30)
            }
        );
        assert!(matches!(
            after_attempt(&mut r, AttemptResult::Timeout, &policy, 1, 3),
            Step::Retry { .. }
        ));
        assert_eq!(r.msg.attempt, 2);
        assert_eq!(
            after_attempt(&mut r, status(503), &policy, 1, 3),
            Step::GiveUp
        );
        // One event refused on its own is quarantined.
        let (mut one, _) = r.into_halves().unwrap();
        assert_eq!(
            after_attempt(&mut one, status(400), &policy, 1, 9),
            Step::Rejected { status: 400 }
        );
    }

    #[test]
    fn the_pacer_spaces_requests() {
        let mut p = Pacer::new(4);
        let waits: Vec<u64> = (0..4).map(|_| p.reserve(0).as_millis() as u64).collect();
        assert_eq!(waits, vec![0, 250, 500, 750]);
        // After a quiet second, no wait.
        assert_eq!(p.reserve(2_000_000), Duration::ZERO);
        let mut free = Pacer::new(0);
        assert!((0..100).all(|_| free.reserve(5) == Duration::ZERO));
    }
}
