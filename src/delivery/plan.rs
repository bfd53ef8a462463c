//! What the queue consumer does with a message, decided here and only here. The facts go in (the
//! queue body, the connector's state, Segment's answer, `now` and a jitter seed); an [`Action`]
//! comes out: send, put back on the queue, quarantine, ack with what to count, or leave the
//! message to the platform's retry. Each effect that can fail carries the action to take when it
//! does, so the shell (`edge.rs`) only performs effects and follows the plan.
//!
//! Nothing accepted is lost (CONTRACTS §4): every path ends in a delivery, a new queue message
//! or an R2 object before the ack; when even those fail, the platform redelivers the message.

use std::time::Duration;

use serde::Serialize;

use super::DeliveryMessage;
use super::log::segment_failure_line;
use crate::config::is_valid_connector_id;
use crate::config::{ConnectorConfig, DEFAULT_RETENTION_HOURS, MAX_QUEUE_DELAY, WriteKey};
use crate::quarantine::{DeliveryReason, QuarantineDoc, UNKNOWN_CONNECTOR};
use crate::segment::{Attempt, AttemptResult, Decision, RetryPolicy};
use crate::stats::{Counted, SegmentRequest, Tick};
use crate::timefmt::iso_millis;

/// Longest wait between two looks at a held message: a restored write key or a resumed
/// connector releases held events within this time.
pub const MAX_HOLD_DELAY: Duration = Duration::from_secs(5 * 60);
/// Most bytes of Segment's answer kept in a quarantine object's detail.
pub const MAX_SEGMENT_ANSWER_BYTES: usize = 1024;

/// Why a message cannot be sent now. Held messages are kept, not dropped (CONTRACTS §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The connector is paused.
    Paused,
    /// The connector's config is gone from KV.
    ConnectorMissing,
    /// The connector's config does not validate, or could not be read.
    ConnectorInvalid,
    /// The message's destination (and so its write key) is gone from the config.
    DestinationMissing,
    /// The message had to go to quarantine, but R2 refused the write: it waits on the queue and
    /// the consumer tries again, for as long as R2 is down.
    QuarantineUnavailable,
}

impl HoldReason {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::ConnectorMissing => "connector_missing",
            Self::ConnectorInvalid => "connector_invalid",
            Self::DestinationMissing => "destination_missing",
            Self::QuarantineUnavailable => "quarantine_unavailable",
        }
    }
}

/// What the consumer found of a message's connector.
#[derive(Debug, Clone, Copy)]
pub enum ConnectorState<'a> {
    /// The config, parsed and valid.
    Found(&'a ConnectorConfig),
    /// No config in KV.
    Missing,
    /// The config does not parse or validate, or KV could not be read.
    Unreadable,
}

/// The consumer's clock, jitter and policy for one message.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// Now, UNIX ms.
    pub now_ms: u64,
    /// Jitter seed.
    pub seed: u64,
    /// The backoff schedule.
    pub policy: RetryPolicy,
}

/// The next thing to do with a message.
#[derive(Debug)]
pub enum Action {
    /// POST the message to Segment with this write key, then decide with [`after_send`].
    Send {
        /// The message.
        msg: DeliveryMessage,
        /// Its destination's write key.
        write_key: WriteKey,
    },
    /// Put messages on the delivery queue, all in one `sendBatch`, after `delay`.
    Enqueue {
        /// The messages.
        messages: Vec<DeliveryMessage>,
        /// How long they wait.
        delay: Duration,
        /// What to count once they are queued (then ack).
        done: Tick,
        /// What to do when the queue refuses.
        refused: Box<Action>,
    },
    /// Store a quarantine object.
    Quarantine {
        /// The object.
        doc: QuarantineDoc,
        /// What to count once it is stored (then ack).
        done: Tick,
        /// What to do when R2 refuses.
        refused: Box<Action>,
    },
    /// Write a log line, then go on.
    Log(String, Box<Action>),
    /// The message's fate is stored: count, then ack.
    Ack(Tick),
    /// Nothing stored the message: leave it to the platform's retry, not before `intended`.
    PlatformRetry {
        /// The wait the message was meant to get.
        intended: Duration,
    },
}

