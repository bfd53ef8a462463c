//! Golden tests: one event of every known type → the exact Segment event, and an independent check
//! of each output against the reference mapping table (not against the code's own table).
//!
//! `tests/golden/<event_type>.braze.json` is the input, `<event_type>.segment.json` the expected
//! Segment `track` call. To regenerate after a deliberate change: `BLESS=1 cargo test --test golden`,
//! then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use currents_relay::{ConnectorConfig, ProcessContext, process};
use serde_json::{Map, Value, json};

const CONNECTOR_ID: &str = "golden";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn config() -> ConnectorConfig {
    ConnectorConfig::from_json(&fs::read_to_string(golden_dir().join("connector.json")).unwrap())
        .unwrap()
}

fn inputs() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = fs::read_dir(golden_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".braze.json")?.to_owned();
            let text = fs::read_to_string(golden_dir().join(&name)).unwrap();
            Some((stem, serde_json::from_str(&text).unwrap()))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn translate_one(event: &Value) -> Value {
    let body = json!({ "events": [event] }).to_string();
    let ctx = ProcessContext {
        connector_id: CONNECTOR_ID,
        nearest_region: None,
        received_ms: 0,
    };
    let outcome = process(body.as_bytes(), &config(), &ctx).unwrap();
    assert!(outcome.quarantined.is_empty(), "{:?}", outcome.quarantined);
    assert!(outcome.filtered.is_empty(), "{:?}", outcome.filtered);
    assert_eq!(outcome.batches.len(), 1);
    serde_json::from_str(outcome.batches[0].events[0].json.get()).unwrap()
}

fn reference() -> Map<String, Value> {
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/segment-event-mapping.json"),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["events"].as_object().unwrap().clone()
}

#[test]
fn every_known_type_has_a_golden_pair() {
    let stems: Vec<String> = inputs().into_iter().map(|(s, _)| s).collect();
    let known: Vec<String> = currents_relay::mapping::known_event_types()
        .map(str::to_owned)
        .collect();
    assert_eq!(stems, known);
    assert_eq!(stems.len(), 82);
}

#[test]
fn samples_translate_to_the_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut mismatches = Vec::new();
    for (stem, event) in inputs() {
        let actual = translate_one(&event);
        let path = golden_dir().join(format!("{stem}.segment.json"));
        if bless {
            fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        if expected != actual {
            mismatches.push(stem);
        }
    }
    assert!(
        mismatches.is_empty(),
        "output differs from golden for {mismatches:?}"
    );
}

