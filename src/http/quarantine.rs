//! Quarantine records: one R2 object per batch of events that cannot be forwarded as they are,
//! with their reasons, for inspection and replay (CONTRACTS §4). The document itself is
//! `delivery::QuarantineDoc`; this module names the objects.
//!
//! Key: `quarantine/{connector}/{YYYY-MM-DD}/{received_ms}-{8 hex}.json`.

/// The R2 key of one quarantine record. `random` keeps two requests of the same millisecond apart.
pub fn quarantine_key(connector: &str, received_ms: u64, random: u32) -> String {
    format!(
        "quarantine/{connector}/{}/{received_ms}-{random:08x}.json",
        super::ymd(received_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        assert_eq!(
            quarantine_key("acme", 1_764_345_600_123, 0xab),
            "quarantine/acme/2025-11-28/1764345600123-000000ab.json"
        );
    }
}
