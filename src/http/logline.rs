//! Structured log lines: one JSON object per line, built only from counts, codes, ids and
//! statuses. Nothing here accepts a write key, a token, a header value or an event property, so
//! no secret or personal data can reach the logs (CONTRACTS §5).

use serde::Serialize;

use crate::config::{ConfigError, Region};
use crate::delivery::AfterSend;
use crate::retry::AttemptResult;

use super::IngestSummary;

/// Longest `Braze-Currents-Version` value logged (it is caller-controlled).
const MAX_LOGGED_VERSION_LEN: usize = 16;

/// The `Braze-Currents-Version` value worth logging: `None` for the expected `1` or absence,
/// else the value cut to 16 characters. Other versions are accepted; the log shows them.
pub fn currents_version(header: Option<&str>) -> Option<String> {
    let v = header?.trim();
    (v != super::CURRENTS_VERSION).then(|| v.chars().take(MAX_LOGGED_VERSION_LEN).collect())
}

/// The line every request ends with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLog {
    /// `info` for answers Braze handles, `warn` for 5xx.
    pub level: &'static str,
    /// `ingest` for the Currents route, `request` for everything else.
    pub event: &'static str,
    /// The connector id (only once it passed the id syntax check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// Problem code, when the answer is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Event counts.
    #[serde(flatten)]
    pub counts: IngestSummary,
    /// Milliseconds spent.
    pub ms: u64,
    /// An unexpected `Braze-Currents-Version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currents_version: Option<String>,
}

impl RequestLog {
    /// A log for a request of kind `event` (`ingest` or `request`).
    pub fn new(event: &'static str) -> Self {
        RequestLog {
            level: "info",
            event,
            ..RequestLog::default()
        }
    }

    /// Records the answer: its status and, for errors, the problem code.
    pub fn finish(&mut self, status: u16, code: Option<&'static str>, ms: u64) {
        self.status = status;
        self.code = code;
        self.ms = ms;
        self.level = if status >= 500 { "warn" } else { "info" };
    }

    /// The JSON line.
    pub fn line(&self) -> String {
        to_line(self)
    }
}

/// `error` line for a connector whose KV document fails to parse or validate: the offending
/// field paths only. Messages are left out because serde quotes the offending value in them.
pub fn config_error_line(connector: &str, errors: &[ConfigError]) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        connector: &'a str,
        fields: Vec<&'a str>,
    }
    to_line(&Line {
        level: "error",
        event: "connector_misconfigured",
        connector,
        fields: errors.iter().map(|e| e.field.as_str()).collect(),
    })
}

/// One JSON line. The log structs (here, not `json!`) serialise in field order, without an
/// intermediate map.
fn to_line(line: &impl Serialize) -> String {
    serde_json::to_string(line).unwrap_or_default()
}

/// `error` line for a failed platform call (`what`: `config_read`, `quarantine_write`, ...).
pub fn platform_failure_line(connector: &str, what: &'static str) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        connector: &'a str,
        what: &'static str,
    }
    to_line(&Line {
        level: "error",
        event: "platform_failure",
        connector,
        what,
    })
}

/// The line every queue-consumer invocation ends with: counts only.
pub fn consumer_line(queue: &str, messages: usize, tally: &super::Tally, ms: u64) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        queue: &'a str,
        messages: usize,
        delivered: u64,
        retried: u64,
        split: u64,
        held: u64,
        quarantined: u64,
        ms: u64,
    }
    let sum =
        |f: fn(&crate::delivery::Stats) -> u64| -> u64 { tally.by_connector.values().map(f).sum() };
    to_line(&Line {
        level: "info",
        event: "deliver",
        queue,
        messages,
        delivered: sum(|s| s.delivered),
        retried: sum(|s| s.retried),
        split: sum(|s| s.split),
        held: sum(|s| s.held.values().sum()),
        quarantined: sum(|s| s.quarantined_total()),
        ms,
    })
}

