//! `ConnectorStats`: one Durable Object per connector generation (named by
//! [`super::object_name`]) holding the [`Stats`] totals as a JSON string under storage key
//! `stats`, and the connector's drift report ([`Report`]) under `drift`. `POST /add` merges a
//! stats delta, `POST /ingest` an ingest request's delta and drift report ([`IngestDelta`]),
//! `GET /` returns the totals, `GET /drift` the report and `DELETE /drift` resets it. The merges
//! are pure ([`Stats::merge`], [`Report::merge`]); the report is written only when a merge
//! changed it.
//!
//! Each value is kept in memory once loaded and every merge happens synchronously on it
//! (after the request body is read and before the storage write), so concurrent deltas never
//! overwrite each other; each write stores the latest snapshot.

use std::cell::RefCell;

use ::worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, console_log,
    durable_object,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{IngestDelta, STATS_STORAGE_KEY, Stats};
use crate::config::{STATS_BINDING, store as config_store};
use crate::drift::{DRIFT_STORAGE_KEY, Report};
use crate::web::{self, Answer, Problem};

/// The per-connector stats object.
#[durable_object(fetch)]
pub struct ConnectorStats {
    state: State,
    total: RefCell<Option<Stats>>,
    drift: RefCell<Option<Report>>,
}

impl DurableObject for ConnectorStats {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            total: RefCell::new(None),
            drift: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/add") => match serde_json::from_str::<Stats>(&req.text().await?) {
                Ok(delta) => self.add(&delta, None).await,
                Err(_) => Response::error("invalid delta", 400),
            },
            (Method::Post, "/ingest") => {
                match serde_json::from_str::<IngestDelta>(&req.text().await?) {
                    Ok(d) => self.add(&d.stats, Some(&d.drift)).await,
                    Err(_) => Response::error("invalid delta", 400),
                }
            }
            (Method::Get, "/") => {
                self.load(&self.total, STATS_STORAGE_KEY).await;
                Response::ok(merged(&self.total, |_| true).unwrap_or_default())
            }
            (Method::Get, "/drift") => {
                self.load(&self.drift, DRIFT_STORAGE_KEY).await;
                Response::ok(merged(&self.drift, |_| true).unwrap_or_default())
            }
            (Method::Delete, "/drift") => {
                self.drift.replace(Some(Report::default()));
                self.state.storage().delete(DRIFT_STORAGE_KEY).await?;
                Response::empty()
            }
            _ => Response::error("not found", 404),
        }
    }
}

impl ConnectorStats {
    /// Merges a delta (and a drift report, if any) and stores what changed; answers the totals.
    async fn add(&self, delta: &Stats, drift: Option<&Report>) -> Result<Response> {
        let drift = drift.filter(|d| !d.is_empty());
        self.load(&self.total, STATS_STORAGE_KEY).await;
        if drift.is_some() {
            self.load(&self.drift, DRIFT_STORAGE_KEY).await;
        }
        // Synchronous from here to the writes: no other request's merge interleaves.
        let totals = merged(&self.total, |t| {
            t.merge(delta);
            true
        })
        .unwrap_or_default();
        let report = drift.and_then(|d| merged(&self.drift, |r| r.merge(d)));
        let storage = self.state.storage();
        storage.put(STATS_STORAGE_KEY, totals.clone()).await?;
        if let Some(report) = report {
            storage.put(DRIFT_STORAGE_KEY, report).await?;
        }
        Response::ok(totals)
    }

    /// Loads the stored value of `key` into `cell` once per object instance.
    async fn load<T: DeserializeOwned + Default>(&self, cell: &RefCell<Option<T>>, key: &str) {
        if cell.borrow().is_some() {
            return;
        }
        let stored: Option<String> = self.state.storage().get(key).await.ok().flatten();
        let loaded = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        // Another request may have loaded (and merged into) the value meanwhile: keep that one.
        cell.borrow_mut().get_or_insert(loaded);
    }
}

