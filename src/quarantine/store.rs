//! Quarantine objects in R2: written as JSON **strings** with their summary as custom metadata
//! (so the admin listing needs no object reads), read back, listed and marked as replayed.

use std::collections::HashMap;

use ::worker::{Bucket, Env, HttpMetadata, Include, console_log};

use super::{META_REPLAYED_AT, QuarantineDoc, quarantine_key, quarantine_metadata};
use crate::config::QUARANTINE_BINDING;
use crate::entry::clock::random_u64;
use crate::web::{self, Problem};

fn bucket(env: &Env) -> Result<Bucket, Problem> {
    env.bucket(QUARANTINE_BINDING)
        .map_err(|_| Problem::StorageUnavailable)
}

/// Stores `doc` under a fresh key for `connector`; returns the key. A failure is
/// `storage_unavailable`: at ingest Braze resends (quarantined again, never lost); in the
/// consumer the plan holds the message on the queue (`quarantine_unavailable`) and tries again.
pub async fn put(
    env: &Env,
    connector: &str,
    received_ms: u64,
    doc: &QuarantineDoc,
) -> Result<String, Problem> {
    let key = quarantine_key(connector, received_ms, random_u64() as u32);
    let result = write(env, &key, doc.to_json(), quarantine_metadata(doc)).await;
    if result.is_err() {
        console_log!(
            "{}",
            web::platform_failure_line(connector, "quarantine_write")
        );
    }
    result.map(|()| key)
}

async fn write(
    env: &Env,
    key: &str,
    body: String,
    meta: HashMap<String, String>,
) -> Result<(), Problem> {
    bucket(env)?
        .put(key, body)
        .http_metadata(HttpMetadata {
            content_type: Some("application/json".to_owned()),
            ..HttpMetadata::default()
        })
        .custom_metadata(meta)
        .execute()
        .await
        .map(|_| ())
        .map_err(|_| Problem::StorageUnavailable)
}

/// One stored object: its body and custom metadata.
pub struct Stored {
    /// The JSON text.
    pub text: String,
    /// R2 custom metadata.
    pub meta: HashMap<String, String>,
}

/// The object at `key`, if any.
pub async fn get(env: &Env, key: &str) -> Result<Option<Stored>, Problem> {
    let Some(obj) = bucket(env)?
        .get(key)
        .execute()
        .await
        .map_err(|_| Problem::StorageUnavailable)?
    else {
        return Ok(None);
    };
    let meta = obj.custom_metadata().unwrap_or_default();
    let text = match obj.body() {
        Some(body) => body.text().await.map_err(|_| Problem::StorageUnavailable)?,
        None => String::new(),
    };
    Ok(Some(Stored { text, meta }))
}

/// Every key under `prefix` with its custom metadata.
pub async fn list(
    env: &Env,
    prefix: &str,
) -> Result<Vec<(String, HashMap<String, String>)>, Problem> {
    let bucket = bucket(env)?;
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = bucket
            .list()
            .prefix(prefix)
            .include(vec![Include::CustomMetadata]);
        if let Some(c) = cursor.take() {
            req = req.cursor(c);
        }
        let page = req
            .execute()
            .await
            .map_err(|_| Problem::StorageUnavailable)?;
        for obj in page.objects() {
            out.push((obj.key(), obj.custom_metadata().unwrap_or_default()));
        }
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

/// Rewrites the object at `key` with `doc` (the events a replay left in quarantine), its
/// metadata made from `doc` plus `replayed_at`.
pub async fn replace(
    env: &Env,
    key: &str,
    doc: &QuarantineDoc,
    replayed_at: &str,
) -> Result<(), Problem> {
    let mut meta = quarantine_metadata(doc);
    meta.insert(META_REPLAYED_AT.to_owned(), replayed_at.to_owned());
    write(env, key, doc.to_json(), meta).await
}

/// Re-puts an object with `replayed_at` in its metadata (the body is unchanged).
pub async fn mark_replayed(
    env: &Env,
    key: &str,
    stored: Stored,
    doc: &QuarantineDoc,
    replayed_at: &str,
) -> Result<(), Problem> {
    let mut meta = stored.meta;
    meta.extend(quarantine_metadata(doc));
    meta.insert(META_REPLAYED_AT.to_owned(), replayed_at.to_owned());
    write(env, key, stored.text, meta).await
}
