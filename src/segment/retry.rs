//! The retry classifier: what one attempt to send a batch to Segment means for that batch.
//!
//! Pure: the attempt's result, the attempt number and a jitter seed go in; a decision comes out.
//! The policy follows Segment's official Node library (CONTRACTS §2): never retry 400; retry
//! network errors, timeouts, 5xx except 501/505, and 408/410/429/460; other 4xx are permanent;
//! exponential backoff from 0.5 s with jitter, capped; `Retry-After` honoured as a lower bound
//! (it lengthens the backoff, never shortens it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What happened on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// Segment answered with this status (and `Retry-After`, parsed, if present).
    Status {
        /// HTTP status code.
        code: u16,
        /// The server's requested wait.
        retry_after: Option<Duration>,
    },
    /// The connection failed or was dropped.
    NetworkError,
    /// No answer within the timeout.
    Timeout,
}

/// One attempt as the consumer saw it: its classified result, and Segment's answer text when it
/// refused the batch (for the quarantine detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// For the retry classifier.
    pub result: AttemptResult,
    /// Segment's answer text on an error status.
    pub answer: Option<String>,
}

impl Attempt {
    /// An attempt that got no answer.
    pub fn failed(result: AttemptResult) -> Self {
        Attempt {
            result,
            answer: None,
        }
    }

