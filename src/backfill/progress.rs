//! What a run shows while it works: a progress bar with events/s and ETA when stderr is a
//! terminal (`indicatif`), a plain line every [`LINE_EVERY`] otherwise (logs, CI). The position
//! is the events done (sent, filtered, quarantined or given up); the total is estimated from the
//! bytes decoded so far, since Avro files do not say how many records they hold.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::tally::Summary;

/// How often a plain progress line is written when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(10);

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    total_bytes: u64,
    last_line: Duration,
}

impl Progress {
    /// A display for `total_bytes` of input: a bar on a terminal, plain lines elsewhere.
    pub fn new(total_bytes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/~{len} events, ETA {eta} · {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            total_bytes,
            last_line: Duration::ZERO,
        }
    }

    /// Writes a line above the bar (or plainly).
    pub fn line(&self, text: &str) {
        let write = || {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// Updates the display at `elapsed` since the start with `bytes` decoded.
    pub fn tick(&mut self, bytes: u64, s: &Summary, elapsed: Duration) {
        let e = &s.events;
        let total = |m: &std::collections::BTreeMap<String, u64>| m.values().sum::<u64>();
        let done = e.sent + total(&e.filtered) + total(&e.quarantined) + total(&e.unsent);
        let expected = estimate_total(e.read, bytes, self.total_bytes).max(done);
        let rate = e.sent as f64 / elapsed.as_secs_f64().max(0.001);
        let verb = if s.dry_run { "printed" } else { "sent" };
        let counts = format!(
            "{} {verb}, {rate:.0} events/s, {} filtered, {} quarantined",
            e.sent,
            total(&e.filtered),
            total(&e.quarantined)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_length(expected);
                bar.set_position(done);
                bar.set_message(counts);
            }
            None if elapsed >= self.last_line + LINE_EVERY => {
                self.last_line = elapsed;
                let eta = eta(done, expected, elapsed)
                    .map(|d| format!(", ETA {}s", d.as_secs()))
                    .unwrap_or_default();
                self.line(&format!(
                    "progress: {done} of ~{expected} events done ({}%), {counts}{eta}",
                    percent(done, expected)
                ));
            }
            None => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The events the input holds, estimated: `read` events came from `decoded` of `total_bytes`.
pub fn estimate_total(read: u64, decoded: u64, total_bytes: u64) -> u64 {
    if decoded == 0 {
        return read;
    }
    let estimate = (u128::from(read) * u128::from(total_bytes.max(decoded))) / u128::from(decoded);
    u64::try_from(estimate).unwrap_or(u64::MAX).max(read)
}

/// `part` of `whole` in whole percent (100 for an empty whole).
pub fn percent(part: u64, whole: u64) -> u64 {
    (part.min(whole) * 100).checked_div(whole).unwrap_or(100)
}

/// Time left at the rate so far, once something was done.
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done == 0 || elapsed.is_zero() {
        return None;
    }
    let left = total.saturating_sub(done) as f64;
    Some(Duration::from_secs_f64(
        left * elapsed.as_secs_f64() / done as f64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimated_total() {
        assert_eq!(estimate_total(0, 0, 1_000), 0);
        assert_eq!(estimate_total(100, 250, 1_000), 400);
        assert_eq!(estimate_total(100, 1_000, 1_000), 100);
        assert_eq!(
            estimate_total(100, 2_000, 1_000),
            100,
            "never below what was read"
        );
    }

    #[test]
    fn percent_and_eta() {
        assert_eq!(percent(50, 200), 25);
        assert_eq!(percent(300, 200), 100);
        assert_eq!(percent(0, 0), 100);
        assert_eq!(eta(0, 100, Duration::from_secs(3)), None);
        assert_eq!(
            eta(25, 100, Duration::from_secs(10)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(eta(100, 100, Duration::from_secs(10)), Some(Duration::ZERO));
    }
}
