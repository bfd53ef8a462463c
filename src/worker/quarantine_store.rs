//! Writes quarantine records to R2 (one object per request, or per batch Segment refused).

use ::worker::{Env, HttpMetadata, console_log};

use crate::http::{self, Problem};

/// Stores `document` under a fresh key for `connector`. A failure is `storage_unavailable`
/// (503): Braze resends and the events are quarantined again, never lost.
pub async fn put(
    env: &Env,
    connector: &str,
    received_ms: u64,
    document: String,
) -> Result<(), Problem> {
    let failed = || {
        console_log!(
            "{}",
            http::platform_failure_line(connector, "quarantine_write")
        );
        Problem::StorageUnavailable
    };
    let bucket = env.bucket(http::QUARANTINE_BINDING).map_err(|_| failed())?;
    let key = http::quarantine_key(connector, received_ms, random_u32());
    bucket
        .put(key, document)
        .http_metadata(HttpMetadata {
            content_type: Some("application/json".to_owned()),
            ..HttpMetadata::default()
        })
        .execute()
        .await
        .map_err(|_| failed())?;
    Ok(())
}

/// 32 random bits from the platform. Not for secrets: only to keep keys apart.
pub fn random_u32() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}
