//! The one mapping from request errors to HTTP answers: RFC 9457 problem bodies with stable
//! snake_case codes. The statuses follow how Braze reacts (CONTRACTS §1): 4xx only for a bad URL,
//! bad credentials or a bad body; 503 whenever a retry by Braze can succeed, so no event is lost.

use serde::Serialize;
use thiserror::Error;

use crate::config::ConfigError;
use crate::error::RequestError;

/// This service's name, in `/health` and logs.
pub const SERVICE: &str = env!("CARGO_PKG_NAME");
/// The crate version, in `/health` and `User-Agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Prefix of the `type` URI of every problem; the code follows.
pub const PROBLEM_TYPE_BASE: &str = "https://currents-relay.dev/problems/";

/// Retry-After (seconds) of 503s caused by our own storage or config reads.
const RETRY_SOON_SECS: u64 = 30;

/// Everything that can end a request early.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    /// No route has this path.
    #[error("no resource at this path")]
    NotFound,
    /// A known path with the wrong method.
    #[error("this path accepts only {allow}")]
    MethodNotAllowed {
        /// The methods the path accepts.
        allow: &'static str,
    },
    /// No connector with this id (or an impossible id). Braze reads 404 as a wrong URL.
    #[error("no connector with this id")]
    UnknownConnector,
    /// The connector's KV document does not parse or validate; Braze retries until it is fixed.
    #[error("the connector's configuration is invalid; an operator must fix it")]
    ConnectorMisconfigured,
    /// KV could not be read.
    #[error("the connector's configuration could not be read; retry later")]
    ConfigUnavailable,
    /// Missing, malformed or wrong bearer token (one answer for all three).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The body is compressed (`Content-Encoding` other than `identity`): only plain JSON is read.
    #[error("the body must be sent uncompressed (no Content-Encoding, or identity)")]
    UnsupportedEncoding,
    /// The body exceeds the size limit; Braze splits the batch.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not a Currents batch.
    #[error(transparent)]
    BadRequest(#[from] RequestError),
    /// Quarantined events could not be stored.
    #[error("quarantine storage is unavailable; retry later")]
    StorageUnavailable,
    /// The delivery queue refused the events: nothing was accepted, Braze resends.
    #[error("the delivery queue is unavailable; retry later")]
    QueueUnavailable,
    /// An admin request that names nothing valid (bad query, body or key).
    #[error("{detail}")]
    InvalidAdminRequest {
        /// What is wrong, for the operator.
        detail: String,
    },
    /// `POST /admin/connectors` with an id that is already taken.
    #[error("a connector with this id already exists")]
    ConnectorExists,
    /// An admin write whose connector document does not validate; each error names its field.
    #[error("the connector configuration is invalid ({} error(s))", errors.len())]
    InvalidConfig {
        /// The errors, with field paths such as `destinations.main.region`.
        errors: Vec<ConfigError>,
    },
    /// A replay of a quarantine object that belongs to an earlier connector of the same id.
    #[error(
        "this object belongs to an earlier connector with this id (another generation); it is not replayed with the new connector's config"
    )]
    ConnectorReplaced,
    /// A cross-origin admin request (preflight) from an origin other than `CONSOLE_ORIGIN`.
    #[error("cross-origin requests are allowed only from the configured console origin")]
    CorsRefused,
    /// A platform call failed unexpectedly.
    #[error("unexpected internal error; retry later")]
    Internal,
}

