//! Property tests: the packer never exceeds a queue or Segment limit and loses no event; arbitrary input
//! never panics the parser or translator; every input event ends in exactly one outcome; a batch
//! Segment refuses for some of its events is bisected down to exactly those events; retry delays
//! never shrink as attempts grow, whatever `Retry-After` says.

use std::collections::BTreeSet;

use currents_relay::config::MAX_QUEUE_DELAY;
use currents_relay::config::Region;
use currents_relay::delivery::{
    Action, AfterSend, DeliveryMessage, Facts, MAX_MESSAGE_BYTES, Packer, QueuedEvent, after_send,
    classify, pack,
};
use currents_relay::segment::{
    Attempt, AttemptResult, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_MESSAGE_ID_LEN,
    RetryPolicy,
};
use currents_relay::{ConnectorConfig, Outcome, ProcessContext, process};
use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::time::Duration;

const SENT_AT: &str = "2026-11-28T15:39:14.123Z";

fn queued(index: usize, payload: usize) -> QueuedEvent {
    let json = format!(r#"{{"i":{index},"p":"{}"}}"#, "x".repeat(payload));
    QueuedEvent {
        index: Some(index),
        event_id: index.to_string(),
        event_type: "t".into(),
        message_id: index.to_string(),
        json: RawValue::from_string(json).unwrap(),
    }
}

/// The message as it would be after any number of retries, holds and splits.
fn at_its_largest(m: &DeliveryMessage) -> String {
    let mut worst = m.clone();
    (worst.attempt, worst.held, worst.splits) = (u32::MAX, u32::MAX, u32::MAX);
    worst.received_ms = u64::MAX;
    worst.to_json()
}

fn check_packer(items: &[(u8, bool, usize)]) {
    let mut packer = Packer::new("connector-1", Some("0123456789abcdef"), 1_764_345_600_123);
    let mut too_large = BTreeSet::new();
    for (index, (dest, eu, size)) in items.iter().enumerate() {
        let region = if *eu { Region::Eu } else { Region::Us };
        if let Err(e) = packer.push(&format!("d{dest}"), region, queued(index, *size)) {
            assert!(e.bytes > MAX_EVENT_BYTES);
            too_large.insert(e.event.index.unwrap());
        }
    }
    let batches = packer.finish();
    let mut seen = BTreeSet::new();
    for b in &batches {
        assert!(!b.events.is_empty());
        assert!(b.events.len() <= MAX_BATCH_EVENTS);
        let queued = at_its_largest(b);
        assert!(queued.len() <= MAX_MESSAGE_BYTES, "{} bytes", queued.len());
        let body = b.segment_body(SENT_AT);
        assert!(body.len() <= MAX_BATCH_BYTES, "{} bytes", body.len());
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["batch"].as_array().unwrap().len(), b.events.len());
        let mut last = None;
        for e in &b.events {
            let index = e.index.unwrap();
            let (dest, eu, _) = items[index];
            assert_eq!(b.destination, format!("d{dest}"));
            assert_eq!(b.region == Region::Eu, eu);
            assert!(e.json.get().len() <= MAX_EVENT_BYTES);
            assert!(last < Some(index), "order within a destination is kept");
            last = Some(index);
            assert!(seen.insert(index), "event {index} packed twice");
        }
    }
    assert!(seen.is_disjoint(&too_large));
    assert_eq!(
        seen.len() + too_large.len(),
        items.len(),
        "every event is packed or handed back"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn packer_respects_byte_limits(items in prop::collection::vec((0u8..3, any::<bool>(), 0usize..40_000), 0..120)) {
        check_packer(&items);
    }

    #[test]
    fn packer_respects_count_limit(items in prop::collection::vec((0u8..2, Just(false), 0usize..40), 2_000..6_000)) {
        check_packer(&items);
    }
}

fn config(include_anonymous: bool) -> ConnectorConfig {
    let doc = json!({
        "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "destinations": {
            "main": {"write_key": "wk_main_0001", "region": "us"},
            "eu": {"write_key": "wk_eu_000001", "region": "auto"}
        },
        "default_destination": "main",
        "routing": {"by": "app_id", "routes": {"a2": "eu"}},
        "identity": {"include_anonymous": include_anonymous},
        "events": {"include": ["users.messages.email.Open", "users.messages.sms.InboundReceive", "x.y"], "forward_unknown": false}
    });
    ConnectorConfig::from_json(&doc.to_string()).unwrap()
}

