//! The backfill command's clock and jitter seeds: the only place the native command reads the
//! system clock (the pure core takes time as a parameter; `clippy.toml` forbids the clock
//! everywhere else, and this module allows it where it reads it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// Now, UNIX milliseconds (for `sentAt`, `Retry-After` dates).
#[allow(clippy::disallowed_methods)] // The command's one reader of the wall clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A monotonic clock for pacing, request flushing and rates.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::disallowed_types)] // The command's monotonic clock.
pub struct Stopwatch(std::time::Instant);

#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // As above.
impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        Stopwatch(std::time::Instant::now())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A jitter seed: the clock's nanoseconds and a counter, mixed (SplitMix64), so concurrent
/// senders retrying at once spread out.
pub fn seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    #[allow(clippy::disallowed_methods)] // As above: jitter needs no more than this.
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
