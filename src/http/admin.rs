//! The admin API, pure: its one route table, bearer authentication against the `ADMIN_TOKEN`
//! secret, query and body parsing. The shell only performs the R2/queue/Durable Object calls.
//!
//! Every path under `/admin/` requires `Authorization: Bearer <ADMIN_TOKEN>`; authentication is
//! checked before the route, so an unauthenticated caller learns nothing about which paths exist.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::problem::Problem;
use super::route::is_valid_connector_id;

/// Prefix of every admin path.
pub const ADMIN_PREFIX: &str = "/admin/";
/// Prefix every quarantine object key starts with.
pub const QUARANTINE_PREFIX: &str = "quarantine/";

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
    /// `GET /admin/connectors/{id}/stats`.
    ConnectorStats {
        /// Connector id (syntax-checked).
        connector: &'a str,
    },
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
        },
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

/// Whether `path` is an admin path (so it needs the admin token).
pub fn is_admin_path(path: &str) -> bool {
    path.starts_with(ADMIN_PREFIX)
}

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

/// The one entry to the admin routes: the token first (401 before anything about the path is
/// revealed), then the route table.
pub fn authorized_admin_route<'a>(
    method: &str,
    path: &'a str,
    authorization: Option<&str>,
    admin_token: Option<&str>,
) -> Result<AdminRoute<'a>, Problem> {
    if !admin_authorized(authorization, admin_token) {
        return Err(Problem::Unauthorized);
    }
    admin_route(method, path)
}