/// Line for a Segment batch that was not delivered: `warn` when it will be retried (through the
/// queue), `error` when Segment refused it for good. `None` for a success.
pub fn segment_failure_line(
    connector: &str,
    destination: &str,
    region: Region,
    events: usize,
    result: AttemptResult,
    after: AfterSend,
) -> Option<String> {
    let (level, outcome, retry_after_ms) = match after {
        AfterSend::Delivered => return None,
        AfterSend::Retry { delay } => ("warn", "retry", Some(delay.as_millis() as u64)),
        AfterSend::Split { .. } => ("warn", "split", None),
        AfterSend::Rejected { .. } => ("error", "permanent", None),
    };
    let (status, error) = match result {
        AttemptResult::Status { code, .. } => (Some(code), None),
        AttemptResult::NetworkError => (None, Some("network")),
        AttemptResult::Timeout => (None, Some("timeout")),
    };
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        connector: &'a str,
        destination: &'a str,
        region: &'static str,
        events: usize,
        status: Option<u16>,
        error: Option<&'static str>,
        outcome: &'static str,
        retry_after_ms: Option<u64>,
    }
    Some(to_line(&Line {
        level,
        event: "segment_failure",
        connector,
        destination,
        region: region.code(),
        events,
        status,
        error,
        outcome,
        retry_after_ms,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{BearerToken, ConnectorConfig};
    use crate::pipeline::{ProcessContext, process};

    const WRITE_KEY: &str = "wk_live_SECRETWRITEKEY_9f8e7d";
    const TOKEN: &str = "tok_SECRET_BEARER_abc123";
    const EMAIL: &str = "jane.doe@example.com";
    const PHONE: &str = "+15555550123";

    fn secrets() -> Vec<String> {
        let basic = crate::config::WriteKey::new(WRITE_KEY).basic_auth_header();
        vec![
            WRITE_KEY.to_owned(),
            "SECRETWRITEKEY".to_owned(),
            TOKEN.to_owned(),
            basic.clone(),
            basic.trim_start_matches("Basic ").to_owned(),
            format!("Bearer {TOKEN}"),
            EMAIL.to_owned(),
            PHONE.to_owned(),
            "campaign_secret_prop".to_owned(),
        ]
    }

    fn assert_clean(line: &str) {
        serde_json::from_str::<serde_json::Value>(line).expect("one JSON object");
        assert!(!line.contains('\n'));
        for s in secrets() {
            assert!(!line.contains(&s), "{s:?} leaked into {line}");
        }
    }

    #[test]
    fn log_lines_never_carry_secrets_or_personal_data() {
        let token_hash = BearerToken::parse(TOKEN).unwrap().hash().to_hex();
        let config = ConnectorConfig::from_json(&format!(
            r#"{{"token_sha256":"{token_hash}","destinations":{{"main":{{"write_key":"{WRITE_KEY}","region":"us"}}}}}}"#
        ))
        .unwrap();
        let body = format!(
            r#"{{"events":[{{"id":"e1","event_type":"users.messages.sms.Delivery","time":1700000000,
            "user":{{"user_id":"u1","external_user_id":"x1"}},
            "properties":{{"to_phone_number":"{PHONE}","email_address":"{EMAIL}","campaign_secret_prop":1}}}}]}}"#
        );
        let ctx = ProcessContext {
            connector_id: "acme",
            nearest_region: None,
        };
        let out = process(body.as_bytes(), &config, &ctx).unwrap();
        assert_eq!(out.accepted(), 1, "the event itself does reach Segment");

        let mut log = RequestLog::new("ingest");
        log.connector = Some("acme".to_owned());
        log.counts = IngestSummary {
            received: out.received,
            accepted: out.accepted(),
            filtered: out.filtered.len(),
            quarantined: out.quarantined.len(),
            batches: out.batches.len(),
            messages: 1,
        };
        log.currents_version = currents_version(Some(TOKEN));
        log.finish(200, None, 12);
        let line = log.line();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "ingest");
        assert_eq!(v["level"], "info");
        assert_eq!(v["accepted"], 1);
        assert_eq!(v["ms"], 12);
        assert_eq!(v["currents_version"], "tok_SECRET_BEARE", "cut to 16 chars");
        log.currents_version = None;
        assert_clean(&log.line());

        for (result, decision) in [
            (
                AttemptResult::Status {
                    code: 500,
                    retry_after: None,
                },
                AfterSend::Retry {
                    delay: Duration::from_secs(2),
                },
            ),
            (
                AttemptResult::Timeout,
                AfterSend::Retry {
                    delay: Duration::from_millis(700),
                },
            ),
            (
                AttemptResult::Status {
                    code: 400,
                    retry_after: None,
                },
                AfterSend::Rejected { status: 400 },
            ),
            (
                AttemptResult::Status {
                    code: 400,
                    retry_after: None,
                },
                AfterSend::Split { status: 400 },
            ),
        ] {
            let batch = &out.batches[0];
            let line = segment_failure_line(
                "acme",
                &batch.destination,
                batch.region,
                batch.events.len(),
                result,
                decision,
            )
            .unwrap();
            assert_clean(&line);
        }
        assert_clean(&platform_failure_line("acme", "quarantine_write"));
    }

    #[test]
    fn misconfig_lines_name_fields_not_values() {
        // serde quotes the offending value in its message: it must not reach the log.
        let errors = ConnectorConfig::from_json(&format!(
            r#"{{"token_sha256":"{}","destinations":{{"main":{{"write_key":"{WRITE_KEY}","region":"{TOKEN}"}}}}}}"#,
            "a".repeat(64)
        ))
        .unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains(TOKEN)));
        let line = config_error_line("acme", &errors);
        assert_clean(&line);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["fields"][0], "destinations.main.region");
        assert_eq!(v["level"], "error");
    }

    #[test]
    fn expected_currents_version_is_not_logged() {
        assert_eq!(currents_version(Some("1")), None);
        assert_eq!(currents_version(None), None);
        assert_eq!(currents_version(Some("2")), Some("2".to_owned()));
        let mut log = RequestLog::new("request");
        log.finish(503, Some("queue_unavailable"), 1);
        assert_eq!(log.level, "warn");
        assert!(!log.line().contains("currents_version"));
        assert!(!log.line().contains("connector"));
    }

    #[test]
    fn success_has_no_failure_line() {
        let ok = AttemptResult::Status {
            code: 200,
            retry_after: None,
        };
        assert!(
            segment_failure_line("a", "main", Region::Us, 1, ok, AfterSend::Delivered).is_none()
        );
    }
}
