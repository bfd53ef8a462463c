//! Shared by the backfill tests: Avro storage files written from the glossary's storage fields
//! (with `apache-avro`'s own writer), the same events as Braze's HTTP push carries them, and
//! running the built command.
#![allow(dead_code)] // each test file uses its own part

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use currents_relay::{ConnectorConfig, ProcessContext, process};
use serde_json::{Map, Value, json};

/// The connector id of every test run.
pub const CONNECTOR: &str = "backfill-test";
/// The test config's write key: it must never appear in any output.
pub const WRITE_KEY: &str = "wk_backfill_secret_0001";

/// One Segment-shaped type of the glossary.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Braze's event type.
    pub event_type: String,
    /// Storage field → declared type (`required string`, `optional array of string`, ...).
    pub fields: Vec<(String, String)>,
}

/// The 80 Segment-shaped types of `tests/fixtures/braze-glossary-segment.json`.
pub fn glossary() -> Vec<Entry> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/braze-glossary-segment.json");
    let doc: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Entry {
            event_type: e["event_type"].as_str().unwrap().to_owned(),
            fields: e["storage_fields"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
        })
        .collect()
}

/// A fresh folder under cargo's temporary folder for integration tests.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "backfill-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn split_declared(declared: &str) -> (bool, &str) {
    match declared.split_once(' ') {
        Some(("required", kind)) => (true, kind),
        Some(("optional", kind)) => (false, kind),
        _ => panic!("unexpected declared type {declared}"),
    }
}

fn avro_type(kind: &str) -> Value {
    match kind {
        "string" | "int" | "long" | "float" | "boolean" => json!(kind),
        "array of string" => json!({"type": "array", "items": "string"}),
        other => panic!("unexpected kind {other}"),
    }
}

/// The Avro schema of a type's storage records: required fields as their type, optional ones
/// as `["null", type]` unions with a null default (how Braze declares them).
pub fn schema(entry: &Entry) -> Schema {
    let fields: Vec<Value> = entry
        .fields
        .iter()
        .map(|(name, declared)| {
            let (required, kind) = split_declared(declared);
            if required {
                json!({"name": name, "type": avro_type(kind)})
            } else {
                json!({"name": name, "type": ["null", avro_type(kind)], "default": null})
            }
        })
        .collect();
    let doc = json!({"type": "record", "name": "CurrentsEvent", "namespace": "com.braze.test", "fields": fields});
    Schema::parse_str(&doc.to_string()).unwrap()
}

