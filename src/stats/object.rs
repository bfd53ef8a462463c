//! `ConnectorStats`: one Durable Object per connector generation (named by
//! [`super::object_name`]) holding the [`Stats`] totals as a JSON string under storage key
//! `stats`, the connector's drift report ([`Report`]) under `drift` and its alert state
//! ([`AlertState`]) under `alerts`. What each request does is pure ([`object_request`]); this
//! shell loads the three values, calls it and performs the writes it returns.
//!
//! The values are kept in memory once loaded and every request works on them synchronously
//! (after its body is read and before the storage writes), so concurrent deltas never overwrite
//! each other; each write stores the latest snapshot.

use std::cell::RefCell;

use ::worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, console_log,
    durable_object,
};

use super::{Kept, ObjectView, STATS_STORAGE_KEY, Stats, object_request};
use crate::alerts::{ALERTS_STORAGE_KEY, AlertState};
use crate::config::{STATS_BINDING, store as config_store};
use crate::drift::{DRIFT_STORAGE_KEY, Report};
use crate::web::{self, Answer, Problem};

/// The per-connector stats object.
#[durable_object(fetch)]
pub struct ConnectorStats {
    state: State,
    total: RefCell<Option<Stats>>,
    drift: RefCell<Option<Report>>,
    alerts: RefCell<Option<AlertState>>,
}

impl DurableObject for ConnectorStats {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            total: RefCell::new(None),
            drift: RefCell::new(None),
            alerts: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let method = req.method();
        let body = match method {
            Method::Post => req.text().await?,
            _ => String::new(),
        };
        self.load().await;
        // Synchronous from here to the writes: no other request interleaves.
        let effects = {
            let (mut total, mut drift) = (self.total.borrow_mut(), self.drift.borrow_mut());
            let mut alerts = self.alerts.borrow_mut();
            let request = (method.as_ref(), req.path(), body);
            object_request(
                (request.0, &request.1, &request.2),
                total.get_or_insert_with(Stats::default),
                drift.get_or_insert_with(Report::default),
                alerts.get_or_insert_with(AlertState::default),
            )
        };
        let storage = self.state.storage();
        if let Some(json) = effects.put_stats {
            storage.put(STATS_STORAGE_KEY, json).await?;
        }
        if let Some(json) = effects.put_drift {
            storage.put(DRIFT_STORAGE_KEY, json).await?;
        }
        if effects.delete_drift {
            storage.delete(DRIFT_STORAGE_KEY).await?;
        }
        if let Some(json) = effects.put_alerts {
            storage.put(ALERTS_STORAGE_KEY, json).await?;
        }
        Ok(Response::ok(effects.body)?.with_status(effects.status))
    }
}

impl ConnectorStats {
    /// Loads the stored totals and drift report once per object instance.
    async fn load(&self) {
        if self.total.borrow().is_none() {
            let loaded = serde_json::from_str(&self.stored(STATS_STORAGE_KEY).await);
            // Another request may have loaded (and merged into) the totals meanwhile: keep those.
            self.total
                .borrow_mut()
                .get_or_insert(loaded.unwrap_or_default());
        }
        if self.drift.borrow().is_none() {
            let loaded = Report::from_json(&self.stored(DRIFT_STORAGE_KEY).await);
            self.drift.borrow_mut().get_or_insert(loaded);
        }
        if self.alerts.borrow().is_none() {
            let loaded = AlertState::from_json(&self.stored(ALERTS_STORAGE_KEY).await);
            self.alerts.borrow_mut().get_or_insert(loaded);
        }
    }

    async fn stored(&self, key: &str) -> String {
        let stored: Option<String> = self.state.storage().get(key).await.ok().flatten();
        stored.unwrap_or_default()
    }
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
    (method, path): (&str, &str),
    body: Option<String>,
) -> Result<Response> {
    let mut init = RequestInit::new();
    let method = match method {
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => Method::Get,
    };
    init.with_method(method).with_body(body.map(Into::into));
    let req = Request::new_with_init(&format!("https://stats{path}"), &init)?;
    stub(env, object)?.fetch_with_request(req).await
}

/// Posts to stats object `object`. Failures are logged, never raised: stats must not slow down
/// or fail delivery.
async fn post(env: &Env, object: &str, path: &str, body: String) {
    let result = call(env, object, ("POST", path), Some(body)).await;
    if !matches!(&result, Ok(r) if r.status_code() == 200) {
        console_log!("{}", web::platform_failure_line(object, "stats_write"));
    }
}

/// Adds `delta` to the totals of stats object `object` ([`super::object_name`]).
pub async fn add(env: &Env, object: &str, delta: &Stats) {
    let body = serde_json::to_string(delta).unwrap_or_default();
    post(env, object, "/add", body).await;
}

/// Adds an ingest request's delta and drift report ([`super::ingest_body`]) to stats object
/// `object`, in one call.
pub async fn add_ingest(env: &Env, object: &str, body: String) {
    post(env, object, "/ingest", body).await;
}

/// The totals of stats object `object` (zeros when it never had any).
pub async fn get(env: &Env, object: &str) -> Result<Stats> {
    let mut res = call(env, object, ObjectView::Counters.request(), None).await?;
    Ok(serde_json::from_str(&res.text().await?).unwrap_or_default())
}

/// One request to stats object `object`: its status and body.
pub async fn exchange(
    env: &Env,
    object: &str,
    request: (&str, &str),
    body: Option<String>,
) -> Result<(u16, String)> {
    let mut res = call(env, object, request, body).await?;
    Ok((res.status_code(), res.text().await?))
}

/// What stats object `object` keeps, as a scrape or an alert run reads it (`GET /metrics`);
/// `None` when the object could not be read or answered something unreadable.
pub async fn kept(env: &Env, object: &str) -> Option<Kept> {
    match exchange(env, object, ("GET", "/metrics"), None).await {
        Ok((200, body)) => Kept::from_body(&body),
        _ => None,
    }
}

/// `GET /admin/connectors/{id}/stats`, `GET` and `DELETE /admin/connectors/{id}/drift`: what the
/// stats object of the connector's current generation keeps. Counters and reports belong to a
/// connector: no document, no stats (404 `unknown_connector`, not zeros); a document that does
/// not parse shows what is kept under the bare id.
pub async fn answer(
    env: &Env,
    connector: &str,
    view: ObjectView,
) -> std::result::Result<Answer, Problem> {
    let generation = match config_store::read_fresh(env, connector).await {
        Ok(Some(config)) => config.generation,
        Ok(None) => return Err(Problem::UnknownConnector),
        Err(Problem::ConnectorMisconfigured) => None,
        Err(problem) => return Err(problem),
    };
    let object = super::object_name(connector, generation.as_deref());
    let unreachable = |_| Problem::Internal;
    let mut res = call(env, &object, view.request(), None)
        .await
        .map_err(unreachable)?;
    let body = res.text().await.map_err(unreachable)?;
    view.answer(connector, res.status_code(), &body)
}