fn check_conservation(outcome: &Outcome) {
    assert_eq!(
        outcome.outcome_indices(),
        (0..outcome.received).collect::<Vec<_>>(),
        "each event in exactly one outcome"
    );
    for b in &outcome.batches {
        assert!(b.segment_body(SENT_AT).len() <= MAX_BATCH_BYTES);
        assert!(at_its_largest(b).len() <= MAX_MESSAGE_BYTES);
        for e in &b.events {
            assert!(e.message_id.len() <= MAX_MESSAGE_ID_LEN);
            let v: Value = serde_json::from_str(e.json.get()).unwrap();
            assert_eq!(v["type"], "track");
            assert!(v["event"].as_str().is_some_and(|s| !s.is_empty()));
            assert!(v.get("userId").is_some() || v.get("anonymousId").is_some());
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_.]{0,12}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Events that are mostly plausible, so validation and translation paths are exercised, with
/// each field sometimes absent, null, mistyped or garbage.
fn arb_event() -> impl Strategy<Value = Value> {
    let id = prop_oneof![8 => "[a-z0-9-]{1,40}".prop_map(Value::from), 1 => Just(json!("")), 1 => arb_json()];
    let event_type = prop_oneof![
        3 => Just(json!("users.messages.email.Open")),
        2 => Just(json!("users.messages.email.Click")),
        2 => Just(json!("users.messages.sms.InboundReceive")),
        1 => Just(json!("users_canvas_abort")),
        1 => Just(json!("x.y")),
        1 => "[a-zA-Z.]{0,30}".prop_map(Value::from),
        1 => arb_json(),
    ];
    let time = prop_oneof![
        8 => (0i64..4_000_000_000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => arb_json(),
    ];
    let user = prop_oneof![
        6 => Just(json!({"user_id": "b", "external_user_id": "u", "device_id": "d"})),
        2 => Just(json!({"user_id": "b"})),
        2 => Just(json!({"external_user_id": "u"})),
        1 => Just(json!({})),
        1 => arb_json(),
    ];
    let props = prop_oneof![
        4 => Just(json!({"app_id": "a2", "email_address": "e@x", "url": "https://u", "device_model": "m"})),
        4 => prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..12)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => arb_json(),
    ];
    let dropped = prop::array::uniform5(prop::bool::weighted(0.1));
    (id, event_type, time, user, props, dropped).prop_map(|(id, t, time, user, props, dropped)| {
        let fields = [
            ("id", id),
            ("event_type", t),
            ("time", time),
            ("user", user),
            ("properties", props),
        ];
        let ev = fields
            .into_iter()
            .zip(dropped)
            .filter(|(_, drop)| !drop)
            .map(|((key, value), _)| (key.to_owned(), value));
        Value::Object(ev.collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), anon in any::<bool>()) {
        let ctx = ProcessContext { connector_id: "p", nearest_region: None, received_ms: 0 };
        if let Ok(outcome) = process(&body, &config(anon), &ctx) {
            check_conservation(&outcome);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(body in arb_json(), anon in any::<bool>()) {
        let ctx = ProcessContext { connector_id: "p", nearest_region: Some(Region::Eu), received_ms: 0 };
        let wrapped = json!({ "events": [body.clone()] }).to_string();
        for text in [body.to_string(), wrapped] {
            if let Ok(outcome) = process(text.as_bytes(), &config(anon), &ctx) {
                check_conservation(&outcome);
            }
        }
    }

    #[test]
    fn every_event_is_forwarded_filtered_or_quarantined(events in prop::collection::vec(arb_event(), 0..40), anon in any::<bool>()) {
        let ctx = ProcessContext { connector_id: "p", nearest_region: None, received_ms: 0 };
        let body = json!({ "events": events }).to_string();
        let outcome = process(body.as_bytes(), &config(anon), &ctx).unwrap();
        prop_assert_eq!(outcome.received, events.len());
        check_conservation(&outcome);
    }
}

/// The generator must reach every outcome, or the conservation property proves little.
#[test]
fn event_generator_reaches_all_outcomes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut forwarded, mut filtered, mut quarantined) = (0, 0, 0);
    for _ in 0..50 {
        let events = prop::collection::vec(arb_event(), 40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let body = json!({ "events": events }).to_string();
        let ctx = ProcessContext {
            connector_id: "p",
            nearest_region: None,
            received_ms: 0,
        };
        let outcome = process(body.as_bytes(), &config(false), &ctx).unwrap();
        forwarded += outcome.accepted();
        filtered += outcome.filtered.len();
        quarantined += outcome.quarantined.len();
    }
    assert!(
        forwarded > 100 && filtered > 100 && quarantined > 100,
        "{forwarded} {filtered} {quarantined}"
    );
}

/// Drives the consumer's decisions for a message against a Segment that refuses (400) every
/// batch holding a "bad" event: returns (delivered ids, quarantined ids, requests made).
fn bisect(message: DeliveryMessage, bad: &BTreeSet<String>) -> (Vec<String>, Vec<String>, usize) {
    let facts = Facts {
        now_ms: 2,
        seed: 1,
        policy: RetryPolicy::default(),
    };
    let (mut delivered, mut quarantined, mut requests) = (Vec::new(), Vec::new(), 0);
    let mut queue = vec![message];
    while let Some(m) = queue.pop() {
        requests += 1;
        let refused = m.events.iter().any(|e| bad.contains(&e.event_id));
        let code = if refused { 400 } else { 200 };
        let attempt = Attempt::failed(AttemptResult::Status {
            code,
            retry_after: None,
        });
        let ids: Vec<String> = m.events.iter().map(|e| e.event_id.clone()).collect();
        let splits = m.splits;
        let mut action = after_send(m, &attempt, &facts);
        while let Action::Log(_, next) = action {
            action = *next;
        }
        match action {
            Action::Ack(_) => delivered.extend(ids),
            Action::Quarantine { doc, .. } => {
                assert_eq!(doc.segment.and_then(|s| s.status), Some(400));
                quarantined.extend(ids)
            }
            Action::Enqueue { messages, .. } => {
                let [a, b]: [DeliveryMessage; 2] =
                    messages.try_into().expect("a split makes two messages");
                assert!(!a.events.is_empty() && !b.events.is_empty());
                assert_eq!((a.splits, b.splits), (splits + 1, splits + 1));
                queue.push(a);
                queue.push(b);
            }
            other => panic!("a 400 is split or quarantined, not {other:?}"),
        }
    }
    (delivered, quarantined, requests)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A batch Segment refuses for some of its events: bisection delivers every other event once,
    /// quarantines exactly the refused ones, in at most 1 + 2·k·⌈log₂ n⌉ requests.
    #[test]
    fn refused_batches_bisect_to_the_refused_events(n in 1usize..200, bad_at in prop::collection::btree_set(0usize..200, 0..5)) {
        let bad: BTreeSet<String> = bad_at.iter().filter(|i| **i < n).map(|i| format!("e{i}")).collect();
        let events = (0..n).map(|i| QueuedEvent {
            index: Some(i),
            event_id: format!("e{i}"),
            event_type: "t".into(),
            message_id: format!("m{i}"),
            json: RawValue::from_string(format!(r#"{{"i":{i}}}"#)).unwrap(),
        });
        let (messages, refused) = pack("c", None, "main", Region::Us, 1, events);
        prop_assert!(refused.is_empty());
        let message = messages.into_iter().next().unwrap();
        let (delivered, quarantined, requests) = bisect(message, &bad);
        let delivered_set: BTreeSet<String> = delivered.iter().cloned().collect();
        let quarantined_set: BTreeSet<String> = quarantined.iter().cloned().collect();
        prop_assert_eq!(delivered.len() + quarantined.len(), n, "every event once");
        prop_assert_eq!(&quarantined_set, &bad);
        prop_assert!(delivered_set.is_disjoint(&bad));
        prop_assert_eq!(delivered_set.len(), delivered.len());
        let depth = (n as f64).log2().ceil() as usize;
        prop_assert!(requests <= 1 + 2 * bad.len() * depth, "{} requests for n={} k={}", requests, n, bad.len());
    }
}

/// The retry delay of a transient answer (`retry_after` as parsed) to a message at `attempt`.
fn retry_delay(attempt: u32, retry_after: Option<Duration>, seed: u64) -> Duration {
    let (messages, _) = pack("c", None, "main", Region::Us, 1, [queued(0, 1)]);
    let mut msg = messages.into_iter().next().unwrap();
    msg.attempt = attempt;
    let result = AttemptResult::Status {
        code: 429,
        retry_after,
    };
    match classify(&msg, result, &RetryPolicy::default(), seed) {
        AfterSend::Retry { delay } => delay,
        other => panic!("a 429 is retried: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Delays never shrink as attempts grow: the shortest possible delay of attempt n + 1 (its
    /// backoff floor, half the exponential under equal jitter) is at least that of attempt n, and
    /// whatever `Retry-After` Segment sends (0, a past date, hours), a retry waits at least the
    /// backoff floor of its attempt and at least the (clamped) `Retry-After`, at most 12 h.
    #[test]
    fn retry_delays_never_shrink_as_attempts_grow(
        attempt in 0u32..64,
        retry_after_s in prop::option::of(prop_oneof![Just(0u64), 0u64..120, 0u64..200_000]),
        seed in any::<u64>(),
        seed_next in any::<u64>(),
    ) {
        let policy = RetryPolicy::default();
        let floor = policy.backoff_floor(attempt);
        let floor_next = policy.backoff_floor(attempt + 1);
        prop_assert!(floor_next >= floor, "floor {:?} then {:?}", floor, floor_next);
        prop_assert!(floor > Duration::ZERO);
        let retry_after = retry_after_s.map(Duration::from_secs);
        let delay = retry_delay(attempt, retry_after, seed);
        let delay_next = retry_delay(attempt + 1, retry_after, seed_next);
        prop_assert!(delay >= floor, "attempt {}: {:?} < floor {:?}", attempt, delay, floor);
        prop_assert!(delay_next >= floor_next && floor_next >= floor);
        if let Some(wait) = retry_after {
            prop_assert!(delay >= wait.min(policy.max_retry_after));
        }
        prop_assert!(delay <= MAX_QUEUE_DELAY && delay_next <= MAX_QUEUE_DELAY);
    }
}
