//! The connector routes of the admin API: KV reads and writes around the pure helpers of
//! [`super::connectors`] (parsing, redaction, tokens). Every write drops this isolate's cached config
//! ([`config_store::put`]/[`config_store::delete`]). Tokens and write keys are never logged;
//! a token appears only in the create and rotate answers.

use ::worker::Env;

use super::connectors::{self, StoredConfig};
use crate::config::{
    BearerToken, ConnectorConfig, GENERATION_BYTES, new_generation, store as config_store,
};
use crate::entry::clock;
use crate::stats::{object as stats_object, object_name};
use crate::web::{Answer, Problem, json_answer};

/// `GET /admin/connectors`: every connector's summary and health (stats objects read one after
/// the other, at most [`connectors::MAX_HEALTH_LOOKUPS`]; a failed read is `health: null`).
pub async fn list(env: &Env) -> Result<Answer, Problem> {
    let ids = config_store::list_ids(env).await?;
    let mut rows = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let read = config_store::read_fresh(env, id).await;
        let stored = match &read {
            Ok(Some(config)) => StoredConfig::Valid(config),
            Err(Problem::ConfigUnavailable) => StoredConfig::Unreadable,
            Ok(None) | Err(_) => StoredConfig::Invalid,
        };
        let generation = match &stored {
            StoredConfig::Valid(config) => config.generation.as_deref(),
            _ => None,
        };
        let health = if i < connectors::MAX_HEALTH_LOOKUPS {
            stats_object::get(env, &object_name(id, generation))
                .await
                .ok()
                .map(|s| connectors::health(&s))
        } else {
            None
        };
        rows.push(connectors::list_row(id, stored, health));
    }
    Ok(json_answer(200, connectors::list_json(&rows)))
}

/// `POST /admin/connectors`.
pub async fn create(env: &Env, body: &[u8]) -> Result<Answer, Problem> {
    let mut req = connectors::parse_create(body)?;
    if config_store::exists(env, &req.id).await? {
        return Err(Problem::ConnectorExists);
    }
    let token = new_token()?;
    req.config.token_sha256 = token.hash();
    let random = clock::secure_random::<GENERATION_BYTES>().ok_or(Problem::Internal)?;
    req.config.generation = Some(new_generation(&random));
    config_store::put(env, &req.id, &req.config).await?;
    Ok(json_answer(
        201,
        connectors::created_json(&req.id, &req.config, &token),
    ))
}

/// `GET /admin/connectors/{id}`.
pub async fn get(env: &Env, id: &str) -> Result<Answer, Problem> {
    let config = stored(env, id).await?;
    Ok(json_answer(200, connectors::connector_json(id, &config)))
}

/// `PUT /admin/connectors/{id}`.
pub async fn update(env: &Env, id: &str, body: &[u8]) -> Result<Answer, Problem> {
    let existing = stored(env, id).await?;
    let config = connectors::parse_update(&existing, body)?;
    config_store::put(env, id, &config).await?;
    Ok(json_answer(200, connectors::connector_json(id, &config)))
}

/// `DELETE /admin/connectors/{id}`: 204; queued events are held, then quarantined.
pub async fn delete(env: &Env, id: &str) -> Result<Answer, Problem> {
    if !config_store::exists(env, id).await? {
        return Err(Problem::UnknownConnector);
    }
    config_store::delete(env, id).await?;
    Ok(Answer {
        status: 204,
        headers: Vec::new(),
        body: String::new(),
    })
}

/// `POST /admin/connectors/{id}/rotate-token`: the old token is refused from now on (at once on
/// this isolate, within the config cache period on the others).
pub async fn rotate_token(env: &Env, id: &str) -> Result<Answer, Problem> {
    let mut config = stored(env, id).await?;
    let token = new_token()?;
    config.token_sha256 = token.hash();
    config_store::put(env, id, &config).await?;
    Ok(json_answer(200, connectors::rotated_json(&token)))
}

/// `POST /admin/connectors/{id}/pause` and `.../resume`.
pub async fn set_paused(env: &Env, id: &str, paused: bool) -> Result<Answer, Problem> {
    let mut config = stored(env, id).await?;
    config.paused = paused;
    config_store::put(env, id, &config).await?;
    Ok(json_answer(200, connectors::connector_json(id, &config)))
}

async fn stored(env: &Env, id: &str) -> Result<ConnectorConfig, Problem> {
    config_store::read_fresh(env, id)
        .await?
        .ok_or(Problem::UnknownConnector)
}

fn new_token() -> Result<BearerToken, Problem> {
    let bytes = clock::secure_random::<{ connectors::TOKEN_BYTES }>().ok_or(Problem::Internal)?;
    Ok(connectors::new_bearer_token(&bytes))
}
