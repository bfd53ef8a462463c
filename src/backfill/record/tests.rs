use serde_json::{Value as Json, json};

use super::*;

fn record(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn some(v: Value) -> Value {
    Value::Union(1, Box::new(v))
}

fn none() -> Value {
    Value::Union(0, Box::new(Value::Null))
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_flat_record_becomes_the_http_event() {
    let r = record(vec![
        ("id", s("e-1")),
        ("user_id", s("b-1")),
        ("external_user_id", some(s("u-1"))),
        ("device_id", none()),
        ("time", Value::Int(1_700_000_000)),
        ("timezone", some(s("Europe/Paris"))),
        ("app_id", some(s("app"))),
        ("email_address", s("a\"b@c.d")),
        ("price", Value::Float(4.99)),
        ("is_amp", some(Value::Boolean(true))),
        ("tags", Value::Array(vec![s("x"), s("y")])),
        ("campaign_name", none()),
    ]);
    let m = map_record(&r, Some("users.messages.email.Open")).unwrap();
    assert_eq!(
        parse(&m.event),
        json!({
            "event_type": "users.messages.email.Open", "id": "e-1", "time": 1_700_000_000,
            "user": {"user_id": "b-1", "external_user_id": "u-1", "timezone": "Europe/Paris"},
            "properties": {"app_id": "app", "email_address": "a\"b@c.d", "price": 4.99,
                "is_amp": true, "tags": ["x", "y"]}
        })
    );
    assert!(m.event.contains("\"price\":4.99"), "{}", m.event);
    assert_eq!(m.event_type.as_deref(), Some("users.messages.email.Open"));
    assert_eq!(m.time, Some(1_700_000_000));
    let raw = parse(&raw_record(&r));
    assert_eq!(raw["device_id"], Json::Null);
    assert_eq!(raw["campaign_name"], Json::Null);
    assert_eq!(raw["price"], json!(4.99));
    assert_eq!(
        raw.as_object().unwrap().len(),
        12,
        "every field, nulls kept"
    );
}

#[test]
fn fields_go_where_the_http_push_puts_them() {
    for f in TOP_FIELDS {
        assert!(
            matches!(part(f), Part::Id | Part::EventType | Part::Time),
            "{f}"
        );
    }
    for f in USER_FIELDS {
        assert!(part(f) == Part::User, "{f}");
    }
    assert!(part(PROPERTIES_FIELD) == Part::JsonProperties);
    assert!(part("app_id") == Part::Properties);
}

#[test]
fn the_record_type_wins_over_the_folder() {
    let r = record(vec![
        ("id", s("e")),
        ("event_type", s("users.messages.sms.Send")),
        ("time", Value::Long(5)),
    ]);
    let m = map_record(&r, Some("users.messages.email.Send")).unwrap();
    let e = parse(&m.event);
    assert_eq!(e["event_type"], "users.messages.sms.Send");
    assert_eq!(m.time, Some(5));
    // Without either, the event has no type and validation quarantines it.
    let m = map_record(&record(vec![("id", s("e"))]), None).unwrap();
    assert_eq!(m.event_type, None);
    assert!(parse(&m.event).get("event_type").is_none());
    assert_eq!(m.event, r#"{"id":"e","user":{},"properties":{}}"#);
    // An empty or null type field gives way to the folder, never a repeated key.
    for empty in [s(""), none()] {
        let r = record(vec![("event_type", empty.clone()), ("id", s("e"))]);
        let m = map_record(&r, Some("users.messages.sms.Send")).unwrap();
        assert_eq!(
            m.event,
            r#"{"event_type":"users.messages.sms.Send","id":"e","user":{},"properties":{}}"#
        );
        let alone = map_record(&r, None).unwrap();
        assert_eq!(alone.event_type, None);
    }
    let bad = record(vec![("event_type", Value::Int(3)), ("id", s("e"))]);
    let m = map_record(&bad, None).unwrap();
    assert_eq!(
        m.event,
        r#"{"event_type":3,"id":"e","user":{},"properties":{}}"#
    );
}

#[test]
fn custom_and_purchase_properties_become_objects_verbatim() {
    let text = r#" {"plan":"gold","big":9007199254740993,"nested":{"a":[1]}} "#;
    for (event_type, field) in [
        (CUSTOM_EVENT_TYPE, "custom_properties"),
        (PURCHASE_TYPE, "purchase_properties"),
    ] {
        let r = record(vec![("id", s("e")), ("properties", s(text))]);
        let m = map_record(&r, Some(event_type)).unwrap();
        assert!(
            m.event.contains(&format!("\"{field}\":{}", text.trim())),
            "{}",
            m.event
        );
        assert_eq!(
            parse(&raw_record(&r))["properties"],
            text,
            "raw keeps the string"
        );
    }
    let empty = record(vec![("id", s("e")), ("properties", s(""))]);
    let m = map_record(&empty, Some(CUSTOM_EVENT_TYPE)).unwrap();
    assert_eq!(
        parse(&m.event)["properties"]["custom_properties"],
        json!({})
    );
    // Other types keep a field named `properties` as it is.
    let r = record(vec![("id", s("e")), ("properties", s("{}"))]);
    let m = map_record(&r, Some("users.messages.email.Send")).unwrap();
    assert_eq!(parse(&m.event)["properties"]["properties"], "{}");
}

#[test]
fn unusable_values_fail_with_the_field_and_keep_the_raw_record() {
    for (text, detail) in [("{oops", "key must be a string"), ("[1]", "a JSON array")] {
        let r = record(vec![("id", s("e-2")), ("properties", s(text))]);
        let err = map_record(&r, Some(CUSTOM_EVENT_TYPE)).unwrap_err();
        assert_eq!(err.code(), "invalid_properties_json");
        assert!(err.to_string().contains(detail), "{err}");
        assert_eq!(parse(&raw_record(&r))["id"], "e-2");
    }
    let r = record(vec![
        ("id", s("e-3")),
        ("blob", Value::Bytes(vec![1, 2])),
        ("score", Value::Double(f64::NAN)),
    ]);
    let err = map_record(&r, None).unwrap_err();
    assert_eq!(
        err,
        MapError::Unsupported {
            field: "blob".into(),
            kind: "bytes"
        }
    );
    assert_eq!(err.code(), "unsupported_value");
    assert_eq!(
        parse(&raw_record(&r)),
        json!({"id": "e-3", "blob": null, "score": null})
    );
    assert_eq!(
        map_record(&s("text"), None).unwrap_err(),
        MapError::NotARecord("string")
    );
    assert_eq!(raw_record(&s("text")), "\"text\"");
}

#[test]
fn schemas_that_are_not_currents_storage_files() {
    let currents = ["id", "user_id", "time", "app_id"];
    assert_eq!(
        check_schema(Some(&currents), Some("users.messages.email.Open")),
        Ok(())
    );
    let (code, detail) = check_schema(Some(&currents), None).unwrap_err();
    assert_eq!(code, "unknown_event_type");
    assert!(detail.contains("event_type= folder"), "{detail}");
    assert_eq!(
        check_schema(Some(&["id", "time", "event_type"]), None),
        Ok(())
    );
    let (code, detail) = check_schema(Some(&["name", "time"]), Some("t")).unwrap_err();
    assert_eq!(code, "foreign_schema");
    assert!(detail.contains("no id field"), "{detail}");
    let (code, _) = check_schema(None, Some("t")).unwrap_err();
    assert_eq!(code, "foreign_schema");
}

#[test]
fn maps_render_with_sorted_keys_and_enums_as_symbols() {
    let map = Value::Map(
        [
            ("b".to_owned(), Value::Int(2)),
            ("a".to_owned(), Value::Int(1)),
        ]
        .into_iter()
        .collect(),
    );
    let r = record(vec![
        ("id", s("e")),
        ("m", map),
        ("kind", Value::Enum(1, "EMAIL".into())),
        ("when", Value::TimestampMillis(1_700_000_000_000)),
    ]);
    let m = map_record(&r, None).unwrap();
    assert!(m.event.contains(r#""m":{"a":1,"b":2}"#), "{}", m.event);
    assert_eq!(parse(&m.event)["properties"]["kind"], "EMAIL");
    assert_eq!(parse(&m.event)["properties"]["when"], 1_700_000_000_000_i64);
}

#[test]
fn records_in_one_batch_read_as_each_alone() {
    let good = |id: &str| {
        record(vec![
            ("id", s(id)),
            ("time", Value::Long(1_700_000_000)),
            ("user_id", s("b\n1")),
            ("tags", Value::Array(vec![s("x")])),
        ])
    };
    // Fails on its last field, after the others are written.
    let bad = record(vec![
        ("id", s("e-bad")),
        ("user_id", s("b")),
        ("blob", Value::Bytes(vec![1])),
    ]);
    let skipped = good("e-skipped");
    let records = [good("e-1"), bad, s("not a record"), skipped, good("e-2")];
    let mut batch = EventBatch::new(1);
    for (i, r) in records.iter().enumerate() {
        let before = format!("{batch:?}");
        match batch.push(r, Some("users.messages.email.Send")) {
            Ok(m) => {
                let at = batch.len() - 1;
                assert_eq!(m.event_type, Some("users.messages.email.Send"));
                assert_eq!(m.span, batch.span(at));
                let alone = map_record(r, Some("users.messages.email.Send")).unwrap();
                assert_eq!(batch.event_text(at), alone.event);
                if i == 3 {
                    batch.pop();
                    assert_eq!(format!("{batch:?}"), before, "a record taken out again");
                }
            }
            Err(_) => assert_eq!(
                format!("{batch:?}"),
                before,
                "a failed record leaves no trace"
            ),
        }
    }
    assert_eq!(batch.len(), 2);
    let body = batch.into_body();
    let ids: Vec<Json> = parse(&body)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("e-1"), json!("e-2")]);
}

/// Records of every shape a storage file can hold.
fn varied_records() -> Vec<(Value, Option<&'static str>)> {
    let map = Value::Map(
        [("z".to_owned(), s("ü")), ("a\"".to_owned(), Value::Null)]
            .into_iter()
            .collect(),
    );
    let nested = record(vec![
        ("inner", some(Value::Double(-0.5))),
        ("k\\", s("\u{1}")),
    ]);
    vec![
        (
            record(vec![
                ("id", s("e-1")),
                ("user_id", s("b")),
                ("external_user_id", some(s("u\"1"))),
                ("device_id", none()),
                ("time", Value::Int(1_700_000_000)),
                ("timezone", some(s("Europe/Paris"))),
                ("café", some(s("a\u{2028}b"))),
                ("price", Value::Float(4.99)),
                ("big", Value::Long(i64::MIN)),
                ("is_amp", some(Value::Boolean(false))),
                ("tags", Value::Array(vec![s("x"), Value::Int(2), map])),
                ("r", nested),
                ("user", s("a property named user")),
                ("campaign_name", none()),
            ]),
            Some("users.messages.email.Open"),
        ),
        // The type from the record, none from the folder; no user field at all.
        (
            record(vec![
                ("event_type", s("users.messages.sms.Send")),
                ("id", s("e-2")),
                ("time", Value::Long(1)),
                ("user_id", s("b")),
                ("external_user_id", s("u")),
            ]),
            None,
        ),
        // An unusable type field stays for validation to name; time of the wrong kind.
        (
            record(vec![
                ("event_type", Value::Int(3)),
                ("id", s("e-3")),
                ("time", s("x")),
            ]),
            None,
        ),
        // Custom properties from a JSON string, next to a field of the same HTTP name: the
        // later one wins, as in a parsed body.
        (
            record(vec![
                ("id", s("e-4")),
                ("time", Value::Int(2)),
                ("user_id", s("b")),
                ("external_user_id", s("u")),
                ("custom_properties", s("first")),
                (
                    "properties",
                    s(r#" {"plan":"gold","n":1.50,"k\u00e9":[1]} "#),
                ),
                ("name", s("signup")),
            ]),
            Some(CUSTOM_EVENT_TYPE),
        ),
        (
            record(vec![
                ("id", s("e-5")),
                ("time", Value::Int(3)),
                ("user_id", s("b")),
                ("properties", s("")),
            ]),
            Some(PURCHASE_TYPE),
        ),
        (
            record(vec![("time", Value::Int(5))]),
            Some("users.behaviors.app.FirstSession"),
        ),
    ]
}

#[test]
fn batch_events_are_what_reading_the_batch_text_finds() {
    let records = varied_records();
    let mut batch = EventBatch::new(records.len());
    for (r, path_type) in &records {
        batch.push(r, *path_type).unwrap();
    }
    let written: Vec<String> = batch
        .elements()
        .map(|e| format!("{:?}", e.unwrap()))
        .collect();
    let body = batch.into_body();
    let read: Vec<String> = crate::currents::Events::new(body.as_bytes())
        .unwrap()
        .map(|e| format!("{:?}", e.unwrap()))
        .collect();
    assert_eq!(written.len(), records.len());
    for (w, r) in written.iter().zip(&read) {
        assert_eq!(w, r);
    }
    assert_eq!(written, read);
}

#[test]
fn process_gives_the_same_outcome_on_a_batch_and_on_its_text() {
    let doc = json!({"token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "destinations": {"main": {"write_key": "wk_main_0001", "region": "us"}}});
    let config = crate::config::ConnectorConfig::from_json(&doc.to_string()).unwrap();
    let ctx = crate::pipeline::ProcessContext {
        connector_id: "acme",
        nearest_region: None,
        received_ms: 7,
    };
    let records = varied_records();
    let mut batch = EventBatch::new(records.len());
    for (r, path_type) in &records {
        batch.push(r, *path_type).unwrap();
    }
    use crate::pipeline::{Drift, process, process_events};
    let direct = process_events(batch.elements(), &config, &ctx, Drift::Observe).unwrap();
    let mut skipped = process_events(batch.elements(), &config, &ctx, Drift::Skip).unwrap();
    let body = batch.into_body();
    let read = process(body.as_bytes(), &config, &ctx).unwrap();
    assert_eq!(
        serde_json::to_value(&direct).unwrap(),
        serde_json::to_value(&read).unwrap()
    );
    // Without the drift report, the same outcome otherwise.
    assert!(skipped.drift.fields.is_empty() && skipped.drift.types.is_empty());
    assert!(
        !direct.drift.fields.is_empty(),
        "the records carry unlisted fields"
    );
    skipped.drift = direct.drift.clone();
    assert_eq!(
        serde_json::to_value(&skipped).unwrap(),
        serde_json::to_value(&direct).unwrap()
    );
    // Forwarded, filtered (an anonymous purchase) and quarantined all occur: each path compared.
    assert_eq!(direct.accepted(), 3, "{direct:?}");
    assert_eq!(direct.filtered.len(), 1, "{direct:?}");
    assert_eq!(direct.quarantined.len(), 2, "{direct:?}");
}

#[test]
fn fields_past_the_64th_go_where_the_others_do() {
    let mut fields: Vec<(String, Value)> =
        (0..64).map(|i| (format!("f{i}"), Value::Int(i))).collect();
    fields[3] = ("user_id".into(), s("b"));
    fields.extend([
        ("id".to_owned(), s("e")),
        ("external_user_id".to_owned(), some(s("u"))),
        ("device_id".to_owned(), none()),
        ("properties".to_owned(), s(r#"{"k":1}"#)),
        ("late".to_owned(), s("x")),
        ("time".to_owned(), Value::Int(5)),
    ]);
    let r = Value::Record(fields);
    let m = map_record(&r, Some(CUSTOM_EVENT_TYPE)).unwrap();
    let event = parse(&m.event);
    assert_eq!(event["id"], "e");
    assert_eq!(event["time"], 5);
    assert_eq!(
        event["user"],
        json!({"user_id": "b", "external_user_id": "u"})
    );
    let props = event["properties"].as_object().unwrap();
    assert_eq!(
        props.len(),
        63 + 2,
        "f0..f63 but f3, then the two late ones"
    );
    assert_eq!(props["f63"], 63);
    assert_eq!(props["custom_properties"], json!({"k": 1}));
    assert_eq!(props["late"], "x");
    let at = |key: &str| m.event.find(&format!("\"{key}\":")).unwrap();
    assert!(at("f62") < at("f63") && at("f63") < at("custom_properties"));
    assert!(
        at("custom_properties") < at("late"),
        "in the record's order"
    );
    // As read back from the text.
    let mut batch = EventBatch::new(1);
    batch.push(&r, Some(CUSTOM_EVENT_TYPE)).unwrap();
    let written = format!("{:?}", batch.elements().next().unwrap().unwrap());
    let body = batch.into_body();
    let read = crate::currents::Events::new(body.as_bytes())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(written, format!("{read:?}"));
}
