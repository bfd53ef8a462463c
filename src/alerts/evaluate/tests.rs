use super::*;
use crate::stats::Tally;
use crate::stats::{Counted, SegmentRequest, Tick};

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
/// A fixed start, far from zero.
const T0: u64 = 1_800_000_000_000;

fn check(rules: Vec<Rule>, now_ms: u64) -> AlertCheck {
    AlertCheck {
        connector: "acme".into(),
        rules,
        paused: false,
        retention_hours: 168,
        now_ms,
    }
}

/// `n` events accepted at `at`.
fn accepted(stats: &mut Stats, at: u64, n: i64) {
    stats.add_pending(at, n);
}

/// `n` events received at `received` delivered at `at`.
fn delivered(stats: &mut Stats, received: u64, at: u64, n: usize) {
    let mut t = Tally::default();
    t.count(
        &Tick {
            connector: "acme".into(),
            generation: None,
            received_ms: Some(received),
            request: Some(SegmentRequest(Some(200))),
            counted: Counted::Delivered(n),
        },
        at,
    );
    stats.merge(&t.by_object["acme"]);
}

type Drift = Vec<String>;

/// Evaluates, and tells the state every due message went through.
fn run(c: &AlertCheck, stats: &mut Stats, drift: &Drift, state: &mut AlertState) -> Vec<Notice> {
    let due = evaluate(c, stats, drift, state);
    for notice in &due {
        acknowledge(state, notice, true, c.now_ms);
    }
    due
}

/// Evaluates, and tells the state the webhook refused every due message.
fn refused(
    c: &AlertCheck,
    stats: &mut Stats,
    drift: &Drift,
    state: &mut AlertState,
) -> Vec<Notice> {
    let due = evaluate(c, stats, drift, state);
    for notice in &due {
        acknowledge(state, notice, false, c.now_ms);
    }
    due
}

fn body(n: &Notice) -> serde_json::Value {
    serde_json::from_str(&n.body).unwrap()
}

#[test]
fn stalled_fires_once_then_clears_once() {
    let rules = vec![Rule::DeliveryStalled { minutes: 30 }];
    let (mut stats, drift, mut state) = (Stats::default(), Drift::new(), AlertState::default());
    stats.last_success_ms = Some(T0 - 2 * HOUR);
    accepted(&mut stats, T0, 10);
    assert!(
        run(
            &check(rules.clone(), T0 + 5 * MIN),
            &mut stats,
            &drift,
            &mut state
        )
        .is_empty()
    );
    assert!(
        !state.firing("delivery_stalled"),
        "fresh events are not a stall"
    );

    let due = run(
        &check(rules.clone(), T0 + 31 * MIN),
        &mut stats,
        &drift,
        &mut state,
    );
    assert_eq!(due.len(), 1);
    let b = body(&due[0]);
    assert_eq!(
        (b["state"].as_str(), b["rule"].as_str()),
        (Some("firing"), Some("delivery_stalled"))
    );
    let text = b["text"].as_str().unwrap();
    assert!(
        text.contains("acme") && text.contains("10 events pending, no delivery for 31 min"),
        "{text}"
    );
    assert!(state.firing("delivery_stalled"));

    for minutes in [36, 41, 46] {
        let later = check(rules.clone(), T0 + minutes * MIN);
        assert!(
            run(&later, &mut stats, &drift, &mut state).is_empty(),
            "no repeat at {minutes} min"
        );
    }
    delivered(&mut stats, T0, T0 + 50 * MIN, 10);
    let due = run(
        &check(rules.clone(), T0 + 51 * MIN),
        &mut stats,
        &drift,
        &mut state,
    );
    assert_eq!(due.len(), 1);
    assert_eq!(body(&due[0])["state"], "resolved");
    assert!(body(&due[0])["text"].as_str().unwrap().contains("resolved"));
    assert!(run(&check(rules, T0 + 56 * MIN), &mut stats, &drift, &mut state).is_empty());
}

#[test]
fn a_message_the_webhook_refused_is_sent_at_the_next_evaluation() {
    let rules = vec![Rule::NewEventTypes];
    let (mut stats, mut state) = (Stats::default(), AlertState::default());
    let drift: Drift = vec!["users.new.A".into()];
    let due = refused(&check(rules.clone(), T0), &mut stats, &drift, &mut state);
    assert_eq!(due.len(), 1);
    assert!(
        body(&due[0])["text"]
            .as_str()
            .unwrap()
            .contains("users.new.A")
    );
    let retry = run(
        &check(rules.clone(), T0 + 5 * MIN),
        &mut stats,
        &drift,
        &mut state,
    );
    assert_eq!(retry.len(), 1, "due again after a refusal");
    assert_eq!(
        state.rule("new_event_types").unwrap().notified_ms,
        Some(T0 + 5 * MIN)
    );
    let since = body(&retry[0])["since"].as_str().unwrap().to_owned();
    assert_eq!(
        since,
        crate::timefmt::iso_millis(T0),
        "still firing since the first evaluation"
    );
    assert!(
        run(
            &check(rules.clone(), T0 + 10 * MIN),
            &mut stats,
            &drift,
            &mut state
        )
        .is_empty()
    );
    // The operator empties the drift report: it clears.
    let cleared = run(
        &check(rules, T0 + 15 * MIN),
        &mut stats,
        &Drift::new(),
        &mut state,
    );
    assert_eq!((cleared.len(), cleared[0].firing), (1, false));
}

