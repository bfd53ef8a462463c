//! The drift admin routes on the platform: the report lives in the connector's stats object
//! ([`crate::stats`], `object.rs`), one per connector generation.

use ::worker::Env;

use crate::stats::object as stats_object;
use crate::web::{Answer, Problem, json_answer};

/// `GET /admin/connectors/{id}/drift`: the report of the connector's current generation
/// (404 `unknown_connector` when no document is stored for the id, as `/stats`).
pub async fn answer(env: &Env, connector: &str) -> Result<Answer, Problem> {
    let object = stats_object::current_object(env, connector).await?;
    let report = stats_object::drift(env, &object)
        .await
        .map_err(|_| Problem::Internal)?;
    Ok(json_answer(200, super::report_json(connector, &report)))
}

/// `DELETE /admin/connectors/{id}/drift`: 204; the report starts again from nothing.
pub async fn reset(env: &Env, connector: &str) -> Result<Answer, Problem> {
    let object = stats_object::current_object(env, connector).await?;
    stats_object::reset_drift(env, &object)
        .await
        .map_err(|_| Problem::Internal)?;
    Ok(Answer {
        status: 204,
        headers: Vec::new(),
        body: String::new(),
    })
}
