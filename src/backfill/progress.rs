//! What a run shows while it works: a progress bar with events/s and ETA when stderr is a
//! terminal (`indicatif`), a plain line every [`LINE_EVERY`] otherwise (logs, CI). The position
//! is bytes of the selected files decoded so far: known before reading, unlike event counts.

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
            let bar = ProgressBar::with_draw_target(
                Some(total_bytes),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {percent:>3}% ETA {eta} · {msg}",
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
        let secs = elapsed.as_secs_f64().max(0.001);
        let done = s.events.sent;
        let rate = done as f64 / secs;
        let verb = if s.dry_run { "printed" } else { "sent" };
        let counts = format!(
            "{} read, {done} {verb}, {rate:.0} events/s, {} quarantined",
            s.events.read,
            s.events.quarantined.values().sum::<u64>()
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(bytes.min(self.total_bytes));
                bar.set_message(counts);
            }
            None if elapsed >= self.last_line + LINE_EVERY => {
                self.last_line = elapsed;
                let share = percent(bytes, self.total_bytes);
                let eta = eta(bytes, self.total_bytes, elapsed)
                    .map(|d| format!(", ETA {}s", d.as_secs()))
                    .unwrap_or_default();
                self.line(&format!(
                    "progress: {share}% of the input decoded, {counts}{eta}"
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
