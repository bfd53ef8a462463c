use std::collections::BTreeMap;

use super::*;
use crate::delivery::message::tests::message;

const HOUR: u64 = 3_600_000;

fn config(paused: bool) -> ConnectorConfig {
    let text = format!(
        r#"{{"token_sha256":"{}","paused":{paused},"retention_hours":72,
        "destinations":{{"main":{{"write_key":"wk_main_0001","region":"us"}}}}}}"#,
        "0".repeat(64)
    );
    ConnectorConfig::from_json(&text).unwrap()
}

fn facts(now_ms: u64) -> Facts {
    Facts {
        now_ms,
        seed: 7,
        policy: RetryPolicy::default(),
    }
}

fn status(code: u16) -> Attempt {
    Attempt::failed(AttemptResult::Status {
        code,
        retry_after: None,
    })
}

/// `message(n)` received at hour 10, as the consumer sees it at hour 11.
fn msg(n: usize) -> DeliveryMessage {
    let mut m = message(n);
    m.received_ms = 10 * HOUR;
    m.destination = "main".into();
    m
}

fn at(hours: u64) -> Facts {
    facts(10 * HOUR + hours * HOUR)
}

/// The action under any log lines.
fn unlogged(action: Action) -> Action {
    match action {
        Action::Log(_, next) => unlogged(*next),
        other => other,
    }
}

fn held(action: &Action) -> (HoldReason, u32, usize) {
    match action {
        Action::Enqueue { messages, done, .. } => match &done.counted {
            Counted::Held(reason, n) => (*reason, messages[0].held, *n),
            other => panic!("not a hold: {other:?}"),
        },
        other => panic!("not an enqueue: {other:?}"),
    }
}

