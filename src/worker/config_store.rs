//! Connector configs from Workers KV (`connector:{id}`), parsed once and cached per isolate.
//!
//! Only valid configs are cached: a connector created or repaired is seen on the next request,
//! while a working one costs one KV read per isolate per cache period.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ::worker::wasm_bindgen::{JsCast, JsValue};
use ::worker::wasm_bindgen_futures::JsFuture;
use ::worker::{Env, console_log};

use crate::config::ConnectorConfig;
use crate::http::{self, Problem};

struct Cached {
    fetched_ms: u64,
    config: Rc<ConnectorConfig>,
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// How long a config stays cached: `CONFIG_CACHE_SECONDS` when set to a number, else 30 s.
fn cache_ms(env: &Env) -> u64 {
    env.var(http::CONFIG_CACHE_SECONDS_VAR)
        .ok()
        .and_then(|v| v.to_string().trim().parse::<u64>().ok())
        .map_or(http::CONFIG_CACHE_MS, |secs| secs.saturating_mul(1000))
}

/// The config of connector `id` (already syntax-checked), or the problem to answer.
pub async fn load(env: &Env, id: &str, now_ms: u64) -> Result<Rc<ConnectorConfig>, Problem> {
    lookup(env, id, now_ms)
        .await?
        .ok_or(Problem::UnknownConnector)
}

/// The config of connector `id`: `None` when absent; `ConnectorMisconfigured` when it does not
/// parse or validate, `ConfigUnavailable` when KV fails.
pub async fn lookup(
    env: &Env,
    id: &str,
    now_ms: u64,
) -> Result<Option<Rc<ConnectorConfig>>, Problem> {
    let ttl = cache_ms(env);
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
        console_log!("{}", http::config_error_line(id, &errors));
        Problem::ConnectorMisconfigured
    })?;
    let config = Rc::new(config);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= http::CONFIG_CACHE_MAX_ENTRIES {
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
    console_log!("{}", http::platform_failure_line(id, what));
    Problem::ConfigUnavailable
}

/// The config namespace, for a call on `id` of kind `what`.
fn config_kv(env: &Env, id: &str, what: &'static str) -> Result<::worker::kv::KvStore, Problem> {
    env.kv(http::CONFIG_BINDING)
        .map_err(|_| kv_failed(id, what))
}

async fn read(env: &Env, id: &str) -> Result<Option<String>, Problem> {
    config_kv(env, id, "config_read")?
        .get(&http::connector_key(id))
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
    let text = http::stored_json(config)?;
    let kv = config_kv(env, id, "config_write")?;
    // As bytes: `put` of a `&str` goes through worker's generic Serialize path (~330 B gzip of
    // wasm for nothing, docs/BENCHMARKS.md §4); KV stores bytes either way.
    let result = match kv.put_bytes(&http::connector_key(id), text.as_bytes()) {
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
        .delete(&http::connector_key(id))
        .await
        .map_err(|_| kv_failed(id, "config_delete"));
    invalidate(id);
    result
}

/// Every connector id in KV (keys `connector:{id}`), following list cursors.
pub async fn list_ids(env: &Env) -> Result<Vec<String>, Problem> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (names, next) = list_page(env, cursor.take())
            .await
            .map_err(|_| kv_failed("*", "config_list"))?;
        ids.extend(
            names
                .iter()
                .filter_map(|k| http::connector_id_of_key(k).map(str::to_owned)),
        );
        match next {
            Some(c) if !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    Ok(ids)
}

/// One page of `CONFIG.list({prefix, cursor})`: key names and the next cursor. Called on the
/// binding directly: `worker`'s `KvStore::list` decodes every key's metadata into a
/// `serde_json::Value` through serde-wasm-bindgen, code (~5 KB of wasm) we never need.
async fn list_page(
    env: &Env,
    cursor: Option<String>,
) -> Result<(Vec<String>, Option<String>), JsValue> {
    use js_sys::{Array, Function, Object, Promise, Reflect};
    let ns = Reflect::get(env, &JsValue::from_str(http::CONFIG_BINDING))?;
    let opts = Object::new();
    Reflect::set(&opts, &"prefix".into(), &http::CONNECTOR_KEY_PREFIX.into())?;
    if let Some(c) = cursor {
        Reflect::set(&opts, &"cursor".into(), &c.into())?;
    }
    let list: Function = Reflect::get(&ns, &"list".into())?.dyn_into()?;
    let promise: Promise = list.call1(&ns, &opts)?.dyn_into()?;
    let page = JsFuture::from(promise).await?;
    let keys: Array = Reflect::get(&page, &"keys".into())?.dyn_into()?;
    let names = keys
        .iter()
        .filter_map(|k| Reflect::get(&k, &"name".into()).ok()?.as_string())
        .collect();
    let complete = Reflect::get(&page, &"list_complete".into())?
        .as_bool()
        .unwrap_or(true);
    let next = if complete {
        None
    } else {
        Reflect::get(&page, &"cursor".into())?.as_string()
    };
    Ok((names, next))
}
