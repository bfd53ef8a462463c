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
    let ttl = cache_ms(env);
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(id)
            .filter(|e| now_ms.saturating_sub(e.fetched_ms) < ttl)
            .map(|e| e.config.clone())
    });
    if let Some(config) = hit {
        return Ok(config);
    }
    let text = read(env, id).await?.ok_or(Problem::UnknownConnector)?;
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
    Ok(config)
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
