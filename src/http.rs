//! The HTTP face of the relay, kept pure so it is tested natively: routes, the one mapping from
//! errors to problem responses, limits, response and log bodies, quarantine documents and the
//! nearest-region rule. The wasm32 `worker` shell moves bytes between the platform and these
//! functions; it decides nothing this module could decide.

mod admin;
mod admin_connectors;
mod cors;
mod logline;
mod problem;
mod quarantine;
mod quarantine_index;
mod region;
mod route;
mod tally;
mod testclock;
mod timefmt;

pub use admin::{
    ADMIN_PREFIX, AdminRoute, QUARANTINE_PREFIX, ReplayTarget, admin_authorized,
    admin_route_examples, authorized_admin_route, connector_of_key, connector_param, is_admin_path,
    parse_replay, quarantine_key_param, query_param, raw_query,
};
pub use admin_connectors::{
    CreateRequest, MAX_HEALTH_LOOKUPS, TOKEN_BYTES, connector_json, created_json, health,
    list_json, list_row, new_bearer_token, parse_create, parse_update, rotated_json, stored_json,
};
pub use cors::{
    CONSOLE_ORIGIN_VAR, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, add_cors_headers, allowed_origin,
    preflight,
};
pub use quarantine_index::{ListingEntry, META_REPLAYED_AT, listing_json, quarantine_metadata};
pub use tally::{Tally, ingest_delta};
pub use testclock::{CLOCK_OFFSET_KEY, TEST_HOOKS_VAR, offset_now, test_hooks_enabled};

pub use logline::{
    RequestLog, config_error_line, consumer_line, currents_version, platform_failure_line,
    segment_failure_line,
};
pub use problem::{Answer, PROBLEM_TYPE_BASE, Problem, health_answer, json_answer};
pub use quarantine::quarantine_key;
pub use region::{EU_EEA_COUNTRIES, nearest_region};
pub use route::{
    HEALTH_PATH, INGEST_PREFIX, MAX_CONNECTOR_ID_LEN, Route, is_valid_connector_id, route,
};
pub use timefmt::{iso_millis, ymd};

use serde::Serialize;

/// This service's name, in `/health` and logs.
pub const SERVICE: &str = env!("CARGO_PKG_NAME");
/// The crate version, in `/health` and `User-Agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// `User-Agent` of requests to Segment.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// Largest request body accepted. Braze sends at most 100 events of up to 900 KB each, but in
/// practice a batch is far smaller; over this limit we answer 413 and Braze splits the batch
/// (CONTRACTS §1), so no event is lost by keeping the limit well under Workers' 100 MB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// KV namespace binding holding connector configs.
pub const CONFIG_BINDING: &str = "CONFIG";
/// R2 bucket binding for quarantined events.
pub const QUARANTINE_BINDING: &str = "QUARANTINE";
/// Variable overriding the US Segment endpoint (local runs and tests only; empty = production).
pub const SEGMENT_US_URL_VAR: &str = "SEGMENT_US_URL";
/// Variable overriding the EU Segment endpoint (local runs and tests only; empty = production).
pub const SEGMENT_EU_URL_VAR: &str = "SEGMENT_EU_URL";
/// Optional variable: seconds a parsed connector config is cached per isolate.
pub const CONFIG_CACHE_SECONDS_VAR: &str = "CONFIG_CACHE_SECONDS";
/// Optional variable: timeout of one Segment request in milliseconds (default 10,000).
pub const SEGMENT_TIMEOUT_MS_VAR: &str = "SEGMENT_TIMEOUT_MS";
/// Optional variable: seconds before the platform redelivers a message whose fate could not be
/// stored (queue or R2 refused); default [`PLATFORM_RETRY_SECONDS`].
pub const PLATFORM_RETRY_SECONDS_VAR: &str = "PLATFORM_RETRY_SECONDS";
/// Default platform-retry delay: with `max_retries = 5` and the dead-letter queue's 10, a
/// message rides out about 15 minutes of R2 or queue failure before it can be lost.
pub const PLATFORM_RETRY_SECONDS: u32 = 60;
/// Queue producer binding of the delivery queue.
pub const DELIVERY_BINDING: &str = "DELIVERY";
/// The delivery queue's name (wrangler.toml).
pub const DELIVERY_QUEUE: &str = "currents-relay-delivery";
/// The dead-letter queue's name: messages the platform gave up on.
pub const DEAD_LETTER_QUEUE: &str = "currents-relay-dlq";
/// Durable Object namespace binding of the per-connector stats.
pub const STATS_BINDING: &str = "STATS";
/// Storage key of the stats JSON inside a `ConnectorStats` object.
pub const STATS_STORAGE_KEY: &str = "stats";
/// Secret holding the admin API token (`wrangler secret put ADMIN_TOKEN`).
pub const ADMIN_TOKEN_SECRET: &str = "ADMIN_TOKEN";
/// Most bytes of Segment's answer kept in a quarantine object's detail.
pub const MAX_SEGMENT_ANSWER_BYTES: usize = 1024;

/// KV key prefix of connector configs: `connector:{id}`.
pub const CONNECTOR_KEY_PREFIX: &str = "connector:";
/// Default lifetime of a cached connector config: a config change reaches every isolate within
/// this time (KV itself takes up to 60 s to propagate).
pub const CONFIG_CACHE_MS: u64 = 30_000;
/// Most connector configs one isolate caches before it starts over.
pub const CONFIG_CACHE_MAX_ENTRIES: usize = 1_000;
/// Default timeout of one request to Segment: a hung request becomes a retry, not a consumer
/// invocation stuck until the platform's limit.
pub const SEGMENT_TIMEOUT_MS: u32 = 10_000;

