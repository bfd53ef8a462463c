//! The queue message: translated Segment events for one destination, with the delivery state
//! that must survive retries (attempt and hold counters, the time Braze's batch was received).
//! One message is one Segment batch request: events are packed once, at ingest
//! ([`mod@super::pack`]), within both Cloudflare Queues' and Segment's limits.
//!
//! Queue bodies are JSON strings (a `worker` 0.8.7 queue send of a map arrives as `{}`). No
//! write key travels in a message: the consumer reads it from the connector config at send
//! time, which is also what lets a restored key release held events.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::config::Region;
use crate::segment::{json_string_len, push_key, push_string};

/// One translated event, from the batch it was packed in to the queue message and the Segment
/// request: the one shape an event has on the delivery path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Position in the Currents batch it came from (absent for events replayed from older
    /// quarantine objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Braze's event id.
    pub event_id: String,
    /// Braze's event type (the table's own text when it is a known type's canonical name, so
    /// most events carry no copy of it).
    pub event_type: Cow<'static, str>,
    /// Segment `messageId` (unchanged across retries and replays, so Segment dedupes).
    pub message_id: String,
    /// The Segment `track` call.
    pub json: Box<RawValue>,
}

/// The keys of a queued event in its JSON, in order, each as it is written: `"key":` (none needs
/// escapes).
const EVENT_KEYS: [&str; 4] = [
    r#""event_id":"#,
    r#""event_type":"#,
    r#""message_id":"#,
    r#""json":"#,
];

