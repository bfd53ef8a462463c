//! Arbitrary bytes parsed as a quarantine object, replayed under a fixed config: no panic, every
//! queue message parses and stays under the queue's size limit, and every event is accounted for.
#![no_main]

use std::sync::LazyLock;

use currents_relay::ConnectorConfig;
use currents_relay::delivery::{DeliveryMessage, MAX_MESSAGE_BYTES};
use currents_relay::quarantine::{QuarantineDoc, replay};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static CONFIGS: LazyLock<[ConnectorConfig; 3]> = LazyLock::new(common::configs);
const NOW_MS: u64 = 1_764_344_354_123;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let Ok(doc) = serde_json::from_slice::<QuarantineDoc>(doc) else {
        return;
    };
    let config = &CONFIGS[usize::from(selector % 3)];
    let plan = match replay(&doc, config, common::CONNECTOR_ID, NOW_MS) {
        Ok(plan) => plan,
        Err(problem) => {
            // Only an object of another generation is refused.
            assert_ne!(doc.generation, config.generation, "refused: {problem}");
            return;
        }
    };

    let mut events = 0;
    for msg in &plan.messages {
        let body = msg.to_json();
        assert!(
            body.len() <= MAX_MESSAGE_BYTES,
            "message of {} bytes",
            body.len()
        );
        let msg = DeliveryMessage::from_json(&body).expect("a message parses");
        assert!(!msg.events.is_empty(), "empty message");
        assert_eq!(msg.connector, common::CONNECTOR_ID);
        assert_eq!(msg.received_ms, NOW_MS, "retention restarts at replay");
        events += msg.events.len();
    }
    assert_eq!(events, plan.requeued, "requeued count");

    // Accounting: raw entries are requeued, filtered or stay quarantined; translated entries
    // are requeued when the object names their destination.
    let raws = doc
        .events
        .iter()
        .filter(|e| e.segment.is_none() && e.raw.is_some())
        .count();
    let translated = doc
        .events
        .iter()
        .filter(|e| e.segment.is_some() && e.message_id.is_some())
        .count();
    let expected = raws + if doc.segment.is_some() { translated } else { 0 };
    assert_eq!(
        plan.requeued + plan.filtered.len() + plan.still_quarantined.len(),
        expected,
        "events lost or duplicated in replay"
    );
});
