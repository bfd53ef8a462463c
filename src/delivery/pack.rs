//! Packing, done once: translated events go straight into queue messages, one open message per
//! (destination, region), greedy in arrival order. A message is also one Segment batch request,
//! so it respects every limit of both: Cloudflare Queues' 128 KB per message (kept at
//! [`MAX_MESSAGE_BYTES`], counted for the message's largest possible envelope, so retries and
//! splits never outgrow it), Segment's 32 KB per event, 2,500 events and 500 KB per request.
//! Then messages are grouped into `sendBatch` calls within that call's limits.

use std::ops::Range;

use super::message::{DeliveryMessage, QueuedEvent};
use crate::config::Region;
use crate::segment::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

/// Largest message body: Cloudflare Queues accepts 128 KB; 8 KB stay as headroom.
pub const MAX_MESSAGE_BYTES: usize = 120_000;
/// Cloudflare Queues' `sendBatch` takes at most 100 messages...
pub const MAX_SEND_BATCH_MESSAGES: usize = 100;
/// ...and at most 256 KB in all (kept at 250,000 bytes).
pub const MAX_SEND_BATCH_BYTES: usize = 250_000;

// A message's Segment body is shorter than the message itself (each event's `track` call is
// inside its queued form), so the queue's limit implies Segment's.
const _: () = assert!(MAX_MESSAGE_BYTES + 64 < MAX_BATCH_BYTES);

/// An event that cannot travel: its `track` call is over Segment's per-event limit, or it does
/// not fit in a queue message even alone. Reason `event_too_large`.
#[derive(Debug)]
pub struct TooLarge {
    /// The event, handed back.
    pub event: QueuedEvent,
    /// Its `track` call's size in bytes.
    pub bytes: usize,
}

impl TooLarge {
    /// What exactly is too large, for the quarantine detail.
    pub fn detail(&self) -> String {
        format!(
            "translated event is {} bytes, over Segment's {MAX_EVENT_BYTES} byte limit",
            self.bytes
        )
    }
}

/// The largest JSON an empty message of this connector and destination can ever have: every
/// counter at its maximum, `splits` present.
fn envelope_bound(
    connector: &str,
    generation: Option<&str>,
    destination: &str,
    region: Region,
) -> usize {
    let mut m = DeliveryMessage::new(connector, destination, region, u64::MAX);
    m.generation = generation.map(str::to_owned);
    (m.attempt, m.held, m.splits) = (u32::MAX, u32::MAX, u32::MAX);
    m.json_len()
}

/// An open message and its size bound so far.
#[derive(Debug)]
struct Open {
    at: usize,
    bytes: usize,
    /// [`envelope_bound`] of its destination.
    envelope: usize,
}

/// Packs events into delivery messages.
#[derive(Debug)]
pub struct Packer<'a> {
    connector: &'a str,
    generation: Option<&'a str>,
    received_ms: u64,
    messages: Vec<DeliveryMessage>,
    /// Per (destination, region): its open message.
    open: Vec<(String, Region, Open)>,
}

impl<'a> Packer<'a> {
    /// A packer for events of `connector` (of `generation`) received at `received_ms`.
    pub fn new(connector: &'a str, generation: Option<&'a str>, received_ms: u64) -> Self {
        Packer {
            connector,
            generation,
            received_ms,
            messages: Vec::new(),
            open: Vec::new(),
        }
    }

    /// Adds an event for `destination` in `region`, or hands it back when it cannot travel.
    pub fn push(
        &mut self,
        destination: &str,
        region: Region,
        event: QueuedEvent,
    ) -> Result<(), TooLarge> {
        let bytes = event.json.get().len();
        let event_bytes = event.json_len();
        let slot = self
            .open
            .iter()
            .position(|(d, r, _)| d == destination && *r == region);
        let envelope = match slot {
            Some(s) => self.open[s].2.envelope,
            None => envelope_bound(self.connector, self.generation, destination, region),
        };
        if bytes > MAX_EVENT_BYTES || envelope + event_bytes > MAX_MESSAGE_BYTES {
            return Err(TooLarge { event, bytes });
        }
        let fits = |open: &Open, messages: &[DeliveryMessage]| {
            let m = &messages[open.at];
            m.events.len() < MAX_BATCH_EVENTS && open.bytes + 1 + event_bytes <= MAX_MESSAGE_BYTES
        };
        let open = match slot {
            Some(s) if fits(&self.open[s].2, &self.messages) => &mut self.open[s].2,
            _ => {
                let fresh = Open {
                    at: self.messages.len(),
                    bytes: envelope,
                    envelope,
                };
                let mut message =
                    DeliveryMessage::new(self.connector, destination, region, self.received_ms);
                message.generation = self.generation.map(str::to_owned);
                self.messages.push(message);
                match slot {
                    Some(s) => {
                        self.open[s].2 = fresh;
                        &mut self.open[s].2
                    }
                    None => {
                        self.open.push((destination.to_owned(), region, fresh));
                        &mut self.open.last_mut().expect("just pushed").2
                    }
                }
            }
        };
        let message = &mut self.messages[open.at];
        open.bytes += usize::from(!message.events.is_empty()) + event_bytes;
        message.events.push(event);
        Ok(())
    }