/// A storage value of `kind` for `field` and its JSON form in the HTTP push.
fn sample(field: &str, kind: &str, id: &str) -> (Avro, Value) {
    let text = |s: &str| (Avro::String(s.to_owned()), json!(s));
    match (field, kind) {
        ("id", _) => text(id),
        ("user_id", _) => text("639a35d192b0df004d06514c"),
        ("properties", _) => (
            Avro::String(r#"{"plan":"gold","seats":3,"big":9007199254740993}"#.into()),
            serde_json::from_str(r#"{"plan":"gold","seats":3,"big":9007199254740993}"#).unwrap(),
        ),
        ("email_address", _) => text("person@example.com"),
        (f, _) if f.ends_with("phone_number") => text("+15555550123"),
        ("platform", _) => text("ios"),
        ("device_model", _) => text("iPhone15,2"),
        ("time", "int") => (Avro::Int(2_033_802_504), json!(2_033_802_504)),
        ("time", "long") => (Avro::Long(2_033_802_504), json!(2_033_802_504)),
        (_, "int") => (Avro::Int(7), json!(7)),
        (_, "long") => (Avro::Long(7), json!(7)),
        // 4.99 has no exact 32-bit form: the backfill must still send 4.99, as Braze does.
        (_, "float") => (Avro::Float(4.99), serde_json::from_str("4.99").unwrap()),
        (_, "boolean") => (Avro::Boolean(true), json!(true)),
        (_, "array of string") => (
            Avro::Array(vec![
                Avro::String("first".into()),
                Avro::String("second".into()),
            ]),
            json!(["first", "second"]),
        ),
        (f, "string") => text(&format!("{f}-value")),
        (f, k) => panic!("{f}: {k}"),
    }
}

/// One storage record of `entry` with id `id` (`sparse`: every optional field null) and the
/// same event as Braze's HTTP push carries it.
pub fn record(entry: &Entry, id: &str, sparse: bool) -> (Avro, Value) {
    let mut avro = Vec::new();
    let mut user = Map::new();
    let mut props = Map::new();
    let mut event = Map::new();
    event.insert("event_type".into(), json!(entry.event_type));
    for (name, declared) in &entry.fields {
        let (required, kind) = split_declared(declared);
        let (value, json) = sample(name, kind, id);
        if required {
            avro.push((name.clone(), value));
        } else if sparse {
            avro.push((name.clone(), Avro::Union(0, Box::new(Avro::Null))));
            continue;
        } else {
            avro.push((name.clone(), Avro::Union(1, Box::new(value))));
        }
        match name.as_str() {
            "id" | "time" => {
                event.insert(name.clone(), json);
            }
            "user_id" | "external_user_id" | "device_id" | "timezone" => {
                user.insert(name.clone(), json);
            }
            "properties" if entry.event_type == "users.behaviors.CustomEvent" => {
                props.insert("custom_properties".into(), json);
            }
            "properties" if entry.event_type == "users.behaviors.Purchase" => {
                props.insert("purchase_properties".into(), json);
            }
            _ => {
                props.insert(name.clone(), json);
            }
        }
    }
    event.insert("user".into(), Value::Object(user));
    event.insert("properties".into(), Value::Object(props));
    (Avro::Record(avro), Value::Object(event))
}

/// The three codecs Braze's files may use.
pub fn codecs() -> [(&'static str, Codec); 3] {
    [
        ("null", Codec::Null),
        ("deflate", Codec::Deflate(DeflateSettings::default())),
        ("snappy", Codec::Snappy),
    ]
}

/// Writes an object container file; a new block every `block_every` records.
pub fn write_avro(
    path: &Path,
    schema: &Schema,
    records: Vec<Avro>,
    codec: Codec,
    block_every: usize,
) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut writer = Writer::with_codec(schema, Vec::new(), codec);
    for (i, r) in records.into_iter().enumerate() {
        writer.append(r).unwrap();
        if (i + 1) % block_every == 0 {
            writer.flush().unwrap();
        }
    }
    fs::write(path, writer.into_inner().unwrap()).unwrap();
}

/// A file's path in Braze's layout under `root`.
pub fn braze_path(root: &Path, event_type: &str, hour: &str, n: u32) -> PathBuf {
    let integration = "dataexport.prod-01.S3.integration.69cadaaed2d51b7c75b1a3e5";
    root.join(integration)
        .join(format!("event_type={event_type}"))
        .join(format!("date={hour}"))
        .join("version=6/us-01")
        .join(format!("{integration}+0+{n}.avro"))
}

/// The test connector: one US destination, anonymous users included (so sparse records, which
/// have no `external_user_id`, are sent too).
pub fn config_text() -> String {
    json!({
        "token_sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "destinations": {"main": {"write_key": WRITE_KEY, "region": "us"}},
        "identity": {"include_anonymous": true}
    })
    .to_string()
}

/// Writes the test connector's config into `dir`.
pub fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("connector.json");
    fs::write(&path, config_text()).unwrap();
    path
}

/// What the Worker's `process()` makes of `event` received live: the `track` call, or `None`
/// when it is filtered or quarantined.
pub fn live(event: &Value) -> Option<Value> {
    let config = ConnectorConfig::from_json(&config_text()).unwrap();
    let body = json!({ "events": [event] }).to_string();
    let ctx = ProcessContext {
        connector_id: CONNECTOR,
        nearest_region: None,
        received_ms: 0,
    };
    let outcome = process(body.as_bytes(), &config, &ctx).unwrap();
    let batch = outcome.batches.first()?;
    Some(serde_json::from_str(batch.events[0].json.get()).unwrap())
}

/// Runs the built command with `args`, from `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_currents-relay"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The command's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Parses a JSON-lines file.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
