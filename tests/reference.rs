//! The translator against Braze's current Currents glossary (`tests/fixtures/
//! braze-glossary-segment.json`): for every event type with a documented Segment shape, an event
//! built from the type's storage fields (plus the few Segment properties storage lacks) is
//! translated, and each documented Segment path must come
//! from its source field, with its declared type, and nothing else may land in `context`.
//!
//! The check is independent of `src/mapping`: it reads only the reference file and the few
//! decisions written down in docs/DECISIONS.md (names the glossary leaves blank or ambiguous).
//!
//! The golden inputs of the types the seed table did not have (`tests/golden/<type>.braze.json`)
//! are exactly the events built here; `BLESS=1 cargo test --test reference` rewrites them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use currents_relay::{ConnectorConfig, ProcessContext, process};
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

fn glossary() -> Value {
    read_json(root().join("fixtures/braze-glossary-segment.json"))
}

fn seed_types() -> BTreeSet<String> {
    let seed = read_json(root().join("fixtures/segment-event-mapping.json"));
    seed["events"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn config() -> ConnectorConfig {
    ConnectorConfig::from_json(&fs::read_to_string(root().join("golden/connector.json")).unwrap())
        .unwrap()
}

/// Fields of the storage record that Currents' HTTP push carries in `user`, not in `properties`.
const USER_FIELDS: [&str; 4] = ["user_id", "external_user_id", "device_id", "timezone"];

/// The HTTP field that carries a storage field (custom and purchase properties are a JSON string
/// named `properties` in storage and an object in the HTTP push).
fn http_name<'a>(event_type: &str, field: &'a str) -> &'a str {
    match (event_type, field) {
        ("users.behaviors.CustomEvent", "properties") => "custom_properties",
        ("users.behaviors.Purchase", "properties") => "purchase_properties",
        _ => field,
    }
}

/// A value of the declared storage type, recognisable in the output.
fn sample_value(field: &str, declared: &str) -> Value {
    let kind = declared
        .strip_prefix("required ")
        .or_else(|| declared.strip_prefix("optional "))
        .unwrap();
    match (field, kind) {
        ("properties", _) => json!({"plan": "gold", "seats": 3}),
        ("email_address", _) => json!("person@example.com"),
        (f, _) if f.ends_with("phone_number") => json!("+15555550123"),
        ("platform", _) => json!("ios"),
        ("device_model", _) => json!("iPhone15,2"),
        ("time", _) => json!(2_033_802_504),
        (_, "int" | "long") => json!(7),
        (_, "float") => json!(3.25),
        (_, "boolean") => json!(true),
        (_, "array of string") => json!(["first", "second"]),
        (f, "string") => json!(format!("{f}-value")),
        (f, other) => panic!("{f}: unexpected declared type {other}"),
    }
}

/// The Currents HTTP event carrying every storage field of `entry`.
fn storage_event(entry: &Value) -> Value {
    let event_type = entry["event_type"].as_str().unwrap();
    let mut user = Map::new();
    let mut properties = Map::new();
    for (field, declared) in entry["storage_fields"].as_object().unwrap() {
        let value = sample_value(field, declared.as_str().unwrap());
        match field.as_str() {
            "id" | "time" => {}
            "user_id" => {
                user.insert(field.clone(), json!("639a35d192b0df004d06514c"));
            }
            f if USER_FIELDS.contains(&f) => {
                user.insert(field.clone(), value);
            }
            f => {
                properties.insert(http_name(event_type, f).to_owned(), value);
            }
        }
    }
    // A few types document a Segment path without a storage field for it (Braze's samples of
    // those types carry it): `device_id` in `user`, the others in `properties`.
    for (path, declared) in entry["segment_paths"].as_object().unwrap() {
        let field = match path.as_str() {
            "context.device.model" => "device_model",
            "context.device.type" => "platform",
            "context.traits.email" => "email_address",
            "context.traits.phone" if !properties.contains_key("to_phone_number") => {
                "user_phone_number"
            }
            p => match p.strip_prefix("properties.") {
                Some(field) => field,
                None => continue,
            },
        };
        let renamed = matches!(field, "link_url" | "card_id");
        if field == "device_id" {
            user.entry(field)
                .or_insert_with(|| json!("device_id-value"));
        } else if !renamed && !properties.contains_key(field) {
            properties.insert(
                field.to_owned(),
                sample_value(field, declared.as_str().unwrap()),
            );
        }
    }
    json!({
        "event_type": event_type,
        "id": format!("{event_type}-0001"),
        "time": 2_033_802_504,
        "user": user,
        "properties": properties,
    })
}

fn translate(event: &Value) -> Value {
    let body = json!({ "events": [event] }).to_string();
    let ctx = ProcessContext {
        connector_id: "reference",
        nearest_region: None,
        received_ms: 0,
    };
    let outcome = process(body.as_bytes(), &config(), &ctx).unwrap();
    assert!(outcome.quarantined.is_empty(), "{:?}", outcome.quarantined);
    assert!(outcome.filtered.is_empty(), "{:?}", outcome.filtered);
    serde_json::from_str(outcome.batches[0].events[0].json.get()).unwrap()
}

/// The Segment name expected under the default (`braze`) profile: the glossary's, except where
/// docs/DECISIONS.md says why not.
fn expected_name(entry: &Value, event: &Value) -> String {
    let event_type = entry["event_type"].as_str().unwrap();
    let documented = entry["segment_name"].as_str();
    if event_type == "users.behaviors.CustomEvent" {
        assert!(documented.is_none());
        return event["properties"]["name"].as_str().unwrap().to_owned();
    }
    let documented = documented.unwrap();
    let channel = match event_type.split('.').nth(2) {
        Some("line") => "LINE",
        Some("rcs") => "RCS",
        _ => return documented.to_owned(),
    };
    if documented.starts_with(channel) {
        documented.to_owned()
    } else {
        format!("{channel} {documented}")
    }
}

