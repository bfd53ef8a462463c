//! Groups translated events per destination into Segment batch requests that respect every
//! limit of the HTTP Tracking API (bytes per request, bytes per event, events per request).

use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::Region;

use super::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

const BODY_PREFIX: &str = r#"{"batch":["#;
/// The longest closing a body can get: the array end, `sentAt` and the object end.
const BODY_SUFFIX_MAX: &str = r#"],"sentAt":"9999-12-31T23:59:59.999Z"}"#;

/// One translated event, serialised.
#[derive(Debug, Clone, Serialize)]
pub struct BatchedEvent {
    /// Position of the event in the Currents batch it came from.
    pub index: usize,
    /// Braze's event id.
    pub event_id: String,
    /// Braze's event type.
    pub event_type: String,
    /// The Segment `messageId`.
    pub message_id: String,
    /// The Segment `track` call as JSON.
    pub json: Box<RawValue>,
}

/// One Segment batch request for one destination.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentBatch {
    /// Destination name in the connector config (the write key itself is not carried).
    pub destination: String,
    /// Region the batch goes to.
    pub region: Region,
    /// Events in send order.
    pub events: Vec<BatchedEvent>,
    /// Upper bound of [`SegmentBatch::body`]'s length in bytes, `sentAt` included.
    pub bytes: usize,
}

impl SegmentBatch {
    fn new(destination: &str, region: Region) -> Self {
        SegmentBatch {
            destination: destination.to_owned(),
            region,
            events: Vec::new(),
            bytes: BODY_PREFIX.len() + BODY_SUFFIX_MAX.len(),
        }
    }

    fn fits(&self, event_bytes: usize) -> bool {
        let comma = usize::from(!self.events.is_empty());
        self.events.len() < MAX_BATCH_EVENTS && self.bytes + comma + event_bytes <= MAX_BATCH_BYTES
    }

    fn push(&mut self, event: BatchedEvent) {
        self.bytes += usize::from(!self.events.is_empty()) + event.json.get().len();
        self.events.push(event);
    }

    /// The request body: `{"batch":[...]}` plus `sentAt` (the time of this HTTP attempt, per
    /// Segment's docs, so the caller supplies it on each attempt).
    pub fn body(&self, sent_at: Option<&str>) -> String {
        let mut body = String::with_capacity(self.bytes);
        body.push_str(BODY_PREFIX);
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(e.json.get());
        }
        body.push(']');
        if let Some(at) = sent_at {
            body.push_str(r#","sentAt":""#);
            body.push_str(at);
            body.push('"');
        }
        body.push('}');
        body
    }
}

/// An event too large for Segment on its own (reason `event_too_large`).
#[derive(Debug)]
pub struct TooLarge {
    /// The event.
    pub event: BatchedEvent,
    /// Its serialised size.
    pub bytes: usize,
}

/// Packs events into batches: greedy, in arrival order, one open batch per destination.
#[derive(Debug, Default)]
pub struct Batcher {
    batches: Vec<SegmentBatch>,
    /// Index in `batches` of the open batch of each (destination, region).
    open: Vec<(String, Region, usize)>,
}

impl Batcher {
    /// An empty batcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event for `destination`, or hands it back if it exceeds the per-event limit.
    pub fn push(
        &mut self,
        destination: &str,
        region: Region,
        event: BatchedEvent,
    ) -> Result<(), TooLarge> {
        let bytes = event.json.get().len();
        if bytes > MAX_EVENT_BYTES {
            return Err(TooLarge { event, bytes });
        }
        let slot = self
            .open
            .iter()
            .position(|(d, r, _)| d == destination && *r == region);
        let at = match slot {
            Some(s) if self.batches[self.open[s].2].fits(bytes) => self.open[s].2,
            _ => {
                self.batches.push(SegmentBatch::new(destination, region));
                let at = self.batches.len() - 1;
                match slot {
                    Some(s) => self.open[s].2 = at,
                    None => self.open.push((destination.to_owned(), region, at)),
                }
                at
            }
        };
        self.batches[at].push(event);
        Ok(())
    }

    /// The batches, in the order they were opened.
    pub fn finish(self) -> Vec<SegmentBatch> {
        self.batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(index: usize, payload_len: usize) -> BatchedEvent {
        let json = format!(r#"{{"p":"{}"}}"#, "x".repeat(payload_len));
        BatchedEvent {
            index,
            event_id: format!("e{index}"),
            event_type: "t".into(),
            message_id: format!("m{index}"),
            json: RawValue::from_string(json).unwrap(),
        }
    }

    #[test]
    fn body_is_valid_json_and_within_the_bound() {
        let mut b = Batcher::new();
        b.push("main", Region::Us, event(0, 5)).unwrap();
        b.push("main", Region::Us, event(1, 7)).unwrap();
        let batches = b.finish();
        assert_eq!(batches.len(), 1);
        let body = batches[0].body(Some("2026-11-28T15:39:14.123Z"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["batch"].as_array().unwrap().len(), 2);
        assert_eq!(v["sentAt"], "2026-11-28T15:39:14.123Z");
        assert!(body.len() <= batches[0].bytes);
        assert!(serde_json::from_str::<serde_json::Value>(&batches[0].body(None)).is_ok());
    }

    #[test]
    fn destinations_and_regions_never_share_a_batch() {
        let mut b = Batcher::new();
        b.push("a", Region::Us, event(0, 1)).unwrap();
        b.push("b", Region::Us, event(1, 1)).unwrap();
        b.push("a", Region::Eu, event(2, 1)).unwrap();
        b.push("a", Region::Us, event(3, 1)).unwrap();
        let batches = b.finish();
        let shape: Vec<(&str, Region, Vec<usize>)> = batches
            .iter()
            .map(|b| {
                (
                    b.destination.as_str(),
                    b.region,
                    b.events.iter().map(|e| e.index).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a", Region::Us, vec![0, 3]),
                ("b", Region::Us, vec![1]),
                ("a", Region::Eu, vec![2])
            ]
        );
    }

    #[test]
    fn an_event_over_32_kb_is_handed_back() {
        let mut b = Batcher::new();
        let err = b
            .push("a", Region::Us, event(0, MAX_EVENT_BYTES))
            .unwrap_err();
        assert_eq!(err.event.index, 0);
        assert!(err.bytes > MAX_EVENT_BYTES);
        assert!(b.finish().is_empty());
    }

    #[test]
    fn byte_limit_splits_batches() {
        let mut b = Batcher::new();
        for i in 0..40 {
            b.push("a", Region::Us, event(i, 30_000)).unwrap();
        }
        let batches = b.finish();
        assert!(batches.len() >= 3);
        for batch in &batches {
            assert!(batch.body(Some("2026-11-28T15:39:14.123Z")).len() <= MAX_BATCH_BYTES);
        }
    }

    #[test]
    fn count_limit_splits_batches() {
        let mut b = Batcher::new();
        for i in 0..(MAX_BATCH_EVENTS + 1) {
            b.push("a", Region::Us, event(i, 1)).unwrap();
        }
        let sizes: Vec<usize> = b.finish().iter().map(|b| b.events.len()).collect();
        assert_eq!(sizes, vec![MAX_BATCH_EVENTS, 1]);
    }
}
