//! `POST /v1/currents/{connector}`: the order of checks is the contract with Braze
//! (CONTRACTS §4): connector, token, size, body, quarantine, delivery.

use std::time::Duration;

use ::worker::{Env, Request, console_log};
use futures_util::future::join_all;

use super::{config_store, quarantine_store, segment_client};
use crate::config::{BearerToken, ConnectorConfig};
use crate::currents::Envelope;
use crate::http::{self, IngestSummary, Problem, RequestLog};
use crate::pipeline::{Outcome, ProcessContext, process};
use crate::retry::{Decision, RetryPolicy};

/// Handles one Currents batch; the summary is the 200 body.
pub async fn handle(
    req: &mut Request,
    env: &Env,
    connector: &str,
    now_ms: u64,
    log: &mut RequestLog,
) -> Result<IngestSummary, Problem> {
    let config = config_store::load(env, connector, now_ms).await?;
    authorize(req, &config)?;
    log.currents_version =
        http::currents_version(header(req, http::CURRENTS_VERSION_HEADER).as_deref());
    if config.paused {
        // Braze keeps the events and retries; a later issue holds them in a queue instead.
        return Err(Problem::ConnectorPaused);
    }
    let body = read_body(req).await?;
    let ctx = ProcessContext {
        connector_id: connector,
        nearest_region: nearest_region(req),
    };
    let outcome = process(&body, &config, &ctx)?;
    let mut summary = IngestSummary {
        received: outcome.received,
        accepted: 0,
        filtered: outcome.filtered.len(),
        quarantined: outcome.quarantined.len(),
        batches: outcome.batches.len(),
    };
    log.counts = summary;
    let received_at = http::iso_millis(now_ms);
    if !outcome.quarantined.is_empty() {
        let doc = http::quarantine_document(connector, &received_at, &outcome.quarantined);
        quarantine_store::put(env, connector, now_ms, doc).await?;
    }
    let delivery = deliver(
        env,
        connector,
        &config,
        &outcome,
        &body,
        now_ms,
        &received_at,
    )
    .await;
    summary.accepted = delivery.delivered;
    summary.quarantined += delivery.rejected;
    log.counts = summary;
    delivery.problem.map_or(Ok(summary), Err)
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

/// What happened to the batches.
struct Delivery {
    /// Events Segment accepted.
    delivered: usize,
    /// Events Segment refused for good (now in quarantine).
    rejected: usize,
    /// The answer when not everything is settled.
    problem: Option<Problem>,
}

/// Sends every batch concurrently; quarantines refused ones; asks Braze to retry if any batch
/// needs it (delivery is synchronous in this version; `messageId`s make resends safe).
async fn deliver(
    env: &Env,
    connector: &str,
    config: &ConnectorConfig,
    outcome: &Outcome,
    body: &[u8],
    now_ms: u64,
    received_at: &str,
) -> Delivery {
    let sends = outcome.batches.iter().map(|batch| async move {
        let Some(dest) = config.destinations.get(&batch.destination) else {
            // The core only names configured destinations; never expected.
            return None;
        };
        let var = match batch.region {
            crate::config::Region::Us => http::SEGMENT_US_URL_VAR,
            crate::config::Region::Eu => http::SEGMENT_EU_URL_VAR,
        };
        let override_url = env.var(var).ok().map(|v| v.to_string());
        let url = http::segment_url(batch.region, override_url.as_deref());
        Some(segment_client::send(&url, &dest.write_key, batch).await)
    });
    let results = join_all(sends).await;

    let policy = RetryPolicy::default();
    let mut delivery = Delivery {
        delivered: 0,
        rejected: 0,
        problem: None,
    };
    let mut retry_after: Option<Duration> = None;
    let raw_events = Envelope::parse(body).map(|e| e.events).unwrap_or_default();
    for (batch, result) in outcome.batches.iter().zip(results) {
        let Some(result) = result else {
            delivery.problem = Some(Problem::Internal);
            continue;
        };
        let seed = u64::from(quarantine_store::random_u32());
        let decision = policy.decide(result, 0, seed);
        if let Some(line) = http::segment_failure_line(
            connector,
            &batch.destination,
            batch.region,
            batch.events.len(),
            result,
            decision,
        ) {
            console_log!("{line}");
        }
        match decision {
            Decision::Success => delivery.delivered += batch.events.len(),
            Decision::Retry { delay } => {
                retry_after = Some(retry_after.map_or(delay, |d| d.max(delay)));
            }
            Decision::Permanent { status } => {
                let doc = http::rejected_batch_document(
                    connector,
                    received_at,
                    status,
                    batch,
                    &raw_events,
                );
                match quarantine_store::put(env, connector, now_ms, doc).await {
                    Ok(()) => delivery.rejected += batch.events.len(),
                    Err(p) => delivery.problem = delivery.problem.take().or(Some(p)),
                }
            }
        }
    }
    if let Some(delay) = retry_after {
        // Whole seconds, rounded up: Retry-After has no fractions.
        let secs = delay.as_millis().div_ceil(1000) as u64;
        delivery.problem = Some(Problem::SegmentUnavailable {
            retry_after_secs: secs,
        });
    }
    delivery
}