/// Checks one output against the reference table's row, independently of `src/mapping`.
fn check_against_reference(event_type: &str, row: &Value, input: &Value, out: &Value) {
    let props = &input["properties"];
    let out_props = out["properties"].as_object().unwrap();
    let expected_name = row["segment_event"].as_str().unwrap_or(match event_type {
        "users.campaigns.Abort" => "Campaign Aborted",
        _ => "Canvas Aborted",
    });
    assert_eq!(out["event"], expected_name, "{event_type}");
    assert_eq!(out["type"], "track");
    assert_eq!(
        out["userId"], input["user"]["external_user_id"],
        "{event_type}"
    );
    assert_eq!(
        out.get("anonymousId"),
        input["user"].get("user_id"),
        "{event_type}"
    );
    assert!(out["messageId"].as_str().unwrap().len() <= 100);
    for (section, key) in [("device", "context_device"), ("traits", "context_traits")] {
        for (target, source) in row[key].as_object().unwrap() {
            let source = source.as_str().unwrap();
            if !props[source].is_null() {
                assert_eq!(
                    out["context"][section][target], props[source],
                    "{event_type} {section}.{target}"
                );
                assert!(
                    !out_props.contains_key(source),
                    "{event_type}: {source} moved, not copied"
                );
            }
        }
    }
    for listed in row["properties"].as_array().unwrap() {
        let listed = listed.as_str().unwrap();
        let source = match listed {
            "device_id" => &input["user"]["device_id"],
            "card_id" if props.get("content_card_id").is_some() => &props["content_card_id"],
            "link_url" if props.get("url").is_some() => &props["url"],
            other => &props[other],
        };
        if !source.is_null() {
            assert_eq!(
                out_props.get(listed),
                Some(source),
                "{event_type}: property {listed}"
            );
        }
    }
    let notes = row["notes"].as_str().unwrap_or("");
    for never in ["os_version", "sending_ip", "timezone"] {
        assert!(
            !out_props.contains_key(never),
            "{event_type}: {never} must not be forwarded"
        );
    }
    // "card_id <- content_card_id", "link_url <- url": the source name is gone after the rename.
    for rename in notes.split(';').filter_map(|n| n.trim().split_once(" <- ")) {
        assert!(
            !out_props.contains_key(rename.1.trim()),
            "{event_type}: {} renamed",
            rename.1
        );
        assert!(
            out_props.contains_key(rename.0.trim()),
            "{event_type}: {} present",
            rename.0
        );
    }
    for key in out_props.keys() {
        assert!(!key.ends_with("_api_id"), "{event_type}: deprecated {key}");
        assert!(
            !notes.contains(&format!("{key} not forwarded")),
            "{event_type}: {key}"
        );
    }
    if notes.contains("button_action_type/button_string") {
        assert!(
            !out_props.contains_key("button_action_type")
                && !out_props.contains_key("button_string")
        );
    }
    if notes.contains("phone_number and timezone not forwarded") {
        assert!(!out_props.contains_key("phone_number"));
    }
    assert!(
        !out.to_string().contains("America/New_York"),
        "{event_type}: timezone leaked"
    );
}

#[test]
fn outputs_agree_with_the_reference_table() {
    // The seed table's 50 types; `tests/reference.rs` checks all 80 documented ones against
    // Braze's glossary.
    let reference = reference();
    let mut checked = 0;
    for (stem, input) in inputs() {
        let Some(row) = reference.get(&stem) else {
            continue;
        };
        let out = translate_one(&input);
        check_against_reference(&stem, row, &input, &out);
        checked += 1;
    }
    assert_eq!(checked, 50);
}

#[test]
fn every_official_sample_is_accepted_and_forwarded() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/braze-samples");
    let mut events = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                events.push(
                    serde_json::from_str::<Value>(&fs::read_to_string(path).unwrap()).unwrap(),
                );
            }
        }
    }
    assert_eq!(events.len(), 93);
    let anonymous: Vec<&str> = events
        .iter()
        .filter(|e| e["user"].as_object().is_none_or(|u| u.is_empty()))
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    let body = json!({ "events": events }).to_string();
    let ctx = ProcessContext {
        connector_id: CONNECTOR_ID,
        nearest_region: None,
        received_ms: 0,
    };
    let outcome = process(body.as_bytes(), &config(), &ctx).unwrap();
    assert!(outcome.quarantined.is_empty(), "{:?}", outcome.quarantined);
    // Events with no user at all (agent console tool calls) have no Segment identity: filtered
    // with a reason, as Braze's own export does, never dropped silently.
    let filtered: Vec<(&str, &str)> = outcome
        .filtered
        .iter()
        .map(|f| (f.event_type.as_str(), f.reason.code()))
        .collect();
    let expected: Vec<(&str, &str)> = anonymous.iter().map(|t| (*t, "no_identity")).collect();
    assert_eq!(filtered, expected);
    assert_eq!(outcome.accepted() + filtered.len(), 93);
    let names: std::collections::BTreeSet<String> = outcome.batches[0]
        .events
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e.json.get()).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        names.contains("users.messages.banner.Dismiss"),
        "unknown types keep their raw name"
    );
    assert!(names.contains("name"), "custom events take their own name");
    assert!(names.contains("Email Opened"));
}
