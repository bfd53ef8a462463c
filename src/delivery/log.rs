//! The delivery log lines: one per Segment attempt that did not deliver, one per consumer
//! invocation. Built only from counts, codes, ids and statuses: nothing here accepts a write
//! key, a token or an event property, so no secret or personal data can reach the logs
//! (CONTRACTS §5).

use serde::Serialize;

use super::DeliveryMessage;
use super::plan::AfterSend;
use crate::segment::AttemptResult;
use crate::stats::{Stats, Tally};
use crate::web::to_line;

/// The line every queue-consumer invocation ends with: counts only.
pub fn consumer_line(queue: &str, messages: usize, tally: &Tally, ms: u64) -> String {
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
    let sum = |f: fn(&Stats) -> u64| -> u64 { tally.by_object.values().map(f).sum() };
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

/// Line for a Segment batch that was not delivered: `warn` when it will be retried or split,
/// `error` when Segment refused it for good. `None` for a delivery.
pub fn segment_failure_line(
    msg: &DeliveryMessage,
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
        connector: &msg.connector,
        destination: &msg.destination,
        region: msg.region.code(),
        events: msg.events.len(),
        status,
        error,
        outcome,
        retry_after_ms,
    }))
}

/// `warn` line for a message left to the platform's retry (its fate could not be stored): the
/// queue, the platform's message id, how long the message had waited on the queue and the delay
/// asked for, in seconds.
pub fn platform_retry_line(queue: &str, message: &str, waited_s: u64, delay_s: u32) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        event: &'static str,
        queue: &'a str,
        message: &'a str,
        waited_s: u64,
        delay_s: u32,
    }
    to_line(&Line {
        level: "warn",
        event: "platform_retry",
        queue,
        message,
        waited_s,
        delay_s,
    })
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

    fn assert_clean(line: &str) {
        serde_json::from_str::<serde_json::Value>(line).expect("one JSON object");
        assert!(!line.contains('\n'));
        let basic = crate::config::WriteKey::new(WRITE_KEY).basic_auth_header();
        let secrets = [
            WRITE_KEY,
            "SECRETWRITEKEY",
            TOKEN,
            &basic,
            basic.trim_start_matches("Basic "),
            EMAIL,
            PHONE,
            "campaign_secret_prop",
        ];
        for s in secrets {
            assert!(!line.contains(s), "{s:?} leaked into {line}");
        }
    }

    #[test]
    fn delivery_lines_never_carry_secrets_or_personal_data() {
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
            received_ms: 0,
        };
        let out = process(body.as_bytes(), &config, &ctx).unwrap();
        assert_eq!(out.accepted(), 1, "the event itself does reach Segment");
        let status = |code| AttemptResult::Status {
            code,
            retry_after: None,
        };
        for (result, after) in [
            (
                status(500),
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
            (status(400), AfterSend::Rejected { status: 400 }),
            (status(400), AfterSend::Split { status: 400 }),
        ] {
            let line = segment_failure_line(&out.batches[0], result, after).unwrap();
            assert_clean(&line);
        }
        let ok = status(200);
        assert!(segment_failure_line(&out.batches[0], ok, AfterSend::Delivered).is_none());
        assert_clean(&consumer_line(
            "currents-relay-delivery",
            1,
            &Tally::default(),
            3,
        ));
    }

    #[test]
    fn platform_retry_lines_say_how_long_and_why() {
        let line = platform_retry_line("currents-relay-dlq", "6f1c", 125, 240);
        assert_clean(&line);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            serde_json::json!({
                "level": "warn",
                "event": "platform_retry",
                "queue": "currents-relay-dlq",
                "message": "6f1c",
                "waited_s": 125,
                "delay_s": 240,
            })
        );
    }
}
