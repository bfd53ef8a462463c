//! The Worker's environment, typed: binding and variable names (wrangler.toml), and [`Settings`],
//! read once per invocation from the variables with defaults. A value that does not parse falls
//! back to its default and is reported as a [`SettingWarning`] the shell logs (never a crash).
//!
//! The test clock lives here too: with `TEST_HOOKS = "1"` only, the Worker's time is the
//! platform clock plus the integer in KV `test:clock_offset_ms`, so end-to-end tests can move
//! past a retention window without sleeping. With the variable unset the key is never read.

use std::time::Duration;

use serde::Serialize;

use super::Region;

/// KV namespace binding holding connector configs.
pub const CONFIG_BINDING: &str = "CONFIG";
/// R2 bucket binding for quarantined events.
pub const QUARANTINE_BINDING: &str = "QUARANTINE";
/// Queue producer binding of the delivery queue.
pub const DELIVERY_BINDING: &str = "DELIVERY";
/// Durable Object namespace binding of the per-connector stats.
pub const STATS_BINDING: &str = "STATS";
/// The delivery queue's name (wrangler.toml).
pub const DELIVERY_QUEUE: &str = "currents-relay-delivery";
/// The dead-letter queue's name: messages the platform gave up on.
pub const DEAD_LETTER_QUEUE: &str = "currents-relay-dlq";
/// Secret holding the admin API token (`wrangler secret put ADMIN_TOKEN`).
pub const ADMIN_TOKEN_SECRET: &str = "ADMIN_TOKEN";
/// Secret holding the read-only metrics token (`wrangler secret put METRICS_TOKEN`): it opens
/// `GET /admin/metrics` and nothing else. Optional.
pub const METRICS_TOKEN_SECRET: &str = "METRICS_TOKEN";

/// Variable overriding the US Segment endpoint (local runs and tests only; empty = production).
pub const SEGMENT_US_URL_VAR: &str = "SEGMENT_US_URL";
/// Variable overriding the EU Segment endpoint (local runs and tests only; empty = production).
pub const SEGMENT_EU_URL_VAR: &str = "SEGMENT_EU_URL";
/// Variable: timeout of one Segment request in milliseconds.
pub const SEGMENT_TIMEOUT_MS_VAR: &str = "SEGMENT_TIMEOUT_MS";
/// Variable: seconds a parsed connector config is cached per isolate.
pub const CONFIG_CACHE_SECONDS_VAR: &str = "CONFIG_CACHE_SECONDS";
/// Variable: seconds before the platform redelivers a message whose fate could not be stored.
pub const PLATFORM_RETRY_SECONDS_VAR: &str = "PLATFORM_RETRY_SECONDS";
/// Variable that turns test hooks on (`"1"`); empty or absent in production.
pub const TEST_HOOKS_VAR: &str = "TEST_HOOKS";
/// Variable: the one origin allowed to call the admin API cross-origin.
pub const CONSOLE_ORIGIN_VAR: &str = "CONSOLE_ORIGIN";
/// KV key (namespace `CONFIG`) holding the test clock's offset in milliseconds.
pub const CLOCK_OFFSET_KEY: &str = "test:clock_offset_ms";

/// Every variable [`Settings::from_vars`] reads, for the shell to look up.
pub const SETTING_VARS: [&str; 7] = [
    SEGMENT_US_URL_VAR,
    SEGMENT_EU_URL_VAR,
    SEGMENT_TIMEOUT_MS_VAR,
    CONFIG_CACHE_SECONDS_VAR,
    PLATFORM_RETRY_SECONDS_VAR,
    TEST_HOOKS_VAR,
    CONSOLE_ORIGIN_VAR,
];

