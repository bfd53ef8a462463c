//! One attempt to send one request to Segment, natively (`ureq`, rustls), classified for the
//! retry policy as the Worker's client does. The write key appears only in the `Authorization`
//! header built here; no error message carries a header.

use std::time::Duration;

use ureq::Agent;

use crate::config::{Region, WriteKey};
use crate::segment::retry::{Attempt, AttemptResult, parse_retry_after, system_time_from_millis};
use crate::segment::{USER_AGENT, batch_url};

/// How long one request may take: a full 475 KB batch over a slow link, and Segment's answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an error answer read (the quarantine detail keeps at most 1 KB of it).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The HTTP agent every sender shares (its connection pool).
pub fn agent(concurrency: usize) -> Agent {
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .user_agent(USER_AGENT)
        .max_idle_connections_per_host(concurrency.max(1))
        .build();
    Agent::new_with_config(config)
}

/// The batch endpoint of `region`: Segment's, or `<base>/<region>/v1/batch` under
/// `--segment-url` (the layout of the local sink, `scripts/segment-sink.mjs`).
pub fn endpoint(base: Option<&str>, region: Region) -> String {
    match base {
        Some(base) => format!("{base}/{}/v1/batch", region.code()),
        None => batch_url(region).to_owned(),
    }
}

/// POSTs `body`; `now_ms` dates a `Retry-After` HTTP-date.
pub fn send(agent: &Agent, url: &str, write_key: &WriteKey, body: &str, now_ms: u64) -> Attempt {
    let sent = agent
        .post(url)
        .header("Authorization", &write_key.basic_auth_header())
        .header("Content-Type", "application/json")
        .send(body);
    match sent {
        Ok(mut response) => {
            let code = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, system_time_from_millis(now_ms)));
            let answer = (code >= 400).then(|| {
                response
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER_BYTES)
                    .read_to_string()
                    .unwrap_or_default()
            });
            Attempt {
                result: AttemptResult::Status { code, retry_after },
                answer,
            }
        }
        Err(ureq::Error::Timeout(_)) => Attempt::failed(AttemptResult::Timeout),
        Err(_) => Attempt::failed(AttemptResult::NetworkError),
    }
}

/// A short code for an attempt's failure, for the summary (`http_503`, `timeout`, ...).
pub fn failure_code(result: AttemptResult) -> String {
    match result {
        AttemptResult::Status { code, .. } => format!("http_{code}"),
        AttemptResult::Timeout => "timeout".into(),
        AttemptResult::NetworkError => "network_error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint(None, Region::Us),
            "https://api.segment.io/v1/batch"
        );
        assert_eq!(
            endpoint(None, Region::Eu),
            "https://events.eu1.segmentapis.com/v1/batch"
        );
        assert_eq!(
            endpoint(Some("http://127.0.0.1:8788"), Region::Eu),
            "http://127.0.0.1:8788/eu/v1/batch"
        );
    }

    #[test]
    fn failure_codes() {
        let status = AttemptResult::Status {
            code: 503,
            retry_after: None,
        };
        assert_eq!(failure_code(status), "http_503");
        assert_eq!(failure_code(AttemptResult::Timeout), "timeout");
        assert_eq!(failure_code(AttemptResult::NetworkError), "network_error");
    }
}