/// The `Allow` value for the methods a path accepts, in table order.
fn allow_header(methods: &[&'static str]) -> &'static str {
    match methods {
        ["GET", "POST"] => "GET, POST",
        ["GET", "PUT", "DELETE"] => "GET, PUT, DELETE",
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
    let Some(given) = authorization
        .and_then(|h| h.trim().strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

/// The query string of a URL (without `?` and fragment; empty when there is none).
pub fn raw_query(url: &str) -> &str {
    let no_fragment = url.split_once('#').map_or(url, |(u, _)| u);
    no_fragment.split_once('?').map_or("", |(_, q)| q)
}

/// The value of query parameter `name` (percent-decoded, `+` as space), if present.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The connector id named by the `connector` query parameter (required, syntax-checked).
pub fn connector_param(query: &str) -> Result<String, Problem> {
    let id = query_param(query, "connector").unwrap_or_default();
    if is_valid_connector_id(&id) {
        Ok(id)
    } else {
        Err(Problem::InvalidAdminRequest {
            detail: "query parameter `connector` must be a connector id".into(),
        })
    }
}

/// A quarantine key from the caller: it must name an object under `quarantine/`.
pub fn quarantine_key_param(key: Option<&str>) -> Result<String, Problem> {
    match key {
        Some(k) if k.starts_with(QUARANTINE_PREFIX) && !k.contains("..") => Ok(k.to_owned()),
        _ => Err(Problem::InvalidAdminRequest {
            detail: "`key` must be a quarantine object key (starting with quarantine/)".into(),
        }),
    }
}

/// The connector id inside a quarantine key (`quarantine/{connector}/...`).
pub fn connector_of_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(QUARANTINE_PREFIX)?.split('/').next()?;
    is_valid_connector_id(id).then_some(id)
}

/// What `POST /admin/quarantine/replay` replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// One object.
    Key(String),
    /// Every object of a connector (not yet replayed ones unless `force`).
    Connector {
        /// Connector id.
        id: String,
        /// Include objects already replayed.
        force: bool,
    },
}

/// Parses the replay body: `{"key": K}` or `{"connector": ID, "force"?: bool}`.
pub fn parse_replay(body: &[u8]) -> Result<ReplayTarget, Problem> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[serde(default)]
        key: Option<String>,
        #[serde(default)]
        connector: Option<String>,
        #[serde(default)]
        force: bool,
    }
    let invalid = |detail: &str| Problem::InvalidAdminRequest {
        detail: detail.to_owned(),
    };
    let body: Body = serde_json::from_slice(body).map_err(|_| {
        invalid("body must be {\"key\": K} or {\"connector\": ID, \"force\"?: bool}")
    })?;
    match (body.key, body.connector) {
        (Some(key), None) => quarantine_key_param(Some(&key)).map(ReplayTarget::Key),
        (None, Some(id)) if is_valid_connector_id(&id) => Ok(ReplayTarget::Connector {
            id,
            force: body.force,
        }),
        (None, Some(_)) => Err(invalid("`connector` must be a connector id")),
        _ => Err(invalid("give exactly one of `key` or `connector`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_from_the_one_table() {
        assert_eq!(
            admin_route("GET", "/admin/connectors/acme/stats"),
            Ok(AdminRoute::ConnectorStats { connector: "acme" })
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
        assert!(is_admin_path("/admin/x"));
        assert!(!is_admin_path("/administrator"));
    }

    /// Every row of the table, present and future, refuses a missing, wrong or unset token and
    /// is reached with the right one.
    #[test]
    fn every_admin_route_requires_the_admin_token() {
        let examples = admin_route_examples("acme");
        assert_eq!(examples.len(), ROUTES.len());
        assert!(examples.len() >= 12, "{examples:?}");
        let token = Some("s3cret-admin");
        for (method, path) in &examples {
            for (auth, configured) in [
                (None, token),
                (Some("Bearer wrong"), token),
                (Some("Bearer "), token),
                (Some("s3cret-admin"), token),
                (Some("Bearer s3cret-admin"), None),
                (Some("Bearer "), Some("")),
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
        }
        // Unknown admin paths are 401 too, so the table's shape is not revealed.
        assert_eq!(
            authorized_admin_route("GET", "/admin/nothing", None, token),
            Err(Problem::Unauthorized)
        );
    }

    #[test]
    fn admin_token_is_required_and_compared_exactly() {
        let t = Some("s3cret-admin");
        assert!(admin_authorized(Some("Bearer s3cret-admin"), t));
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

    #[test]
    fn query_parameters() {
        assert_eq!(
            raw_query("http://x/admin/q?connector=a&b=c#f"),
            "connector=a&b=c"
        );
        assert_eq!(raw_query("http://x/admin/q"), "");
        let q = "connector=acme&reason=segment_rejected&key=quarantine%2Facme%2Fx.json";
        assert_eq!(query_param(q, "connector").as_deref(), Some("acme"));
        assert_eq!(
            query_param(q, "key").as_deref(),
            Some("quarantine/acme/x.json")
        );
        assert_eq!(query_param("?a=b+c", "a").as_deref(), Some("b c"));
        assert_eq!(query_param("a", "a").as_deref(), Some(""));
        assert_eq!(query_param("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("", "a"), None);
        assert!(connector_param("connector=acme").is_ok());
        assert!(connector_param("connector=../x").is_err());
        assert!(connector_param("").is_err());
    }

    #[test]
    fn quarantine_keys() {
        assert!(quarantine_key_param(Some("quarantine/acme/2026-01-01/1-a.json")).is_ok());
        for bad in [None, Some("other/acme"), Some("quarantine/../x")] {
            let e = quarantine_key_param(bad).unwrap_err();
            assert_eq!(e.status(), 400);
        }
        assert_eq!(connector_of_key("quarantine/acme/x.json"), Some("acme"));
        assert_eq!(connector_of_key("quarantine/a.b/x.json"), None);
    }

    #[test]
    fn replay_bodies() {
        assert_eq!(
            parse_replay(br#"{"key":"quarantine/acme/x.json"}"#),
            Ok(ReplayTarget::Key("quarantine/acme/x.json".into()))
        );
        assert_eq!(
            parse_replay(br#"{"connector":"acme","force":true}"#),
            Ok(ReplayTarget::Connector {
                id: "acme".into(),
                force: true
            })
        );
        for bad in [
            &b"{}"[..],
            br#"{"key":"x","connector":"acme"}"#,
            br#"{"connector":"a/b"}"#,
            br#"{"key":"nope"}"#,
            br#"{"connector":"acme","extra":1}"#,
            b"not json",
        ] {
            assert_eq!(parse_replay(bad).unwrap_err().status(), 400);
        }
    }
}
