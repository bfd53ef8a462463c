//! The quarantine's admin routes on the platform: listing (from R2 metadata, falling back to the
//! body for objects written without it), one object, and replay (a page of objects: re-enqueue,
//! then keep the object or rewrite it with what still cannot be forwarded, marked replayed).
//! Decisions are the pure `replay`, `replay_page`, `ReplayPlan::disposition` and `listing`;
//! this file only reads and writes R2, the queue and the stats object.

use ::worker::Env;

use super::{
    Disposition, GenerationFilter, ListingEntry, META_REPLAYED_AT, QuarantineDoc, ReplaySummary,
    ReplayTarget, connector_of_key, connector_param, connector_prefix, listing_json, parse_replay,
    quarantine_key_param, replay, replay_page, store,
};
use crate::config::{Settings, store as config_store};
use crate::delivery::queue;
use crate::stats::{Tally, object as stats_object, object_name};
use crate::timefmt::iso_millis;
use crate::web::{self, Answer, Problem, Query};

/// Every object of a connector as a listing entry (metadata, or the body for older objects).
async fn entries(env: &Env, connector: &str) -> Result<Vec<ListingEntry>, Problem> {
    let mut out = Vec::new();
    for (key, meta) in store::list(env, &connector_prefix(connector)).await? {
        if let Some(e) = ListingEntry::from_metadata(&key, &meta) {
            out.push(e);
            continue;
        }
        let Some(stored) = store::get(env, &key).await? else {
            continue;
        };
        if let Ok(doc) = serde_json::from_str::<QuarantineDoc>(&stored.text) {
            let replayed = stored.meta.get(META_REPLAYED_AT).cloned();
            out.push(ListingEntry::from_doc(&key, &doc, replayed));
        }
    }
    Ok(out)
}

/// `GET /admin/quarantine?connector=ID[&reason=CODE][&generation=G|*]`: the objects of the
/// connector's current generation unless `generation` names another (or `*`, every one).
pub async fn list(env: &Env, query: &Query) -> Result<Answer, Problem> {
    let connector = connector_param(query.get("connector"))?;
    let reason = query.get("reason").filter(|r| !r.is_empty());
    let config = config_store::read_fresh(env, &connector)
        .await
        .ok()
        .flatten();
    let current = config.as_ref().map(|c| c.generation.as_deref());
    let generation = GenerationFilter::new(query.get("generation"), current);
    let objects: Vec<ListingEntry> = entries(env, &connector)
        .await?
        .into_iter()
        .filter(|e| e.has_reason(reason) && e.in_generation(&generation))
        .collect();
    Ok(web::json_answer(200, listing_json(&objects)))
}

/// `GET /admin/quarantine/object?key=K`.
pub async fn object(env: &Env, query: &Query) -> Result<Answer, Problem> {
    let key = quarantine_key_param(query.get("key"))?;
    let stored = store::get(env, &key).await?.ok_or(Problem::NotFound)?;
    Ok(web::json_answer(200, stored.text))
}

/// `POST /admin/quarantine/replay` with `{"key": K}` or `{"connector": ID, "force"?: bool,
/// "limit"?: N, "cursor"?: K}` (one page of the connector's objects per call).
pub async fn replay_objects(
    env: &Env,
    settings: &Settings,
    body: &[u8],
    now_ms: u64,
) -> Result<Answer, Problem> {
    let mut summary = ReplaySummary::default();
    let keys = match parse_replay(body)? {
        ReplayTarget::Key(key) => vec![key],
        ReplayTarget::Connector {
            id,
            force,
            limit,
            cursor,
        } => {
            let config = config_store::load(env, settings, &id, now_ms).await?;
            let current = GenerationFilter::Only(config.generation.clone());
            let candidates = entries(env, &id)
                .await?
                .into_iter()
                .filter(|e| (force || e.replayed_at.is_none()) && e.in_generation(&current))
                .map(|e| e.key)
                .collect();
            let page = replay_page(candidates, cursor.as_deref(), limit);
            summary.remaining = page.remaining;
            summary.cursor = page.cursor;
            page.keys
        }
    };
    let mut tally = Tally::default();
    for key in keys {
        let (object, requeued) = replay_one(env, settings, &key, now_ms, &mut summary).await?;
        tally.replayed(&object, requeued, now_ms);
    }
    for (object, delta) in &tally.by_object {
        stats_object::add(env, object, delta).await;
    }
    let body = serde_json::to_string(&summary).map_err(|_| Problem::Internal)?;
    Ok(web::json_answer(200, body))
}

/// Replays the object at `key`; returns its stats object and the events re-enqueued.
async fn replay_one(
    env: &Env,
    settings: &Settings,
    key: &str,
    now_ms: u64,
    summary: &mut ReplaySummary,
) -> Result<(String, usize), Problem> {
    let stored = store::get(env, key).await?.ok_or(Problem::NotFound)?;
    let doc: QuarantineDoc =
        serde_json::from_str(&stored.text).map_err(|_| Problem::InvalidAdminRequest {
            detail: format!("{key} is not a quarantine document"),
        })?;
    let connector = connector_of_key(key).map_or_else(|| doc.connector.clone(), str::to_owned);
    let config = config_store::load(env, settings, &connector, now_ms).await?;
    let plan = replay(&doc, &config, &connector, now_ms)?;
    queue::send(env, &plan.messages, 0)
        .await
        .map_err(|_| Problem::QueueUnavailable)?;
    // The queue has the requeued events: the object now keeps only what is still quarantined,
    // at its own key (one put: the old or the new document, never neither, never a copy).
    let at = iso_millis(now_ms);
    match plan.disposition(&doc, &connector) {
        Disposition::Keep => store::mark_replayed(env, key, stored, &doc, &at).await?,
        Disposition::Replace(rest) => store::replace(env, key, &rest, &at).await?,
    }
    summary.add(&plan);
    let object = object_name(&connector, config.generation.as_deref());
    Ok((object, plan.requeued))
}
