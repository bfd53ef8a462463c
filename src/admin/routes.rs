//! The admin API, pure: its one route table and bearer authentication against the `ADMIN_TOKEN`
//! secret. The shell (`edge.rs`) reads the request and dispatches to each concern's handlers.
//!
//! Every path under `/admin/` requires `Authorization: Bearer <ADMIN_TOKEN>`; authentication is
//! checked before the route, so an unauthenticated caller learns nothing about which paths exist.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{bearer_credentials, is_valid_connector_id};
use crate::stats::ObjectView;
use crate::web::{ADMIN_PREFIX, Problem};

/// An admin endpoint (after authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute<'a> {
    /// `GET /admin/connectors`: every connector with its summary and health.
    ConnectorList,
    /// `POST /admin/connectors`: `{"id", "config"}`; answers the new bearer token once.
    ConnectorCreate,
    /// `GET /admin/connectors/{id}`: the redacted config.
    ConnectorGet {
        /// Connector id (syntax-checked).
        connector: &'a str,
    },
    /// `PUT /admin/connectors/{id}`: replaces the config (write keys are write-only).
    ConnectorUpdate {
        /// Connector id (syntax-checked).
        connector: &'a str,
    },
    /// `DELETE /admin/connectors/{id}`.
    ConnectorDelete {
        /// Connector id (syntax-checked).
        connector: &'a str,
    },
    /// `POST /admin/connectors/{id}/rotate-token`: a new bearer token, shown once.
    RotateToken {
        /// Connector id (syntax-checked).
        connector: &'a str,
    },
    /// `POST /admin/connectors/{id}/pause` (`paused: true`) and `.../resume` (`false`).
    SetPaused {
        /// Connector id (syntax-checked).
        connector: &'a str,
        /// The new state.
        paused: bool,
    },
    /// What the connector's stats object keeps: `GET /admin/connectors/{id}/stats` (the
    /// counters), `GET /admin/connectors/{id}/drift` (what Braze sent that the mapping table
    /// does not describe) and `DELETE /admin/connectors/{id}/drift` (empties that report).
    ConnectorStats {
        /// Connector id (syntax-checked).
        connector: &'a str,
        /// Which of them.
        view: ObjectView,
    },
    /// `GET /admin/metrics[?connector=ID]`: the counters in the Prometheus text format. The
    /// one route the read-only `METRICS_TOKEN` also opens.
    Metrics,
    /// `GET /admin/quarantine?connector=ID[&reason=CODE]`.
    QuarantineList,
    /// `GET /admin/quarantine/object?key=K`.
    QuarantineObject,
    /// `POST /admin/quarantine/replay`.
    QuarantineReplay,
}

/// One row of the admin route table.
struct RouteSpec {
    method: &'static str,
    /// Path segments after `/admin/`; `{id}` matches a connector id.
    pattern: &'static [&'static str],
    build: for<'a> fn(Option<&'a str>) -> AdminRoute<'a>,
}

