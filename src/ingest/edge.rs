//! Ingest on the platform: reads the request, calls the pure checks and [`super::plan`], and
//! performs the writes in the contract's order (quarantine object, then queue messages) before
//! the 200.

use ::worker::{Context, Env, Request, console_log};

use super::{CURRENTS_VERSION_HEADER, currents_version, plan};
use crate::config::{BearerToken, ConnectorConfig, Settings, store as config_store};
use crate::delivery::queue;
use crate::entry::clock;
use crate::pipeline::{ProcessContext, process};
use crate::quarantine::store as quarantine_store;
use crate::stats::{object as stats_object, object_name};
use crate::web::{self, Answer, Problem, RequestLog};

/// Handles one Currents batch; the 200 body is its [`super::IngestSummary`].
pub async fn handle(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    settings: &Settings,
    connector: &str,
    log: &mut RequestLog,
) -> Result<Answer, Problem> {
    log.connector = Some(connector.to_owned());
    let now_ms = clock::now_ms(env, settings).await;
    let config = config_store::load(env, settings, connector, now_ms).await?;
    authorize(req, &config)?;
    log.currents_version = currents_version(header(req, CURRENTS_VERSION_HEADER).as_deref());
    // A paused connector accepts and queues: the consumer holds its events (no 503 to Braze).
    let body = web::respond::read_body(req).await?;
    let pctx = ProcessContext {
        connector_id: connector,
        nearest_region: nearest_region(req),
        received_ms: now_ms,
    };
    let outcome = process(&body, &config, &pctx)?;
    let plan = plan(connector, config.generation.as_deref(), &outcome, now_ms);
    if let Some(doc) = &plan.quarantine {
        quarantine_store::put(env, connector, now_ms, doc).await?;
    }
    if queue::send(env, &outcome.batches, 0).await.is_err() {
        console_log!("{}", web::platform_failure_line(connector, "queue_send"));
        // Nothing is accepted: Braze resends the whole batch.
        log.counts = plan.summary.refused();
        return Err(Problem::QueueUnavailable);
    }
    log.counts = plan.summary;
    if let Some(body) = plan.stats_body {
        let (env, object) = (
            env.clone(),
            object_name(connector, config.generation.as_deref()),
        );
        ctx.wait_until(async move { stats_object::add_ingest(&env, &object, body).await });
    }
    Ok(web::json_answer(200, plan.summary.to_json()))
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// One answer for a missing, malformed or wrong token; the hash comparison is constant-time.
fn authorize(req: &Request, config: &ConnectorConfig) -> Result<(), Problem> {
    let token = header(req, "Authorization")
        .and_then(|h| BearerToken::from_authorization(&h))
        .ok_or(Problem::Unauthorized)?;
    if config.token_sha256.verify(&token) {
        Ok(())
    } else {
        Err(Problem::Unauthorized)
    }
}

fn nearest_region(req: &Request) -> Option<crate::config::Region> {
    let cf = req.cf()?;
    web::nearest_region(cf.continent().as_deref(), cf.country().as_deref())
}
