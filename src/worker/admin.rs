//! The admin API's platform calls. Authentication, routing and parsing are pure
//! ([`crate::http::authorized_admin_route`] and friends); every handler here returns an [`Answer`] or a
//! [`Problem`] like ingest does.

use ::worker::{Env, Request, console_log};

use super::{admin_connectors, config_store, delivery_queue, quarantine_store, stats_object};
use crate::delivery::{QuarantineDoc, replay};
use crate::http::{self, AdminRoute, Answer, ListingEntry, Problem, ReplayTarget, Tally};

/// Authenticates, routes and handles a request under `/admin/`.
pub async fn handle(req: &mut Request, env: &Env, now_ms: u64) -> Result<Answer, Problem> {
    let token = env
        .var(http::ADMIN_TOKEN_SECRET)
        .ok()
        .map(|v| v.to_string());
    if token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        console_log!(r#"{{"level":"warn","event":"admin_token_unset"}}"#);
    }
    let auth = req.headers().get("Authorization").ok().flatten();
    let path = req.path();
    let method = req.method();
    let route =
        http::authorized_admin_route(method.as_ref(), &path, auth.as_deref(), token.as_deref())?;
    // The raw query string, cut by hand: `Request::url()` would link the `url` crate and its
    // IDNA tables (~100 KB of wasm) for one `split`.
    let url = req.inner().url();
    let query = http::raw_query(&url).to_owned();
    match route {
        AdminRoute::ConnectorList => admin_connectors::list(env).await,
        AdminRoute::ConnectorCreate => admin_connectors::create(env, &body(req).await?).await,
        AdminRoute::ConnectorGet { connector } => admin_connectors::get(env, connector).await,
        AdminRoute::ConnectorUpdate { connector } => {
            admin_connectors::update(env, connector, &body(req).await?).await
        }
        AdminRoute::ConnectorDelete { connector } => admin_connectors::delete(env, connector).await,
        AdminRoute::RotateToken { connector } => {
            admin_connectors::rotate_token(env, connector).await
        }
        AdminRoute::SetPaused { connector, paused } => {
            admin_connectors::set_paused(env, connector, paused).await
        }
        AdminRoute::ConnectorStats { connector } => stats(env, connector).await,
        AdminRoute::QuarantineList => list(env, &query).await,
        AdminRoute::QuarantineObject => object(env, &query).await,
        AdminRoute::QuarantineReplay => replay_objects(env, &body(req).await?, now_ms).await,
    }
}

/// The request body, bounded like ingest's.
async fn body(req: &mut Request) -> Result<Vec<u8>, Problem> {
    let bytes = req.bytes().await.map_err(|_| Problem::Internal)?;
    if bytes.len() > http::MAX_BODY_BYTES {
        return Err(Problem::BodyTooLarge {
            limit: http::MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

async fn stats(env: &Env, connector: &str) -> Result<Answer, Problem> {
    let stats = stats_object::get(env, connector)
        .await
        .map_err(|_| Problem::Internal)?;
    let mut v = serde_json::to_value(&stats).map_err(|_| Problem::Internal)?;
    if let Some(map) = v.as_object_mut() {
        map.insert("connector".into(), connector.into());
    }
    Ok(http::json_answer(200, v.to_string()))
}

/// Every object of a connector as a listing entry (metadata, or the body for older objects).
async fn entries(env: &Env, connector: &str) -> Result<Vec<ListingEntry>, Problem> {
    let prefix = format!("{}{connector}/", http::QUARANTINE_PREFIX);
    let mut out = Vec::new();
    for (key, meta) in quarantine_store::list(env, &prefix).await? {
        if let Some(e) = ListingEntry::from_metadata(&key, &meta) {
            out.push(e);
            continue;
        }
        let Some(stored) = quarantine_store::get(env, &key).await? else {
            continue;
        };
        if let Ok(doc) = serde_json::from_str::<QuarantineDoc>(&stored.text) {
            let replayed = stored.meta.get(http::META_REPLAYED_AT).cloned();
            out.push(ListingEntry::from_doc(&key, &doc, replayed));
        }
    }
    Ok(out)
}

async fn list(env: &Env, query: &str) -> Result<Answer, Problem> {
    let connector = http::connector_param(query)?;
    let reason = http::query_param(query, "reason").filter(|r| !r.is_empty());
    let objects: Vec<ListingEntry> = entries(env, &connector)
        .await?
        .into_iter()
        .filter(|e| e.has_reason(reason.as_deref()))
        .collect();
    Ok(http::json_answer(200, http::listing_json(&objects)))
}

async fn object(env: &Env, query: &str) -> Result<Answer, Problem> {
    let key = http::quarantine_key_param(http::query_param(query, "key").as_deref())?;
    let stored = quarantine_store::get(env, &key)
        .await?
        .ok_or(Problem::NotFound)?;
    Ok(http::json_answer(200, stored.text))
}

#[derive(Default, serde::Serialize)]
struct ReplaySummary {
    objects: usize,
    requeued: usize,
    still_quarantined: usize,
    filtered: usize,
}

async fn replay_objects(env: &Env, body: &[u8], now_ms: u64) -> Result<Answer, Problem> {
    let keys = match http::parse_replay(body)? {
        ReplayTarget::Key(key) => vec![key],
        ReplayTarget::Connector { id, force } => entries(env, &id)
            .await?
            .into_iter()
            .filter(|e| force || e.replayed_at.is_none())
            .map(|e| e.key)
            .collect(),
    };
    let mut summary = ReplaySummary::default();
    let mut tally = Tally::default();
    for key in keys {
        let stored = quarantine_store::get(env, &key)
            .await?
            .ok_or(Problem::NotFound)?;
        let doc: QuarantineDoc =
            serde_json::from_str(&stored.text).map_err(|_| Problem::InvalidAdminRequest {
                detail: format!("{key} is not a quarantine document"),
            })?;
        let connector = http::connector_of_key(&key)
            .map(str::to_owned)
            .unwrap_or_else(|| doc.connector.clone());
        let config = config_store::load(env, &connector, now_ms).await?;
        let plan = replay(&doc, &config, &connector, now_ms);
        delivery_queue::send_all(env, &plan.messages)
            .await
            .map_err(|_| Problem::QueueUnavailable)?;
        if !plan.still_quarantined.is_empty() {
            let again = QuarantineDoc::from_rejected(
                &connector,
                &http::iso_millis(now_ms),
                &plan.still_quarantined,
            );
            quarantine_store::put(env, &connector, now_ms, &again).await?;
        }
        quarantine_store::mark_replayed(env, &key, stored, &doc, &http::iso_millis(now_ms)).await?;
        summary.objects += 1;
        summary.requeued += plan.requeued;
        summary.still_quarantined += plan.still_quarantined.len();
        summary.filtered += plan.filtered.len();
        tally.replayed(&connector, plan.requeued);
    }
    for (connector, delta) in &tally.by_connector {
        stats_object::add(env, connector, delta).await;
    }
    let body = serde_json::to_string(&summary).map_err(|_| Problem::Internal)?;
    Ok(http::json_answer(200, body))
}
