use super::*;
use crate::config::ConnectorConfig;
use crate::pipeline::{Outcome, ProcessContext, process};

const OPEN: &str = "users.messages.email.Open";
const NEW_TYPE: &str = "users.messages.hologram.Send";

fn config() -> ConnectorConfig {
    ConnectorConfig::from_json(&format!(
        r#"{{"token_sha256":"{}","destinations":{{"main":{{"write_key":"wk_1234","region":"us"}}}}}}"#,
        "0".repeat(64)
    ))
    .unwrap()
}

/// The outcome of a batch of `events` (JSON texts) received at `at_ms`.
fn run(events: &[String], at_ms: u64) -> Outcome {
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let ctx = ProcessContext {
        connector_id: "acme",
        nearest_region: None,
        received_ms: at_ms,
    };
    process(body.as_bytes(), &config(), &ctx).unwrap()
}

/// One event of `event_type` with `properties` (a JSON object's text).
fn event(id: &str, event_type: &str, properties: &str) -> String {
    format!(
        r#"{{"id":"{id}","event_type":"{event_type}","time":1767225600,"user":{{"user_id":"b-{id}","external_user_id":"u-{id}"}},"properties":{properties}}}"#
    )
}

/// Properties the table documents for an email open: listed, moved to context, never forwarded.
const DOCUMENTED: &str = r#"{"campaign_id":"c-1","dispatch_id":"d-1","email_address":"a@b.c","device_model":"x","os_version":"17","canvas_step_message_variation_api_id":"v","is_amp":false}"#;

#[test]
fn kinds_from_the_first_byte_and_null_is_absent() {
    let kinds: Vec<Option<Kind>> = [
        "\"x\"", "-1.5e3", "0", "true", "false", "{}", "[[1]]", "null",
    ]
    .into_iter()
    .map(Kind::of)
    .collect();
    use Kind::*;
    assert_eq!(
        kinds,
        [
            Some(String),
            Some(Number),
            Some(Number),
            Some(Boolean),
            Some(Boolean),
            Some(Object),
            Some(Array),
            None
        ]
    );
    assert_eq!(
        serde_json::to_string(&Kind::Boolean).unwrap(),
        r#""boolean""#
    );
    for kind in Kind::ALL {
        assert_eq!(Kind::named(kind.name()), Some(kind));
    }
    assert_eq!(Kind::named("null"), None);
}

#[test]
fn names_are_cut_and_cleaned() {
    assert!(matches!(cut("campaign_id"), Cow::Borrowed("campaign_id")));
    let exact = "a".repeat(MAX_NAME_BYTES);
    assert!(matches!(cut(&exact), Cow::Borrowed(_)));
    let accents = "é".repeat(100);
    let long = cut(&accents);
    assert!(long.ends_with('…'));
    assert!(long.len() <= MAX_NAME_BYTES + '…'.len_utf8());
    assert_eq!(
        long.trim_end_matches('…').chars().count(),
        MAX_NAME_BYTES / 2
    );
    assert_eq!(cut("a\u{0}b\nc\u{7f}"), "a?b?c?");
    assert_eq!(
        cut("ok\u{85}"),
        "ok\u{85}",
        "JSON writes C1 controls as they are"
    );
    assert_eq!(
        cut("ok\u{85}"),
        "ok\u{85}",
        "JSON writes C1 controls as they are"
    );
}

