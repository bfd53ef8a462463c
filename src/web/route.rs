//! Routing: which handler a method and path reach, decided before any I/O.

use super::problem::Problem;
use crate::config::is_valid_connector_id;

/// Liveness probe.
pub const HEALTH_PATH: &str = "/health";
/// Ingest path prefix; the connector id follows.
pub const INGEST_PREFIX: &str = "/v1/currents/";
/// Prefix of every admin path.
pub const ADMIN_PREFIX: &str = "/admin/";

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /health`, or `HEAD /health` (`head`: the same answer without its body).
    Health {
        /// The request is a `HEAD`.
        head: bool,
    },
    /// `POST /v1/currents/{connector}` with a syntactically valid id.
    Ingest {
        /// The connector id (1-64 of `[A-Za-z0-9_-]`).
        connector: &'a str,
    },
    /// Anything under `/admin/`: authenticated first, then routed by
    /// [`crate::admin::authorized_admin_route`].
    Admin,
}

/// Routes a request. A known path with the wrong method is 405 (with `Allow`); an ingest path
/// with an impossible connector id is 404 `unknown_connector`, as an unknown id would be.
pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, Problem> {
    if path == HEALTH_PATH {
        return match method {
            "GET" => Ok(Route::Health { head: false }),
            "HEAD" => Ok(Route::Health { head: true }),
            _ => Err(Problem::MethodNotAllowed { allow: "GET, HEAD" }),
        };
    }
    if path.starts_with(ADMIN_PREFIX) {
        return Ok(Route::Admin);
    }
    if let Some(connector) = path.strip_prefix(INGEST_PREFIX) {
        if method != "POST" {
            return Err(Problem::MethodNotAllowed { allow: "POST" });
        }
        if !is_valid_connector_id(connector) {
            return Err(Problem::UnknownConnector);
        }
        return Ok(Route::Ingest { connector });
    }
    Err(Problem::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MAX_CONNECTOR_ID_LEN;

    #[test]
    fn known_routes() {
        assert_eq!(route("GET", "/health"), Ok(Route::Health { head: false }));
        assert_eq!(route("HEAD", "/health"), Ok(Route::Health { head: true }));
        assert_eq!(route("DELETE", "/admin/anything"), Ok(Route::Admin));
        assert_eq!(
            route("POST", "/v1/currents/acme_prod-1"),
            Ok(Route::Ingest {
                connector: "acme_prod-1"
            })
        );
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        assert_eq!(
            route("POST", "/health"),
            Err(Problem::MethodNotAllowed { allow: "GET, HEAD" })
        );
        assert_eq!(
            route("GET", "/v1/currents/acme"),
            Err(Problem::MethodNotAllowed { allow: "POST" })
        );
    }

    #[test]
    fn bad_connector_ids_are_unknown_connectors() {
        let long = "a".repeat(MAX_CONNECTOR_ID_LEN + 1);
        for id in [
            "",
            "..",
            "a/b",
            "../x",
            "a%2Fb",
            "a b",
            "ä",
            "a.b",
            long.as_str(),
        ] {
            let path = format!("{INGEST_PREFIX}{id}");
            assert_eq!(
                route("POST", &path),
                Err(Problem::UnknownConnector),
                "{id:?}"
            );
        }
        assert!(is_valid_connector_id(&"a".repeat(MAX_CONNECTOR_ID_LEN)));
    }

    #[test]
    fn other_paths_are_not_found() {
        for path in ["/", "/health/", "/v1/currents", "/v1/other/x", "/HEALTH"] {
            assert_eq!(route("GET", path), Err(Problem::NotFound), "{path}");
        }
    }
}
