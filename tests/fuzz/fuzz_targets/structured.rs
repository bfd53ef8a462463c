//! Structure-aware: `arbitrary` builds a batch of mostly plausible Currents events (each field
//! present, absent, null, mistyped or oversized), so validation, translation and the packer's
//! size and count limits are reached far more often than from raw bytes.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use currents_relay::config::{ConnectorConfig, Region};
use currents_relay::{ProcessContext, process};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[path = "common.rs"]
mod common;

static CONFIGS: LazyLock<[ConnectorConfig; 3]> = LazyLock::new(common::configs);

const TYPES: [&str; 12] = [
    "users.messages.email.Open",
    "users.messages.email.Click",
    "users.messages.sms.InboundReceive",
    "users.behaviors.CustomEvent",
    "users.behaviors.Purchase",
    "users.canvas.Entry",
    "users.campaigns.Conversion",
    "users.messages.pushnotification.Send",
    "users.behaviors.subscriptiongroup.StateChange",
    "x.y",
    "users_canvas_abort",
    "",
];

#[derive(Arbitrary, Debug)]
enum Field {
    Absent,
    Null,
    Str(String),
    Known,
    Int(i64),
    Float(f64),
    Bool(bool),
    Empty,
    /// A long string: `n * 1000` + small bytes, to reach the 32 KB event limit.
    Long(u8, u8),
    Array(Vec<String>),
    Object(Vec<(String, String)>),
}

#[derive(Arbitrary, Debug)]
struct Event {
    id: Field,
    event_type: (u8, Field),
    time: Field,
    external_user_id: Field,
    user_id: Field,
    device_id: Field,
    user_shape: u8,
    app_id: (bool, Field),
    name: Field,
    extra: Vec<(String, Field)>,
    properties_shape: u8,
}

#[derive(Arbitrary, Debug)]
struct Batch {
    selector: u8,
    events: Vec<Event>,
    /// 0xff: repeat the last event (when small) up to 2,600 events, past the 2,500 per batch limit.
    repeat_last: u8,
    wrap: u8,
}

fn value(f: &Field, known: impl FnOnce() -> Value) -> Option<Value> {
    Some(match f {
        Field::Absent => return None,
        Field::Null => Value::Null,
        Field::Str(s) => Value::from(s.as_str()),
        Field::Known => known(),
        Field::Int(i) => Value::from(*i),
        Field::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        Field::Bool(b) => Value::Bool(*b),
        Field::Empty => Value::from(""),
        Field::Long(n, m) => Value::from("é".repeat(usize::from(*n % 40) * 500 + usize::from(*m))),
        Field::Array(v) => Value::from(v.clone()),
        Field::Object(kv) => Value::Object(
            kv.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        ),
    })
}

fn put(obj: &mut Map<String, Value>, key: &str, f: &Field, known: impl FnOnce() -> Value) {
    if let Some(v) = value(f, known) {
        obj.insert(key.to_owned(), v);
    }
}

fn build(e: &Event, i: usize) -> Value {
    let mut ev = Map::new();
    put(&mut ev, "id", &e.id, || Value::from(format!("ev-{i}")));
    let (t, tf) = &e.event_type;
    let ty = TYPES[usize::from(*t) % TYPES.len()];
    put(&mut ev, "event_type", tf, || Value::from(ty));
    put(&mut ev, "time", &e.time, || json!(1_700_000_000 + i as i64));
    let mut user = Map::new();
    put(&mut user, "external_user_id", &e.external_user_id, || {
        json!("ext-1")
    });
    put(&mut user, "user_id", &e.user_id, || {
        json!("639a35d192b0df004d06514c")
    });
    put(&mut user, "device_id", &e.device_id, || json!("device"));
    match e.user_shape % 8 {
        0 => {}
        1 => {
            ev.insert("user".into(), Value::Null);
        }
        2 => {
            ev.insert("user".into(), json!([user]));
        }
        _ => {
            ev.insert("user".into(), Value::Object(user));
        }
    }
    let mut props = Map::new();
    let (route, app) = &e.app_id;
    put(&mut props, "app_id", app, || {
        json!(if *route { "a2" } else { "a1" })
    });
    put(&mut props, "name", &e.name, || json!("Custom Thing"));
    for (k, f) in &e.extra {
        put(&mut props, k, f, || json!("x"));
    }
    match e.properties_shape % 8 {
        0 => {}
        1 => {
            ev.insert("properties".into(), Value::from("nope"));
        }
        _ => {
            ev.insert("properties".into(), Value::Object(props));
        }
    }
    Value::Object(ev)
}

fuzz_target!(|batch: Batch| {
    let mut events: Vec<Value> = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| build(e, i))
        .collect();
    if let Some(last) = events.last().cloned()
        && batch.repeat_last == 0xff
        && last.to_string().len() < 400
    {
        events.extend(std::iter::repeat_n(
            last,
            2_600_usize.saturating_sub(events.len()),
        ));
    }
    let body = match batch.wrap % 16 {
        0 => json!({ "events": events, "other": 1 }).to_string(),
        1 => serde_json::to_string_pretty(&json!({ "events": events })).unwrap(),
        _ => json!({ "events": events }).to_string(),
    };
    let config = &CONFIGS[usize::from(batch.selector % 3)];
    let nearest = [None, Some(Region::Us), Some(Region::Eu)][usize::from(batch.selector / 3 % 3)];
    let ctx = ProcessContext {
        connector_id: common::CONNECTOR_ID,
        nearest_region: nearest,
        received_ms: 0,
    };
    let outcome = process(body.as_bytes(), config, &ctx).expect("a JSON batch is a batch");
    assert_eq!(outcome.received, events.len());
    common::check_outcome(&outcome, config, nearest);
});
