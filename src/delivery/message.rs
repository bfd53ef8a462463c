//! The queue message: translated Segment events for one destination, with the delivery state
//! that must survive retries (attempt and hold counters, the time Braze's batch was received).
//!
//! Queue bodies are JSON strings (a `worker` 0.8.7 queue send of a map arrives as `{}`), each
//! under Cloudflare Queues' 128 KB limit. No write key travels in a message: the consumer reads
//! it from the connector config at send time, which is also what lets a restored key release
//! held events.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::Region;
use crate::segment::SegmentBatch;

/// Largest message body: Cloudflare Queues accepts 128 KB; 8 KB stay for the envelope fields.
pub const MAX_MESSAGE_BYTES: usize = 120_000;
/// Cloudflare Queues' `sendBatch` takes at most 100 messages...
pub const MAX_SEND_BATCH_MESSAGES: usize = 100;
/// ...and at most 256 KB in all (kept at 250,000 bytes).
pub const MAX_SEND_BATCH_BYTES: usize = 250_000;

/// One translated event in a queue message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Braze's event id.
    pub event_id: String,
    /// Braze's event type.
    pub event_type: String,
    /// Segment `messageId` (unchanged across retries and replays, so Segment dedupes).
    pub message_id: String,
    /// The Segment `track` call.
    pub json: Box<RawValue>,
}

/// A queue message body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// Format version.
    pub v: u8,
    /// Connector id.
    pub connector: String,
    /// Destination name in the connector config.
    pub destination: String,
    /// Region resolved at ingest.
    pub region: Region,
    /// When Braze's batch was received (UNIX ms): retention counts from here.
    pub received_ms: u64,
    /// Send attempts so far that failed transiently.
    #[serde(default)]
    pub attempt: u32,
    /// Times the message was held (paused connector, missing write key).
    #[serde(default)]
    pub held: u32,
    /// How many times its events were split off a batch Segment refused (0: never).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub splits: u32,
    /// The events, in batch order.
    pub events: Vec<QueuedEvent>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Message format version.
pub const MESSAGE_VERSION: u8 = 1;

impl DeliveryMessage {
    /// Parses a queue body.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The queue body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a message always serialises")
    }

    /// The two halves of a message Segment refused as a whole (`None` for fewer than two
    /// events): same connector, destination, region, reception time and counters, events in
    /// order (moved, not copied), `splits` one more.
    pub fn into_halves(mut self) -> Option<(Self, Self)> {
        if self.events.len() < 2 {
            return None;
        }
        let second_events = self.events.split_off(self.events.len() / 2);
        self.splits = self.splits.saturating_add(1);
        let second = Self {
            v: self.v,
            connector: self.connector.clone(),
            destination: self.destination.clone(),
            region: self.region,
            received_ms: self.received_ms,
            attempt: self.attempt,
            held: self.held,
            splits: self.splits,
            events: second_events,
        };
        Some((self, second))
    }

    /// The Segment request body for this attempt (`sentAt` = the attempt's time).
    pub fn segment_body(&self, sent_at: &str) -> String {
        let mut body = String::with_capacity(
            self.events
                .iter()
                .map(|e| e.json.get().len() + 1)
                .sum::<usize>()
                + 64,
        );
        body.push_str(r#"{"batch":["#);
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(e.json.get());
        }
        body.push_str(r#"],"sentAt":""#);
        body.push_str(sent_at);
        body.push_str(r#""}"#);
        body
    }
}

/// A [`QueuedEvent`] borrowed from a Segment batch: serialises to the same JSON, without copying
/// the translated call first.
#[derive(Serialize)]
struct QueuedEventRef<'a> {
    event_id: &'a str,
    event_type: &'a str,
    message_id: &'a str,
    json: &'a RawValue,
}

/// Splits one Segment batch into queue message bodies of at most [`MAX_MESSAGE_BYTES`] each
/// (events are at most 32 KB, so every event fits).
pub fn messages_for_batch(connector: &str, batch: &SegmentBatch, received_ms: u64) -> Vec<String> {
    let events = batch.events.iter().map(|e| QueuedEventRef {
        event_id: &e.event_id,
        event_type: &e.event_type,
        message_id: &e.message_id,
        json: &e.json,
    });
    messages_for_events(
        connector,
        &batch.destination,
        batch.region,
        received_ms,
        events,
    )
}

/// Packs events for one destination into queue message bodies of at most [`MAX_MESSAGE_BYTES`].
/// Each event is serialised once, straight into its message's body.
pub fn messages_for_events<E: Serialize>(
    connector: &str,
    destination: &str,
    region: Region,
    received_ms: u64,
    events: impl IntoIterator<Item = E>,
) -> Vec<String> {
    let envelope = DeliveryMessage {
        v: MESSAGE_VERSION,
        connector: connector.to_owned(),
        destination: destination.to_owned(),
        region,
        received_ms,
        attempt: 0,
        held: 0,
        splits: 0,
        events: Vec::new(),
    }
    .to_json();
    // `events` is the struct's last field: the envelope ends with `[]}`.
    let prefix = envelope
        .strip_suffix("]}")
        .expect("a message's JSON ends with its events");
    const CLOSE: &str = "]}";
    let mut out = Vec::new();
    let mut body = String::from(prefix);
    let mut count = 0;
    for event in events {
        let json = serde_json::to_string(&event).expect("a queued event always serialises");
        if count > 0 && body.len() + 1 + json.len() + CLOSE.len() > MAX_MESSAGE_BYTES {
            body.push_str(CLOSE);
            out.push(std::mem::replace(&mut body, String::from(prefix)));
            count = 0;
        }
        if count > 0 {
            body.push(',');
        }
        body.push_str(&json);
        count += 1;
    }
    if count > 0 {
        body.push_str(CLOSE);
        out.push(body);
    }
    out
}

