//! The test clock: with `TEST_HOOKS = "1"` only, the Worker's time is the platform clock plus
//! the integer in KV `test:clock_offset_ms`, so end-to-end tests can move past a retention
//! window without sleeping. With the variable unset the key is never read.

/// Variable that turns test hooks on (`"1"`); empty or absent in production.
pub const TEST_HOOKS_VAR: &str = "TEST_HOOKS";
/// KV key (namespace `CONFIG`) holding the clock offset in milliseconds.
pub const CLOCK_OFFSET_KEY: &str = "test:clock_offset_ms";

/// Whether the test hooks are on.
pub fn test_hooks_enabled(var: Option<&str>) -> bool {
    var.is_some_and(|v| v.trim() == "1")
}

/// `now_ms` moved by the stored offset (absent or unreadable = 0; never below 0).
pub fn offset_now(now_ms: u64, offset: Option<&str>) -> u64 {
    let offset = offset
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0);
    now_ms.saturating_add_signed(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_only_with_one() {
        assert!(test_hooks_enabled(Some("1")));
        for v in [None, Some(""), Some("0"), Some("true")] {
            assert!(!test_hooks_enabled(v), "{v:?}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_now(1_000, None), 1_000);
        assert_eq!(offset_now(1_000, Some("260000000")), 260_001_000);
        assert_eq!(offset_now(1_000, Some("-5000")), 0);
        assert_eq!(offset_now(1_000, Some("x")), 1_000);
    }
}
