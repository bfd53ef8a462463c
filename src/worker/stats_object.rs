//! `ConnectorStats`: one Durable Object per connector (named by its id) holding the
//! [`Stats`] totals as a JSON string under storage key `stats`. `POST /add` merges a delta,
//! `GET /` returns the totals. The merge is pure ([`Stats::merge`]).

use ::worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, console_log,
    durable_object,
};

use crate::delivery::Stats;
use crate::http;

/// The per-connector stats object.
#[durable_object(fetch)]
pub struct ConnectorStats {
    state: State,
}

impl DurableObject for ConnectorStats {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        let stored: Option<String> = storage.get(http::STATS_STORAGE_KEY).await.ok().flatten();
        let mut total: Stats = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/add") => {
                let text = req.text().await?;
                let Ok(delta) = serde_json::from_str::<Stats>(&text) else {
                    return Response::error("invalid delta", 400);
                };
                total.merge(&delta);
                let json = serde_json::to_string(&total).unwrap_or_default();
                storage.put(http::STATS_STORAGE_KEY, json.clone()).await?;
                Response::ok(json)
            }
            (Method::Get, "/") => Response::ok(serde_json::to_string(&total).unwrap_or_default()),
            _ => Response::error("not found", 404),
        }
    }
}

fn stub(env: &Env, connector: &str) -> Result<::worker::Stub> {
    env.durable_object(http::STATS_BINDING)?
        .id_from_name(connector)?
        .get_stub()
}

/// Adds `delta` to `connector`'s totals. Failures are logged, never raised: stats must not
/// slow down or fail delivery.
pub async fn add(env: &Env, connector: &str, delta: &Stats) {
    let result = async {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(
            serde_json::to_string(delta).unwrap_or_default().into(),
        ));
        let req = Request::new_with_init("https://stats/add", &init)?;
        stub(env, connector)?.fetch_with_request(req).await
    }
    .await;
    if !matches!(&result, Ok(r) if r.status_code() == 200) {
        console_log!("{}", http::platform_failure_line(connector, "stats_write"));
    }
}

/// The totals of `connector` (zeros when it never had any).
pub async fn get(env: &Env, connector: &str) -> Result<Stats> {
    let mut res = stub(env, connector)?
        .fetch_with_str("https://stats/")
        .await?;
    Ok(serde_json::from_str(&res.text().await?).unwrap_or_default())
}
