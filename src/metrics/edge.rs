//! `GET /admin/metrics` on the platform: lists the connectors (or takes the one asked for),
//! reads each one's config and stats object once, and renders them ([`super::render`]).

use ::worker::Env;

use super::{ConnectorMetrics, MAX_SCRAPED_CONNECTORS, connector_filter, metrics_answer, render};
use crate::config::store as config_store;
use crate::stats::{Kept, object as stats_object, object_name};
use crate::web::{Answer, Problem, Query};

/// One connector's config state and stats, as read for a scrape; `None` when it is gone.
async fn read(env: &Env, id: &str) -> Option<(Option<bool>, Option<Kept>)> {
    let (paused, generation) = match config_store::read_fresh(env, id).await {
        Ok(Some(config)) => (Some(config.paused), config.generation),
        Ok(None) => return None,
        Err(_) => (None, None),
    };
    let object = object_name(id, generation.as_deref());
    Some((paused, stats_object::kept(env, &object).await))
}

/// `GET /admin/metrics[?connector=ID]`.
pub async fn answer(env: &Env, query: &Query, now_ms: u64) -> Result<Answer, Problem> {
    let ids = match connector_filter(query.get("connector"))? {
        Some(id) => vec![id.to_owned()],
        None => config_store::list_ids(env).await?,
    };
    let unscraped = ids.len().saturating_sub(MAX_SCRAPED_CONNECTORS);
    let mut read_rows = Vec::new();
    for id in ids.into_iter().take(MAX_SCRAPED_CONNECTORS) {
        if let Some((paused, kept)) = read(env, &id).await {
            read_rows.push((id, paused, kept));
        }
    }
    let rows: Vec<ConnectorMetrics<'_>> = read_rows
        .iter()
        .map(|(connector, paused, kept)| ConnectorMetrics {
            connector,
            paused: *paused,
            kept: kept.as_ref(),
        })
        .collect();
    Ok(metrics_answer(render(&rows, unscraped, now_ms)))
}
