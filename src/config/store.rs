//! Connector configs from Workers KV (`connector:{id}`), parsed once and cached per isolate.
//!
//! Only valid configs are cached: a connector repaired is seen on the next request, while a
//! working one costs one KV read per isolate per cache period. Unknown ids are remembered for a
//! few seconds, so repeating one costs at most one KV read per isolate per period; the policy
//! (periods, bounds, eviction) is the pure [`super::ConfigCache`].

use std::cell::RefCell;
use std::rc::Rc;

use ::worker::{Env, console_log};

use super::{
    CONFIG_BINDING, CONNECTOR_KEY_PREFIX, CachePolicy, Cached, ConfigCache, ConnectorConfig,
    Settings, connector_id_of_key, connector_key, is_valid_connector_id,
};
use crate::web::{self, Problem};

thread_local! {
    static CACHE: RefCell<ConfigCache<Rc<ConnectorConfig>>> = RefCell::new(ConfigCache::default());
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

/// The config of connector `id`: `None` when absent (a malformed id is absent without any
/// cache or KV call); `ConnectorMisconfigured` when it does not parse or validate,
/// `ConfigUnavailable` when KV fails.
pub async fn lookup(
    env: &Env,
    settings: &Settings,
    id: &str,
    now_ms: u64,
) -> Result<Option<Rc<ConnectorConfig>>, Problem> {
    if !is_valid_connector_id(id) {
        return Ok(None);
    }
    let policy = CachePolicy::new(settings.config_cache);
    match CACHE.with(|c| c.borrow().get(id, now_ms, policy)) {
        Cached::Found(config) => return Ok(Some(config)),
        Cached::Absent => return Ok(None),
        Cached::Miss => {}
    }
    let Some(text) = read(env, id).await? else {
        CACHE.with(|c| c.borrow_mut().absent(id, now_ms, policy));
        return Ok(None);
    };
    let config = ConnectorConfig::from_json(&text).map_err(|errors| {
        console_log!("{}", web::config_error_line(id, &errors));
        Problem::ConnectorMisconfigured
    })?;
    let config = Rc::new(config);
    CACHE.with(|c| c.borrow_mut().found(id, now_ms, config.clone()));
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

/// Forgets what this isolate's cache holds for `id` (a config or an absence). Every admin write
/// calls it, so this isolate sees a rotated token, a pause, a deletion or a new connector on its
/// next request; other isolates keep their copy until it expires (`CONFIG_CACHE_SECONDS`, an
/// absence at most 5 s; docs/ADMIN_API.md).
pub fn invalidate(id: &str) {
    CACHE.with(|c| c.borrow_mut().invalidate(id));
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
