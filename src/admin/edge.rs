//! The admin API on the platform: reads the token, origin and body, calls the pure route table,
//! and dispatches to the handler of the route's concern. Every handler returns an [`Answer`] or
//! a [`Problem`] like ingest does.

use ::worker::{Env, Request, console_log};

use super::{AdminRoute, AdminTokens, authorized_admin_route, connectors_edge as connectors};
use crate::config::{ADMIN_TOKEN_SECRET, METRICS_TOKEN_SECRET, Settings};
use crate::entry::clock;
use crate::metrics::edge as metrics;
use crate::quarantine::edge as quarantine;
use crate::stats::object as stats;
use crate::web::{self, Answer, Problem, Query};

/// Handles a request under `/admin/`: the answer, and the origin allowed to read it
/// cross-origin (`CONSOLE_ORIGIN`), if any.
pub async fn handle(
    req: &mut Request,
    env: &Env,
    settings: &Settings,
) -> (Result<Answer, Problem>, Option<String>) {
    let origin = req.headers().get("Origin").ok().flatten();
    let console = settings.console_origin.as_deref();
    if req.method().as_ref() == "OPTIONS" {
        return (web::preflight(origin.as_deref(), console), None);
    }
    let cors = web::allowed_origin(origin.as_deref(), console).map(str::to_owned);
    (route(req, env, settings).await, cors)
}

async fn route(req: &mut Request, env: &Env, settings: &Settings) -> Result<Answer, Problem> {
    let secret = |name| env.var(name).ok().map(|v| v.to_string());
    let (token, metrics_token) = (secret(ADMIN_TOKEN_SECRET), secret(METRICS_TOKEN_SECRET));
    if token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        console_log!(r#"{{"level":"warn","event":"admin_token_unset"}}"#);
    }
    let auth = req.headers().get("Authorization").ok().flatten();
    let (method, path) = (req.method(), req.path());
    let tokens = AdminTokens {
        admin: token.as_deref(),
        metrics: metrics_token.as_deref(),
    };
    let route = authorized_admin_route(method.as_ref(), &path, auth.as_deref(), tokens)?;
    let query = Query::parse(
        req.url()
            .map_err(|_| Problem::Internal)?
            .query()
            .unwrap_or(""),
    );
    let now_ms = clock::now_ms(env, settings).await;
    match route {
        AdminRoute::ConnectorList => connectors::list(env).await,
        AdminRoute::ConnectorCreate => connectors::create(env, &body(req).await?).await,
        AdminRoute::ConnectorGet { connector } => connectors::get(env, connector).await,
        AdminRoute::ConnectorUpdate { connector } => {
            connectors::update(env, connector, &body(req).await?).await
        }
        AdminRoute::ConnectorDelete { connector } => connectors::delete(env, connector).await,
        AdminRoute::RotateToken { connector } => connectors::rotate_token(env, connector).await,
        AdminRoute::SetPaused { connector, paused } => {
            connectors::set_paused(env, connector, paused).await
        }
        AdminRoute::ConnectorStats { connector, view } => stats::answer(env, connector, view).await,
        AdminRoute::Metrics => metrics::answer(env, &query, now_ms).await,
        AdminRoute::QuarantineList => quarantine::list(env, &query).await,
        AdminRoute::QuarantineObject => quarantine::object(env, &query).await,
        AdminRoute::QuarantineReplay => {
            quarantine::replay_objects(env, settings, &body(req).await?, now_ms).await
        }
    }
}

async fn body(req: &mut Request) -> Result<Vec<u8>, Problem> {
    web::respond::read_body(req).await
}