/// How long events are kept trying: the connector's `retention_hours`, or the default when the
/// connector cannot be read.
pub fn retention(config: Option<&ConnectorConfig>) -> Duration {
    let hours = config.map_or(DEFAULT_RETENTION_HOURS, |c| c.retention_hours);
    Duration::from_secs(u64::from(hours) * 3600)
}

/// Backoff between looks at a held message, capped at [`MAX_HOLD_DELAY`].
pub fn hold_delay(held: u32, policy: &RetryPolicy, seed: u64) -> Duration {
    policy.backoff(held, seed).min(MAX_HOLD_DELAY)
}

/// A queue body: the message, or (when it is not one) the action that quarantines it whole,
/// under the connector it names if that is a valid id.
pub fn parse(body: &str, facts: &Facts) -> Result<DeliveryMessage, Box<Action>> {
    DeliveryMessage::from_json(body)
        .map_err(|_| Box::new(unreadable(body, DeliveryReason::MalformedMessage, facts)))
}

/// A message from the dead-letter queue: the platform gave up on it; quarantine it.
pub fn dead_letter(body: &str, facts: &Facts) -> Action {
    match DeliveryMessage::from_json(body) {
        Ok(msg) => {
            let detail = "the delivery queue gave up on this message (dead-letter queue)";
            let doc = doc(&msg, DeliveryReason::DeadLetter, None, detail);
            quarantine(doc, Some(msg.received_ms), retry_now())
        }
        Err(_) => unreadable(body, DeliveryReason::DeadLetter, facts),
    }
}

/// The first look at a message: quarantine it when its connector was replaced (another
/// generation), expire it after the retention, hold it while it cannot be sent, else send it.
pub fn look(msg: DeliveryMessage, connector: ConnectorState<'_>, facts: &Facts) -> Action {
    let config = match connector {
        ConnectorState::Found(c) => Some(c),
        _ => None,
    };
    if let Some(config) = config
        && config.generation != msg.generation
    {
        let detail = "the connector was deleted and created again under the same id; these events \
                      belong to the earlier connector and are not sent with the new one's config";
        return quarantine_or_hold(msg, DeliveryReason::ConnectorReplaced, None, detail, facts);
    }
    let keep = retention(config);
    let age = Duration::from_millis(facts.now_ms.saturating_sub(msg.received_ms));
    if age > keep {
        let detail = format!(
            "not delivered within the connector's retention ({} h)",
            keep.as_secs() / 3600
        );
        return quarantine_or_hold(msg, DeliveryReason::RetentionExceeded, None, &detail, facts);
    }
    match destination(connector, &msg) {
        Ok(write_key) => Action::Send { msg, write_key },
        Err(reason) => hold(msg, reason, facts),
    }
}

/// The write key a message is sent with, or why it must wait.
fn destination(
    connector: ConnectorState<'_>,
    msg: &DeliveryMessage,
) -> Result<WriteKey, HoldReason> {
    let config = match connector {
        ConnectorState::Unreadable => return Err(HoldReason::ConnectorInvalid),
        ConnectorState::Missing => return Err(HoldReason::ConnectorMissing),
        ConnectorState::Found(c) => c,
    };
    if config.paused {
        return Err(HoldReason::Paused);
    }
    config
        .destinations
        .get(&msg.destination)
        .map(|d| d.write_key.clone())
        .ok_or(HoldReason::DestinationMissing)
}