impl Problem {
    /// Stable code for dashboards, problem bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NotFound => "not_found",
            Problem::MethodNotAllowed { .. } => "method_not_allowed",
            Problem::UnknownConnector => "unknown_connector",
            Problem::ConnectorMisconfigured => "connector_misconfigured",
            Problem::ConfigUnavailable => "config_unavailable",
            Problem::Unauthorized => "unauthorized",
            Problem::BodyTooLarge { .. } => "body_too_large",
            Problem::UnsupportedEncoding => "unsupported_encoding",
            Problem::BadRequest(e) => e.code(),
            Problem::StorageUnavailable => "storage_unavailable",
            Problem::QueueUnavailable => "queue_unavailable",
            Problem::InvalidAdminRequest { .. } => "invalid_admin_request",
            Problem::ConnectorExists => "connector_exists",
            Problem::ConnectorReplaced => "connector_replaced",
            Problem::InvalidConfig { .. } => "invalid_config",
            Problem::CorsRefused => "cors_refused",
            Problem::Internal => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Problem::NotFound | Problem::UnknownConnector => 404,
            Problem::MethodNotAllowed { .. } => 405,
            Problem::Unauthorized => 401,
            Problem::CorsRefused => 403,
            Problem::ConnectorExists | Problem::ConnectorReplaced => 409,
            Problem::InvalidConfig { .. } => 422,
            Problem::BodyTooLarge { .. } => 413,
            Problem::UnsupportedEncoding => 415,
            Problem::BadRequest(_) | Problem::InvalidAdminRequest { .. } => 400,
            Problem::ConnectorMisconfigured
            | Problem::ConfigUnavailable
            | Problem::StorageUnavailable
            | Problem::QueueUnavailable => 503,
            Problem::Internal => 500,
        }
    }

    /// A short, fixed summary of the problem type.
    pub fn title(&self) -> &'static str {
        match self {
            Problem::NotFound => "Not found",
            Problem::MethodNotAllowed { .. } => "Method not allowed",
            Problem::UnknownConnector => "Unknown connector",
            Problem::ConnectorMisconfigured => "Connector misconfigured",
            Problem::ConfigUnavailable => "Configuration unavailable",
            Problem::Unauthorized => "Unauthorized",
            Problem::BodyTooLarge { .. } => "Body too large",
            Problem::UnsupportedEncoding => "Unsupported content encoding",
            Problem::BadRequest(_) => "Invalid Currents batch",
            Problem::StorageUnavailable => "Storage unavailable",
            Problem::QueueUnavailable => "Queue unavailable",
            Problem::InvalidAdminRequest { .. } => "Invalid admin request",
            Problem::ConnectorExists => "Connector exists",
            Problem::ConnectorReplaced => "Connector replaced",
            Problem::InvalidConfig { .. } => "Invalid configuration",
            Problem::CorsRefused => "Cross-origin request refused",
            Problem::Internal => "Internal error",
        }
    }

    /// Seconds for `Retry-After`, on answers Braze should retry.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Problem::ConnectorMisconfigured
            | Problem::ConfigUnavailable
            | Problem::StorageUnavailable
            | Problem::QueueUnavailable => Some(RETRY_SOON_SECS),
            _ => None,
        }
    }

    /// The complete HTTP answer. The only place a problem becomes a response.
    pub fn answer(&self) -> Answer {
        #[derive(Serialize)]
        struct Body<'a> {
            r#type: String,
            title: &'a str,
            status: u16,
            code: &'a str,
            detail: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            errors: Option<&'a [ConfigError]>,
        }
        let errors = match self {
            Problem::InvalidConfig { errors } => Some(errors.as_slice()),
            _ => None,
        };
        let body = Body {
            r#type: format!("{PROBLEM_TYPE_BASE}{}", self.code()),
            title: self.title(),
            status: self.status(),
            code: self.code(),
            detail: self.to_string(),
            errors,
        };
        let mut headers = vec![("Content-Type", "application/problem+json".to_owned())];
        if let Problem::MethodNotAllowed { allow } = self {
            headers.push(("Allow", (*allow).to_owned()));
        }
        if let Problem::Unauthorized = self {
            headers.push(("WWW-Authenticate", "Bearer".to_owned()));
        }
        if let Problem::UnsupportedEncoding = self {
            // RFC 9110 §15.5.16: say which codings are accepted.
            headers.push(("Accept-Encoding", "identity".to_owned()));
        }
        if let Some(secs) = self.retry_after_secs() {
            headers.push(("Retry-After", secs.to_string()));
        }
        Answer {
            status: self.status(),
            headers,
            body: serde_json::to_string(&body).unwrap_or_default(),
        }
    }
}

/// A platform-independent HTTP response: the shell copies it into a `worker::Response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(&'static str, String)>,
    /// Body text.
    pub body: String,
}

