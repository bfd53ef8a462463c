//! What the queue consumer does with a message: send it, hold it (paused connector, missing
//! write key), or give up on it after the connector's retention, and what a send's result means.

use std::time::Duration;

use serde::Serialize;

use super::DeliveryMessage;
use crate::config::{ConnectorConfig, DEFAULT_RETENTION_HOURS, Destination};
use crate::retry::{AttemptResult, Decision, RetryPolicy};

/// Longest delay Cloudflare Queues accepts on a send or retry (12 hours).
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(12 * 60 * 60);
/// Longest wait between two looks at a held message: a restored write key or a resumed
/// connector releases held events within this time.
pub const MAX_HOLD_DELAY: Duration = Duration::from_secs(5 * 60);

/// Why a message cannot be sent now. Held messages are kept, not dropped (CONTRACTS §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The connector is paused.
    Paused,
    /// The connector's config is gone from KV.
    ConnectorMissing,
    /// The connector's config does not validate.
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

/// The destination a message is sent to, or why it must wait.
pub fn destination_for<'c>(
    config: Result<Option<&'c ConnectorConfig>, ()>,
    msg: &DeliveryMessage,
) -> Result<&'c Destination, HoldReason> {
    let config = match config {
        Err(()) => return Err(HoldReason::ConnectorInvalid),
        Ok(None) => return Err(HoldReason::ConnectorMissing),
        Ok(Some(c)) => c,
    };
    if config.paused {
        return Err(HoldReason::Paused);
    }
    config
        .destinations
        .get(&msg.destination)
        .ok_or(HoldReason::DestinationMissing)
}

/// The consumer's next step for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send it to Segment now.
    Send,
    /// Put it back on the queue, to look again after `delay`.
    Hold {
        /// Why.
        reason: HoldReason,
        /// When to look again.
        delay: Duration,
    },
    /// Retention is over: quarantine it (reason `retention_exceeded`), never drop it.
    Expire,
}

/// How long events are kept trying: the connector's `retention_hours`, or the default when the
/// connector is gone.
pub fn retention(config: Option<&ConnectorConfig>) -> Duration {
    let hours = config.map_or(DEFAULT_RETENTION_HOURS, |c| c.retention_hours);
    Duration::from_secs(u64::from(hours) * 3600)
}

/// Decides the next step. `now_ms` is the consumer's clock (UNIX ms), `seed` the jitter seed.
pub fn plan(
    msg: &DeliveryMessage,
    hold: Option<HoldReason>,
    retention: Duration,
    now_ms: u64,
    policy: &RetryPolicy,
    seed: u64,
) -> Step {
    let age = Duration::from_millis(now_ms.saturating_sub(msg.received_ms));
    if age > retention {
        return Step::Expire;
    }
    match hold {
        Some(reason) => Step::Hold {
            reason,
            delay: hold_delay(msg.held, policy, seed),
        },
        None => Step::Send,
    }
}

/// Backoff between looks at a held message, capped at [`MAX_HOLD_DELAY`].
pub fn hold_delay(held: u32, policy: &RetryPolicy, seed: u64) -> Duration {
    policy.backoff(held, seed).min(MAX_HOLD_DELAY)
}

