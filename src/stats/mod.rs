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

pub use requests::{Kept, ObjectEffects, ObjectView, object_request};
pub use tally::{Counted, IngestDelta, SegmentRequest, Tally, Tick, ingest_body, ingest_delta};
pub use totals::{
    BUCKET_MS, Bucket, LAG_BOUNDS_SECONDS, LagHistogram, LastError, MAX_BUCKETS,
    MAX_PENDING_ENTRIES, PENDING_STEP_MS, Stats, StatsDelta,
};

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

/// The `GET /admin/connectors/{id}/stats` body: the totals plus the connector id, with the
/// pending ledger summed up (`pending_events`, `oldest_pending_ms`) rather than listed.
pub fn stats_json(connector: &str, stats: &Stats) -> String {
    #[derive(serde::Serialize)]
    struct Answer<'a> {
        connector: &'a str,
        #[serde(flatten)]
        stats: &'a Stats,
        pending_events: u64,
        oldest_pending_ms: Option<u64>,
    }
    let shown = Stats {
        pending: Default::default(),
        pending_step_ms: 0,
        ..stats.clone()
    };
    serde_json::to_string(&Answer {
        connector,
        stats: &shown,
        pending_events: stats.pending_events(),
        oldest_pending_ms: stats.oldest_pending_ms(),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_answer_names_the_connector() {
        let mut stats = Stats {
            delivered: 3,
            ..Stats::default()
        };
        stats.add_pending(120_500, 4);
        let v: serde_json::Value = serde_json::from_str(&stats_json("acme", &stats)).unwrap();
        assert_eq!(v["connector"], "acme");
        assert_eq!(v["delivered"], 3);
        assert_eq!(
            (
                v["pending_events"].as_u64(),
                v["oldest_pending_ms"].as_u64()
            ),
            (Some(4), Some(120_000))
        );
        assert!(v.get("pending").is_none(), "the ledger itself is not shown");
        assert!(v["quarantined"].is_object());
    }
}