/// Default timeout of one request to Segment: a hung request becomes a retry, not a consumer
/// invocation stuck until the platform's limit.
pub const DEFAULT_SEGMENT_TIMEOUT_MS: u32 = 10_000;
/// Default lifetime of a cached connector config: a config change reaches every isolate within
/// this time (KV itself takes up to 60 s to propagate).
pub const DEFAULT_CONFIG_CACHE_SECONDS: u64 = 30;
/// Default first platform-retry delay. Later ones grow with the time the message has waited
/// ([`Settings::platform_retry_secs`]): with the retries below a message rides out at least
/// [`PLATFORM_RETRY_SURVIVAL`] of R2 and the queue failing together before it can be lost.
pub const DEFAULT_PLATFORM_RETRY_SECONDS: u32 = 60;
/// Longest delay Cloudflare Queues accepts on a send or retry (12 hours).
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(12 * 60 * 60);
/// The delivery queue's `max_retries` (wrangler.toml): platform retries before the dead-letter
/// queue.
pub const DELIVERY_MAX_RETRIES: u32 = 5;
/// The dead-letter queue's `max_retries` (wrangler.toml): its consumer's last chances to store
/// a message in quarantine.
pub const DEAD_LETTER_MAX_RETRIES: u32 = 12;
/// What the relay promises to survive of R2 and the queue failing together (every write of a
/// message's fate refused) with the default settings: a day.
pub const PLATFORM_RETRY_SURVIVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The Worker's settings, from its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Segment endpoint override for US destinations (`None`: production).
    pub segment_us_url: Option<String>,
    /// Segment endpoint override for EU destinations (`None`: production).
    pub segment_eu_url: Option<String>,
    /// Timeout of one Segment request.
    pub segment_timeout_ms: u32,
    /// How long a parsed connector config is cached per isolate.
    pub config_cache: Duration,
    /// Least delay before the platform redelivers a message whose fate could not be stored
    /// (0 allowed).
    pub platform_retry_seconds: u32,
    /// Test hooks on (`TEST_HOOKS = "1"`): the KV test clock is read.
    pub test_hooks: bool,
    /// The one origin allowed to call the admin API cross-origin (`None`: same origin only).
    pub console_origin: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            segment_us_url: None,
            segment_eu_url: None,
            segment_timeout_ms: DEFAULT_SEGMENT_TIMEOUT_MS,
            config_cache: Duration::from_secs(DEFAULT_CONFIG_CACHE_SECONDS),
            platform_retry_seconds: DEFAULT_PLATFORM_RETRY_SECONDS,
            test_hooks: false,
            console_origin: None,
        }
    }
}

/// A variable whose value was not understood: the default was used instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingWarning {
    /// The variable.
    pub var: &'static str,
    /// What it should hold.
    pub expected: &'static str,
}