/// Groups message bodies for `sendBatch` calls within its count and byte limits.
pub fn send_groups(bodies: &[String]) -> Vec<&[String]> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        let full =
            i - start == MAX_SEND_BATCH_MESSAGES || bytes + body.len() > MAX_SEND_BATCH_BYTES;
        if i > start && full {
            groups.push(&bodies[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        groups.push(&bodies[start..]);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{BatchedEvent, Batcher};

    fn batch(n: usize, payload: usize) -> SegmentBatch {
        let mut b = Batcher::new();
        for i in 0..n {
            let json = format!(
                r#"{{"type":"track","i":{i},"p":"{}"}}"#,
                "x".repeat(payload)
            );
            let ev = BatchedEvent {
                index: i,
                event_id: format!("e{i}"),
                event_type: "t".into(),
                message_id: format!("m{i}"),
                json: RawValue::from_string(json).unwrap(),
            };
            b.push("main", Region::Eu, ev).unwrap();
        }
        b.finish().remove(0)
    }

    #[test]
    fn batches_split_into_messages_under_the_queue_limit() {
        let b = batch(300, 1_500);
        let bodies = messages_for_batch("acme", &b, 1_700_000_000_000);
        assert!(bodies.len() >= 4, "{}", bodies.len());
        let mut ids = Vec::new();
        for body in &bodies {
            assert!(body.len() <= MAX_MESSAGE_BYTES, "{}", body.len());
            let m = DeliveryMessage::from_json(body).unwrap();
            assert_eq!(
                (m.connector.as_str(), m.destination.as_str(), m.region),
                ("acme", "main", Region::Eu)
            );
            assert_eq!(
                (m.attempt, m.held, m.received_ms),
                (0, 0, 1_700_000_000_000)
            );
            ids.extend(m.events.iter().map(|e| e.message_id.clone()));
        }
        let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        assert_eq!(ids, expected, "every event once, in order");
    }

    #[test]
    fn segment_body_is_a_valid_batch_request() {
        let b = batch(3, 5);
        let m = DeliveryMessage::from_json(&messages_for_batch("acme", &b, 1)[0]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&m.segment_body("2026-11-28T00:00:00.000Z")).unwrap();
        assert_eq!(v["batch"].as_array().unwrap().len(), 3);
        assert_eq!(v["batch"][2]["i"], 2);
        assert_eq!(v["sentAt"], "2026-11-28T00:00:00.000Z");
    }

    #[test]
    fn send_groups_respect_count_and_bytes() {
        let small: Vec<String> = (0..250).map(|i| format!("{i:0>10}")).collect();
        let sizes: Vec<usize> = send_groups(&small).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let big: Vec<String> = (0..5).map(|_| "x".repeat(100_000)).collect();
        let groups = send_groups(&big);
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        for g in groups {
            assert!(g.iter().map(String::len).sum::<usize>() <= MAX_SEND_BATCH_BYTES);
        }
        assert!(send_groups(&[]).is_empty());
    }

    #[test]
    fn halves_keep_every_event_once_in_order() {
        for n in [0, 1, 2, 3, 100] {
            let b = batch(n.max(1), 3);
            let mut m = DeliveryMessage::from_json(&messages_for_batch("acme", &b, 42)[0]).unwrap();
            m.events.truncate(n);
            m.attempt = 2;
            let Some((a, z)) = m.clone().into_halves() else {
                assert!(n < 2, "{n} events must split");
                continue;
            };
            assert_eq!((a.events.len(), z.events.len()), (n / 2, n - n / 2));
            let ids: Vec<&str> = a
                .events
                .iter()
                .chain(&z.events)
                .map(|e| e.message_id.as_str())
                .collect();
            let orig: Vec<&str> = m.events.iter().map(|e| e.message_id.as_str()).collect();
            assert_eq!(ids, orig);
            for h in [&a, &z] {
                assert_eq!((h.splits, h.attempt, h.received_ms), (1, 2, 42));
                assert_eq!(
                    (h.connector.as_str(), h.destination.as_str()),
                    ("acme", "main")
                );
                let back = DeliveryMessage::from_json(&h.to_json()).unwrap();
                assert_eq!(back.splits, 1);
            }
        }
        let b = batch(1, 3);
        let body = &messages_for_batch("acme", &b, 1)[0];
        assert!(
            !body.contains("splits"),
            "an unsplit message keeps the original format"
        );
    }

    #[test]
    fn messages_carry_no_write_key() {
        let b = batch(1, 1);
        let body = &messages_for_batch("acme", &b, 1)[0];
        assert!(!body.contains("write_key"));
    }
}
