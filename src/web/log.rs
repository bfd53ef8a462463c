//! Structured log lines: one JSON object per line, built only from counts, codes, ids and
//! statuses. Nothing here accepts a write key, a token, a header value or an event property, so
//! no secret or personal data can reach the logs (CONTRACTS §5).

use serde::Serialize;

use crate::config::{ConfigError, SettingWarning};
use crate::ingest::IngestSummary;

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

/// One JSON line. The log structs (not `json!`) serialise in field order, without an
/// intermediate map.
pub fn to_line(line: &impl Serialize) -> String {
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

/// `warn` line for a variable whose value was not understood (its default is used). The value
/// itself is not logged.
pub fn settings_warning_line(warning: &SettingWarning) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        var: &'a str,
        expected: &'a str,
    }
    to_line(&Line {
        level: "warn",
        event: "setting_invalid",
        var: warning.var,
        expected: warning.expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConnectorConfig;

    const WRITE_KEY: &str = "wk_live_SECRETWRITEKEY_9f8e7d";
    const TOKEN: &str = "tok_SECRET_BEARER_abc123";

    /// One JSON object on one line, without any of `secrets`.
    pub(crate) fn assert_clean(line: &str, secrets: &[&str]) {
        serde_json::from_str::<serde_json::Value>(line).expect("one JSON object");
        assert!(!line.contains('\n'));
        for s in secrets {
            assert!(!line.contains(s), "{s:?} leaked into {line}");
        }
    }

    #[test]
    fn request_lines() {
        let mut log = RequestLog::new("ingest");
        log.connector = Some("acme".to_owned());
        log.counts.accepted = 1;
        log.finish(200, None, 12);
        let v: serde_json::Value = serde_json::from_str(&log.line()).unwrap();
        assert_eq!(v["event"], "ingest");
        assert_eq!(v["level"], "info");
        assert_eq!(v["accepted"], 1);
        assert_eq!(v["ms"], 12);
        let mut log = RequestLog::new("request");
        log.finish(503, Some("queue_unavailable"), 1);
        assert_eq!(log.level, "warn");
        assert!(!log.line().contains("currents_version"));
        assert!(!log.line().contains("connector"));
        assert_clean(&platform_failure_line("acme", "quarantine_write"), &[]);
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
        assert_clean(&line, &[WRITE_KEY, TOKEN]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["fields"][0], "destinations.main.region");
        assert_eq!(v["level"], "error");
    }

    #[test]
    fn settings_warnings_name_the_variable_only() {
        let line = settings_warning_line(&SettingWarning {
            var: "SEGMENT_TIMEOUT_MS",
            expected: "milliseconds",
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["level"].as_str(), v["event"].as_str(), v["var"].as_str()),
            (
                Some("warn"),
                Some("setting_invalid"),
                Some("SEGMENT_TIMEOUT_MS")
            )
        );
    }
}