impl QueuedEvent {
    /// Appends the event as `serde_json` writes it.
    fn push_json(&self, out: &mut String) {
        out.push('{');
        if let Some(index) = self.index {
            out.push_str(r#""index":"#);
            push_number(out, index as u64);
            out.push(',');
        }
        let strings = [self.event_id.as_str(), &self.event_type, &self.message_id];
        for (key, value) in EVENT_KEYS.iter().zip(strings) {
            out.push_str(key);
            push_string(out, value);
            out.push(',');
        }
        out.push_str(EVENT_KEYS[3]);
        out.push_str(self.json.get());
        out.push('}');
    }

    /// The length of the event's JSON, counted without writing it.
    pub fn json_len(&self) -> usize {
        let keys: usize = EVENT_KEYS.iter().map(|k| k.len()).sum();
        let index = self
            .index
            .map_or(0, |i| r#""index":,"#.len() + decimal_digits(i as u64));
        let strings = [self.event_id.as_str(), &self.event_type, &self.message_id];
        let strings: usize = strings.iter().map(|s| json_string_len(s)).sum();
        // Braces and the three commas between the four keyed values.
        2 + index + keys + 3 + strings + self.json.get().len()
    }
}

/// Digits of `n` in decimal.
fn decimal_digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// A queue message body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryMessage {
    /// Format version.
    pub v: u8,
    /// Connector id.
    pub connector: String,
    /// The connector's generation at ingest: a message is only ever sent with a config of the
    /// same generation (absent for connectors without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
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

/// Appends `n` in decimal.
fn push_number(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Message format version.
pub const MESSAGE_VERSION: u8 = 1;

/// Bytes of queue body the Worker copies out of the wasm heap at a time
/// ([`DeliveryMessage::write_json_pieces`]; more when one event is larger).
pub const QUEUE_PIECE_BYTES: usize = 16 * 1024;

impl DeliveryMessage {
    /// A new message with no events and fresh counters.
    pub fn new(connector: &str, destination: &str, region: Region, received_ms: u64) -> Self {
        DeliveryMessage {
            v: MESSAGE_VERSION,
            connector: connector.to_owned(),
            generation: None,
            destination: destination.to_owned(),
            region,
            received_ms,
            attempt: 0,
            held: 0,
            splits: 0,
            events: Vec::new(),
        }
    }

    /// Parses a queue body.
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The queue body: the JSON `serde_json` writes for the message, written directly into one
    /// buffer of its exact size (each event's track call copied as it is).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.json_len());
        self.write_json(&mut out, |_| ());
        debug_assert_eq!(out.len(), self.json_len());
        out
    }

    /// The queue body in pieces, for a caller that moves each piece elsewhere (the Worker, into
    /// one JavaScript string): `buf` collects the text and is handed to `piece` once it holds
    /// `piece_len` bytes or more (checked before each event, so a piece ends between two
    /// events), and at the end; it is cleared after each. The pieces joined are
    /// [`Self::to_json`], and no more than one piece and one event are ever held at once.
    pub fn write_json_pieces(
        &self,
        buf: &mut String,
        piece_len: usize,
        mut piece: impl FnMut(&str),
    ) {
        buf.clear();
        self.write_json(buf, |buf| {
            if buf.len() >= piece_len {
                piece(buf);
                buf.clear();
            }
        });
        piece(buf);
        buf.clear();
    }

    /// The length of [`Self::to_json`]: the envelope written apart, the events counted without
    /// writing them.
    pub fn json_len(&self) -> usize {
        let mut head = String::new();
        self.write_head(&mut head);
        let events: usize = self.events.iter().map(QueuedEvent::json_len).sum();
        // The commas between events, then `]}`.
        head.len() + events + self.events.len().saturating_sub(1) + 2
    }

    /// Writes the body into `out`, calling `between` with `out` before each event.
    fn write_json(&self, out: &mut String, mut between: impl FnMut(&mut String)) {
        self.write_head(out);
        for (i, e) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            between(out);
            e.push_json(out);
        }
        out.push_str("]}");
    }

    /// Everything before the first event: `{"v":…,…,"events":[`.
    fn write_head(&self, out: &mut String) {
        out.push_str(r#"{"v":"#);
        push_number(out, self.v.into());
        push_key(out, "connector");
        push_string(out, &self.connector);
        if let Some(generation) = &self.generation {
            push_key(out, "generation");
            push_string(out, generation);
        }
        push_key(out, "destination");
        push_string(out, &self.destination);
        push_key(out, "region");
        push_string(out, self.region.code());
        let counters = [
            ("received_ms", Some(self.received_ms)),
            ("attempt", Some(self.attempt.into())),
            ("held", Some(self.held.into())),
            ("splits", (self.splits != 0).then_some(self.splits.into())),
        ];
        for (key, value) in counters {
            if let Some(value) = value {
                push_key(out, key);
                push_number(out, value);
            }
        }
        out.push_str(r#","events":["#);
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
            events: second_events,
            connector: self.connector.clone(),
            generation: self.generation.clone(),
            destination: self.destination.clone(),
            ..self.envelope()
        };
        Some((self, second))
    }

    /// The same message without its events (for the halves).
    fn envelope(&self) -> Self {
        Self {
            v: self.v,
            connector: String::new(),
            generation: None,
            destination: String::new(),
            region: self.region,
            received_ms: self.received_ms,
            attempt: self.attempt,
            held: self.held,
            splits: self.splits,
            events: Vec::new(),
        }
    }

    /// The Segment request body for this attempt (`sentAt` = the attempt's time).
    pub fn segment_body(&self, sent_at: &str) -> String {
        crate::segment::batch_body(self.events.iter().map(|e| &*e.json), sent_at)
    }

    /// [`Self::segment_body`] written into `out`, replacing what it held (a reused buffer).
    pub fn write_segment_body(&self, sent_at: &str, out: &mut String) {
        crate::segment::write_batch_body(out, self.events.iter().map(|e| &*e.json), sent_at);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A queued event whose `track` call is `{"i":i}` plus `payload` bytes of padding.
    pub(crate) fn event(i: usize, payload: usize) -> QueuedEvent {
        let json = format!(
            r#"{{"type":"track","i":{i},"p":"{}"}}"#,
            "x".repeat(payload)
        );
        QueuedEvent {
            index: Some(i),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            message_id: format!("m{i}"),
            json: RawValue::from_string(json).unwrap(),
        }
    }

    pub(crate) fn message(n: usize) -> DeliveryMessage {
        let mut m = DeliveryMessage::new("acme", "main", Region::Eu, 42);
        m.events = (0..n).map(|i| event(i, 3)).collect();
        m
    }

    #[test]
    fn segment_body_is_a_valid_batch_request() {
        let m = message(3);
        let v: serde_json::Value =
            serde_json::from_str(&m.segment_body("2026-11-28T00:00:00.000Z")).unwrap();
        assert_eq!(v["batch"].as_array().unwrap().len(), 3);
        assert_eq!(v["batch"][2]["i"], 2);
        assert_eq!(v["sentAt"], "2026-11-28T00:00:00.000Z");
    }

    #[test]
    fn a_reused_buffer_holds_exactly_the_new_body() {
        let mut buffer = message(40).segment_body("2026-11-28T00:00:00.000Z");
        for n in [2, 0, 5] {
            let m = message(n);
            m.write_segment_body("2026-11-29T00:00:00.000Z", &mut buffer);
            assert_eq!(buffer, m.segment_body("2026-11-29T00:00:00.000Z"));
        }
    }

    #[test]
    fn halves_keep_every_event_once_in_order() {
        for n in [0, 1, 2, 3, 100] {
            let mut m = message(n);
            m.attempt = 2;
            m.generation = Some("g1".into());
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
                assert_eq!(h.generation.as_deref(), Some("g1"));
                assert_eq!(
                    (h.connector.as_str(), h.destination.as_str(), h.region),
                    ("acme", "main", Region::Eu)
                );
                let back = DeliveryMessage::from_json(&h.to_json()).unwrap();
                assert_eq!(back.splits, 1);
            }
        }
        let body = message(1).to_json();
        assert!(
            !body.contains("splits"),
            "an unsplit message keeps the original format"
        );
    }

    #[test]
    fn bodies_are_what_serde_json_writes() {
        let mut m = message(3);
        m.events[1].index = None;
        m.events[2].event_id = "quo\"te\\ \u{1} é".into();
        assert_eq!(m.to_json(), serde_json::to_string(&m).unwrap());
        m.generation = Some("g\"1".into());
        (m.received_ms, m.attempt, m.held, m.splits) = (u64::MAX, 7, u32::MAX, 1);
        m.events[0].index = Some(usize::MAX);
        assert_eq!(m.to_json(), serde_json::to_string(&m).unwrap());
        m.events.clear();
        assert_eq!(m.to_json(), serde_json::to_string(&m).unwrap());
        let m = DeliveryMessage::new("a", "b", Region::Us, 0);
        assert_eq!(m.to_json(), serde_json::to_string(&m).unwrap());
    }

    #[test]
    fn pieces_join_into_the_body_and_stay_small() {
        let mut m = message(30);
        m.events[4].event_id = "quo\"te\\ \u{1} é".into();
        m.events[9] = event(9, 5_000);
        m.generation = Some("g1".into());
        let whole = m.to_json();
        assert_eq!(m.json_len(), whole.len());
        let largest_event = m.events.iter().map(QueuedEvent::json_len).max().unwrap();
        let mut buf = String::new();
        for piece_len in [0, 1, 64, 200, 1_000, 4_096, usize::MAX] {
            let mut pieces: Vec<String> = Vec::new();
            m.write_json_pieces(&mut buf, piece_len, |p| pieces.push(p.to_owned()));
            assert_eq!(pieces.concat(), whole, "pieces of {piece_len}");
            assert!(buf.is_empty());
            if piece_len == usize::MAX {
                assert_eq!(pieces.len(), 1);
                continue;
            }
            assert!(pieces.len() > 1, "{piece_len}: {}", pieces.len());
            for p in &pieces {
                // Less than `piece_len` (or nothing) before its last event, then that event and
                // its comma.
                assert!(
                    p.len() <= piece_len.max(1) + largest_event,
                    "{piece_len}: {}",
                    p.len()
                );
            }
        }
        for n in [0, 1] {
            let m = message(n);
            let mut pieces = Vec::new();
            m.write_json_pieces(&mut buf, 1, |p| pieces.push(p.to_owned()));
            assert_eq!(
                (pieces.concat(), m.json_len()),
                (m.to_json(), m.to_json().len())
            );
        }
    }

    #[test]
    fn an_event_counts_the_bytes_serde_json_writes() {
        let mut e = event(7, 40);
        let cases: [(Option<usize>, &str); 6] = [
            (Some(0), "e"),
            (Some(9), "e"),
            (Some(10), ""),
            (Some(usize::MAX), "quo\"te\\ \u{1} é\u{7f}"),
            (None, "plain"),
            (None, "\n"),
        ];
        for (index, id) in cases {
            (e.index, e.event_id) = (index, id.to_owned());
            let text = serde_json::to_string(&e).unwrap();
            assert_eq!(e.json_len(), text.len(), "{text}");
            let mut written = String::new();
            e.push_json(&mut written);
            assert_eq!(written, text);
        }
    }

    #[test]
    fn messages_carry_no_write_key_and_read_older_bodies() {
        assert!(!message(1).to_json().contains("write_key"));
        // A body without `index`, `attempt`, `held` or `splits` still parses.
        let old = r#"{"v":1,"connector":"a","destination":"main","region":"us","received_ms":1,
            "events":[{"event_id":"e","event_type":"t","message_id":"m","json":{"x":1}}]}"#;
        let m = DeliveryMessage::from_json(old).unwrap();
        assert_eq!(
            (m.attempt, m.held, m.splits, m.events[0].index),
            (0, 0, 0, None)
        );
    }
}
