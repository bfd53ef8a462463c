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

use std::ops::Range;
use std::sync::Arc;
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
    /// The Currents batch body the event was translated in, shared by all its events.
    pub body: Arc<String>,
    /// Where the event's JSON text is in `body`.
    pub span: Range<usize>,
}

impl Origin {
    /// The Currents event, JSON text.
    pub fn event(&self) -> &str {
        &self.body[self.span.clone()]
    }
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
mod tests;
