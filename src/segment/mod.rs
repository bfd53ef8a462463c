//! The Segment side: HTTP Tracking API limits and endpoints, the `track` call, `messageId` and
//! timestamps, the one batch-body builder and the retry classifier. The wasm32 part (`client`)
//! performs one request and classifies its answer.

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod client;
pub mod retry;
mod track;

pub use retry::{Attempt, AttemptResult, Decision, RetryPolicy};
pub use track::{Member, PropValue, Timestamp, Track, format_timestamp, library_json, message_id};
pub(crate) use track::{json_string_len, push_key, push_string};

use crate::config::Region;

/// Segment rejects a request over 500 KB; 475,000 bytes is the headroom the official libraries
/// keep so `sentAt` and rounding never push one over.
pub const MAX_BATCH_BYTES: usize = 475_000;
/// Segment rejects an event over 32 KB; counted as 32,000 bytes to stay clear of the edge.
pub const MAX_EVENT_BYTES: usize = 32_000;
/// Segment accepts at most 2,500 events per batch request.
pub const MAX_BATCH_EVENTS: usize = 2_500;
/// Segment deduplicates on `messageId` of at most 100 characters.
pub const MAX_MESSAGE_ID_LEN: usize = 100;

/// US endpoint of the HTTP Tracking API batch call.
pub const US_BATCH_URL: &str = "https://api.segment.io/v1/batch";
/// EU endpoint of the HTTP Tracking API batch call.
pub const EU_BATCH_URL: &str = "https://events.eu1.segmentapis.com/v1/batch";
/// `User-Agent` of requests to Segment.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// The production batch endpoint of a region.
pub fn batch_url(region: Region) -> &'static str {
    match region {
        Region::Us => US_BATCH_URL,
        Region::Eu => EU_BATCH_URL,
    }
}

/// The batch request body: `{"batch":[...],"sentAt":"..."}`, the `track` calls copied as they
/// are. `sentAt` is the time of this HTTP attempt (Segment's docs), so it is built per attempt.
pub fn batch_body<'a>(
    calls: impl ExactSizeIterator<Item = &'a serde_json::value::RawValue> + Clone,
    sent_at: &str,
) -> String {
    let mut body = String::new();
    write_batch_body(&mut body, calls, sent_at);
    body
}

/// [`batch_body`] written into `out`, replacing what it held: a sender that keeps one buffer
/// reuses its memory from request to request instead of asking for fresh pages each time.
pub fn write_batch_body<'a>(
    out: &mut String,
    calls: impl ExactSizeIterator<Item = &'a serde_json::value::RawValue> + Clone,
    sent_at: &str,
) {
    const OPEN: &str = r#"{"batch":["#;
    const SENT_AT: &str = r#"],"sentAt":""#;
    let bytes: usize = calls.clone().map(|c| c.get().len() + 1).sum();
    out.clear();
    out.reserve(OPEN.len() + bytes + SENT_AT.len() + sent_at.len() + 2);
    out.push_str(OPEN);
    for (i, call) in calls.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(call.get());
    }
    out.push_str(SENT_AT);
    out.push_str(sent_at);
    out.push_str(r#""}"#);
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    #[test]
    fn batch_body_is_valid_json() {
        let calls: Vec<Box<RawValue>> = (0..3)
            .map(|i| RawValue::from_string(format!(r#"{{"i":{i}}}"#)).unwrap())
            .collect();
        let body = batch_body(calls.iter().map(|c| &**c), "2026-11-28T15:39:14.123Z");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["batch"].as_array().unwrap().len(), 3);
        assert_eq!(v["batch"][1]["i"], 1);
        assert_eq!(v["sentAt"], "2026-11-28T15:39:14.123Z");
        let empty: Vec<Box<RawValue>> = Vec::new();
        let v: serde_json::Value =
            serde_json::from_str(&batch_body(empty.iter().map(|c| &**c), "x")).unwrap();
        assert_eq!(v["batch"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn endpoints_and_agent() {
        assert_eq!(batch_url(Region::Us), "https://api.segment.io/v1/batch");
        assert_eq!(
            batch_url(Region::Eu),
            "https://events.eu1.segmentapis.com/v1/batch"
        );
        assert!(USER_AGENT.starts_with("currents-relay/"));
    }
}
