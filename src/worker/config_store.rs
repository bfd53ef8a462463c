//! Connector configs from Workers KV (`connector:{id}`), parsed once and cached per isolate.
//!
//! Only valid configs are cached: a connector created or repaired is seen on the next request,
//! while a working one costs one KV read per isolate per cache period.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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

async fn read(env: &Env, id: &str) -> Result<Option<String>, Problem> {
    let failed = |_| {
        console_log!("{}", http::platform_failure_line(id, "config_read"));
        Problem::ConfigUnavailable
    };
    let kv = env
        .kv(http::CONFIG_BINDING)
        .map_err(|e| failed(e.to_string()))?;
    kv.get(&http::connector_key(id))
        .text()
        .await
        .map_err(|e| failed(e.to_string()))
}