/// The Segment timeout from `SEGMENT_TIMEOUT_MS` (a positive number), else the default.
pub fn segment_timeout_ms(var: Option<&str>) -> u32 {
    var.and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(SEGMENT_TIMEOUT_MS)
}

/// Seconds before the platform redelivers a message whose fate could not be stored: the
/// configured delay (`PLATFORM_RETRY_SECONDS`, 0 allowed), and never less than the delay the
/// message was meant to wait (a backoff or `Retry-After` is not skipped because the re-enqueue
/// failed), at most 12 hours (the queue's limit).
pub fn platform_retry_seconds(var: Option<&str>, intended: std::time::Duration) -> u32 {
    let base = var
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(PLATFORM_RETRY_SECONDS);
    let intended = u32::try_from(intended.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
    base.max(intended).min(12 * 60 * 60)
}

/// Segment's answer body for a quarantine detail: at most [`MAX_SEGMENT_ANSWER_BYTES`], cut on a
/// character boundary.
pub fn segment_answer_detail(status: u16, body: &str) -> String {
    let mut end = body.len().min(MAX_SEGMENT_ANSWER_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("Segment answered HTTP {status}: {}", &body[..end])
}

/// The quarantine `detail` of a message Segment refused: its answer, and when the message was
/// split off a larger refused batch, that the events were refused on their own.
pub fn rejected_detail(status: u16, body: &str, splits: u32) -> String {
    let mut detail = segment_answer_detail(status, body);
    if splits > 0 {
        detail.push_str(&format!(
            " (refused on its own, after {splits} split(s) of the batch Segment refused)"
        ));
    }
    detail
}

/// Header Braze sends on every Currents request (value `1`).
pub const CURRENTS_VERSION_HEADER: &str = "Braze-Currents-Version";
/// The Currents protocol version we were built against.
pub const CURRENTS_VERSION: &str = "1";

/// The KV key of a connector's config.
pub fn connector_key(connector_id: &str) -> String {
    format!("{CONNECTOR_KEY_PREFIX}{connector_id}")
}

/// The connector id of a KV key `connector:{id}` (None for other keys or impossible ids).
pub fn connector_id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(CONNECTOR_KEY_PREFIX)
        .filter(|id| is_valid_connector_id(id))
}

/// The Segment endpoint for a region: the override when set and non-empty, else production.
pub fn segment_url(region: crate::config::Region, override_url: Option<&str>) -> String {
    match override_url.map(str::trim) {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => crate::segment::batch_url(region).to_owned(),
    }
}

/// The 200 answer to an ingest request: counts only, never event content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// Events in the request.
    pub received: usize,
    /// Events queued for delivery.
    pub accepted: usize,
    /// Events the connector chose not to forward.
    pub filtered: usize,
    /// Events kept in quarantine (invalid or too large).
    pub quarantined: usize,
    /// Segment batches the events form.
    pub batches: usize,
    /// Queue messages sent.
    pub messages: usize,
}

impl IngestSummary {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Region;

    #[test]
    fn constants_and_keys() {
        assert_eq!(MAX_BODY_BYTES, 8_388_608);
        assert_eq!(connector_key("acme-prod"), "connector:acme-prod");
        assert_eq!(
            connector_id_of_key("connector:acme-prod"),
            Some("acme-prod")
        );
        assert_eq!(connector_id_of_key("connector:a/b"), None);
        assert_eq!(connector_id_of_key("test:clock_offset_ms"), None);
        assert_eq!(USER_AGENT, format!("currents-relay/{VERSION}"));
    }

    #[test]
    fn segment_url_override_only_when_non_empty() {
        assert_eq!(
            segment_url(Region::Us, None),
            "https://api.segment.io/v1/batch"
        );
        assert_eq!(
            segment_url(Region::Eu, Some("  ")),
            "https://events.eu1.segmentapis.com/v1/batch"
        );
        assert_eq!(
            segment_url(Region::Us, Some("http://127.0.0.1:9/us/v1/batch")),
            "http://127.0.0.1:9/us/v1/batch"
        );
    }

    #[test]
    fn summary_json_shape() {
        let s = IngestSummary {
            received: 3,
            accepted: 1,
            filtered: 1,
            quarantined: 1,
            batches: 1,
            messages: 1,
        };
        assert_eq!(
            s.to_json(),
            r#"{"received":3,"accepted":1,"filtered":1,"quarantined":1,"batches":1,"messages":1}"#
        );
    }

    #[test]
    fn segment_timeout_and_answer_detail() {
        assert_eq!(segment_timeout_ms(None), 10_000);
        assert_eq!(segment_timeout_ms(Some("2000")), 2_000);
        assert_eq!(segment_timeout_ms(Some("0")), 10_000);
        assert_eq!(segment_timeout_ms(Some("x")), 10_000);
        let long = "é".repeat(1_000);
        let d = segment_answer_detail(400, &long);
        assert!(d.starts_with("Segment answered HTTP 400: "));
        assert!(d.len() <= 27 + MAX_SEGMENT_ANSWER_BYTES);
        assert_eq!(
            rejected_detail(400, "{}", 0),
            "Segment answered HTTP 400: {}"
        );
        assert!(
            rejected_detail(400, "{}", 7)
                .ends_with("after 7 split(s) of the batch Segment refused)")
        );
    }
}
