//! Durable delivery, as pure decisions: what goes into a queue message, what the consumer does
//! with one, how long events are held, what quarantine keeps, how a quarantined object replays.
//!
//! The Worker shell moves these messages through Cloudflare Queues and R2; every decision here
//! takes the time and the jitter seed as parameters (CONTRACTS §4: nothing accepted is lost).

mod message;
mod plan;
mod quarantine;
mod stats;

pub use message::{
    DeliveryMessage, MAX_MESSAGE_BYTES, MAX_SEND_BATCH_BYTES, MAX_SEND_BATCH_MESSAGES, QueuedEvent,
    messages_for_batch, messages_for_events, send_groups,
};
pub use plan::{
    AfterSend, HoldReason, MAX_HOLD_DELAY, MAX_QUEUE_DELAY, Step, after_send, destination_for,
    hold_delay, plan, retention,
};
pub use quarantine::{
    DeliveryReason, QuarantineDoc, QuarantineEntry, ReplayPlan, SegmentAnswer, replay,
};
pub use stats::{BUCKET_MS, Bucket, LastError, MAX_BUCKETS, Stats, StatsDelta};
