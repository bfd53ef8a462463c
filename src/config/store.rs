//! Connector configs from Workers KV (`connector:{id}`), parsed once and cached per isolate.
//!
//! Only valid configs are cached: a connector created or repaired is seen on the next request,
//! while a working one costs one KV read per isolate per cache period.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ::worker::{Env, console_log};

use super::{
    CONFIG_BINDING, CONNECTOR_KEY_PREFIX, ConnectorConfig, Settings, connector_id_of_key,
    connector_key,
};
use crate::web::{self, Problem};

/// Most connector configs one isolate caches before it starts over.
pub const CONFIG_CACHE_MAX_ENTRIES: usize = 1_000;

struct Cached {
    fetched_ms: u64,
    config: Rc<ConnectorConfig>,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// The config of connector `id` (already syntax-checked), or the problem to answer.
pub async fn load(
    env: &Env,
    settings: &Settings,
    id: &str,
    now_ms: u64,
) -> Result<Rc<ConnectorConfig>, Problem> {
    lookup(env, settings, id, now_ms)
        .await?
        .ok_or(Problem::UnknownConnector)
}

/// The config of connector `id`: `None` when absent; `ConnectorMisconfigured` when it does not
/// parse or validate, `ConfigUnavailable` when KV fails.
pub async fn lookup(
    env: &Env,
    settings: &Settings,
    id: &str,
    now_ms: u64,
) -> Result<Option<Rc<ConnectorConfig>>, Problem> {
    let ttl = u64::try_from(settings.config_cache.as_millis()).unwrap_or(u64::MAX);
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(id)
            .filter(|e| now_ms.saturating_sub(e.fetched_ms) < ttl)
            .map(|e| e.config.clone())
    });
    if let Some(config) = hit {
        return Ok(Some(config));
    }
    let Some(text) = read(env, id).await? else {
        return Ok(None);
    };
    let config = ConnectorConfig::from_json(&text).map_err(|errors| {
        console_log!("{}", web::config_error_line(id, &errors));
        Problem::ConnectorMisconfigured
    })?;
    let config = Rc::new(config);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CONFIG_CACHE_MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(
            id.to_owned(),
            Cached {
                fetched_ms: now_ms,
                config: config.clone(),
            },
        );
    });
    Ok(Some(config))
}

/// A failed KV call on the config of `id` (`what`: `config_read`, ...): logged, then
/// `config_unavailable` (503, Braze retries). The platform's error text is not logged.
fn kv_failed(id: &str, what: &'static str) -> Problem {
    console_log!("{}", web::platform_failure_line(id, what));
    Problem::ConfigUnavailable
}

/// The config namespace, for a call on `id` of kind `what`.
fn config_kv(env: &Env, id: &str, what: &'static str) -> Result<::worker::kv::KvStore, Problem> {
    env.kv(CONFIG_BINDING).map_err(|_| kv_failed(id, what))
}

async fn read(env: &Env, id: &str) -> Result<Option<String>, Problem> {
    config_kv(env, id, "config_read")?
        .get(&connector_key(id))
        .text()
        .await
        .map_err(|_| kv_failed(id, "config_read"))
}

/// Forgets this isolate's cached config of `id`. Every admin write calls it, so this isolate
/// sees a rotated token, a pause or a deletion on its next request; other isolates keep their
/// copy until it expires (`CONFIG_CACHE_SECONDS`, docs/ADMIN_API.md).
pub fn invalidate(id: &str) {
    CACHE.with(|c| {
        c.borrow_mut().remove(id);
    });
}

/// The stored config of `id`, read from KV (never the cache: the admin API shows and edits what
/// is stored). `None` when absent; `ConnectorMisconfigured` when it does not parse.
pub async fn read_fresh(env: &Env, id: &str) -> Result<Option<ConnectorConfig>, Problem> {
    let Some(text) = read(env, id).await? else {
        return Ok(None);
    };
    ConnectorConfig::from_json(&text)
        .map(Some)
        .map_err(|_| Problem::ConnectorMisconfigured)
}

/// Whether a KV document exists for `id` (parsable or not).
pub async fn exists(env: &Env, id: &str) -> Result<bool, Problem> {
    Ok(read(env, id).await?.is_some())
}

/// Stores `config` for `id` as a JSON string and drops this isolate's cached copy.
pub async fn put(env: &Env, id: &str, config: &ConnectorConfig) -> Result<(), Problem> {
    let text = crate::admin::stored_json(config)?;
    let kv = config_kv(env, id, "config_write")?;
    let result = match kv.put(&connector_key(id), text) {
        Ok(builder) => builder
            .execute()
            .await
            .map_err(|_| kv_failed(id, "config_write")),
        Err(_) => Err(kv_failed(id, "config_write")),
    };
    invalidate(id);
    result
}

/// Deletes the config of `id` and drops this isolate's cached copy.
pub async fn delete(env: &Env, id: &str) -> Result<(), Problem> {
    let result = config_kv(env, id, "config_delete")?
        .delete(&connector_key(id))
        .await
        .map_err(|_| kv_failed(id, "config_delete"));
    invalidate(id);
    result
}

/// Every connector id in KV (keys `connector:{id}`), following list cursors.
pub async fn list_ids(env: &Env) -> Result<Vec<String>, Problem> {
    let kv = config_kv(env, "*", "config_list")?;
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(CONNECTOR_KEY_PREFIX.to_owned());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list
            .execute()
            .await
            .map_err(|_| kv_failed("*", "config_list"))?;
        ids.extend(
            page.keys
                .iter()
                .filter_map(|k| connector_id_of_key(&k.name).map(str::to_owned)),
        );
        match page.cursor {
            Some(c) if !page.list_complete && !c.is_empty() => cursor = Some(c),
            _ => return Ok(ids),
        }
    }
}