impl Answer {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A JSON answer.
pub fn json_answer(status: u16, body: String) -> Answer {
    Answer {
        status,
        headers: vec![("Content-Type", "application/json".to_owned())],
        body,
    }
}

/// `GET /health`: `{"status":"ok","service":"currents-relay","version":"<crate version>"}`;
/// `HEAD /health` (`head`): the same status and headers, no body.
pub fn health_answer(head: bool) -> Answer {
    #[derive(serde::Serialize)]
    struct Health {
        status: &'static str,
        service: &'static str,
        version: &'static str,
    }
    let body = Health {
        status: "ok",
        service: SERVICE,
        version: VERSION,
    };
    let mut answer = json_answer(200, serde_json::to_string(&body).unwrap_or_default());
    if head {
        answer.body.clear();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Problem> {
        vec![
            Problem::NotFound,
            Problem::MethodNotAllowed { allow: "POST" },
            Problem::UnknownConnector,
            Problem::ConnectorMisconfigured,
            Problem::ConfigUnavailable,
            Problem::Unauthorized,
            Problem::BodyTooLarge { limit: 8 },
            Problem::UnsupportedEncoding,
            Problem::BadRequest(RequestError::MissingEvents),
            Problem::StorageUnavailable,
            Problem::QueueUnavailable,
            Problem::InvalidAdminRequest {
                detail: "key must start with quarantine/".into(),
            },
            Problem::ConnectorExists,
            Problem::InvalidConfig {
                errors: vec![ConfigError {
                    field: "retention_hours".into(),
                    message: "must be between 1 and 8760".into(),
                }],
            },
            Problem::CorsRefused,
            Problem::Internal,
        ]
    }

    #[test]
    fn invalid_config_lists_field_errors() {
        let p = Problem::InvalidConfig {
            errors: vec![ConfigError {
                field: "destinations.main.region".into(),
                message: "unknown region".into(),
            }],
        };
        let a = p.answer();
        assert_eq!(a.status, 422);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["code"], "invalid_config");
        assert_eq!(v["errors"][0]["field"], "destinations.main.region");
        assert_eq!(v["errors"][0]["message"], "unknown region");
        let other: serde_json::Value =
            serde_json::from_str(&Problem::ConnectorExists.answer().body).unwrap();
        assert!(other.get("errors").is_none());
        assert_eq!(Problem::ConnectorExists.status(), 409);
        assert_eq!(Problem::CorsRefused.status(), 403);
    }

    #[test]
    fn every_problem_renders_a_problem_json_body() {
        for p in all() {
            let a = p.answer();
            assert_eq!(a.status, p.status());
            assert_eq!(a.header("content-type"), Some("application/problem+json"));
            let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            assert_eq!(v["code"], p.code());
            assert_eq!(v["status"], p.status());
            assert_eq!(v["type"], format!("{PROBLEM_TYPE_BASE}{}", p.code()));
            assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()));
            let code = p.code();
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn bad_input_is_never_5xx() {
        for p in [
            Problem::Unauthorized,
            Problem::BodyTooLarge { limit: 8 },
            Problem::UnsupportedEncoding,
            Problem::BadRequest(RequestError::NotAnObject),
            Problem::UnknownConnector,
        ] {
            assert!(p.status() < 500, "{p:?}");
        }
    }

    #[test]
    fn request_errors_keep_their_code_and_message() {
        let p = Problem::from(RequestError::EventsNotArray { found: "string" });
        let v: serde_json::Value = serde_json::from_str(&p.answer().body).unwrap();
        assert_eq!(v["status"], 400);
        assert_eq!(v["code"], "events_not_array");
        assert_eq!(v["detail"], "\"events\" must be an array, found string");
    }

    #[test]
    fn special_headers() {
        let a = Problem::MethodNotAllowed { allow: "GET" }.answer();
        assert_eq!(a.header("allow"), Some("GET"));
        let a = Problem::QueueUnavailable.answer();
        assert_eq!(a.status, 503);
        assert_eq!(a.header("retry-after"), Some("30"));
        assert_eq!(Problem::Unauthorized.answer().header("retry-after"), None);
        let a = Problem::UnsupportedEncoding.answer();
        assert_eq!(
            (a.status, a.header("accept-encoding")),
            (415, Some("identity"))
        );
    }

    #[test]
    fn health_body() {
        let a = health_answer(false);
        assert_eq!(a.status, 200);
        let head = health_answer(true);
        assert_eq!((head.status, head.body.as_str()), (200, ""));
        assert_eq!(head.header("content-type"), a.header("content-type"));
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["service"], "currents-relay");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    }
}
