//! The HTTP face of the Worker, pure: the router, the one mapping from errors to problem+json
//! answers, CORS for the admin API, the security headers of every answer, the nearest-region rule
//! and the request log line. The
//! wasm32 part (`respond`) copies an [`Answer`] into a platform response.

mod cors;
mod log;
mod problem;
mod region;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod respond;
mod route;
mod security;

pub use cors::{
    CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, add_cors_headers, allowed_origin, preflight,
};
pub use log::{
    RequestLog, config_error_line, platform_failure_line, settings_warning_line, to_line,
};
pub use problem::{
    Answer, PROBLEM_TYPE_BASE, Problem, SERVICE, VERSION, health_answer, json_answer,
};
pub use region::{EU_EEA_COUNTRIES, nearest_region};
pub use route::{ADMIN_PREFIX, HEALTH_PATH, INGEST_PREFIX, Route, route};
pub use security::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE_OPTIONS, FRAME_OPTIONS, REFERRER_POLICY,
    SECURITY_HEADERS, add_security_headers,
};

/// Largest request body accepted (ingest and admin). Braze sends at most 100 events of up to
/// 900 KB each, but in practice a batch is far smaller; over this limit the answer is 413 and
/// Braze splits the batch (CONTRACTS §1), so no event is lost by keeping the limit well under
/// Workers' 100 MB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The body-size check of every request: refused above [`MAX_BODY_BYTES`], by the declared
/// `Content-Length` before reading (`actual: None`) and by the actual length after.
pub fn check_body_size(declared: Option<&str>, actual: Option<usize>) -> Result<(), Problem> {
    let declared = declared.and_then(|v| v.trim().parse::<u64>().ok());
    let over = declared.is_some_and(|n| n > MAX_BODY_BYTES as u64)
        || actual.is_some_and(|n| n > MAX_BODY_BYTES);
    if over {
        Err(Problem::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        })
    } else {
        Ok(())
    }
}

/// The `Content-Encoding` check of every request body, before it is read: only an absent,
/// empty or `identity` coding is plain JSON; anything else (gzip, br, deflate, a list naming
/// one) is 415 `unsupported_encoding`. Braze's Custom HTTP connector sends plain JSON.
pub fn check_content_encoding(header: Option<&str>) -> Result<(), Problem> {
    let plain = header.is_none_or(|value| {
        value
            .split(',')
            .map(str::trim)
            .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
    });
    if plain {
        Ok(())
    } else {
        Err(Problem::UnsupportedEncoding)
    }
}

/// A request's query parameters, decoded (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes a query string (without the `?`).
    pub fn parse(query: &str) -> Self {
        Query(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q =
            Query::parse("connector=acme&reason=segment_rejected&key=quarantine%2Facme%2Fx.json");
        assert_eq!(q.get("connector"), Some("acme"));
        assert_eq!(q.get("key"), Some("quarantine/acme/x.json"));
        assert_eq!(Query::parse("a=b+c").get("a"), Some("b c"));
        assert_eq!(Query::parse("a").get("a"), Some(""));
        assert_eq!(Query::parse("a=%zz%4").get("a"), Some("%zz%4"));
        assert_eq!(Query::parse("").get("a"), None);
    }

    #[test]
    fn content_encoding_must_be_identity() {
        for plain in [
            None,
            Some(""),
            Some("identity"),
            Some(" IDENTITY "),
            Some("identity, "),
        ] {
            assert_eq!(check_content_encoding(plain), Ok(()), "{plain:?}");
        }
        for coded in [
            "gzip",
            "x-gzip",
            "br",
            "deflate",
            "zstd",
            "gzip, identity",
            "identity,gzip",
        ] {
            let e = check_content_encoding(Some(coded)).unwrap_err();
            assert_eq!(
                (e.status(), e.code()),
                (415, "unsupported_encoding"),
                "{coded}"
            );
        }
    }

    #[test]
    fn body_limit() {
        assert_eq!(MAX_BODY_BYTES, 8_388_608);
        assert!(check_body_size(None, None).is_ok());
        assert!(check_body_size(Some("8388608"), Some(8_388_608)).is_ok());
        assert!(check_body_size(Some("8388609"), None).is_err());
        assert!(check_body_size(None, Some(8_388_609)).is_err());
        assert!(check_body_size(Some("junk"), Some(3)).is_ok());
        assert_eq!(
            check_body_size(Some("9999999999"), None)
                .unwrap_err()
                .status(),
            413
        );
    }
}
