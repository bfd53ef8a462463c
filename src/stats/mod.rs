//! Per-connector counters: the totals and their merge (`totals`), the deltas a request or a
//! consumer invocation adds (`tally`), and, on wasm32, the `ConnectorStats` Durable Object that
//! keeps them and the admin routes that read them (`object`). The same object keeps the
//! connector's drift report ([`crate::drift`]), which ingest sends along with its delta; what
//! each of its requests does is decided here (`requests`).

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod object;
mod requests;
mod tally;
mod totals;

pub use requests::{ObjectEffects, ObjectView, object_request};
pub use tally::{Counted, IngestDelta, Tally, Tick, ingest_body, ingest_delta};
pub use totals::{BUCKET_MS, Bucket, LastError, MAX_BUCKETS, Stats, StatsDelta};

/// The name of a connector's stats object: its id, followed by `/{generation}` when it has one,
/// so a connector created again under the same id starts from zero and never shows the earlier
/// one's counts.
pub fn object_name(connector: &str, generation: Option<&str>) -> String {
    match generation {
        Some(g) => format!("{connector}/{g}"),
        None => connector.to_owned(),
    }
}

/// Storage key of the stats JSON inside a `ConnectorStats` object.
pub const STATS_STORAGE_KEY: &str = "stats";

/// The `GET /admin/connectors/{id}/stats` body: the totals plus the connector id.
pub fn stats_json(connector: &str, stats: &Stats) -> String {
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        connector: &'a str,
        #[serde(flatten)]
        stats: &'a Stats,
    }
    serde_json::to_string(&Answer { connector, stats }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_answer_names_the_connector() {
        let stats = Stats {
            delivered: 3,
            ..Stats::default()
        };
        let v: serde_json::Value = serde_json::from_str(&stats_json("acme", &stats)).unwrap();
        assert_eq!(v["connector"], "acme");
        assert_eq!(v["delivered"], 3);
        assert!(v["quarantined"].is_object());
    }
}
