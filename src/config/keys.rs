//! Connector ids and the KV key schema of connector configs (`connector:{id}`).

/// Longest connector id.
pub const MAX_CONNECTOR_ID_LEN: usize = 64;
/// KV key prefix of connector configs: `connector:{id}`.
pub const CONNECTOR_KEY_PREFIX: &str = "connector:";

/// Whether `id` is a connector id: 1-64 ASCII letters, digits, `_` or `-`. Anything else never
/// reaches KV or R2, so a path like `../x` cannot address another key.
pub fn is_valid_connector_id(id: &str) -> bool {
    (1..=MAX_CONNECTOR_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Random bytes in a connector generation (64 bits, as 16 hex digits).
pub const GENERATION_BYTES: usize = 8;

/// A connector generation from random bytes the shell provides.
pub fn new_generation(random: &[u8; GENERATION_BYTES]) -> String {
    hex::encode(random)
}

/// The KV key of a connector's config.
pub fn connector_key(connector_id: &str) -> String {
    format!("{CONNECTOR_KEY_PREFIX}{connector_id}")
}

/// The connector id of a KV key `connector:{id}` (None for other keys or impossible ids).
pub fn connector_id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(CONNECTOR_KEY_PREFIX)
        .filter(|id| is_valid_connector_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys() {
        assert_eq!(connector_key("acme-prod"), "connector:acme-prod");
        assert_eq!(
            connector_id_of_key("connector:acme-prod"),
            Some("acme-prod")
        );
        assert_eq!(connector_id_of_key("connector:a/b"), None);
        assert_eq!(connector_id_of_key("test:clock_offset_ms"), None);
        assert!(is_valid_connector_id("acme_prod-2"));
        for bad in ["", "a.b", "../x", "a/b", &"x".repeat(65)] {
            assert!(!is_valid_connector_id(bad), "{bad}");
        }
        assert!(is_valid_connector_id(&"x".repeat(64)));
        let g = new_generation(&[0xab; GENERATION_BYTES]);
        assert_eq!(g, "abababababababab");
        assert!(is_valid_connector_id(&g));
    }
}