impl Settings {
    /// Settings from variables (`var(name)` → its value, `None` when unset). Empty values are
    /// unset; unreadable ones keep the default and are returned as warnings.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> (Self, Vec<SettingWarning>) {
        let mut warnings = Vec::new();
        let text = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut number = |name: &'static str, expected: &'static str, ok: fn(u64) -> bool| {
            let value = text(name)?;
            match value.parse::<u64>() {
                Ok(n) if ok(n) => Some(n),
                _ => {
                    warnings.push(SettingWarning {
                        var: name,
                        expected,
                    });
                    None
                }
            }
        };
        let defaults = Settings::default();
        let segment_timeout_ms = number(
            SEGMENT_TIMEOUT_MS_VAR,
            "milliseconds, 1 to 4294967295",
            |n| (1..=u64::from(u32::MAX)).contains(&n),
        )
        .map_or(defaults.segment_timeout_ms, |n| n as u32);
        let config_cache = number(CONFIG_CACHE_SECONDS_VAR, "seconds, 0 or more", |_| true)
            .map_or(defaults.config_cache, Duration::from_secs);
        let platform_retry_seconds =
            number(PLATFORM_RETRY_SECONDS_VAR, "seconds, 0 to 43200", |n| {
                n <= MAX_QUEUE_DELAY.as_secs()
            })
            .map_or(defaults.platform_retry_seconds, |n| n as u32);
        let test_hooks = match text(TEST_HOOKS_VAR).as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => {
                warnings.push(SettingWarning {
                    var: TEST_HOOKS_VAR,
                    expected: "empty, 0 or 1",
                });
                false
            }
        };
        let settings = Settings {
            segment_us_url: text(SEGMENT_US_URL_VAR),
            segment_eu_url: text(SEGMENT_EU_URL_VAR),
            segment_timeout_ms,
            config_cache,
            platform_retry_seconds,
            test_hooks,
            console_origin: text(CONSOLE_ORIGIN_VAR),
        };
        (settings, warnings)
    }

    /// The Segment batch endpoint of `region`: the override when set, else production.
    pub fn segment_url(&self, region: Region) -> &str {
        let override_url = match region {
            Region::Us => &self.segment_us_url,
            Region::Eu => &self.segment_eu_url,
        };
        override_url
            .as_deref()
            .unwrap_or_else(|| crate::segment::batch_url(region))
    }

    /// Seconds before the platform redelivers a message whose fate could not be stored, when
    /// the message has `waited` on its queue since it was sent (the platform's message
    /// timestamp; retries keep it): `PLATFORM_RETRY_SECONDS`, or as long again as the message has
    /// waited when that is longer, so each retry about doubles the time a message rides out
    /// (60 s, 60 s, 2 min, 4 min, ... 12 h); never less than the delay the message was meant to
    /// wait (a backoff or `Retry-After` is not skipped because the re-enqueue failed); at most
    /// 12 hours. `PLATFORM_RETRY_SECONDS = 0` (the tests) turns the growth off as well.
    pub fn platform_retry_secs(&self, intended: Duration, waited: Duration) -> u32 {
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let intended = u32::try_from(intended.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
        let base = self.platform_retry_seconds;
        let grown = if base == 0 { 0 } else { base.max(secs(waited)) };
        let cap = MAX_QUEUE_DELAY.as_secs() as u32;
        grown.max(intended).min(cap)
    }

    /// The delays of `retries` platform retries of a message whose every attempt fails at once,
    /// the first `waited` after it was sent: the schedule [`Self::platform_retry_secs`] makes.
    pub fn platform_retry_schedule(&self, retries: u32, waited: Duration) -> Vec<u32> {
        let mut waited = waited;
        (0..retries)
            .map(|_| {
                let delay = self.platform_retry_secs(Duration::ZERO, waited);
                waited += Duration::from_secs(u64::from(delay));
                delay
            })
            .collect()
    }

    /// The least time a message whose fate can never be stored stays with the platform, from
    /// its first failed attempt to its last: the delivery queue's retries, then the dead-letter
    /// queue's, each attempt taken to fail at once. Counted as if the dead-letter queue gave the
    /// message a new timestamp (its schedule starting over); if it keeps the first one, as the
    /// local runtime does, every delay there is longer still.
    pub fn platform_retry_survival(
        &self,
        delivery_retries: u32,
        dead_letter_retries: u32,
    ) -> Duration {
        let total: u64 = [delivery_retries, dead_letter_retries]
            .into_iter()
            .flat_map(|retries| self.platform_retry_schedule(retries, Duration::ZERO))
            .map(u64::from)
            .sum();
        Duration::from_secs(total)
    }
}