/// The single list of admin routes. New endpoints are one row each; every row is reached only
/// through [`authorized_admin_route`], so none can skip the token check.
const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "GET",
        pattern: &["connectors"],
        build: |_| AdminRoute::ConnectorList,
    },
    RouteSpec {
        method: "POST",
        pattern: &["connectors"],
        build: |_| AdminRoute::ConnectorCreate,
    },
    RouteSpec {
        method: "GET",
        pattern: &["connectors", "{id}"],
        build: |id| AdminRoute::ConnectorGet {
            connector: id.unwrap_or_default(),
        },
    },
    RouteSpec {
        method: "PUT",
        pattern: &["connectors", "{id}"],
        build: |id| AdminRoute::ConnectorUpdate {
            connector: id.unwrap_or_default(),
        },
    },
    RouteSpec {
        method: "DELETE",
        pattern: &["connectors", "{id}"],
        build: |id| AdminRoute::ConnectorDelete {
            connector: id.unwrap_or_default(),
        },
    },
    RouteSpec {
        method: "POST",
        pattern: &["connectors", "{id}", "rotate-token"],
        build: |id| AdminRoute::RotateToken {
            connector: id.unwrap_or_default(),
        },
    },
    RouteSpec {
        method: "POST",
        pattern: &["connectors", "{id}", "pause"],
        build: |id| AdminRoute::SetPaused {
            connector: id.unwrap_or_default(),
            paused: true,
        },
    },
    RouteSpec {
        method: "POST",
        pattern: &["connectors", "{id}", "resume"],
        build: |id| AdminRoute::SetPaused {
            connector: id.unwrap_or_default(),
            paused: false,
        },
    },
    RouteSpec {
        method: "GET",
        pattern: &["connectors", "{id}", "stats"],
        build: |id| AdminRoute::ConnectorStats {
            connector: id.unwrap_or_default(),
            view: ObjectView::Counters,
        },
    },
    RouteSpec {
        method: "GET",
        pattern: &["connectors", "{id}", "drift"],
        build: |id| AdminRoute::ConnectorStats {
            connector: id.unwrap_or_default(),
            view: ObjectView::Drift,
        },
    },
    RouteSpec {
        method: "DELETE",
        pattern: &["connectors", "{id}", "drift"],
        build: |id| AdminRoute::ConnectorStats {
            connector: id.unwrap_or_default(),
            view: ObjectView::DriftReset,
        },
    },
    RouteSpec {
        method: "GET",
        pattern: &["connectors", "{id}", "alerts"],
        build: |id| AdminRoute::ConnectorStats {
            connector: id.unwrap_or_default(),
            view: ObjectView::Alerts,
        },
    },
    RouteSpec {
        method: "GET",
        pattern: &["metrics"],
        build: |_| AdminRoute::Metrics,
    },
    RouteSpec {
        method: "GET",
        pattern: &["quarantine"],
        build: |_| AdminRoute::QuarantineList,
    },
    RouteSpec {
        method: "GET",
        pattern: &["quarantine", "object"],
        build: |_| AdminRoute::QuarantineObject,
    },
    RouteSpec {
        method: "POST",
        pattern: &["quarantine", "replay"],
        build: |_| AdminRoute::QuarantineReplay,
    },
];

/// Every row of the route table as `(method, example path)`, `{id}` filled with `id`: for tests
/// that must cover every admin route (none may answer without the admin token).
pub fn admin_route_examples(id: &str) -> Vec<(&'static str, String)> {
    ROUTES
        .iter()
        .map(|spec| {
            let segments: Vec<&str> = spec
                .pattern
                .iter()
                .map(|p| if *p == "{id}" { id } else { p })
                .collect();
            (spec.method, format!("{ADMIN_PREFIX}{}", segments.join("/")))
        })
        .collect()
}

/// The secrets an admin request may present.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminTokens<'a> {
    /// `ADMIN_TOKEN`: every admin route.
    pub admin: Option<&'a str>,
    /// `METRICS_TOKEN`: `GET /admin/metrics` only, for a scraper that must not hold the admin
    /// token.
    pub metrics: Option<&'a str>,
}

/// The one entry to the admin routes: the token first (401 before anything about the path is
/// revealed), then the route table. The metrics token opens the metrics route and nothing else:
/// on any other path it is refused like a wrong token.
pub fn authorized_admin_route<'a>(
    method: &str,
    path: &'a str,
    authorization: Option<&str>,
    tokens: AdminTokens<'_>,
) -> Result<AdminRoute<'a>, Problem> {
    if admin_authorized(authorization, tokens.admin) {
        return admin_route(method, path);
    }
    if admin_authorized(authorization, tokens.metrics)
        && admin_route(method, path) == Ok(AdminRoute::Metrics)
    {
        return Ok(AdminRoute::Metrics);
    }
    Err(Problem::Unauthorized)
}

/// The `Allow` value for the methods a path accepts, in table order.
fn allow_header(methods: &[&'static str]) -> &'static str {
    match methods {
        ["GET", "POST"] => "GET, POST",
        ["GET", "PUT", "DELETE"] => "GET, PUT, DELETE",
        ["GET", "DELETE"] => "GET, DELETE",
        [one, ..] => one,
        [] => "",
    }
}

/// Routes an authenticated admin request (use [`authorized_admin_route`]). A known path with
/// another method is 405; an unknown one, or a `{id}` that is not a connector id, is 404.
fn admin_route<'a>(method: &str, path: &'a str) -> Result<AdminRoute<'a>, Problem> {
    let rest = path.strip_prefix(ADMIN_PREFIX).ok_or(Problem::NotFound)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let mut allowed: Vec<&'static str> = Vec::new();
    for spec in ROUTES {
        let Some(id) = matches(spec.pattern, &segments) else {
            continue;
        };
        if spec.method == method {
            return Ok((spec.build)(id));
        }
        allowed.push(spec.method);
    }
    if allowed.is_empty() {
        Err(Problem::NotFound)
    } else {
        Err(Problem::MethodNotAllowed {
            allow: allow_header(&allowed),
        })
    }
}