    /// The messages, in the order they were opened.
    pub fn finish(self) -> Vec<DeliveryMessage> {
        self.messages
    }
}

/// Packs events of one destination (a replay) into messages. Events that cannot travel are
/// handed back.
pub fn pack(
    connector: &str,
    generation: Option<&str>,
    destination: &str,
    region: Region,
    received_ms: u64,
    events: impl IntoIterator<Item = QueuedEvent>,
) -> (Vec<DeliveryMessage>, Vec<TooLarge>) {
    let mut packer = Packer::new(connector, generation, received_ms);
    let refused = events
        .into_iter()
        .filter_map(|e| packer.push(destination, region, e).err())
        .collect();
    (packer.finish(), refused)
}

/// Groups messages, given their bodies' lengths, for `sendBatch` calls within its count and
/// byte limits: the ranges of `lens` each call takes, in order.
pub fn send_groups(lens: &[usize]) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, len) in lens.iter().enumerate() {
        let full = i - start == MAX_SEND_BATCH_MESSAGES || bytes + len > MAX_SEND_BATCH_BYTES;
        if i > start && full {
            groups.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += len;
    }
    if start < lens.len() {
        groups.push(start..lens.len());
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::message::tests::event;

    fn shape(messages: &[DeliveryMessage]) -> Vec<(&str, Region, Vec<usize>)> {
        messages
            .iter()
            .map(|m| {
                (
                    m.destination.as_str(),
                    m.region,
                    m.events.iter().map(|e| e.index.unwrap()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn destinations_and_regions_never_share_a_message() {
        let mut p = Packer::new("acme", Some("g1"), 7);
        p.push("a", Region::Us, event(0, 1)).unwrap();
        p.push("b", Region::Us, event(1, 1)).unwrap();
        p.push("a", Region::Eu, event(2, 1)).unwrap();
        p.push("a", Region::Us, event(3, 1)).unwrap();
        let messages = p.finish();
        assert_eq!(
            shape(&messages),
            vec![
                ("a", Region::Us, vec![0, 3]),
                ("b", Region::Us, vec![1]),
                ("a", Region::Eu, vec![2])
            ]
        );
        assert!(
            messages
                .iter()
                .all(|m| m.received_ms == 7 && m.connector == "acme")
        );
    }

    #[test]
    fn messages_stay_under_the_queue_limit_at_any_retry() {
        let (messages, refused) = pack(
            "acme",
            Some("g-long-generation-0123456789abcdef"),
            "main",
            Region::Eu,
            1,
            (0..300).map(|i| event(i, 1_500)),
        );
        assert!(refused.is_empty());
        assert!(messages.len() >= 4, "{}", messages.len());
        let mut ids = Vec::new();
        for m in messages {
            let mut worst = m.clone();
            (worst.attempt, worst.held, worst.splits, worst.received_ms) =
                (u32::MAX, u32::MAX, u32::MAX, u64::MAX);
            assert!(
                worst.to_json().len() <= MAX_MESSAGE_BYTES,
                "{}",
                worst.to_json().len()
            );
            assert!(m.segment_body("2026-11-28T00:00:00.000Z").len() <= MAX_BATCH_BYTES);
            ids.extend(m.events.iter().map(|e| e.message_id.clone()));
        }
        let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        assert_eq!(ids, expected, "every event once, in order");
    }

    #[test]
    fn count_limit_splits_messages() {
        let (messages, _) = pack(
            "a",
            None,
            "main",
            Region::Us,
            1,
            (0..MAX_BATCH_EVENTS + 1).map(|i| {
                let mut e = event(i, 0);
                e.event_id.clear();
                e
            }),
        );
        let sizes: Vec<usize> = messages.iter().map(|m| m.events.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), MAX_BATCH_EVENTS + 1);
        assert!(sizes.iter().all(|n| *n <= MAX_BATCH_EVENTS));
    }

    #[test]
    fn an_event_over_32_kb_is_handed_back() {
        let mut p = Packer::new("acme", None, 1);
        let err = p
            .push("a", Region::Us, event(0, MAX_EVENT_BYTES))
            .unwrap_err();
        assert_eq!(err.event.index, Some(0));
        assert!(err.bytes > MAX_EVENT_BYTES);
        assert!(err.detail().contains("32000"));
        assert!(p.finish().is_empty());
    }

    #[test]
    fn send_groups_respect_count_and_bytes() {
        let small = [10; 250];
        assert_eq!(send_groups(&small), vec![0..100, 100..200, 200..250]);
        let big = [100_000; 5];
        let groups = send_groups(&big);
        assert_eq!(groups, vec![0..2, 2..4, 4..5]);
        for g in groups {
            assert!(big[g].iter().sum::<usize>() <= MAX_SEND_BATCH_BYTES);
        }
        assert_eq!(
            send_groups(&[MAX_SEND_BATCH_BYTES + 1, 1]),
            vec![0..1, 1..2]
        );
        assert!(send_groups(&[]).is_empty());
    }
}