/// Applies `merge` to the value in `cell`; its JSON when `merge` says it changed.
fn merged<T: Serialize + Default>(
    cell: &RefCell<Option<T>>,
    merge: impl FnOnce(&mut T) -> bool,
) -> Option<String> {
    let mut slot = cell.borrow_mut();
    let value = slot.get_or_insert_with(T::default);
    merge(value).then(|| serde_json::to_string(value).unwrap_or_default())
}

/// The stats object of `object` ([`super::object_name`]: a connector and its generation).
fn stub(env: &Env, object: &str) -> Result<::worker::Stub> {
    env.durable_object(STATS_BINDING)?
        .id_from_name(object)?
        .get_stub()
}

/// One request to stats object `object`.
async fn call(
    env: &Env,
    object: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(method).with_body(body.map(Into::into));
    let req = Request::new_with_init(&format!("https://stats{path}"), &init)?;
    stub(env, object)?.fetch_with_request(req).await
}

/// Posts a body to stats object `object`. Failures are logged, never raised: stats must not
/// slow down or fail delivery.
async fn post(env: &Env, object: &str, path: &str, body: String) {
    let result = call(env, object, Method::Post, path, Some(body)).await;
    if !matches!(&result, Ok(r) if r.status_code() == 200) {
        console_log!("{}", web::platform_failure_line(object, "stats_write"));
    }
}

/// Adds `delta` to the totals of stats object `object` ([`super::object_name`]).
pub async fn add(env: &Env, object: &str, delta: &Stats) {
    let body = serde_json::to_string(delta).unwrap_or_default();
    post(env, object, "/add", body).await;
}

/// Adds an ingest request's delta and drift report to stats object `object`, in one call.
pub async fn add_ingest(env: &Env, object: &str, delta: &IngestDelta) {
    let body = serde_json::to_string(delta).unwrap_or_default();
    post(env, object, "/ingest", body).await;
}

/// The totals of stats object `object` (zeros when it never had any).
pub async fn get(env: &Env, object: &str) -> Result<Stats> {
    let mut res = call(env, object, Method::Get, "/", None).await?;
    Ok(serde_json::from_str(&res.text().await?).unwrap_or_default())
}

/// The drift report of stats object `object` (empty when it never had one).
pub async fn drift(env: &Env, object: &str) -> Result<Report> {
    let mut res = call(env, object, Method::Get, "/drift", None).await?;
    if res.status_code() != 200 {
        return Err(::worker::Error::RustError(
            "the drift report could not be read".into(),
        ));
    }
    Ok(serde_json::from_str(&res.text().await?).unwrap_or_default())
}

/// Empties the drift report of stats object `object`.
pub async fn reset_drift(env: &Env, object: &str) -> Result<()> {
    let res = call(env, object, Method::Delete, "/drift", None).await?;
    if res.status_code() != 200 {
        return Err(::worker::Error::RustError(
            "the drift report could not be reset".into(),
        ));
    }
    Ok(())
}

/// The stats object of `connector`'s current generation. Counters belong to a connector: no
/// document, no object (404 `unknown_connector`); a document that does not parse uses the
/// object kept under the bare id.
pub async fn current_object(env: &Env, connector: &str) -> std::result::Result<String, Problem> {
    let generation = match config_store::read_fresh(env, connector).await {
        Ok(Some(config)) => config.generation,
        Ok(None) => return Err(Problem::UnknownConnector),
        Err(Problem::ConnectorMisconfigured) => None,
        Err(problem) => return Err(problem),
    };
    Ok(super::object_name(connector, generation.as_deref()))
}

/// `GET /admin/connectors/{id}/stats`: the totals of the connector's current generation.
pub async fn answer(env: &Env, connector: &str) -> std::result::Result<Answer, Problem> {
    let object = current_object(env, connector).await?;
    let stats = get(env, &object).await.map_err(|_| Problem::Internal)?;
    Ok(web::json_answer(200, super::stats_json(connector, &stats)))
}