/// What a send attempt means for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSend {
    /// Segment has the events.
    Delivered,
    /// Transient failure: re-enqueue with `attempt + 1` after `delay`.
    Retry {
        /// Wait before the next attempt (≤ [`MAX_QUEUE_DELAY`]).
        delay: Duration,
    },
    /// Segment refused a batch of several events as a whole (400, 413): one bad event is
    /// enough for that. Send the two halves again as separate messages, so the refusal narrows
    /// down to the events Segment refuses on their own and the others are delivered.
    Split {
        /// Segment's status.
        status: u16,
    },
    /// Segment refused the batch for good: quarantine it with the answer.
    Rejected {
        /// Segment's status.
        status: u16,
    },
}

/// Classifies a send attempt of `msg`.
pub fn classify(
    msg: &DeliveryMessage,
    result: AttemptResult,
    policy: &RetryPolicy,
    seed: u64,
) -> AfterSend {
    match policy.decide(result, msg.attempt, seed) {
        Decision::Success => AfterSend::Delivered,
        Decision::Retry { delay } => AfterSend::Retry {
            delay: delay.min(MAX_QUEUE_DELAY),
        },
        Decision::Permanent { status } if splits(status) && msg.events.len() > 1 => {
            AfterSend::Split { status }
        }
        Decision::Permanent { status } => AfterSend::Rejected { status },
    }
}

/// The action after a send attempt: ack a delivery; re-enqueue a retry with backoff; split a
/// refused batch in halves; quarantine what Segment refuses on its own. Every outcome but a
/// delivery is logged.
pub fn after_send(msg: DeliveryMessage, attempt: &Attempt, facts: &Facts) -> Action {
    let n = msg.events.len();
    let verdict = classify(&msg, attempt.result, &facts.policy, facts.seed);
    let line = segment_failure_line(&msg, attempt.result, verdict);
    let next = match verdict {
        AfterSend::Delivered => Action::Ack(tick(&msg, Counted::Delivered(n))),
        AfterSend::Retry { delay } => {
            let done = tick(&msg, Counted::Retried(n, attempt.status()));
            let mut next = msg;
            next.attempt += 1;
            enqueue(vec![next], delay, done)
        }
        AfterSend::Split { status } => {
            let done = tick(&msg, Counted::Split(n, status));
            let (a, b) = msg
                .into_halves()
                .expect("a split message has two events or more");
            enqueue(vec![a, b], Duration::ZERO, done)
        }
        AfterSend::Rejected { status } => {
            let answer = attempt.answer.as_deref().unwrap_or("");
            let detail = rejected_detail(status, answer, msg.splits);
            quarantine_or_hold(
                msg,
                DeliveryReason::SegmentRejected,
                Some(status),
                &detail,
                facts,
            )
        }
    };
    let next = next.with_request(SegmentRequest(attempt.status()));
    match line {
        Some(line) => Action::Log(line, Box::new(next)),
        None => next,
    }
}

impl Action {
    /// This action with `request` counted once, by whichever of its outcomes happens.
    fn with_request(self, request: SegmentRequest) -> Action {
        let mark = |mut done: Tick| {
            done.request = Some(request);
            done
        };
        match self {
            Action::Ack(done) => Action::Ack(mark(done)),
            Action::Enqueue {
                messages,
                delay,
                done,
                refused,
            } => Action::Enqueue {
                messages,
                delay,
                done: mark(done),
                refused: Box::new(refused.with_request(request)),
            },
            Action::Quarantine { doc, done, refused } => Action::Quarantine {
                doc,
                done: mark(done),
                refused: Box::new(refused.with_request(request)),
            },
            Action::Log(line, next) => Action::Log(line, Box::new(next.with_request(request))),
            other => other,
        }
    }
}

/// Whether Segment's permanent answer may be about some of the batch's events only: 400
/// (invalid JSON, an event it cannot take) or 413 (request too large). Other permanent answers
/// (401, 403, 404, 501, 505) concern the request as a whole, and splitting would only repeat them.
pub fn splits(status: u16) -> bool {
    matches!(status, 400 | 413)
}

