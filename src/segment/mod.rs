//! The Segment side: HTTP Tracking API limits, the `track` call, `messageId` and timestamps.

mod batcher;
mod track;

pub use batcher::{BatchedEvent, Batcher, SegmentBatch, TooLarge};
pub use track::{PropValue, Track, format_timestamp, message_id};

/// Segment rejects a request over 500 KB. Batches are cut at 475,000 bytes (the headroom the
/// official libraries keep) so `sentAt` and rounding never push one over.
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

/// The production batch endpoint of a region.
pub fn batch_url(region: crate::config::Region) -> &'static str {
    match region {
        crate::config::Region::Us => US_BATCH_URL,
        crate::config::Region::Eu => EU_BATCH_URL,
    }
}
