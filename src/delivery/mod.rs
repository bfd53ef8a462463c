//! Durable delivery. Pure: the queue message and its one event shape (`message`), packing events
//! into messages within the queue's and Segment's limits (`pack`), the consumer's decisions
//! (`plan`: facts in, an [`Action`] out) and its log lines (`log`). On wasm32, `js` writes a
//! message into a JavaScript string, `queue` sends messages and `edge` is the queue consumer that performs the planned actions.
//!
//! Every decision takes the time and the jitter seed as parameters (CONTRACTS §4: nothing
//! accepted is lost).

#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod edge;
#[cfg(all(target_arch = "wasm32", any(feature = "edge", feature = "bench")))]
pub(crate) mod js;
mod log;
pub(crate) mod message;
mod pack;
mod plan;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod queue;

pub use log::{consumer_line, platform_retry_line, segment_failure_line};
pub use message::{DeliveryMessage, MESSAGE_VERSION, QUEUE_PIECE_BYTES, QueuedEvent};
pub use pack::{
    MAX_MESSAGE_BYTES, MAX_SEND_BATCH_BYTES, MAX_SEND_BATCH_MESSAGES, Packer, TooLarge, pack,
    send_groups,
};
pub use plan::{
    Action, AfterSend, ConnectorState, Facts, HoldReason, MAX_HOLD_DELAY, MAX_SEGMENT_ANSWER_BYTES,
    after_send, classify, dead_letter, hold_delay, look, parse, rejected_detail, retention, splits,
};
