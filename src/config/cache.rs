//! The per-isolate config cache, pure: which connector configs are known, which ids are known to
//! be absent, for how long, and what is dropped when a bound is reached. `store.rs` keeps one
//! [`ConfigCache`] per isolate and asks it before every KV read.
//!
//! Two maps, bounded separately, so a flood of unknown ids can never push the configs of working
//! connectors out:
//! - **found**: a parsed config, fresh for `CONFIG_CACHE_SECONDS`; at
//!   [`CONFIG_CACHE_MAX_ENTRIES`] the map starts over.
//! - **absent**: an id KV has no document for, remembered for
//!   [`CachePolicy::absent_ttl_ms`] (`min(CONFIG_CACHE_SECONDS, 5 s)`); at
//!   [`ABSENT_CACHE_MAX_ENTRIES`] expired entries go first, then the oldest one.
//!
//! An admin write forgets the id in both maps ([`ConfigCache::invalidate`]), so a connector
//! created right after a 404 for its id is accepted on this isolate's next request.

use std::collections::HashMap;
use std::time::Duration;

/// Most connector configs one isolate caches before it starts over.
pub const CONFIG_CACHE_MAX_ENTRIES: usize = 1_000;
/// Most unknown connector ids one isolate remembers.
pub const ABSENT_CACHE_MAX_ENTRIES: usize = 1_000;
/// Longest time an unknown connector id is remembered (less when `CONFIG_CACHE_SECONDS` is).
pub const ABSENT_CACHE_MAX_MS: u64 = 5_000;

/// How long entries stay fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Freshness of a found config (`CONFIG_CACHE_SECONDS`).
    pub found_ttl_ms: u64,
    /// Freshness of an absence: `min(CONFIG_CACHE_SECONDS, 5 s)`; 0 turns the absent cache off.
    pub absent_ttl_ms: u64,
}

impl CachePolicy {
    /// The policy for a config cache period (`Settings::config_cache`).
    pub fn new(config_cache: Duration) -> Self {
        let found_ttl_ms = u64::try_from(config_cache.as_millis()).unwrap_or(u64::MAX);
        CachePolicy {
            found_ttl_ms,
            absent_ttl_ms: found_ttl_ms.min(ABSENT_CACHE_MAX_MS),
        }
    }
}

/// What the cache knows about an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached<V> {
    /// A fresh config.
    Found(V),
    /// KV had no document for it a moment ago.
    Absent,
    /// Nothing fresh: read KV.
    Miss,
}

/// The cache of one isolate (`V` is the shared config; any clonable value in tests).
#[derive(Debug)]
pub struct ConfigCache<V> {
    found: HashMap<String, (u64, V)>,
    absent: HashMap<String, u64>,
}

impl<V> Default for ConfigCache<V> {
    fn default() -> Self {
        ConfigCache {
            found: HashMap::new(),
            absent: HashMap::new(),
        }
    }
}

impl<V: Clone> ConfigCache<V> {
    /// What is known about `id` at `now_ms`.
    pub fn get(&self, id: &str, now_ms: u64, policy: CachePolicy) -> Cached<V> {
        let fresh = |at: u64, ttl: u64| now_ms.saturating_sub(at) < ttl;
        if let Some((at, v)) = self.found.get(id)
            && fresh(*at, policy.found_ttl_ms)
        {
            return Cached::Found(v.clone());
        }
        if let Some(at) = self.absent.get(id)
            && fresh(*at, policy.absent_ttl_ms)
        {
            return Cached::Absent;
        }
        Cached::Miss
    }

    /// Remembers the config of `id`, read from KV at `now_ms`.
    pub fn found(&mut self, id: &str, now_ms: u64, value: V) {
        self.absent.remove(id);
        if self.found.len() >= CONFIG_CACHE_MAX_ENTRIES && !self.found.contains_key(id) {
            self.found.clear();
        }
        self.found.insert(id.to_owned(), (now_ms, value));
    }

    /// Remembers that KV had no document for `id` at `now_ms` (nothing when the policy's absent
    /// period is 0).
    pub fn absent(&mut self, id: &str, now_ms: u64, policy: CachePolicy) {
        self.found.remove(id);
        if policy.absent_ttl_ms == 0 {
            return;
        }
        if self.absent.len() >= ABSENT_CACHE_MAX_ENTRIES && !self.absent.contains_key(id) {
            self.absent
                .retain(|_, at| now_ms.saturating_sub(*at) < policy.absent_ttl_ms);
            if self.absent.len() >= ABSENT_CACHE_MAX_ENTRIES
                && let Some(oldest) = self
                    .absent
                    .iter()
                    .min_by_key(|(k, at)| (**at, k.as_str()))
                    .map(|(k, _)| k.clone())
            {
                self.absent.remove(&oldest);
            }
        }
        self.absent.insert(id.to_owned(), now_ms);
    }

    /// Forgets `id` in both maps (every admin write).
    pub fn invalidate(&mut self, id: &str) {
        self.found.remove(id);
        self.absent.remove(id);
    }