/// `now_ms` moved by the stored test-clock offset (absent or unreadable = 0; never below 0).
pub fn offset_now(now_ms: u64, offset: Option<&str>) -> u64 {
    let offset = offset
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0);
    now_ms.saturating_add_signed(offset)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> (Settings, Vec<SettingWarning>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        let (s, w) = settings(&[]);
        assert_eq!(s, Settings::default());
        assert!(w.is_empty());
        let (s, w) = settings(&[(SEGMENT_US_URL_VAR, "  "), (TEST_HOOKS_VAR, "")]);
        assert_eq!(s, Settings::default());
        assert!(w.is_empty());
        assert_eq!(s.segment_timeout_ms, 10_000);
        assert_eq!(s.config_cache, Duration::from_secs(30));
        assert_eq!(s.platform_retry_seconds, 60);
    }

    #[test]
    fn values_are_read() {
        let (s, w) = settings(&[
            (SEGMENT_US_URL_VAR, "http://127.0.0.1:9/us/v1/batch"),
            (SEGMENT_TIMEOUT_MS_VAR, "2000"),
            (CONFIG_CACHE_SECONDS_VAR, "0"),
            (PLATFORM_RETRY_SECONDS_VAR, "0"),
            (TEST_HOOKS_VAR, "1"),
            (CONSOLE_ORIGIN_VAR, "https://console.example.com"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.segment_url(Region::Us), "http://127.0.0.1:9/us/v1/batch");
        assert_eq!(
            s.segment_url(Region::Eu),
            "https://events.eu1.segmentapis.com/v1/batch"
        );
        assert_eq!(s.segment_timeout_ms, 2_000);
        assert_eq!(s.config_cache, Duration::ZERO);
        assert_eq!(s.platform_retry_seconds, 0);
        assert!(s.test_hooks);
        assert_eq!(
            s.console_origin.as_deref(),
            Some("https://console.example.com")
        );
        assert_eq!(
            Settings::default().segment_url(Region::Us),
            "https://api.segment.io/v1/batch"
        );
    }

    #[test]
    fn bad_values_fall_back_with_a_warning() {
        let (s, w) = settings(&[
            (SEGMENT_TIMEOUT_MS_VAR, "0"),
            (CONFIG_CACHE_SECONDS_VAR, "soon"),
            (PLATFORM_RETRY_SECONDS_VAR, "99999"),
            (TEST_HOOKS_VAR, "true"),
        ]);
        assert_eq!(s, Settings::default());
        let vars: Vec<&str> = w.iter().map(|w| w.var).collect();
        assert_eq!(
            vars,
            [
                SEGMENT_TIMEOUT_MS_VAR,
                CONFIG_CACHE_SECONDS_VAR,
                PLATFORM_RETRY_SECONDS_VAR,
                TEST_HOOKS_VAR
            ]
        );
    }

    #[test]
    fn platform_retry_never_shorter_than_the_intended_wait() {
        let (s, _) = settings(&[(PLATFORM_RETRY_SECONDS_VAR, "60")]);
        let now = Duration::ZERO;
        assert_eq!(s.platform_retry_secs(Duration::ZERO, now), 60);
        assert_eq!(
            s.platform_retry_secs(Duration::from_millis(90_001), now),
            91
        );
        assert_eq!(
            s.platform_retry_secs(Duration::from_secs(86_400), now),
            43_200
        );
        let (zero, _) = settings(&[(PLATFORM_RETRY_SECONDS_VAR, "0")]);
        assert_eq!(zero.platform_retry_secs(Duration::ZERO, now), 0);
    }

    #[test]
    fn platform_retries_grow_with_the_time_the_message_waited() {
        let s = Settings::default();
        let waited = Duration::from_secs;
        assert_eq!(s.platform_retry_secs(Duration::ZERO, waited(0)), 60);
        assert_eq!(s.platform_retry_secs(Duration::ZERO, waited(59)), 60);
        assert_eq!(
            s.platform_retry_secs(Duration::ZERO, Duration::from_millis(240_900)),
            240
        );
        assert_eq!(
            s.platform_retry_secs(Duration::ZERO, waited(5 * 3600)),
            5 * 3600
        );
        assert_eq!(
            s.platform_retry_secs(Duration::ZERO, waited(3 * 86_400)),
            43_200
        );
        // The intended wait still wins when it is longer.
        assert_eq!(s.platform_retry_secs(waited(7200), waited(600)), 7200);
        // Each retry about doubles what the message has ridden out, up to 12 h a retry.
        assert_eq!(
            s.platform_retry_schedule(14, Duration::ZERO),
            [
                60, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15_360, 30_720, 43_200, 43_200,
                43_200
            ]
        );
        let schedule = s.platform_retry_schedule(40, Duration::from_millis(1500));
        assert!(schedule.windows(2).all(|w| w[1] >= w[0]), "{schedule:?}");
        // PLATFORM_RETRY_SECONDS = 0 (the tests): at once, whatever the message waited.
        let (zero, _) = settings(&[(PLATFORM_RETRY_SECONDS_VAR, "0")]);
        assert_eq!(zero.platform_retry_secs(Duration::ZERO, waited(3600)), 0);
        assert_eq!(zero.platform_retry_schedule(3, Duration::ZERO), [0, 0, 0]);
        // PLATFORM_RETRY_SECONDS = 1 (platform-faults.test.mjs): 1, 1, 2, 4, 8 s.
        let (one, _) = settings(&[(PLATFORM_RETRY_SECONDS_VAR, "1")]);
        assert_eq!(
            one.platform_retry_schedule(5, Duration::from_millis(200)),
            [1, 1, 2, 4, 8]
        );
    }

    #[test]
    fn r2_and_the_queue_failing_together_for_a_day_lose_nothing() {
        let s = Settings::default();
        let survived = s.platform_retry_survival(DELIVERY_MAX_RETRIES, DEAD_LETTER_MAX_RETRIES);
        assert!(
            survived >= PLATFORM_RETRY_SURVIVAL,
            "a message whose fate cannot be stored is kept {} s, less than {} s",
            survived.as_secs(),
            PLATFORM_RETRY_SURVIVAL.as_secs()
        );
        // 16 min on the delivery queue (60 + 60 + 120 + 240 + 480 s), 29 h 4 min on the
        // dead-letter queue (60 s ... 8 h 32 min, then 12 h), counting the latter from scratch.
        assert_eq!(survived, Duration::from_secs(960 + 104_640));
        // The dead-letter queue alone rides out the day, whatever the delivery queue's retries.
        assert!(s.platform_retry_survival(0, DEAD_LETTER_MAX_RETRIES) >= PLATFORM_RETRY_SURVIVAL);
        // Each delay is one the platform accepts.
        for d in s.platform_retry_schedule(DEAD_LETTER_MAX_RETRIES, Duration::ZERO) {
            assert!(u64::from(d) <= MAX_QUEUE_DELAY.as_secs());
        }
    }

    /// The retry counts above are wrangler.toml's, which the platform (and the end-to-end
    /// harness) reads.
    #[test]
    fn retry_counts_are_wrangler_tomls() {
        let toml = include_str!("../../wrangler.toml");
        let mut consumers = Vec::new();
        for block in toml.split("[[queues.consumers]]").skip(1) {
            let field = |name: &str| {
                block
                    .lines()
                    .take_while(|l| !l.trim_start().starts_with("[["))
                    .find_map(|l| {
                        let (k, v) = l.split_once('=')?;
                        (k.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
                    })
            };
            consumers.push((field("queue"), field("max_retries")));
        }
        let retries = |queue: &str| {
            consumers
                .iter()
                .find(|(q, _)| q.as_deref() == Some(queue))
                .and_then(|(_, r)| r.as_deref()?.parse::<u32>().ok())
        };
        assert_eq!(retries(DELIVERY_QUEUE), Some(DELIVERY_MAX_RETRIES));
        assert_eq!(retries(DEAD_LETTER_QUEUE), Some(DEAD_LETTER_MAX_RETRIES));
    }

    #[test]
    fn clock_offsets() {
        assert_eq!(offset_now(1_000, None), 1_000);
        assert_eq!(offset_now(1_000, Some("260000000")), 260_001_000);
        assert_eq!(offset_now(1_000, Some("-5000")), 0);
        assert_eq!(offset_now(1_000, Some("x")), 1_000);
    }
}
