//! `GET /admin/metrics`: every connector's counters in the Prometheus text exposition format
//! (version 0.0.4, which Prometheus, Grafana Agent and OpenMetrics scrapers all read). The
//! rendering is pure and reads only what the stats objects already keep ([`Kept`]: one object
//! call per connector); on wasm32, `edge` lists the connectors and makes those calls.
//!
//! Names follow Prometheus' conventions: a `currents_relay_` prefix, `_total` counters, base
//! units (seconds), one `connector` label on every sample.

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::is_valid_connector_id;
use crate::stats::{Kept, LAG_BOUNDS_SECONDS};
use crate::web::{Answer, Problem};

/// Most connectors one scrape reads (one stats object call each, within the platform's
/// subrequest limit); the others are counted in `currents_relay_connectors_unscraped`.
pub const MAX_SCRAPED_CONNECTORS: usize = 100;

/// The `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One connector as a scrape sees it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorMetrics<'a> {
    /// Its id.
    pub connector: &'a str,
    /// Whether it is paused (`None`: its config could not be read).
    pub paused: Option<bool>,
    /// What its stats object keeps (`None`: the object could not be read).
    pub kept: Option<&'a Kept>,
}

/// The scrape's `connector` query parameter: absent (every connector), or one connector id.
pub fn connector_filter(param: Option<&str>) -> Result<Option<&str>, Problem> {
    match param {
        None => Ok(None),
        Some(id) if is_valid_connector_id(id) => Ok(Some(id)),
        Some(_) => Err(Problem::InvalidAdminRequest {
            detail: "query parameter `connector` must be a connector id".into(),
        }),
    }
}

/// The answer carrying an exposition.
pub fn metrics_answer(body: String) -> Answer {
    Answer {
        status: 200,
        headers: vec![
            ("Content-Type", CONTENT_TYPE.to_owned()),
            ("Cache-Control", "no-store".to_owned()),
        ],
        body,
    }
}

/// `\`, `"` and newlines escaped, as label values need.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample's value: a count, or a quantity in thousandths (milliseconds shown as seconds),
/// written exactly, without floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A whole number.
    Count(u64),
    /// Thousandths of the unit: `1500` is written `1.5`.
    Milli(u64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Milli(m) if m % 1000 == 0 => write!(f, "{}", m / 1000),
            Value::Milli(m) => {
                let fraction = format!("{:03}", m % 1000);
                write!(f, "{}.{}", m / 1000, fraction.trim_end_matches('0'))
            }
        }
    }
}

fn flag(on: bool) -> Value {
    Value::Count(u64::from(on))
}

/// One metric family: its header, then its samples.
struct Family<'o> {
    out: &'o mut String,
    name: &'static str,
}

impl<'o> Family<'o> {
    fn new(out: &'o mut String, name: &'static str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out, name }
    }

    /// A sample: `suffix` after the family name, the connector label, then `labels`.
    fn sample(&mut self, suffix: &str, connector: &str, labels: &[(&str, &str)], value: Value) {
        let _ = write!(
            self.out,
            "{}{suffix}{{connector=\"{}\"",
            self.name,
            escape(connector)
        );
        for (k, v) in labels {
            let _ = write!(self.out, ",{k}=\"{}\"", escape(v));
        }
        let _ = writeln!(self.out, "}} {value}");
    }
}

/// A counter or gauge with one value per connector that has stats.
fn simple(
    out: &mut String,
    rows: &[ConnectorMetrics<'_>],
    (name, kind, help): (&'static str, &str, &str),
    value: impl Fn(&Kept) -> Option<Value>,
) {
    let mut f = Family::new(out, name, kind, help);
    for row in rows {
        if let Some(v) = row.kept.and_then(&value) {
            f.sample("", row.connector, &[], v);
        }
    }
}

/// A counter by one label (`reason`, `class`, `rule`).
fn labelled<'k>(
    out: &mut String,
    rows: &'k [ConnectorMetrics<'k>],
    (name, kind, help, label): (&'static str, &str, &str, &str),
    values: impl Fn(&'k Kept) -> Vec<(&'k str, Value)>,
) {
    let mut f = Family::new(out, name, kind, help);
    for row in rows {
        for (key, v) in row.kept.map(&values).unwrap_or_default() {
            f.sample("", row.connector, &[(label, key)], v);
        }
    }
}

fn by_key(map: &BTreeMap<String, u64>) -> Vec<(&str, Value)> {
    map.iter()
        .map(|(k, v)| (k.as_str(), Value::Count(*v)))
        .collect()
}

/// A plain counter: name, help, value.
type Counter = (&'static str, &'static str, fn(&Kept) -> u64);
/// A counter by one label: name, help, label, the counts by label value.
type CounterBy = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Kept) -> &BTreeMap<String, u64>,
);