#[test]
fn a_state_that_flips_back_before_it_was_told_sends_nothing() {
    let rules = vec![Rule::QuarantineGrowth { per_hour: 5 }];
    let (mut stats, drift, mut state) = (Stats::default(), Drift::new(), AlertState::default());
    run(&check(rules.clone(), T0), &mut stats, &drift, &mut state);
    stats.quarantined.insert("segment_rejected".into(), 9);
    // The webhook refuses "firing" for an hour; then the growth leaves the window: the rule no
    // longer fires, and since the webhook never took "firing", there is nothing to clear.
    for m in (5..=70).step_by(5) {
        let due = refused(
            &check(rules.clone(), T0 + m * MIN),
            &mut stats,
            &drift,
            &mut state,
        );
        if m < 65 {
            assert_eq!(due.len(), 1, "still firing and untold at {m} min");
        } else {
            assert!(due.is_empty(), "cleared untold at {m} min: {due:?}");
        }
    }
    assert!(!state.firing("quarantine_growth"));
}

#[test]
fn quarantine_growth_counts_the_last_hour_only() {
    let rules = vec![Rule::QuarantineGrowth { per_hour: 100 }];
    let (mut stats, drift, mut state) = (Stats::default(), Drift::new(), AlertState::default());
    let mut t = T0;
    // 20 events every 5 minutes: 240 an hour, above 100 once 6 samples are in.
    let mut fired_at = None;
    for step in 0..30 {
        *stats.quarantined.entry("missing_id".into()).or_insert(0) += 20;
        let due = run(&check(rules.clone(), t), &mut stats, &drift, &mut state);
        if !due.is_empty() && fired_at.is_none() {
            fired_at = Some(step);
            assert!(
                body(&due[0])["text"]
                    .as_str()
                    .unwrap()
                    .contains("events quarantined in the last hour")
            );
        }
        t += 5 * MIN;
    }
    assert_eq!(
        fired_at,
        Some(6),
        "fires once more than 100 (120) were added within the hour"
    );
    assert!(state.quarantine_samples.len() <= 14);
    // Quiet for an hour: cleared once.
    let mut cleared = 0;
    for _ in 0..14 {
        cleared += run(&check(rules.clone(), t), &mut stats, &drift, &mut state).len();
        t += 5 * MIN;
    }
    assert_eq!(cleared, 1);
    assert!(!state.firing("quarantine_growth"));
    // After a gap of a day in evaluations, the old total is no baseline.
    *stats.quarantined.get_mut("missing_id").unwrap() += 1_000;
    t += 24 * HOUR;
    assert!(run(&check(rules, t), &mut stats, &drift, &mut state).is_empty());
}

#[test]
fn held_names_the_pause_and_stalled_leaves_paused_connectors_to_it() {
    let rules = vec![
        Rule::DeliveryStalled { minutes: 10 },
        Rule::EventsHeld { hours: 2 },
    ];
    let (mut stats, drift, mut state) = (Stats::default(), Drift::new(), AlertState::default());
    accepted(&mut stats, T0, 3);
    let mut c = check(rules, T0 + 2 * HOUR + MIN);
    c.paused = true;
    let due = run(&c, &mut stats, &drift, &mut state);
    assert_eq!(due.len(), 1);
    let text = body(&due[0])["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("events held longer than 2 h")
            && text.contains("the oldest for 2 h 1 min; the connector is paused"),
        "{text}"
    );
    assert!(!state.firing("delivery_stalled"));
}

#[test]
fn stale_ledger_slots_are_forgotten_and_removed_rules_dropped() {
    let (mut stats, drift, mut state) = (Stats::default(), Drift::new(), AlertState::default());
    accepted(&mut stats, T0, 3);
    let mut c = check(vec![Rule::EventsHeld { hours: 1 }], T0 + 2 * HOUR);
    c.retention_hours = 1;
    assert_eq!(run(&c, &mut stats, &drift, &mut state).len(), 1);
    c.now_ms = T0 + HOUR + PENDING_GRACE_MS + MIN;
    assert_eq!(forget_before(&c), T0 + MIN);
    let due = evaluate(&c, &mut stats, &drift, &mut state);
    assert!(stats.pending.is_empty());
    assert_eq!(
        (due.len(), due[0].firing),
        (1, false),
        "no event left: cleared"
    );
    c.rules = vec![];
    evaluate(&c, &mut stats, &drift, &mut state);
    assert!(state.rules.is_empty());
}

#[test]
fn durations_read_well() {
    assert_eq!(duration(40_000), "40 s");
    assert_eq!(duration(35 * MIN), "35 min");
    assert_eq!(duration(5 * HOUR + 2 * MIN), "5 h 2 min");
    assert_eq!(duration(27 * HOUR), "1 d 3 h");
}