/// `Some(captured id)` when `segments` fit `pattern`.
fn matches<'a>(pattern: &[&str], segments: &[&'a str]) -> Option<Option<&'a str>> {
    if pattern.len() != segments.len() {
        return None;
    }
    let mut id = None;
    for (p, s) in pattern.iter().zip(segments) {
        if *p == "{id}" {
            if !is_valid_connector_id(s) {
                return None;
            }
            id = Some(*s);
        } else if p != s {
            return None;
        }
    }
    Some(id)
}

/// Whether the `Authorization` header carries the admin token. An unset or empty token refuses
/// everything. Both sides are hashed first so the comparison is constant-time and length-blind.
pub fn admin_authorized(authorization: Option<&str>, admin_token: Option<&str>) -> bool {
    let Some(expected) = admin_token.map(str::trim).filter(|t| !t.is_empty()) else {
        return false;
    };
    let Some(given) = authorization.and_then(bearer_credentials) else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_from_the_one_table() {
        assert_eq!(
            admin_route("GET", "/admin/connectors/acme/stats"),
            Ok(AdminRoute::ConnectorStats {
                connector: "acme",
                view: ObjectView::Counters
            })
        );
        assert_eq!(
            admin_route("GET", "/admin/connectors/acme/drift"),
            Ok(AdminRoute::ConnectorStats {
                connector: "acme",
                view: ObjectView::Drift
            })
        );
        assert_eq!(
            admin_route("DELETE", "/admin/connectors/acme/drift"),
            Ok(AdminRoute::ConnectorStats {
                connector: "acme",
                view: ObjectView::DriftReset
            })
        );
        assert_eq!(
            admin_route("POST", "/admin/connectors/acme/drift"),
            Err(Problem::MethodNotAllowed {
                allow: "GET, DELETE"
            })
        );
        assert_eq!(
            admin_route("GET", "/admin/connectors/a.b/drift"),
            Err(Problem::NotFound)
        );
        assert_eq!(
            admin_route("GET", "/admin/quarantine"),
            Ok(AdminRoute::QuarantineList)
        );
        assert_eq!(
            admin_route("GET", "/admin/quarantine/object"),
            Ok(AdminRoute::QuarantineObject)
        );
        assert_eq!(
            admin_route("POST", "/admin/quarantine/replay"),
            Ok(AdminRoute::QuarantineReplay)
        );
        assert_eq!(
            admin_route("GET", "/admin/quarantine/replay"),
            Err(Problem::MethodNotAllowed { allow: "POST" })
        );
        for path in [
            "/admin/",
            "/admin/connectors/a.b/stats",
            "/admin/connectors//stats",
            "/admin/quarantine/",
            "/admin/x",
        ] {
            assert_eq!(admin_route("GET", path), Err(Problem::NotFound), "{path}");
        }
        assert_eq!(
            admin_route("GET", "/admin/connectors"),
            Ok(AdminRoute::ConnectorList)
        );
        assert_eq!(
            admin_route("POST", "/admin/connectors"),
            Ok(AdminRoute::ConnectorCreate)
        );
        assert_eq!(
            admin_route("PUT", "/admin/connectors/acme"),
            Ok(AdminRoute::ConnectorUpdate { connector: "acme" })
        );
        assert_eq!(
            admin_route("DELETE", "/admin/connectors/acme"),
            Ok(AdminRoute::ConnectorDelete { connector: "acme" })
        );
        assert_eq!(
            admin_route("GET", "/admin/connectors/acme"),
            Ok(AdminRoute::ConnectorGet { connector: "acme" })
        );
        assert_eq!(
            admin_route("POST", "/admin/connectors/acme/rotate-token"),
            Ok(AdminRoute::RotateToken { connector: "acme" })
        );
        assert_eq!(
            admin_route("POST", "/admin/connectors/acme/pause"),
            Ok(AdminRoute::SetPaused {
                connector: "acme",
                paused: true
            })
        );
        assert_eq!(
            admin_route("POST", "/admin/connectors/acme/resume"),
            Ok(AdminRoute::SetPaused {
                connector: "acme",
                paused: false
            })
        );
        assert_eq!(
            admin_route("PATCH", "/admin/connectors/acme"),
            Err(Problem::MethodNotAllowed {
                allow: "GET, PUT, DELETE"
            })
        );
        assert_eq!(
            admin_route("DELETE", "/admin/connectors"),
            Err(Problem::MethodNotAllowed { allow: "GET, POST" })
        );
        assert_eq!(
            admin_route("GET", "/admin/connectors/a.b"),
            Err(Problem::NotFound)
        );
    }

    /// Every row of the table, present and future, refuses a missing, wrong or unset token and
    /// is reached with the right one.
    #[test]
    fn every_admin_route_requires_the_admin_token() {
        let examples = admin_route_examples("acme");
        assert_eq!(examples.len(), ROUTES.len());
        assert!(examples.len() >= 16, "{examples:?}");
        let tokens = |admin| AdminTokens {
            admin,
            metrics: Some("m3trics-read"),
        };
        let token = tokens(Some("s3cret-admin"));
        for (method, path) in &examples {
            for (auth, configured) in [
                (None, token),
                (Some("Bearer wrong"), token),
                (Some("Bearer "), token),
                (Some("s3cret-admin"), token),
                (Some("Bearer s3cret-admin"), tokens(None)),
                (Some("Bearer "), tokens(Some(""))),
            ] {
                assert_eq!(
                    authorized_admin_route(method, path, auth, configured),
                    Err(Problem::Unauthorized),
                    "{method} {path} with {auth:?}"
                );
            }
            assert!(
                authorized_admin_route(method, path, Some("Bearer s3cret-admin"), token).is_ok(),
                "{method} {path}"
            );
            // The metrics token opens the metrics route and nothing else.
            let with_metrics =
                authorized_admin_route(method, path, Some("Bearer m3trics-read"), token);
            let metrics = (*method, path.as_str()) == ("GET", "/admin/metrics");
            assert_eq!(
                with_metrics,
                if metrics {
                    Ok(AdminRoute::Metrics)
                } else {
                    Err(Problem::Unauthorized)
                },
                "{method} {path} with the metrics token"
            );
        }
        // Unknown admin paths are 401 too, so the table's shape is not revealed.
        assert_eq!(
            authorized_admin_route("GET", "/admin/nothing", None, token),
            Err(Problem::Unauthorized)
        );
        for (method, path) in [("POST", "/admin/metrics"), ("GET", "/admin/metrics/x")] {
            assert_eq!(
                authorized_admin_route(method, path, Some("Bearer m3trics-read"), token),
                Err(Problem::Unauthorized),
                "{method} {path}: the metrics token learns nothing more"
            );
        }
        // With no metrics token set, none opens the metrics route.
        let unset = AdminTokens {
            admin: Some("s3cret-admin"),
            metrics: None,
        };
        assert_eq!(
            authorized_admin_route("GET", "/admin/metrics", Some("Bearer "), unset),
            Err(Problem::Unauthorized)
        );
    }

    #[test]
    fn admin_token_is_required_and_compared_exactly() {
        let t = Some("s3cret-admin");
        assert!(admin_authorized(Some("Bearer s3cret-admin"), t));
        assert!(
            admin_authorized(Some("bearer s3cret-admin"), t),
            "as ingest"
        );
        assert!(admin_authorized(Some("BEARER  s3cret-admin "), t));
        assert!(!admin_authorized(Some("Bearers3cret-admin"), t));
        assert!(!admin_authorized(Some("Bearer s3cret-admi"), t));
        assert!(!admin_authorized(Some("Bearer s3cret-admin2"), t));
        assert!(!admin_authorized(Some("Basic s3cret-admin"), t));
        assert!(!admin_authorized(None, t));
        assert!(!admin_authorized(Some("Bearer "), Some("")));
        assert!(
            !admin_authorized(Some("Bearer x"), None),
            "unset token refuses"
        );
    }
}
