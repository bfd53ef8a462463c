//! `POST /v1/currents/{connector}`: the order of checks is the contract with Braze
//! (CONTRACTS §4): connector, token, size, body, quarantine, enqueue. Events are stored durably
//! (R2 for quarantined ones, the delivery queue for the rest) before the 200; the queue
//! consumer delivers them.

use ::worker::{Context, Env, Request};

use super::{config_store, delivery_queue, quarantine_store, stats_object};
use crate::config::{BearerToken, ConnectorConfig};
use crate::delivery::{QuarantineDoc, messages_for_batch};
use crate::http::{self, IngestSummary, Problem, RequestLog};
use crate::pipeline::{ProcessContext, process};

/// Handles one Currents batch; the summary is the 200 body.
pub async fn handle(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
    connector: &str,
    now_ms: u64,
    log: &mut RequestLog,
) -> Result<IngestSummary, Problem> {
    let config = config_store::load(env, connector, now_ms).await?;
    authorize(req, &config)?;
    log.currents_version =
        http::currents_version(header(req, http::CURRENTS_VERSION_HEADER).as_deref());
    // A paused connector accepts and queues: the consumer holds its events (no 503 to Braze).
    let body = read_body(req).await?;
    let pctx = ProcessContext {
        connector_id: connector,
        nearest_region: nearest_region(req),
    };
    let outcome = process(&body, &config, &pctx)?;
    let bodies: Vec<String> = outcome
        .batches
        .iter()
        .flat_map(|b| messages_for_batch(connector, b, now_ms))
        .collect();
    let summary = IngestSummary {
        received: outcome.received,
        accepted: outcome.accepted(),
        filtered: outcome.filtered.len(),
        quarantined: outcome.quarantined.len(),
        batches: outcome.batches.len(),
        messages: bodies.len(),
    };
    if !outcome.quarantined.is_empty() {
        let doc = QuarantineDoc::from_rejected(
            connector,
            &http::iso_millis(now_ms),
            &outcome.quarantined,
        );
        quarantine_store::put(env, connector, now_ms, &doc).await?;
    }
    if delivery_queue::send_all(env, &bodies).await.is_err() {
        ::worker::console_log!("{}", http::platform_failure_line(connector, "queue_send"));
        // Nothing is accepted: Braze resends the whole batch.
        log.counts = IngestSummary {
            accepted: 0,
            batches: 0,
            messages: 0,
            ..summary
        };
        return Err(Problem::QueueUnavailable);
    }
    log.counts = summary;
    if summary.received > 0 {
        let delta = http::ingest_delta(&outcome, &[], now_ms);
        let env = env.clone();
        let connector = connector.to_owned();
        ctx.wait_until(async move { stats_object::add(&env, &connector, &delta).await });
    }
    Ok(summary)
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

/// The body, refused above [`http::MAX_BODY_BYTES`] by `Content-Length` before reading and by
/// the actual length after.
async fn read_body(req: &mut Request) -> Result<Vec<u8>, Problem> {
    let too_large = Problem::BodyTooLarge {
        limit: http::MAX_BODY_BYTES,
    };
    let declared = header(req, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > http::MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    let body = req.bytes().await.map_err(|_| Problem::Internal)?;
    if body.len() > http::MAX_BODY_BYTES {
        return Err(too_large);
    }
    Ok(body)
}

fn nearest_region(req: &Request) -> Option<crate::config::Region> {
    let cf = req.cf()?;
    http::nearest_region(cf.continent().as_deref(), cf.country().as_deref())
}
