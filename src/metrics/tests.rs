use super::*;
use crate::alerts::AlertState;
use crate::stats::Stats;

fn kept() -> Kept {
    let mut stats = Stats {
        received: 12,
        accepted: 10,
        delivered: 7,
        last_success_ms: Some(1_700_000_000_500),
        ..Stats::default()
    };
    stats.quarantined.insert("missing_id".into(), 2);
    stats.segment_requests.insert("2xx".into(), 3);
    stats.delivery_lag.observe(500, 4);
    stats.delivery_lag.observe(20_000, 3);
    stats.add_pending(1_699_999_980_000, 3);
    let alerts: AlertState = serde_json::from_str(
        r#"{"rules":[{"rule":"delivery_stalled","threshold":5,"firing":true,
            "since_ms":1,"detail":"","notified":true}]}"#,
    )
    .unwrap();
    Kept {
        stats,
        alerts,
        new_types: vec!["users.new.A".into(), "users.new.B".into()],
    }
}

/// The value of the one sample line that starts with `prefix` followed by a space.
fn value(text: &str, prefix: &str) -> f64 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.strip_prefix(prefix).is_some_and(|r| r.starts_with(' ')))
        .collect();
    assert_eq!(lines.len(), 1, "{prefix}: {lines:?}");
    lines[0][prefix.len() + 1..].parse().unwrap()
}

#[test]
fn counters_gauges_and_the_lag_histogram() {
    let k = kept();
    let rows = [
        ConnectorMetrics {
            connector: "acme",
            paused: Some(false),
            kept: Some(&k),
        },
        ConnectorMetrics {
            connector: "gone",
            paused: None,
            kept: None,
        },
    ];
    let now = 1_700_000_070_000;
    let text = render(&rows, 3, now);
    let acme = r#"{connector="acme"}"#;
    assert_eq!(value(&text, "currents_relay_connectors_unscraped"), 3.0);
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_events_received_total{acme}")
        ),
        12.0
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_events_delivered_total{acme}")
        ),
        7.0
    );
    assert_eq!(
        value(
            &text,
            r#"currents_relay_events_quarantined_total{connector="acme",reason="missing_id"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"currents_relay_segment_requests_total{connector="acme",class="2xx"}"#
        ),
        3.0
    );
    assert_eq!(
        value(&text, &format!("currents_relay_events_pending{acme}")),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_oldest_pending_event_age_seconds{acme}")
        ),
        90.0
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_last_delivery_timestamp_seconds{acme}")
        ),
        1_700_000_000.5
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_drift_new_event_types{acme}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"currents_relay_alert_firing{connector="acme",rule="delivery_stalled"}"#
        ),
        1.0
    );
    let bucket = |le: &str| {
        value(
            &text,
            &format!(r#"currents_relay_delivery_lag_seconds_bucket{{connector="acme",le="{le}"}}"#),
        )
    };
    assert_eq!(
        (bucket("1"), bucket("15"), bucket("30"), bucket("+Inf")),
        (4.0, 4.0, 7.0, 7.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_delivery_lag_seconds_count{acme}")
        ),
        7.0
    );
    assert_eq!(
        value(
            &text,
            &format!("currents_relay_delivery_lag_seconds_sum{acme}")
        ),
        62.0
    );
    assert_eq!(
        value(&text, r#"currents_relay_connector_up{connector="gone"}"#),
        0.0
    );
    assert_eq!(
        value(&text, &format!("currents_relay_connector_up{acme}")),
        1.0
    );
    assert!(!text.contains(r#"currents_relay_events_received_total{connector="gone"}"#));
}

#[test]
fn every_family_has_its_header_before_its_samples_and_names_follow_conventions() {
    let k = kept();
    let rows = [ConnectorMetrics {
        connector: "acme",
        paused: Some(true),
        kept: Some(&k),
    }];
    let text = render(&rows, 0, 0);
    let mut typed: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                !typed.iter().any(|(n, _)| n == name),
                "{name} declared twice"
            );
            assert!(name.starts_with("currents_relay_"), "{name}");
            assert_eq!(
                kind == "counter",
                name.ends_with("_total"),
                "{name} is a {kind}"
            );
            typed.push((name.to_owned(), kind.to_owned()));
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            let (family, kind) = typed.last().expect("a sample before any TYPE line");
            let ok = name == family
                || (kind == "histogram"
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| *name == format!("{family}{s}")));
            assert!(ok, "{name} is not of the family above it ({family})");
        }
    }
    assert!(typed.len() >= 17);
    assert!(text.ends_with('\n'));
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

#[test]
fn the_connector_filter() {
    assert_eq!(connector_filter(None), Ok(None));
    assert_eq!(connector_filter(Some("acme")), Ok(Some("acme")));
    assert!(connector_filter(Some("../x")).is_err());
    let a = metrics_answer("x 1\n".into());
    assert_eq!(a.header("content-type"), Some(CONTENT_TYPE));
}

#[test]
fn values_are_exact() {
    let shown: Vec<String> = [
        Value::Count(0),
        Value::Count(12),
        Value::Milli(1_500),
        Value::Milli(62_000),
        Value::Milli(1_700_000_000_005),
        Value::Milli(40),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    assert_eq!(shown, ["0", "12", "1.5", "62", "1700000000.005", "0.04"]);
}