#[test]
fn no_drift_fast_path_records_and_allocates_nothing() {
    let events: Vec<String> = (0..50)
        .map(|i| event(&format!("e{i}"), OPEN, DOCUMENTED))
        .collect();
    let out = run(&events, 7);
    assert_eq!(out.accepted(), 50);
    assert!(out.drift.is_empty(), "{:?}", out.drift);
    // Nothing was ever pushed: the lists never allocated.
    assert_eq!(
        (out.drift.types.capacity(), out.drift.fields.capacity()),
        (0, 0)
    );
    // An undocumented property that is null counts as absent.
    let nulls = run(
        &[event("n", OPEN, r#"{"campaign_id":"c","ai_score":null}"#)],
        7,
    );
    assert!(nulls.drift.is_empty(), "{:?}", nulls.drift);
}

#[test]
fn new_types_and_undocumented_fields_with_kinds_counts_and_an_example() {
    let events = [
        event(
            "a",
            NEW_TYPE,
            r#"{"app_id":"x","hologram_id":7,"gone":null}"#,
        ),
        event("b", NEW_TYPE, r#"{"other":true}"#),
        event(
            "c",
            OPEN,
            r#"{"campaign_id":"c","ai_score":0.9,"tags":["x"]}"#,
        ),
        event("d", OPEN, r#"{"ai_score":"high","dispatch_id":"d"}"#),
    ];
    let out = run(&events, 3_600_000);
    let d = &out.drift;
    assert_eq!(d.types.len(), 1);
    let t = &d.types[0];
    assert_eq!(
        (t.event_type.as_str(), t.field.as_deref()),
        (NEW_TYPE, None)
    );
    assert_eq!(
        (t.count, t.first_seen_ms, t.last_seen_ms),
        (2, 3_600_000, 3_600_000)
    );
    assert_eq!(
        t.example,
        [
            ("app_id".to_owned(), Kind::String),
            ("hologram_id".to_owned(), Kind::Number)
        ],
        "the first event's names and kinds, nulls left out"
    );
    let fields: Vec<(&str, Option<&str>, Option<Kind>, u64)> = d
        .fields
        .iter()
        .map(|e| (e.event_type.as_str(), e.field.as_deref(), e.kind, e.count))
        .collect();
    assert_eq!(
        fields,
        [
            (OPEN, Some("ai_score"), Some(Kind::Number), 2),
            (OPEN, Some("tags"), Some(Kind::Array), 1),
        ]
    );
    assert_eq!(d.fields[0].example.len(), 3, "the whole first event");
    assert_eq!(d.overflow, 0);
}

#[test]
fn only_events_that_passed_validation_count_whatever_their_outcome() {
    let anonymous = format!(
        r#"{{"id":"f","event_type":"{NEW_TYPE}","time":1,"user":{{"user_id":"b"}},"properties":{{"p":1}}}}"#
    );
    let big = format!(r#"{{"pad":"{}","extra":1}}"#, "x".repeat(40_000));
    let events = [
        anonymous,              // filtered anonymous_user: counts
        event("t", OPEN, &big), // quarantined event_too_large: counts
        r#"{"event_type":"users.never.Seen","time":1}"#.to_owned(), // missing_id: never validated
    ];
    let out = run(&events, 1);
    assert_eq!((out.filtered.len(), out.quarantined.len()), (1, 2));
    assert_eq!(out.drift.types.len(), 1);
    assert_eq!(out.drift.types[0].event_type, NEW_TYPE);
    let fields: Vec<&str> = out
        .drift
        .fields
        .iter()
        .filter_map(|e| e.field.as_deref())
        .collect();
    assert_eq!(fields, ["extra", "pad"]);
}

#[test]
fn bounds_hold_for_hostile_batches() {
    // Many types, each once; one event with thousands of huge, control-laden property names.
    let mut events: Vec<String> = (0..MAX_TYPES + 25)
        .map(|i| event(&format!("t{i}"), &format!("users.new.T{i:03}"), "{}"))
        .collect();
    let mut props = String::from("{");
    for i in 0..2_000 {
        props.push_str(&format!(
            r#""{i}\u0000{}":[[[[{{}}]]]],"#,
            "n".repeat(2_000)
        ));
    }
    props.push_str(r#""last":1}"#);
    events.push(event("huge", OPEN, &props));
    let out = run(&events, 5);
    let d = &out.drift;
    assert_eq!(d.types.len(), MAX_TYPES);
    assert_eq!(d.fields.len(), MAX_FIELDS);
    assert_eq!(
        d.overflow,
        25 + (2_001 - MAX_FIELDS as u64),
        "every occurrence left out is counted"
    );
    for e in d.types.iter().chain(&d.fields) {
        assert!(e.example.len() <= MAX_EXAMPLE_PROPERTIES);
        for name in std::iter::once(&e.event_type)
            .chain(&e.field)
            .chain(e.example.iter().map(|(n, _)| n))
        {
            assert!(name.len() <= MAX_NAME_BYTES + 3, "{} bytes", name.len());
            assert!(!name.contains('\u{0}'));
            assert!(!name.contains('\u{fffd}'));
        }
    }
    let f = &d.fields[0];
    assert_eq!(
        (f.example.len(), f.example_omitted),
        (MAX_EXAMPLE_PROPERTIES, 2_001 - 32)
    );
    assert_eq!(f.kind, Some(Kind::Array));
}

#[test]
fn worst_case_report_stays_far_under_a_durable_object_value() {
    // Every entry full and every name as long as it may be, in characters JSON escapes.
    let quotes = "\\\"".repeat(200);
    let props = |prefix: char| {
        let names: Vec<String> = (0..40)
            .map(|i| format!(r#""{prefix}{i}{quotes}":0"#))
            .collect();
        format!("{{{}}}", names.join(","))
    };
    let mut report = Report::default();
    for i in 0..MAX_TYPES {
        let ty = format!("{i:03}{quotes}");
        report.merge(run(&[event("t", &ty, &props('a'))], 1).drift);
    }
    for prefix in ['a', 'b', 'c'] {
        report.merge(run(&[event("f", OPEN, &props(prefix))], 1).drift);
    }
    assert_eq!(
        (report.types.len(), report.fields.len()),
        (MAX_TYPES, MAX_FIELDS)
    );
    let json = report_json("acme", &report);
    assert!(json.len() < 1_100_000, "{} bytes", json.len());
    assert!(
        json.len() > 900_000,
        "the test builds the worst case: {} bytes",
        json.len()
    );
}

#[test]
fn merge_adds_counts_widens_first_and_last_seen_and_keeps_the_first_example() {
    let early = run(&[event("a", NEW_TYPE, r#"{"first":1}"#)], 1_000);
    let late = run(
        &[
            event("b", NEW_TYPE, r#"{"second":"s"}"#),
            event("c", NEW_TYPE, "{}"),
            event("d", OPEN, r#"{"ai_score":1}"#),
        ],
        9_000,
    );
    let mut total = Report::default();
    assert!(total.merge(late.drift.clone()));
    assert!(total.merge(early.drift.clone()));
    assert!(
        !total.merge(Report::default()),
        "nothing to store for an empty delta"
    );
    let t = &total.types[0];
    assert_eq!(
        (t.count, t.first_seen_ms, t.last_seen_ms),
        (3, 1_000, 9_000)
    );
    assert_eq!(
        t.example,
        [("second".to_owned(), Kind::String)],
        "the report's own example stays"
    );
    assert_eq!(total.fields.len(), 1);
    assert_eq!(total.fields[0].count, 1);
    // Merging is order-independent for counts and times.
    let mut other = Report::default();
    other.merge(early.drift);
    other.merge(late.drift);
    assert_eq!(
        (
            other.types[0].count,
            other.types[0].first_seen_ms,
            other.types[0].last_seen_ms
        ),
        (3, 1_000, 9_000)
    );
}

#[test]
fn merge_into_a_full_report_counts_overflow() {
    let mut total = Report::default();
    for i in 0..MAX_TYPES {
        total.merge(run(&[event("x", &format!("users.new.T{i:03}"), "{}")], 1).drift);
    }
    let mut delta = run(
        &[
            event("y", "users.new.Z", "{}"),
            event("z", "users.new.Z", "{}"),
            event("k", "users.new.T000", "{}"),
        ],
        2,
    )
    .drift;
    delta.overflow = 4;
    assert!(total.merge(delta));
    assert_eq!(total.types.len(), MAX_TYPES);
    assert_eq!(
        total.overflow,
        2 + 4,
        "two occurrences of a new type, plus the batch's own"
    );
    assert_eq!(
        total.types[0].count, 2,
        "known entries still count when the list is full"
    );
    assert_eq!(total.types[0].last_seen_ms, 2);
}

#[test]
fn reset_empties_the_report() {
    let mut total = run(&[event("a", NEW_TYPE, "{}")], 1).drift;
    total.overflow = 3;
    total.reset();
    assert!(total.is_empty());
    assert_eq!(
        report_json("acme", &total),
        r#"{"connector":"acme","types":[],"fields":[],"overflow":0,"limits":{"types":100,"fields":100,"example_properties":32,"name_bytes":64}}"#
    );
}

#[test]
fn no_values_are_stored() {
    let secrets = [
        "jane.doe@example.com",
        "+1 555 0100 2233",
        "Jane Q. Doe",
        "4111 1111 1111 1111",
        "203.0.113.77",
        "tok_live_SECRETVALUE",
        "1234567.891",
    ];
    let props = format!(
        r#"{{"contact_email":"{}","phone":"{}","full_name":"{}","card":{{"number":"{}"}},"ips":["{}"],"token":"{}","balance":{}}}"#,
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4], secrets[5], secrets[6]
    );
    let out = run(&[event("a", NEW_TYPE, &props), event("b", OPEN, &props)], 1);
    assert_eq!((out.drift.types.len(), out.drift.fields.len()), (1, 7));
    let mut total = Report::default();
    total.merge(out.drift.clone());
    let texts = [
        report_json("acme", &total),
        serde_json::to_string(&out.drift).unwrap(),
    ];
    for text in &texts {
        assert!(text.contains("contact_email"), "names are kept: {text}");
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        for fragment in ["jane", "555", "4111", "203.0", "SECRET", "891"] {
            assert!(!text.contains(fragment), "{fragment} in {text}");
        }
    }
}

#[test]
fn json_shape_and_round_trip() {
    let out = run(
        &[
            event("a", NEW_TYPE, r#"{"app_id":"x"}"#),
            event("b", OPEN, r#"{"ai_score":1}"#),
        ],
        42,
    );
    let json = serde_json::to_string(&out.drift).unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"types":[{"event_type":"users.messages.hologram.Send","count":1,"first_seen_ms":42,"last_seen_ms":42,"example":[["app_id","string"]]}],"#,
            r#""fields":[{"event_type":"users.messages.email.Open","field":"ai_score","kind":"number","count":1,"first_seen_ms":42,"last_seen_ms":42,"example":[["ai_score","number"]]}],"#,
            r#""overflow":0}"#
        )
    );
    assert_eq!(Report::from_json(&json), out.drift, "read back as written");
    for unreadable in [
        "",
        "{}",
        "[1]",
        "not json",
        r#"{"types":[{"count":1}],"fields":7}"#,
    ] {
        assert_eq!(
            Report::from_json(unreadable),
            Report::default(),
            "{unreadable}"
        );
    }
    let odd = r#"{"types":[{"event_type":"x","count":2,"first_seen_ms":1,"last_seen_ms":3,"example":[["a","string"],["b","klingon"],[1,"number"]]}],"overflow":4}"#;
    let read = Report::from_json(odd);
    assert_eq!(
        read.types[0].example,
        [("a".to_owned(), Kind::String)],
        "unreadable pairs left out"
    );
    assert_eq!((read.types[0].count, read.overflow), (2, 4));
}

/// The validated events of a batch, for driving [`Observer`] and [`Report::observe`] directly.
fn observed(events: &[String], at_ms: u64) -> (Report, Report) {
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let envelope = crate::currents::Envelope::parse(body.as_bytes()).unwrap();
    let valid: Vec<_> = envelope
        .events
        .iter()
        .filter_map(|raw| crate::currents::validate_event(raw).ok())
        .collect();
    let mut observer = Observer::default();
    let mut plain = Report::default();
    for ev in &valid {
        observer.observe(ev, at_ms);
        plain.observe(ev, at_ms);
    }
    (observer.report, plain)
}

#[test]
fn the_observer_remembers_documented_names_without_hiding_drift() {
    let events = [
        event("a", OPEN, r#"{"campaign_id":"c","ai_score":null}"#),
        event("b", OPEN, r#"{"campaign_id":"c","ai_score":null}"#), // the same names: skipped
        event("c", OPEN, r#"{"campaign_id":"c","ai_score":1}"#),    // the null is now a value
        event("d", OPEN, r#"{"campaign_id":"c"}"#),
        event("e", OPEN, r#"{"dispatch_id":"d","campaign_id":"c"}"#), // other order, still documented
        event("f", OPEN, r#"{"campaign_id":"c","extra":true}"#),
        event("g", OPEN, r#"{"campaign_id":"c","extra":true}"#),
        event("h", OPEN, r#"{"camp\u0061ign_id":"c","extra":[]}"#), // an escaped name
        event("i", OPEN, r#"{"campaign_id":"c"}"#),
        event("j", NEW_TYPE, "{}"),
        event("k", NEW_TYPE, r#"{"campaign_id":"c"}"#),
        event("l", "users.messages.email.Send", r#"{"campaign_id":"c"}"#),
        event("m", OPEN, "{}"),
        event("n", OPEN, r#"{"ai_score":2}"#),
        event(
            "o",
            OPEN,
            r#"{"ai_score":"x","campaign_id":"c","extra":null,"more":1}"#,
        ),
        event(
            "p",
            OPEN,
            r#"{"ai_score":[],"campaign_id":null,"extra":null,"more":{}}"#,
        ), // fewer names
        event("q", OPEN, r#"{"ai_score":"y","campaign_id":"c","more":2}"#), // o's names again
        event("r", OPEN, r#"{"ai_score":"y","campaign_id":"c","more":2}"#),
    ];
    let (remembered, plain) = observed(&events, 9);
    assert_eq!(
        remembered, plain,
        "the observer records what a lookup per event records"
    );
    let fields: Vec<(Option<&str>, u64)> = remembered
        .fields
        .iter()
        .map(|e| (e.field.as_deref(), e.count))
        .collect();
    assert_eq!(
        fields,
        [(Some("ai_score"), 6), (Some("extra"), 3), (Some("more"), 4)]
    );
    assert_eq!(remembered.types[0].count, 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Whatever order and mix of names, values and `null`s a batch brings, the observer's memory
    /// records exactly what looking every event up records.
    #[test]
    fn the_observer_records_what_lookups_record(
        events in proptest::collection::vec(
            (
                0usize..3,
                proptest::collection::vec((0usize..6, 0usize..3), 0..6),
            ),
            0..40,
        )
    ) {
        const TYPES: [&str; 3] = [OPEN, "users.messages.email.Send", NEW_TYPE];
        const NAMES: [&str; 6] = ["campaign_id", "ai_score", "dispatch_id", "extra", "os_version", "x_api_id"];
        const VALUES: [&str; 3] = ["null", "1", "\"s\""];
        let texts: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, (ty, props))| {
                let props: Vec<String> = props
                    .iter()
                    .map(|(n, v)| format!("\"{}\":{}", NAMES[*n], VALUES[*v]))
                    .collect();
                event(&format!("e{i}"), TYPES[*ty], &format!("{{{}}}", props.join(",")))
            })
            .collect();
        let (remembered, plain) = observed(&texts, 5);
        proptest::prop_assert_eq!(remembered, plain);
    }
}