/// The exposition of `rows` at `now_ms`; `unscraped` connectors were left out.
pub fn render(rows: &[ConnectorMetrics<'_>], unscraped: usize, now_ms: u64) -> String {
    let mut out = String::new();
    let f = Family::new(
        &mut out,
        "currents_relay_connectors_unscraped",
        "gauge",
        "Connectors left out of this scrape (over the per-scrape limit).",
    );
    let _ = writeln!(f.out, "{} {unscraped}", f.name);
    let mut f = Family::new(
        &mut out,
        "currents_relay_connector_up",
        "gauge",
        "1 when the connector's config and stats could be read for this scrape.",
    );
    for row in rows {
        let up = row.paused.is_some() && row.kept.is_some();
        f.sample("", row.connector, &[], flag(up));
    }
    let mut f = Family::new(
        &mut out,
        "currents_relay_connector_paused",
        "gauge",
        "1 when the connector is paused (it accepts and holds events, delivers none).",
    );
    for row in rows {
        if let Some(paused) = row.paused {
            f.sample("", row.connector, &[], flag(paused));
        }
    }
    let counters: [Counter; 6] = [
        (
            "currents_relay_events_received_total",
            "Events in Currents requests.",
            |k| k.stats.received,
        ),
        (
            "currents_relay_events_accepted_total",
            "Events accepted and queued for delivery.",
            |k| k.stats.accepted,
        ),
        (
            "currents_relay_events_delivered_total",
            "Events Segment accepted.",
            |k| k.stats.delivered,
        ),
        (
            "currents_relay_events_retried_total",
            "Events sent again after a transient Segment failure.",
            |k| k.stats.retried,
        ),
        (
            "currents_relay_events_split_total",
            "Events re-sent in halves after Segment refused their batch, once per split.",
            |k| k.stats.split,
        ),
        (
            "currents_relay_events_replayed_total",
            "Events re-queued from quarantine.",
            |k| k.stats.replayed,
        ),
    ];
    for (name, help, value) in counters {
        simple(&mut out, rows, (name, "counter", help), |k| {
            Some(Value::Count(value(k)))
        });
    }
    let by_label: [CounterBy; 4] = [
        (
            "currents_relay_events_filtered_total",
            "Events filtered, by reason.",
            "reason",
            |k| &k.stats.filtered,
        ),
        (
            "currents_relay_events_quarantined_total",
            "Events quarantined, by reason.",
            "reason",
            |k| &k.stats.quarantined,
        ),
        (
            "currents_relay_events_held_total",
            "Events held back (re-queued to wait), by reason, once per hold.",
            "reason",
            |k| &k.stats.held,
        ),
        (
            "currents_relay_segment_requests_total",
            "Segment batch requests by answer class (2xx, 4xx, 5xx; error: no answer).",
            "class",
            |k| &k.stats.segment_requests,
        ),
    ];
    for (name, help, label, map) in by_label {
        labelled(&mut out, rows, (name, "counter", help, label), |k| {
            by_key(map(k))
        });
    }
    lag_histogram(&mut out, rows);
    simple(
        &mut out,
        rows,
        (
            "currents_relay_events_pending",
            "gauge",
            "Events accepted and neither delivered nor quarantined yet.",
        ),
        |k| Some(Value::Count(k.stats.pending_events())),
    );
    simple(
        &mut out,
        rows,
        (
            "currents_relay_oldest_pending_event_age_seconds",
            "gauge",
            "Age of the oldest pending event (0 when none is pending).",
        ),
        |k| {
            let age = k
                .stats
                .oldest_pending_ms()
                .map_or(0, |at| now_ms.saturating_sub(at));
            Some(Value::Milli(age))
        },
    );
    simple(
        &mut out,
        rows,
        (
            "currents_relay_last_delivery_timestamp_seconds",
            "gauge",
            "When Segment last accepted events (UNIX time).",
        ),
        |k| k.stats.last_success_ms.map(Value::Milli),
    );
    simple(
        &mut out,
        rows,
        (
            "currents_relay_drift_new_event_types",
            "gauge",
            "Event types in the drift report (sent by Braze, unknown to the mapping table).",
        ),
        |k| Some(Value::Count(k.new_types.len() as u64)),
    );
    labelled(
        &mut out,
        rows,
        (
            "currents_relay_alert_firing",
            "gauge",
            "1 while an alert rule fires, 0 while it does not, by rule.",
            "rule",
        ),
        |k| {
            k.alerts
                .rules
                .iter()
                .map(|r| (r.rule.as_str(), flag(r.firing)))
                .collect()
        },
    );
    out
}

/// `currents_relay_delivery_lag_seconds`: cumulative buckets, sum and count.
fn lag_histogram(out: &mut String, rows: &[ConnectorMetrics<'_>]) {
    let mut f = Family::new(
        out,
        "currents_relay_delivery_lag_seconds",
        "histogram",
        "Time from the Worker accepting an event to Segment accepting it.",
    );
    for row in rows {
        let Some(kept) = row.kept else { continue };
        let lag = &kept.stats.delivery_lag;
        let mut cumulative = 0;
        for (i, bound) in LAG_BOUNDS_SECONDS.iter().enumerate() {
            cumulative += lag.counts.get(i).copied().unwrap_or(0);
            let le = bound.to_string();
            f.sample(
                "_bucket",
                row.connector,
                &[("le", &le)],
                Value::Count(cumulative),
            );
        }
        let count = lag.count();
        f.sample(
            "_bucket",
            row.connector,
            &[("le", "+Inf")],
            Value::Count(count),
        );
        f.sample("_sum", row.connector, &[], Value::Milli(lag.sum_ms));
        f.sample("_count", row.connector, &[], Value::Count(count));
    }
}

#[cfg(test)]
mod tests;