#[test]
fn a_ready_message_is_sent_with_its_destinations_key() {
    let c = config(false);
    match look(msg(2), ConnectorState::Found(&c), &at(1)) {
        Action::Send { msg, write_key } => {
            assert_eq!(msg.events.len(), 2);
            assert_eq!(write_key.expose(), "wk_main_0001");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn holds_for_every_missing_piece_and_counts_them_once_queued() {
    let paused = config(true);
    let running = config(false);
    let mut gone = msg(3);
    gone.destination = "gone".into();
    for (m, state, reason) in [
        (
            msg(3),
            ConnectorState::Unreadable,
            HoldReason::ConnectorInvalid,
        ),
        (
            msg(3),
            ConnectorState::Missing,
            HoldReason::ConnectorMissing,
        ),
        (msg(3), ConnectorState::Found(&paused), HoldReason::Paused),
        (
            gone,
            ConnectorState::Found(&running),
            HoldReason::DestinationMissing,
        ),
    ] {
        let action = look(m, state, &at(1));
        assert_eq!(
            held(&action),
            (reason, 1, 3),
            "held once more, 3 events counted"
        );
        let Action::Enqueue { delay, refused, .. } = action else {
            unreachable!()
        };
        assert!(delay <= MAX_HOLD_DELAY);
        assert!(
            matches!(*refused, Action::PlatformRetry { intended } if intended == delay),
            "a refused hold is a platform retry, not before its delay"
        );
    }
}

#[test]
fn expires_only_after_retention_into_quarantine() {
    let c = config(false);
    assert!(matches!(
        look(msg(1), ConnectorState::Found(&c), &at(71)),
        Action::Send { .. }
    ));
    let paused = config(true);
    for state in [ConnectorState::Found(&c), ConnectorState::Found(&paused)] {
        match look(msg(2), state, &at(73)) {
            Action::Quarantine { doc, done, .. } => {
                assert_eq!(doc.reasons["retention_exceeded"], 2);
                assert!(doc.events[0].detail.contains("72 h"));
                assert_eq!(
                    done.counted,
                    Counted::Quarantined(BTreeMap::from([("retention_exceeded".into(), 2)]), None)
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Without a readable config, the default retention (168 h) applies.
    assert!(matches!(
        look(msg(1), ConnectorState::Missing, &at(100)),
        Action::Enqueue { .. }
    ));
    assert!(matches!(
        look(msg(1), ConnectorState::Missing, &at(169)),
        Action::Quarantine { .. }
    ));
    assert!(
        matches!(
            look(msg(1), ConnectorState::Found(&c), &facts(0)),
            Action::Send { .. }
        ),
        "a clock behind the message is not an expiry"
    );
}

#[test]
fn an_r2_refusal_holds_the_message_on_the_queue() {
    let c = config(false);
    let Action::Quarantine { refused, .. } = look(msg(2), ConnectorState::Found(&c), &at(80))
    else {
        panic!("expected quarantine")
    };
    assert_eq!(held(&refused), (HoldReason::QuarantineUnavailable, 1, 2));
    let Action::Quarantine { refused, .. } = unlogged(after_send(msg(1), &status(401), &at(1)))
    else {
        panic!("expected quarantine")
    };
    assert_eq!(held(&refused), (HoldReason::QuarantineUnavailable, 1, 1));
    // And when the queue refuses that hold too, the platform retries the message.
    let Action::Enqueue { refused, .. } = *refused else {
        unreachable!()
    };
    assert!(matches!(*refused, Action::PlatformRetry { .. }));
}

#[test]
fn stats_are_counted_only_by_the_ack_of_a_stored_fate() {
    let ok = after_send(msg(4), &status(200), &at(1));
    match ok {
        Action::Ack(tick) => {
            assert_eq!(tick.connector, "acme");
            assert_eq!(tick.counted, Counted::Delivered(4));
        }
        other => panic!("{other:?}"),
    }
    match unlogged(after_send(msg(4), &status(503), &at(1))) {
        Action::Enqueue { messages, done, .. } => {
            assert_eq!(messages[0].attempt, 1);
            assert_eq!(done.counted, Counted::Retried(4, Some(503)));
        }
        other => panic!("{other:?}"),
    }
    match unlogged(after_send(
        msg(4),
        &Attempt::failed(AttemptResult::Timeout),
        &at(1),
    )) {
        Action::Enqueue { done, .. } => assert_eq!(done.counted, Counted::Retried(4, None)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refused_batches_split_down_to_single_events() {
    for code in [400, 413] {
        match unlogged(after_send(msg(3), &status(code), &at(1))) {
            Action::Enqueue {
                messages,
                delay,
                done,
                refused,
            } => {
                let sizes: Vec<usize> = messages.iter().map(|m| m.events.len()).collect();
                assert_eq!(sizes, [1, 2]);
                assert!(messages.iter().all(|m| m.splits == 1));
                assert_eq!(delay, Duration::ZERO);
                assert_eq!(done.counted, Counted::Split(3, code));
                assert!(matches!(*refused, Action::PlatformRetry { .. }));
            }
            other => panic!("{other:?}"),
        }
        let one = unlogged(after_send(msg(1), &status(code), &at(1)));
        assert!(
            matches!(one, Action::Quarantine { .. }),
            "a single refused event is quarantined"
        );
    }
    for code in [401, 403, 404, 422, 501, 505] {
        assert!(
            matches!(
                unlogged(after_send(msg(3), &status(code), &at(1))),
                Action::Quarantine { .. }
            ),
            "{code} concerns the whole request"
        );
    }
}

#[test]
fn rejections_keep_segments_answer_and_the_split_history() {
    let mut m = msg(1);
    m.splits = 3;
    let attempt = Attempt {
        result: AttemptResult::Status {
            code: 400,
            retry_after: None,
        },
        answer: Some("é".repeat(1_000)),
    };
    let action = after_send(m, &attempt, &at(1));
    let Action::Log(line, next) = action else {
        panic!("a rejection is logged")
    };
    assert!(line.contains("\"outcome\":\"permanent\""));
    let Action::Quarantine { doc, done, .. } = *next else {
        panic!("expected quarantine")
    };
    let detail = &doc.events[0].detail;
    assert!(detail.starts_with("Segment answered HTTP 400: "));
    assert!(detail.ends_with("after 3 split(s) of the batch Segment refused)"));
    assert!(detail.len() < 27 + MAX_SEGMENT_ANSWER_BYTES + 80);
    assert_eq!(doc.segment.as_ref().unwrap().status, Some(400));
    assert_eq!(
        done.counted,
        Counted::Quarantined(BTreeMap::from([("segment_rejected".into(), 1)]), Some(400))
    );
    assert_eq!(
        rejected_detail(400, "{}", 0),
        "Segment answered HTTP 400: {}"
    );
}

#[test]
fn retry_after_is_honoured_and_clamped_to_the_queue_limit() {
    let long = Attempt::failed(AttemptResult::Status {
        code: 429,
        retry_after: Some(Duration::from_secs(86_400)),
    });
    match unlogged(after_send(msg(1), &long, &at(1))) {
        Action::Enqueue { delay, refused, .. } => {
            assert_eq!(delay, MAX_QUEUE_DELAY);
            assert!(
                matches!(*refused, Action::PlatformRetry { intended } if intended == MAX_QUEUE_DELAY)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_messages_are_quarantined_whole() {
    let f = facts(5 * HOUR);
    for (body, connector) in [
        ("not json", UNKNOWN_CONNECTOR),
        (r#"{"connector":"acme","events":"x"}"#, "acme"),
        (r#"{"connector":"../x"}"#, UNKNOWN_CONNECTOR),
    ] {
        let Err(action) = parse(body, &f) else {
            panic!("{body} is not a message")
        };
        let Action::Quarantine { doc, done, refused } = *action else {
            panic!("{body} is quarantined")
        };
        assert_eq!(doc.connector, connector);
        assert_eq!(doc.reasons["malformed_message"], 1);
        assert_eq!(
            doc.events[0].raw.as_ref().unwrap().get(),
            serde_json::to_string(body).unwrap()
        );
        assert_eq!(done.connector, connector);
        assert!(matches!(*refused, Action::PlatformRetry { .. }));
    }
    assert!(parse(&msg(1).to_json(), &f).is_ok());
}

#[test]
fn dead_letters_are_quarantined() {
    let f = facts(5 * HOUR);
    match dead_letter(&msg(2).to_json(), &f) {
        Action::Quarantine { doc, refused, .. } => {
            assert_eq!(doc.reasons["dead_letter"], 2);
            assert!(matches!(*refused, Action::PlatformRetry { .. }));
        }
        other => panic!("{other:?}"),
    }
    match dead_letter("garbage", &f) {
        Action::Quarantine { doc, .. } => {
            assert_eq!(doc.reasons["dead_letter"], 1);
            assert_eq!(doc.connector, UNKNOWN_CONNECTOR);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hold_delay_grows_and_is_capped() {
    let p = RetryPolicy::default();
    assert!(hold_delay(0, &p, 3) <= Duration::from_millis(500));
    assert!(hold_delay(40, &p, 3) <= MAX_HOLD_DELAY);
    assert!(hold_delay(40, &p, 3) >= MAX_HOLD_DELAY / 2);
    assert_eq!(retention(None), Duration::from_secs(168 * 3600));
    assert_eq!(
        retention(Some(&config(false))),
        Duration::from_secs(72 * 3600)
    );
}

#[test]
fn a_message_of_another_generation_is_never_sent_with_the_new_config() {
    let mut recreated = config(false);
    recreated.generation = Some("g2".into());
    let mut old = msg(2);
    old.generation = Some("g1".into());
    for m in [old, msg(2)] {
        let from = m.generation.clone();
        match look(m, ConnectorState::Found(&recreated), &at(1)) {
            Action::Quarantine { doc, done, refused } => {
                assert_eq!(doc.reasons["connector_replaced"], 2);
                assert_eq!(doc.generation, from, "kept under the earlier generation");
                assert_eq!(
                    done.generation, from,
                    "counted in the earlier generation's stats"
                );
                assert_eq!(held(&refused).0, HoldReason::QuarantineUnavailable);
            }
            other => panic!("{other:?}"),
        }
    }
    let mut same = msg(1);
    same.generation = Some("g2".into());
    assert!(matches!(
        look(same, ConnectorState::Found(&recreated), &at(1)),
        Action::Send { .. }
    ));
    // A deleted connector's messages are held (an operator may restore the same document).
    let mut orphan = msg(1);
    orphan.generation = Some("g1".into());
    assert_eq!(
        held(&look(orphan, ConnectorState::Missing, &at(1))).0,
        HoldReason::ConnectorMissing
    );
}

#[test]
fn every_outcome_of_a_send_counts_its_request_once_and_dates_its_events() {
    let request = |action: &Action| -> Vec<(Option<SegmentRequest>, Option<u64>)> {
        let mut seen = Vec::new();
        let mut next = Some(action);
        while let Some(a) = next {
            next = match a {
                Action::Log(_, n) => Some(n),
                Action::Ack(done) => {
                    seen.push((done.request, done.received_ms));
                    None
                }
                Action::Enqueue { done, refused, .. }
                | Action::Quarantine { done, refused, .. } => {
                    seen.push((done.request, done.received_ms));
                    Some(refused)
                }
                _ => None,
            };
        }
        seen
    };
    let received = Some(10 * HOUR);
    let ok = after_send(msg(2), &status(200), &at(1));
    assert_eq!(request(&ok), [(Some(SegmentRequest(Some(200))), received)]);
    let timeout = after_send(msg(2), &Attempt::failed(AttemptResult::Timeout), &at(1));
    assert_eq!(request(&timeout), [(Some(SegmentRequest(None)), received)]);
    // A refusal quarantines; when R2 refuses, the hold counts the same request instead.
    let rejected = after_send(msg(1), &status(401), &at(1));
    assert_eq!(
        request(&rejected),
        [
            (Some(SegmentRequest(Some(401))), received),
            (Some(SegmentRequest(Some(401))), received)
        ]
    );
    assert_eq!(SegmentRequest(Some(401)).class(), "4xx");
    // No request, no count: a hold, or an expiry into quarantine.
    let c = config(true);
    let paused = look(msg(1), ConnectorState::Found(&c), &at(1));
    assert_eq!(request(&paused), [(None, received)]);
}