/// Segment's answer for a quarantine detail: at most [`MAX_SEGMENT_ANSWER_BYTES`] of it, cut on a
/// character boundary, and when the message was split off a larger refused batch, that the
/// events were refused on their own.
pub fn rejected_detail(status: u16, answer: &str, splits: u32) -> String {
    let mut end = answer.len().min(MAX_SEGMENT_ANSWER_BYTES);
    while !answer.is_char_boundary(end) {
        end -= 1;
    }
    let mut detail = format!("Segment answered HTTP {status}: {}", &answer[..end]);
    if splits > 0 {
        detail.push_str(&format!(
            " (refused on its own, after {splits} split(s) of the batch Segment refused)"
        ));
    }
    detail
}

fn tick(msg: &DeliveryMessage, counted: Counted) -> Tick {
    Tick {
        connector: msg.connector.clone(),
        generation: msg.generation.clone(),
        received_ms: Some(msg.received_ms),
        request: None,
        counted,
    }
}

fn retry_now() -> Action {
    Action::PlatformRetry {
        intended: Duration::ZERO,
    }
}

/// Queue `messages` after `delay`; when the queue refuses, the platform retries the message
/// they came from, not before `delay`.
fn enqueue(messages: Vec<DeliveryMessage>, delay: Duration, done: Tick) -> Action {
    Action::Enqueue {
        messages,
        delay,
        done,
        refused: Box::new(Action::PlatformRetry { intended: delay }),
    }
}

/// Puts `msg` back on the queue to look again later, counted as held for `reason`.
fn hold(mut msg: DeliveryMessage, reason: HoldReason, facts: &Facts) -> Action {
    let delay = hold_delay(msg.held, &facts.policy, facts.seed);
    let done = tick(&msg, Counted::Held(reason, msg.events.len()));
    msg.held += 1;
    enqueue(vec![msg], delay, done)
}

fn doc(
    msg: &DeliveryMessage,
    reason: DeliveryReason,
    status: Option<u16>,
    detail: &str,
) -> QuarantineDoc {
    QuarantineDoc::from_message(msg, &iso_millis(msg.received_ms), reason, status, detail)
}

/// Stores `doc` (events received at `received_ms`, when known), else does `refused`.
fn quarantine(doc: QuarantineDoc, received_ms: Option<u64>, refused: Action) -> Action {
    let status = doc.segment.as_ref().and_then(|s| s.status);
    let done = Tick {
        connector: doc.connector.clone(),
        generation: doc.generation.clone(),
        received_ms,
        request: None,
        counted: Counted::Quarantined(doc.reasons.clone(), status),
    };
    Action::Quarantine {
        done,
        doc,
        refused: Box::new(refused),
    }
}

/// Quarantines `msg`; when R2 refuses, the message is held on the queue
/// (`quarantine_unavailable`) and comes back to try again, so an R2 outage of any length loses
/// nothing while the queue works.
fn quarantine_or_hold(
    msg: DeliveryMessage,
    reason: DeliveryReason,
    status: Option<u16>,
    detail: &str,
    facts: &Facts,
) -> Action {
    let doc = doc(&msg, reason, status, detail);
    let received_ms = Some(msg.received_ms);
    quarantine(
        doc,
        received_ms,
        hold(msg, HoldReason::QuarantineUnavailable, facts),
    )
}

/// A body that is not a delivery message, kept whole under its connector when it names a valid
/// one, else under [`UNKNOWN_CONNECTOR`].
fn unreadable(body: &str, reason: DeliveryReason, facts: &Facts) -> Action {
    let connector = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("connector")?.as_str().map(str::to_owned))
        .filter(|c| is_valid_connector_id(c))
        .unwrap_or_else(|| UNKNOWN_CONNECTOR.to_owned());
    let doc = QuarantineDoc::from_unreadable(&connector, &iso_millis(facts.now_ms), reason, body);
    quarantine(doc, None, retry_now())
}

#[cfg(test)]
mod tests;