    /// The HTTP status, when Segment answered.
    pub fn status(&self) -> Option<u16> {
        match self.result {
            AttemptResult::Status { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What to do with the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Delivered.
    Success,
    /// Try again after `delay`.
    Retry {
        /// How long to wait.
        delay: Duration,
    },
    /// Segment will never accept this batch as it is: quarantine it with the answer.
    Permanent {
        /// The status Segment gave.
        status: u16,
    },
}

/// Backoff parameters. Data, so operators and tests can see the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub base: Duration,
    /// Longest backoff delay.
    pub cap: Duration,
    /// Longest `Retry-After` honoured (a larger one is clamped, not trusted blindly).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60 * 60),
            // Cloudflare Queues cannot delay a message longer than 12 hours.
            max_retry_after: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// Whether a status is worth retrying (as opposed to success or permanent failure).
pub fn is_transient_status(code: u16) -> bool {
    match code {
        408 | 410 | 429 | 460 => true,
        501 | 505 => false,
        500..=599 => true,
        // Informational, redirects and anything non-standard: unknown, so keep the events.
        100..=199 | 300..=399 | 600.. | 0..=99 => true,
        _ => false,
    }
}

impl RetryPolicy {
    /// Classifies attempt number `attempt` (0 for the first send). `seed` picks the jitter: the
    /// same seed gives the same delay, so schedules are reproducible in tests. A retry waits
    /// `max(backoff(attempt), Retry-After)`, the `Retry-After` clamped to `max_retry_after`.
    pub fn decide(&self, result: AttemptResult, attempt: u32, seed: u64) -> Decision {
        let retry_after = match result {
            AttemptResult::Status {
                code: 200..=299, ..
            } => return Decision::Success,
            AttemptResult::Status { code, .. } if !is_transient_status(code) => {
                return Decision::Permanent { status: code };
            }
            AttemptResult::Status { retry_after, .. } => retry_after,
            AttemptResult::NetworkError | AttemptResult::Timeout => None,
        };
        // `Retry-After` lengthens the backoff, never shortens it: a server answering
        // `Retry-After: 0` (or a date in the past) must not turn the retries into a busy loop.
        let backoff = self.backoff(attempt, seed);
        let delay = match retry_after {
            Some(wait) => backoff.max(wait.min(self.max_retry_after)),
            None => backoff,
        };
        Decision::Retry { delay }
    }

    /// `base × 2^attempt`, capped, then "equal jitter": half fixed, half random, so retries of
    /// many batches spread out but never come sooner than half the schedule.
    pub fn backoff(&self, attempt: u32, seed: u64) -> Duration {
        let half_ms = self.backoff_floor(attempt).as_millis() as u64;
        let jitter = fastrand::Rng::with_seed(seed).u64(0..=half_ms);
        Duration::from_millis(half_ms + jitter)
    }

    /// The shortest backoff of attempt `attempt` whatever the jitter: half of `base × 2^attempt`
    /// (capped). It never shrinks as attempts grow, and no retry waits less (see [`Self::decide`]).
    pub fn backoff_floor(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        Duration::from_millis((exp.as_millis() / 2) as u64)
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `SystemTime` from UNIX milliseconds (the platform clock's unit), for [`parse_retry_after`].
pub fn system_time_from_millis(unix_ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(unix_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> AttemptResult {
        AttemptResult::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn classification_follows_the_official_library() {
        let p = RetryPolicy::default();
        for code in [200, 201, 204] {
            assert_eq!(p.decide(status(code), 0, 1), Decision::Success, "{code}");
        }
        for code in [400, 401, 403, 404, 413, 422, 501, 505] {
            assert_eq!(
                p.decide(status(code), 0, 1),
                Decision::Permanent { status: code },
                "{code}"
            );
        }
        for code in [408, 410, 429, 460, 500, 502, 503, 504, 599, 302, 700] {
            assert!(
                matches!(p.decide(status(code), 0, 1), Decision::Retry { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            p.decide(AttemptResult::NetworkError, 0, 1),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            p.decide(AttemptResult::Timeout, 0, 1),
            Decision::Retry { .. }
        ));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            let nominal = p.base.saturating_mul(1 << attempt.min(31)).min(p.cap);
            for seed in 0..20 {
                let d = p.backoff(attempt, seed);
                assert!(d >= nominal / 2 && d <= nominal, "attempt {attempt}: {d:?}");
            }
        }
        assert_eq!(p.backoff(3, 42), p.backoff(3, 42));
        let spread: std::collections::BTreeSet<_> = (0..20).map(|s| p.backoff(10, s)).collect();
        assert!(spread.len() > 10, "jitter must spread delays");
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let p = RetryPolicy::default();
        let wait = |secs| AttemptResult::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.decide(wait(30), 0, 1),
            Decision::Retry {
                delay: Duration::from_secs(30)
            }
        );
        assert_eq!(
            p.decide(wait(10 * 24 * 3600), 0, 1),
            Decision::Retry {
                delay: p.max_retry_after
            }
        );
    }

    #[test]
    fn retry_after_never_shortens_the_backoff() {
        let p = RetryPolicy::default();
        let now = system_time_from_millis(1_700_000_000_000);
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        for header in ["0", past.as_str()] {
            let retry_after = parse_retry_after(header, now);
            assert_eq!(retry_after, Some(Duration::ZERO), "{header}");
            let result = AttemptResult::Status {
                code: 429,
                retry_after,
            };
            for attempt in 0..40 {
                for seed in 0..20 {
                    assert_eq!(
                        p.decide(result, attempt, seed),
                        Decision::Retry {
                            delay: p.backoff(attempt, seed)
                        },
                        "Retry-After {header:?}, attempt {attempt}"
                    );
                }
            }
            // At attempt 5 the backoff is at least 8 s: `Retry-After: 0` is not "now".
            let Decision::Retry { delay } = p.decide(result, 5, 1) else {
                panic!()
            };
            assert!(delay >= Duration::from_secs(8), "{delay:?}");
        }
        // A Retry-After longer than the backoff wins; a shorter one leaves the backoff.
        let wait = |secs| AttemptResult::Status {
            code: 503,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.decide(wait(1), 12, 7),
            Decision::Retry {
                delay: p.backoff(12, 7)
            }
        );
        assert_eq!(
            p.decide(wait(5 * 3600), 12, 7),
            Decision::Retry {
                delay: Duration::from_secs(5 * 3600)
            }
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = system_time_from_millis(1_700_000_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
