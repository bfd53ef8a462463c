//! Alerts: optional rules per connector (`rules`: the `alerts` section of its config), evaluated
//! every few minutes by the Worker's Cron Trigger against what the connector's stats object
//! keeps (`evaluate`: pure, the clock given), and posted to the connector's webhook once when a
//! rule starts firing and once when it clears. On wasm32, `edge` is the scheduled handler's
//! work: list the connectors, ask each stats object, post what is due, report what went through.

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;
mod evaluate;
mod rules;

pub use evaluate::{
    AlertCheck, AlertState, MAX_QUARANTINE_SAMPLES, Notice, PENDING_GRACE_MS, QUARANTINE_WINDOW_MS,
    RuleState, acknowledge, evaluate, forget_before, state_json,
};
pub use rules::{AlertRules, MAX_HELD_HOURS, MAX_STALLED_MINUTES, Rule};

/// Storage key of the alert state inside a connector's stats object.
pub const ALERTS_STORAGE_KEY: &str = "alerts";

/// Most connectors one scheduled run checks (a few subrequests each, within the platform's
/// limit per invocation).
pub const MAX_CHECKED_CONNECTORS: usize = 100;
/// Timeout of one webhook call, in milliseconds.
pub const WEBHOOK_TIMEOUT_MS: u32 = 10_000;

/// The log line of one webhook call: the connector, the rule, the state told, and the
/// webhook's status (none: no answer); `ok` when it answered 2xx. Never the URL: it is a secret.
pub fn webhook_line(connector: &str, notice: &Notice, status: Option<u16>, ok: bool) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        connector: &'a str,
        rule: &'static str,
        state: &'static str,
        status: Option<u16>,
    }
    serde_json::to_string(&Line {
        level: if ok { "info" } else { "warn" },
        event: if ok { "alert_sent" } else { "alert_not_sent" },
        connector,
        rule: notice.rule.code(),
        state: if notice.firing { "firing" } else { "resolved" },
        status,
    })
    .unwrap_or_default()
}

/// The log line of one scheduled run: connectors listed, checked (those with rules), messages
/// posted, and how long it took.
pub fn scheduled_line(listed: usize, checked: usize, posted: usize, ms: u64) -> String {
    format!(
        r#"{{"level":"info","event":"alerts_checked","connectors":{listed},"checked":{checked},"posted":{posted},"ms":{ms}}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines() {
        let r = Notice {
            rule: Rule::DeliveryStalled { minutes: 5 },
            firing: true,
            body: "{}".into(),
        };
        let v: serde_json::Value =
            serde_json::from_str(&webhook_line("acme", &r, Some(500), false)).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["status"].as_u64()),
            (Some("alert_not_sent"), Some(500))
        );
        assert_eq!(
            (v["state"].as_str(), v["level"].as_str()),
            (Some("firing"), Some("warn"))
        );
        let v: serde_json::Value = serde_json::from_str(&scheduled_line(3, 2, 1, 40)).unwrap();
        assert_eq!(
            (v["checked"].as_u64(), v["posted"].as_u64()),
            (Some(2), Some(1))
        );
    }
}