    /// Entries held: (found, absent).
    pub fn sizes(&self) -> (usize, usize) {
        (self.found.len(), self.absent.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECS_30: CachePolicy = CachePolicy {
        found_ttl_ms: 30_000,
        absent_ttl_ms: 5_000,
    };

    #[test]
    fn policy_follows_the_config_cache_period() {
        assert_eq!(CachePolicy::new(Duration::from_secs(30)), SECS_30);
        let short = CachePolicy::new(Duration::from_secs(2));
        assert_eq!((short.found_ttl_ms, short.absent_ttl_ms), (2_000, 2_000));
        let off = CachePolicy::new(Duration::ZERO);
        assert_eq!((off.found_ttl_ms, off.absent_ttl_ms), (0, 0));
    }

    #[test]
    fn found_and_absent_entries_expire() {
        let mut c = ConfigCache::default();
        assert_eq!(c.get("a", 0, SECS_30), Cached::Miss);
        c.found("a", 1_000, 7);
        assert_eq!(c.get("a", 30_999, SECS_30), Cached::Found(7));
        assert_eq!(c.get("a", 31_000, SECS_30), Cached::Miss);
        c.absent("b", 1_000, SECS_30);
        assert_eq!(c.get("b", 5_999, SECS_30), Cached::Absent);
        assert_eq!(c.get("b", 6_000, SECS_30), Cached::Miss);
    }

    #[test]
    fn a_zero_period_caches_nothing() {
        let off = CachePolicy::new(Duration::ZERO);
        let mut c = ConfigCache::default();
        c.absent("b", 1, off);
        c.found("a", 1, 1);
        assert_eq!(c.sizes(), (1, 0));
        assert_eq!(c.get("a", 1, off), Cached::Miss);
        assert_eq!(c.get("b", 1, off), Cached::Miss);
    }

    #[test]
    fn invalidate_forgets_both_kinds() {
        let mut c = ConfigCache::default();
        c.found("a", 0, 1);
        c.absent("b", 0, SECS_30);
        c.invalidate("a");
        c.invalidate("b");
        assert_eq!(c.get("a", 1, SECS_30), Cached::Miss);
        assert_eq!(c.get("b", 1, SECS_30), Cached::Miss);
        assert_eq!(c.sizes(), (0, 0));
    }

    #[test]
    fn found_replaces_absent_and_back() {
        let mut c = ConfigCache::default();
        c.absent("a", 0, SECS_30);
        c.found("a", 1, 9);
        assert_eq!(c.get("a", 2, SECS_30), Cached::Found(9));
        c.absent("a", 3, SECS_30);
        assert_eq!(c.get("a", 4, SECS_30), Cached::Absent);
        assert_eq!(c.sizes(), (0, 1));
    }

    #[test]
    fn a_flood_of_unknown_ids_stays_bounded_and_spares_the_configs() {
        let mut c = ConfigCache::default();
        c.found("real", 0, 1);
        for i in 0..10 * ABSENT_CACHE_MAX_ENTRIES {
            c.absent(&format!("junk-{i}"), i as u64 / 100, SECS_30);
            assert!(c.sizes().1 <= ABSENT_CACHE_MAX_ENTRIES);
        }
        assert_eq!(c.sizes(), (1, ABSENT_CACHE_MAX_ENTRIES));
        assert_eq!(c.get("real", 99, SECS_30), Cached::Found(1));
        // The newest ids are remembered, the oldest were dropped.
        let last = 10 * ABSENT_CACHE_MAX_ENTRIES - 1;
        assert_eq!(c.get(&format!("junk-{last}"), 99, SECS_30), Cached::Absent);
        assert_eq!(c.get("junk-0", 99, SECS_30), Cached::Miss);
    }

    #[test]
    fn expired_absences_are_dropped_before_live_ones() {
        let mut c: ConfigCache<u8> = ConfigCache::default();
        for i in 0..ABSENT_CACHE_MAX_ENTRIES - 1 {
            c.absent(&format!("old-{i}"), 0, SECS_30);
        }
        c.absent("live", 4_000, SECS_30);
        c.absent("new", 6_000, SECS_30);
        assert_eq!(c.sizes().1, 2, "every expired id went at once");
        assert_eq!(c.get("live", 6_000, SECS_30), Cached::Absent);
        assert_eq!(c.get("new", 6_000, SECS_30), Cached::Absent);
    }

    #[test]
    fn the_config_map_starts_over_at_its_bound() {
        let mut c = ConfigCache::default();
        for i in 0..CONFIG_CACHE_MAX_ENTRIES {
            c.found(&format!("c{i}"), 0, i);
        }
        assert_eq!(c.sizes().0, CONFIG_CACHE_MAX_ENTRIES);
        c.found("c0", 1, 0);
        assert_eq!(
            c.sizes().0,
            CONFIG_CACHE_MAX_ENTRIES,
            "a refresh is not an addition"
        );
        c.found("one-more", 1, 0);
        assert_eq!(c.sizes().0, 1);
    }
}