/// The input value a Segment path comes from.
fn source<'a>(event_type: &str, path: &str, event: &'a Value) -> &'a Value {
    let props = &event["properties"];
    let user = &event["user"];
    match path {
        "userId" => &user["external_user_id"],
        "anonymousId" => &user["user_id"],
        "context.device.model" => &props["device_model"],
        "context.device.type" => &props["platform"],
        "context.traits.email" => &props["email_address"],
        "context.traits.phone" => ["to_phone_number", "user_phone_number"]
            .iter()
            .map(|f| &props[f])
            .find(|v| !v.is_null())
            .unwrap_or(&Value::Null),
        "properties.device_id" => &user["device_id"],
        "properties.link_url" if event_type == "users.messages.email.Click" => &props["url"],
        "properties.card_id" if props.get("content_card_id").is_some() => &props["content_card_id"],
        p => &props[p.strip_prefix("properties.").unwrap()],
    }
}

fn at<'a>(out: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(out, |v, key| &v[key])
}

fn has_declared_type(value: &Value, declared: &str) -> bool {
    if declared.ends_with("array of string") {
        return value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
    }
    match declared.rsplit_once(' ').map(|(_, t)| t).unwrap() {
        "string" => value.is_string(),
        "int" | "long" => value.is_i64() || value.is_u64(),
        "float" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => panic!("unexpected declared type {other}"),
    }
}

fn check(entry: &Value, event: &Value, out: &Value) {
    let event_type = entry["event_type"].as_str().unwrap();
    let paths = entry["segment_paths"].as_object().unwrap();
    assert_eq!(out["event"], expected_name(entry, event), "{event_type}");
    for (path, declared) in paths {
        let declared = declared.as_str().unwrap();
        let expected = source(event_type, path, event);
        assert!(!expected.is_null(), "{event_type}: no source for {path}");
        let actual = at(out, path);
        assert_eq!(actual, expected, "{event_type}: {path}");
        assert!(has_declared_type(actual, declared), "{event_type}: {path}");
    }
    let context = out["context"].as_object().unwrap();
    let sections: BTreeSet<&str> = context.keys().map(String::as_str).collect();
    assert_eq!(
        sections,
        BTreeSet::from(["device", "library", "traits"]),
        "{event_type}"
    );
    for section in ["device", "traits"] {
        for key in context[section].as_object().unwrap().keys() {
            let path = format!("context.{section}.{key}");
            assert!(
                paths.contains_key(&path),
                "{event_type}: {path} is not documented"
            );
        }
    }
    // A field that moved into `context` is not also copied into `properties`.
    let props = out["properties"].as_object().unwrap();
    for (path, moved) in [
        ("context.device.model", "device_model"),
        ("context.device.type", "platform"),
        ("context.traits.email", "email_address"),
    ] {
        if paths.contains_key(path) {
            assert!(!props.contains_key(moved), "{event_type}: {moved} copied");
        }
    }
    for never in ["os_version", "sending_ip", "timezone"] {
        assert!(!props.contains_key(never), "{event_type}: {never}");
    }
}

#[test]
fn every_documented_type_is_named_and_placed_as_documented() {
    let glossary = glossary();
    let entries = glossary["events"].as_array().unwrap();
    assert_eq!(entries.len(), 80);
    for entry in entries {
        let event = storage_event(entry);
        check(entry, &event, &translate(&event));
    }
}

#[test]
fn the_table_knows_every_documented_type() {
    let documented: BTreeSet<String> = glossary()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    let known: BTreeSet<String> = currents_relay::mapping::known_event_types()
        .map(str::to_owned)
        .collect();
    assert!(
        documented.is_subset(&known),
        "{:?}",
        documented.difference(&known)
    );
    let legacy: Vec<&String> = known.difference(&documented).collect();
    assert_eq!(legacy, ["users.campaigns.Abort", "users.canvas.Abort"]);
}

#[test]
fn golden_inputs_of_the_new_types_are_built_from_their_storage_fields() {
    let bless = std::env::var_os("BLESS").is_some();
    let seed = seed_types();
    let glossary = glossary();
    let mut checked = 0;
    for entry in glossary["events"].as_array().unwrap() {
        let event_type = entry["event_type"].as_str().unwrap();
        if seed.contains(event_type) {
            continue;
        }
        let path = root().join(format!("golden/{event_type}.braze.json"));
        let built = storage_event(entry);
        if bless {
            fs::write(&path, serde_json::to_string_pretty(&built).unwrap() + "\n").unwrap();
        }
        assert_eq!(read_json(path), built, "{event_type}");
        checked += 1;
    }
    assert_eq!(checked, 32);
}

#[test]
fn a_missing_optional_field_is_absent_not_null() {
    // Braze omits or nulls optional fields: either way the documented path is simply absent.
    let glossary = glossary();
    let entry = glossary["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "users.messages.sms.CarrierSend")
        .unwrap();
    let mut event = storage_event(entry);
    event["properties"]["to_phone_number"] = Value::Null;
    event["properties"]
        .as_object_mut()
        .unwrap()
        .remove("campaign_name");
    let out = translate(&event);
    assert_eq!(out["context"]["traits"], json!({}));
    assert!(out["properties"].get("campaign_name").is_none());
    assert!(!out.to_string().contains("null"));
}
