use serde_json::value::RawValue;

use super::*;
use crate::segment::batch_body;

fn event(i: usize, payload: usize) -> (QueuedEvent, Origin) {
    let json = format!(
        r#"{{"type":"track","i":{i},"p":"{}"}}"#,
        "x".repeat(payload)
    );
    let event = QueuedEvent {
        index: Some(i),
        event_id: format!("e{i}"),
        event_type: "t".into(),
        message_id: format!("m{i}"),
        json: RawValue::from_string(json).unwrap(),
    };
    let text = format!("{{\"n\":{i}}}");
    let origin = Origin {
        file: (i % 3) as u32,
        record: i as u64,
        span: 0..text.len(),
        body: std::sync::Arc::new(text),
    };
    (event, origin)
}

fn ids(r: &Request) -> Vec<u64> {
    r.origins.iter().map(|o| o.record).collect()
}

#[test]
fn requests_fill_to_segments_limits_and_never_beyond() {
    let mut p = RequestPacker::new("acme");
    let mut closed = Vec::new();
    // 31 KB events: the byte limit closes requests at 15 events.
    for i in 0..100 {
        let (e, o) = event(i, 31_000);
        closed.extend(p.push("main", Region::Us, e, o, 0));
    }
    closed.extend(p.finish());
    let mut all = Vec::new();
    for (i, r) in closed.iter().enumerate() {
        let body = r.msg.segment_body("2026-11-28T00:00:00.000Z");
        assert_eq!(body.len(), r.body_bytes(), "the size bound is exact");
        assert!(body.len() <= MAX_BATCH_BYTES);
        if i + 1 < closed.len() {
            assert!(
                body.len() > MAX_BATCH_BYTES - 32_000,
                "full: {}",
                body.len()
            );
        }
        assert_eq!(r.msg.events.len(), r.origins.len());
        all.extend(ids(r));
    }
    assert_eq!(
        all,
        (0..100).collect::<Vec<u64>>(),
        "every event once, in order"
    );
    // Small events: the count limit closes them.
    let mut p = RequestPacker::new("acme");
    let mut sizes = Vec::new();
    for i in 0..MAX_BATCH_EVENTS * 2 + 1 {
        let (e, o) = event(i, 0);
        sizes.extend(
            p.push("main", Region::Eu, e, o, 0)
                .map(|r| r.msg.events.len()),
        );
    }
    sizes.extend(p.finish().iter().map(|r| r.msg.events.len()));
    assert_eq!(sizes, vec![MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 1]);
    let empty: Vec<&RawValue> = Vec::new();
    assert_eq!(
        batch_body(empty.into_iter(), "2026-01-01T00:00:00.000Z").len(),
        BODY_OVERHEAD
    );
}

#[test]
fn destinations_and_regions_never_share_a_request() {
    let mut p = RequestPacker::new("acme");
    for (i, (d, r)) in [
        ("a", Region::Us),
        ("b", Region::Us),
        ("a", Region::Eu),
        ("a", Region::Us),
    ]
    .into_iter()
    .enumerate()
    {
        let (e, o) = event(i, 1);
        assert!(p.push(d, r, e, o, 0).is_none());
    }
    let shape: Vec<(String, Region, Vec<u64>)> = p
        .finish()
        .iter()
        .map(|r| (r.msg.destination.clone(), r.msg.region, ids(r)))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("a".into(), Region::Us, vec![0, 3]),
            ("b".into(), Region::Us, vec![1]),
            ("a".into(), Region::Eu, vec![2])
        ]
    );
}

#[test]
fn a_waiting_request_is_due_after_a_second() {
    let mut p = RequestPacker::new("acme");
    let (e, o) = event(0, 1);
    p.push("a", Region::Us, e, o, 10_000);
    let (e, o) = event(1, 1);
    p.push("b", Region::Us, e, o, 10_500);
    assert!(p.due(10_999).is_empty());
    let due = p.due(11_000);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].msg.destination, "a");
    assert_eq!(p.due(11_500).len(), 1);
    assert!(p.finish().is_empty());
}

#[test]
fn halves_keep_origins_with_their_events() {
    let mut p = RequestPacker::new("acme");
    for i in 0..5 {
        let (e, o) = event(i, 1);
        p.push("a", Region::Us, e, o, 0);
    }
    let r = p.finish().pop().unwrap();
    let (a, b) = r.into_halves().unwrap();
    assert_eq!((ids(&a), ids(&b)), (vec![0, 1], vec![2, 3, 4]));
    for h in [&a, &b] {
        for (e, o) in h.msg.events.iter().zip(&h.origins) {
            assert_eq!(e.index, Some(o.record as usize));
        }
        assert_eq!(h.msg.splits, 1);
    }
    let (single, _) = a.into_halves().unwrap();
    assert!(single.into_halves().is_none());
}

#[test]
fn answers_follow_the_workers_policy_with_a_bounded_number_of_attempts() {
    let policy = RetryPolicy::default();
    let mut p = RequestPacker::new("acme");
    for i in 0..2 {
        let (e, o) = event(i, 1);
        p.push("a", Region::Us, e, o, 0);
    }
    let mut r = p.finish().pop().unwrap();
    let status = |code| AttemptResult::Status {
        code,
        retry_after: None,
    };
    assert_eq!(
        after_attempt(&mut r, status(200), &policy, 1, 3),
        Step::Delivered
    );
    assert_eq!(
        after_attempt(&mut r, status(400), &policy, 1, 3),
        Step::Split { status: 400 }
    );
    assert_eq!(
        after_attempt(&mut r, status(413), &policy, 1, 3),
        Step::Split { status: 413 }
    );
    for code in [401, 403, 404, 501] {
        assert_eq!(
            after_attempt(&mut r, status(code), &policy, 1, 3),
            Step::Stop { status: code }
        );
    }
    // A 429 asking for 30 s waits 30 s; the third failure gives up.
    let slow = AttemptResult::Status {
        code: 429,
        retry_after: Some(Duration::from_secs(30)),
    };
    assert_eq!(
        after_attempt(&mut r, slow, &policy, 1, 3),
        Step::Retry {
            delay: Duration::from_secs(30)
        }
    );
    assert!(matches!(
        after_attempt(&mut r, AttemptResult::Timeout, &policy, 1, 3),
        Step::Retry { .. }
    ));
    assert_eq!(r.msg.attempt, 2);
    assert_eq!(
        after_attempt(&mut r, status(503), &policy, 1, 3),
        Step::GiveUp
    );
    // One event refused on its own is quarantined.
    let (mut one, _) = r.into_halves().unwrap();
    assert_eq!(
        after_attempt(&mut one, status(400), &policy, 1, 9),
        Step::Rejected { status: 400 }
    );
}

#[test]
fn the_pacer_spaces_requests() {
    let mut p = Pacer::new(4);
    let waits: Vec<u64> = (0..4).map(|_| p.reserve(0).as_millis() as u64).collect();
    assert_eq!(waits, vec![0, 250, 500, 750]);
    // After a quiet second, no wait.
    assert_eq!(p.reserve(2_000_000), Duration::ZERO);
    let mut free = Pacer::new(0);
    assert!((0..100).all(|_| free.reserve(5) == Duration::ZERO));
}
