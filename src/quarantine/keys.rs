//! The R2 key schema of quarantine objects, and the checks on keys and connector ids an admin
//! caller names.
//!
//! Key: `quarantine/{connector}/{YYYY-MM-DD}/{received_ms}-{8 hex}.json`.

use crate::config::is_valid_connector_id;
use crate::timefmt::ymd;
use crate::web::Problem;

/// Prefix every quarantine object key starts with.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

/// The R2 key of one quarantine record. `random` keeps two records of the same millisecond apart.
pub fn quarantine_key(connector: &str, received_ms: u64, random: u32) -> String {
    format!(
        "{QUARANTINE_PREFIX}{connector}/{}/{received_ms}-{random:08x}.json",
        ymd(received_ms)
    )
}

/// The key prefix of every object of a connector.
pub fn connector_prefix(connector: &str) -> String {
    format!("{QUARANTINE_PREFIX}{connector}/")
}

/// A quarantine key from the caller: it must name an object under `quarantine/`.
pub fn quarantine_key_param(key: Option<&str>) -> Result<String, Problem> {
    match key {
        Some(k) if k.starts_with(QUARANTINE_PREFIX) && !k.contains("..") => Ok(k.to_owned()),
        _ => Err(Problem::InvalidAdminRequest {
            detail: "`key` must be a quarantine object key (starting with quarantine/)".into(),
        }),
    }
}

/// The connector id named by the `connector` query parameter (required, syntax-checked).
pub fn connector_param(id: Option<&str>) -> Result<String, Problem> {
    match id {
        Some(id) if is_valid_connector_id(id) => Ok(id.to_owned()),
        _ => Err(Problem::InvalidAdminRequest {
            detail: "query parameter `connector` must be a connector id".into(),
        }),
    }
}

/// The connector id inside a quarantine key (`quarantine/{connector}/...`).
pub fn connector_of_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(QUARANTINE_PREFIX)?.split('/').next()?;
    is_valid_connector_id(id).then_some(id)
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
        assert_eq!(connector_prefix("acme"), "quarantine/acme/");
    }

    #[test]
    fn caller_keys_and_ids() {
        assert!(quarantine_key_param(Some("quarantine/acme/2026-01-01/1-a.json")).is_ok());
        for bad in [None, Some("other/acme"), Some("quarantine/../x")] {
            let e = quarantine_key_param(bad).unwrap_err();
            assert_eq!(e.status(), 400);
        }
        assert_eq!(connector_of_key("quarantine/acme/x.json"), Some("acme"));
        assert_eq!(connector_of_key("quarantine/a.b/x.json"), None);
        assert_eq!(connector_param(Some("acme")), Ok("acme".to_owned()));
        assert!(connector_param(Some("../x")).is_err());
        assert!(connector_param(None).is_err());
    }
}
