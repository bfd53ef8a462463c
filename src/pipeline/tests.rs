use serde_json::{Value, json};

use super::*;

const HASH: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn config() -> ConnectorConfig {
    let doc = json!({"token_sha256": HASH,
        "destinations": {"main": {"write_key": "wk_main_0001", "region": "us"}}});
    ConnectorConfig::from_json(&doc.to_string()).unwrap()
}

const CTX: ProcessContext<'static> = ProcessContext {
    connector_id: "acme",
    nearest_region: None,
    received_ms: 0,
};

fn good(id: &str) -> Value {
    json!({"event_type": "users.messages.email.Send", "id": id, "time": 1700000000,
        "user": {"user_id": "b", "external_user_id": "u"}, "properties": {"email_address": "x@y.z"}})
}

#[test]
fn mixed_batch_ends_each_event_in_exactly_one_place() {
    let events = json!([
        good("a"),
        {"event_type": "users.messages.email.Send", "time": 1},
        good("b"),
        {"event_type": "users.messages.email.Send", "id": "anon", "time": 1, "user": {"user_id": "b"}},
        "not an event",
        {"event_type": "users.messages.email.Send", "id": "big", "time": 1,
         "user": {"user_id": "b", "external_user_id": "u"}, "properties": {"blob": "x".repeat(40_000)}},
    ]);
    let body = json!({ "events": events }).to_string();
    let out = process(body.as_bytes(), &config(), &CTX).unwrap();
    assert_eq!(out.received, 6);
    let forwarded: Vec<usize> = out
        .batches
        .iter()
        .flat_map(|b| b.events.iter().filter_map(|e| e.index))
        .collect();
    let filtered: Vec<usize> = out.filtered.iter().map(|f| f.index).collect();
    let quarantined: Vec<(usize, RejectReason)> = out
        .quarantined
        .iter()
        .map(|q| (q.index, q.reason))
        .collect();
    assert_eq!(forwarded, vec![0, 2]);
    assert_eq!(filtered, vec![3]);
    assert_eq!(
        quarantined,
        vec![
            (1, RejectReason::MissingId),
            (4, RejectReason::NotAnObject),
            (5, RejectReason::EventTooLarge)
        ]
    );
    assert_eq!(out.accepted(), 2);
}

#[test]
fn quarantine_keeps_the_raw_event_and_what_can_be_read_of_it() {
    let body = br#"{"events":[{"id":"e-9","event_type":"users.messages.sms.Send","time":"yesterday","x":[1, 2]}]}"#;
    let out = process(body, &config(), &CTX).unwrap();
    let q = &out.quarantined[0];
    assert_eq!(q.reason, RejectReason::InvalidTime);
    assert_eq!(q.event_id.as_deref(), Some("e-9"));
    assert_eq!(q.event_type.as_deref(), Some("users.messages.sms.Send"));
    assert_eq!(
        q.raw.get(),
        r#"{"id":"e-9","event_type":"users.messages.sms.Send","time":"yesterday","x":[1, 2]}"#
    );
    assert!(q.detail.contains("string"), "{}", q.detail);
}

#[test]
fn request_errors_fail_the_whole_request() {
    assert_eq!(
        process(b"[]", &config(), &CTX).unwrap_err(),
        RequestError::NotAnObject
    );
    assert_eq!(
        process(b"{}", &config(), &CTX).unwrap_err(),
        RequestError::MissingEvents
    );
}

#[test]
fn empty_body_is_a_no_op() {
    let out = process(b"", &config(), &CTX).unwrap();
    assert_eq!((out.received, out.accepted()), (0, 0));
    assert!(out.batches.is_empty() && out.filtered.is_empty() && out.quarantined.is_empty());
}

#[test]
fn batch_bodies_are_valid_segment_requests() {
    let events: Vec<Value> = (0..300).map(|i| good(&format!("e{i}"))).collect();
    let body = json!({ "events": events }).to_string();
    let out = process(body.as_bytes(), &config(), &CTX).unwrap();
    let mut batch = Vec::new();
    for message in &out.batches {
        assert!(message.to_json().len() <= crate::delivery::MAX_MESSAGE_BYTES);
        let sent: Value =
            serde_json::from_str(&message.segment_body("2026-11-28T00:00:00.000Z")).unwrap();
        batch.extend(sent["batch"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(batch.len(), 300);
    let ids: std::collections::BTreeSet<&str> = batch
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 300, "distinct events get distinct messageIds");
}

#[test]
fn outcome_serialises_for_the_browser_and_logs() {
    let body = json!({ "events": [good("a"), {"id": 1}] }).to_string();
    let out = process(body.as_bytes(), &config(), &CTX).unwrap();
    let v: Value = serde_json::to_value(&out).unwrap();
    assert_eq!(v["received"], 2);
    assert_eq!(v["batches"][0]["region"], "us");
    assert_eq!(v["batches"][0]["events"][0]["json"]["event"], "Email Sent");
    assert_eq!(v["quarantined"][0]["reason"], "invalid_id");
    assert!(
        !v.to_string().contains("wk_main_0001"),
        "the write key never leaves the config"
    );
}

#[test]
fn a_batch_broken_after_its_events_fails_whole() {
    // The events are read as they come; what follows them still decides the request.
    let events = json!([good("a"), good("b"), {"id": 1}]).to_string();
    for tail in [" x", ",\"events\":[]", "", "]", ",}"] {
        let body = format!(r#"{{"events":{events}{tail}}}"#);
        let expected = crate::currents::Envelope::parse(body.as_bytes()).err();
        let got = process(body.as_bytes(), &config(), &CTX).err();
        assert_eq!(got, expected, "{body}");
        assert_eq!(got.is_some(), !tail.is_empty(), "{body}");
    }
}

#[test]
fn a_quarantined_element_is_its_exact_text() {
    let body = "{\"events\":[ 7 ,\n  {\"id\" : \"a\", \"id\":\"b\"} , [ ] ]}";
    let out = process(body.as_bytes(), &config(), &CTX).unwrap();
    let raws: Vec<(&str, RejectReason)> = out
        .quarantined
        .iter()
        .map(|q| (q.raw.get(), q.reason))
        .collect();
    assert_eq!(
        raws,
        [
            ("7", RejectReason::NotAnObject),
            (r#"{"id" : "a", "id":"b"}"#, RejectReason::MalformedEvent),
            ("[ ]", RejectReason::NotAnObject),
        ]
    );
    assert_eq!(out.received, 3);
}
