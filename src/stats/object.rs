//! `ConnectorStats`: one Durable Object per connector (named by its id) holding the
//! [`Stats`] totals as a JSON string under storage key `stats`. `POST /add` merges a delta,
//! `GET /` returns the totals. The merge is pure ([`Stats::merge`]).
//!
//! The totals are kept in memory once loaded and every merge happens synchronously on them
//! (after the request body is read and before the storage write), so concurrent deltas never
//! overwrite each other; each write stores the latest snapshot.

use std::cell::RefCell;

use ::worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, console_log,
    durable_object,
};

use super::{STATS_STORAGE_KEY, Stats};
use crate::config::{STATS_BINDING, store as config_store};
use crate::web::{self, Answer, Problem};

/// The per-connector stats object.
#[durable_object(fetch)]
pub struct ConnectorStats {
    state: State,
    total: RefCell<Option<Stats>>,
}

impl DurableObject for ConnectorStats {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            total: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let delta = match (req.method(), req.path().as_str()) {
            (Method::Post, "/add") => match serde_json::from_str::<Stats>(&req.text().await?) {
                Ok(delta) => Some(delta),
                Err(_) => return Response::error("invalid delta", 400),
            },
            (Method::Get, "/") => None,
            _ => return Response::error("not found", 404),
        };
        self.load().await;
        let json = {
            let mut total = self.total.borrow_mut();
            let total = total.get_or_insert_with(Stats::default);
            if let Some(delta) = &delta {
                total.merge(delta);
            }
            serde_json::to_string(total).unwrap_or_default()
        };
        if delta.is_some() {
            let storage = self.state.storage();
            storage.put(STATS_STORAGE_KEY, json.clone()).await?;
        }
        Response::ok(json)
    }
}

impl ConnectorStats {
    /// Loads the stored totals once per object instance.
    async fn load(&self) {
        if self.total.borrow().is_some() {
            return;
        }
        let stored: Option<String> = self
            .state
            .storage()
            .get(STATS_STORAGE_KEY)
            .await
            .ok()
            .flatten();
        let loaded: Stats = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        // Another request may have loaded (and merged into) the totals meanwhile: keep those.
        let mut total = self.total.borrow_mut();
        if total.is_none() {
            *total = Some(loaded);
        }
    }
}

/// The stats object of `object` ([`super::object_name`]: a connector and its generation).
fn stub(env: &Env, object: &str) -> Result<::worker::Stub> {
    env.durable_object(STATS_BINDING)?
        .id_from_name(object)?
        .get_stub()
}

/// Adds `delta` to the totals of stats object `object` ([`super::object_name`]). Failures are logged, never raised: stats must not
/// slow down or fail delivery.
pub async fn add(env: &Env, object: &str, delta: &Stats) {
    let result = async {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(
            serde_json::to_string(delta).unwrap_or_default().into(),
        ));
        let req = Request::new_with_init("https://stats/add", &init)?;
        stub(env, object)?.fetch_with_request(req).await
    }
    .await;
    if !matches!(&result, Ok(r) if r.status_code() == 200) {
        console_log!("{}", web::platform_failure_line(object, "stats_write"));
    }
}

/// The totals of stats object `object` (zeros when it never had any).
pub async fn get(env: &Env, object: &str) -> Result<Stats> {
    let mut res = stub(env, object)?.fetch_with_str("https://stats/").await?;
    Ok(serde_json::from_str(&res.text().await?).unwrap_or_default())
}

/// `GET /admin/connectors/{id}/stats`: the totals of the connector's current generation.
/// Counters belong to a connector: no document, no stats (404 `unknown_connector`, not zeros); a
/// document that does not parse shows the counters kept under the bare id.
pub async fn answer(env: &Env, connector: &str) -> std::result::Result<Answer, Problem> {
    let generation = match config_store::read_fresh(env, connector).await {
        Ok(Some(config)) => config.generation,
        Ok(None) => return Err(Problem::UnknownConnector),
        Err(Problem::ConnectorMisconfigured) => None,
        Err(problem) => return Err(problem),
    };
    let object = super::object_name(connector, generation.as_deref());
    let stats = get(env, &object).await.map_err(|_| Problem::Internal)?;
    Ok(web::json_answer(200, super::stats_json(connector, &stats)))
}
