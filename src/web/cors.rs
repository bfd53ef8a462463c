//! CORS for the admin API, pure. The Console is served by the Worker itself (same origin), so by
//! default no CORS header is ever sent. With the `CONSOLE_ORIGIN` variable set, a request whose
//! `Origin` is exactly that origin may call the admin routes cross-origin; any other origin gets
//! no CORS headers (its preflight is 403 `cors_refused`). Ingest routes never get CORS headers.

use super::problem::{Answer, Problem};

/// Methods the admin API answers to, for `Access-Control-Allow-Methods`.
pub const CORS_ALLOW_METHODS: &str = "GET, POST, PUT, DELETE";
/// Request headers the Console sends, for `Access-Control-Allow-Headers`.
pub const CORS_ALLOW_HEADERS: &str = "authorization, content-type";
/// How long a browser may cache a preflight answer (seconds).
pub const CORS_MAX_AGE_SECS: u32 = 600;

/// The origin allowed for this request, if any: `CONSOLE_ORIGIN` set (non-empty) and equal to
/// the request's `Origin` header, byte for byte (no wildcard, no prefix match).
pub fn allowed_origin<'a>(
    origin: Option<&'a str>,
    console_origin: Option<&str>,
) -> Option<&'a str> {
    let console = console_origin.map(str::trim).filter(|c| !c.is_empty())?;
    let origin = origin?.trim();
    (origin == console.trim_end_matches('/')).then_some(origin)
}

/// The answer to an `OPTIONS` preflight on an admin path: 204 with the CORS headers for the
/// allowed origin, else 403 `cors_refused`.
pub fn preflight(origin: Option<&str>, console_origin: Option<&str>) -> Result<Answer, Problem> {
    let allowed = allowed_origin(origin, console_origin).ok_or(Problem::CorsRefused)?;
    let mut answer = Answer {
        status: 204,
        headers: Vec::new(),
        body: String::new(),
    };
    add_cors_headers(&mut answer, allowed);
    answer.headers.push((
        "Access-Control-Allow-Methods",
        CORS_ALLOW_METHODS.to_owned(),
    ));
    answer.headers.push((
        "Access-Control-Allow-Headers",
        CORS_ALLOW_HEADERS.to_owned(),
    ));
    answer
        .headers
        .push(("Access-Control-Max-Age", CORS_MAX_AGE_SECS.to_string()));
    Ok(answer)
}

/// Adds `Access-Control-Allow-Origin` and `Vary: Origin` to an admin answer (errors included,
/// so the Console can read a 401 or 422).
pub fn add_cors_headers(answer: &mut Answer, allowed_origin: &str) {
    answer
        .headers
        .push(("Access-Control-Allow-Origin", allowed_origin.to_owned()));
    answer.headers.push(("Vary", "Origin".to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: Option<&str> = Some("https://console.example.com");

    #[test]
    fn only_the_configured_origin_is_allowed() {
        assert_eq!(
            allowed_origin(Some("https://console.example.com"), CONSOLE),
            Some("https://console.example.com")
        );
        assert_eq!(
            allowed_origin(
                Some("https://console.example.com"),
                Some("https://console.example.com/")
            ),
            Some("https://console.example.com")
        );
        for other in [
            None,
            Some("https://evil.example.com"),
            Some("https://console.example.com.evil.net"),
            Some("http://console.example.com"),
            Some("null"),
            Some(""),
        ] {
            assert_eq!(allowed_origin(other, CONSOLE), None, "{other:?}");
        }
        for unset in [None, Some(""), Some("  ")] {
            assert_eq!(
                allowed_origin(Some("https://console.example.com"), unset),
                None
            );
            assert_eq!(allowed_origin(Some(""), unset), None);
        }
    }

    #[test]
    fn preflight_answers() {
        let a = preflight(Some("https://console.example.com"), CONSOLE).unwrap();
        assert_eq!(a.status, 204);
        assert_eq!(
            a.header("access-control-allow-origin"),
            Some("https://console.example.com")
        );
        assert_eq!(
            a.header("access-control-allow-methods"),
            Some(CORS_ALLOW_METHODS)
        );
        assert_eq!(
            a.header("access-control-allow-headers"),
            Some("authorization, content-type")
        );
        assert_eq!(a.header("vary"), Some("Origin"));
        assert_eq!(
            preflight(Some("https://evil.example.com"), CONSOLE),
            Err(Problem::CorsRefused)
        );
        assert_eq!(
            preflight(Some("https://console.example.com"), None),
            Err(Problem::CorsRefused)
        );
        let refused = Problem::CorsRefused.answer();
        assert_eq!(refused.status, 403);
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
}