/// What a send attempt means for the message.
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
pub fn after_send(
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

/// Whether Segment's permanent answer may be about some of the batch's events only: 400
/// (invalid JSON, an event it cannot take) or 413 (request too large). Other permanent answers
/// (401, 403, 404, 501, 505) concern the request as a whole, and splitting would only repeat them.
pub fn splits(status: u16) -> bool {
    matches!(status, 400 | 413)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Region;

    fn msg(received_ms: u64, held: u32) -> DeliveryMessage {
        DeliveryMessage {
            v: 1,
            connector: "acme".into(),
            destination: "main".into(),
            region: Region::Us,
            received_ms,
            attempt: 0,
            held,
            splits: 0,
            events: Vec::new(),
        }
    }

    fn config(paused: bool) -> ConnectorConfig {
        let text = format!(
            r#"{{"token_sha256":"{}","paused":{paused},"retention_hours":72,
            "destinations":{{"main":{{"write_key":"wk_main_0001","region":"us"}}}}}}"#,
            "0".repeat(64)
        );
        ConnectorConfig::from_json(&text).unwrap()
    }

    #[test]
    fn holds_for_every_missing_piece() {
        let m = msg(0, 0);
        assert_eq!(
            destination_for(Err(()), &m).unwrap_err(),
            HoldReason::ConnectorInvalid
        );
        assert_eq!(
            destination_for(Ok(None), &m).unwrap_err(),
            HoldReason::ConnectorMissing
        );
        assert_eq!(
            destination_for(Ok(Some(&config(true))), &m).unwrap_err(),
            HoldReason::Paused
        );
        let mut other = msg(0, 0);
        other.destination = "gone".into();
        assert_eq!(
            destination_for(Ok(Some(&config(false))), &other).unwrap_err(),
            HoldReason::DestinationMissing
        );
        assert!(destination_for(Ok(Some(&config(false))), &m).is_ok());
    }

    #[test]
    fn expires_only_after_retention() {
        let p = RetryPolicy::default();
        let c = config(false);
        let r = retention(Some(&c));
        assert_eq!(r, Duration::from_secs(72 * 3600));
        assert_eq!(retention(None), Duration::from_secs(168 * 3600));
        let hour = 3_600_000;
        let m = msg(10 * hour, 0);
        assert_eq!(plan(&m, None, r, 10 * hour + 71 * hour, &p, 1), Step::Send);
        assert_eq!(
            plan(&m, None, r, 10 * hour + 73 * hour, &p, 1),
            Step::Expire
        );
        assert_eq!(
            plan(
                &m,
                Some(HoldReason::Paused),
                r,
                10 * hour + 73 * hour,
                &p,
                1
            ),
            Step::Expire,
            "held events expire into quarantine too"
        );
        assert!(matches!(
            plan(&m, Some(HoldReason::Paused), r, 11 * hour, &p, 1),
            Step::Hold {
                reason: HoldReason::Paused,
                ..
            }
        ));
        assert_eq!(
            plan(&m, None, r, 0, &p, 1),
            Step::Send,
            "a clock behind the message is not an expiry"
        );
    }

    #[test]
    fn hold_delay_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert!(hold_delay(0, &p, 3) <= Duration::from_millis(500));
        assert_eq!(
            hold_delay(40, &p, 3).min(MAX_HOLD_DELAY),
            hold_delay(40, &p, 3)
        );
        assert!(hold_delay(40, &p, 3) >= MAX_HOLD_DELAY / 2);
    }

    fn with_events(n: usize) -> DeliveryMessage {
        let mut m = msg(0, 0);
        m.events = (0..n)
            .map(|i| crate::delivery::QueuedEvent {
                event_id: format!("e{i}"),
                event_type: "t".into(),
                message_id: format!("m{i}"),
                json: serde_json::value::RawValue::from_string(format!(r#"{{"i":{i}}}"#)).unwrap(),
            })
            .collect();
        m
    }

    #[test]
    fn refused_batches_split_down_to_single_events() {
        let p = RetryPolicy::default();
        let status = |code| AttemptResult::Status {
            code,
            retry_after: None,
        };
        let two = with_events(2);
        let one = with_events(1);
        for code in [400, 413] {
            assert_eq!(
                after_send(&two, status(code), &p, 1),
                AfterSend::Split { status: code }
            );
            assert_eq!(
                after_send(&one, status(code), &p, 1),
                AfterSend::Rejected { status: code },
                "a single refused event is quarantined"
            );
        }
        for code in [401, 403, 404, 422, 501, 505] {
            assert_eq!(
                after_send(&two, status(code), &p, 1),
                AfterSend::Rejected { status: code },
                "{code} concerns the whole request"
            );
        }
    }

    #[test]
    fn send_results() {
        let p = RetryPolicy::default();
        let m = msg(0, 0);
        let status = |code| AttemptResult::Status {
            code,
            retry_after: None,
        };
        assert_eq!(after_send(&m, status(200), &p, 1), AfterSend::Delivered);
        assert_eq!(
            after_send(&m, status(400), &p, 1),
            AfterSend::Rejected { status: 400 },
            "an empty message has nothing to split"
        );
        assert!(matches!(
            after_send(&m, AttemptResult::Timeout, &p, 1),
            AfterSend::Retry { .. }
        ));
        let long = AttemptResult::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(86_400)),
        };
        assert_eq!(
            after_send(&m, long, &p, 1),
            AfterSend::Retry {
                delay: MAX_QUEUE_DELAY
            }
        );
    }
}
