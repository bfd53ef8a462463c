//! The translator for JavaScript (browser and Node), built into `pkg/` by `scripts/build-pkg.sh`.
//!
//! It exports the very [`crate::pipeline::process`] the Worker calls, so the playground shows
//! exactly what the Worker would send. Values cross the boundary as plain JavaScript values built
//! by serde-wasm-bindgen's JSON-compatible serializer (objects, never `Map`s). Raw JSON the Worker
//! copies verbatim (each Segment track call, each quarantined event) crosses as its exact text: a
//! JavaScript number cannot hold every JSON number (`9007199254740993`, `1e400`), and
//! serde-wasm-bindgen would wrap raw JSON in an object with serde_json's private key.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use crate::config::{ConfigError, ConnectorConfig, Region};
use crate::delivery::{DeliveryMessage, QueuedEvent};
use crate::pipeline::{Outcome, ProcessContext, QuarantinedEvent, process};

/// Connector id used when the caller names none.
const PLAYGROUND_CONNECTOR: &str = "playground";
/// A token hash for configs pasted without one: the playground authenticates nothing.
const PLACEHOLDER_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Maps become plain objects, `None` becomes `null`, as `JSON.parse` would give.
const TO_JS: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::json_compatible();

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// What the functions throw: `{code, message, errors?}`.
#[derive(Serialize)]
struct JsError<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ConfigError],
}

fn js_error(code: &str, message: impl std::fmt::Display, errors: &[ConfigError]) -> JsValue {
    let err = JsError {
        code,
        message: message.to_string(),
        errors,
    };
    err.serialize(&TO_JS)
        .unwrap_or_else(|_| JsValue::from_str(code))
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&TO_JS)
        .map_err(|e| js_error("internal", e, &[]))
}

fn document_error(message: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        field: String::new(),
        message: message.to_string(),
    }
}

/// A connector document from JavaScript: an object, JSON text, or nothing (`{}`).
fn config_value(input: &JsValue) -> Result<Value, ConfigError> {
    if input.is_undefined() || input.is_null() {
        return Ok(Value::Object(Map::new()));
    }
    match input.as_string() {
        Some(text) if text.trim().is_empty() => Ok(Value::Object(Map::new())),
        Some(text) => serde_json::from_str(&text).map_err(document_error),
        None => serde_wasm_bindgen::from_value(input.clone()).map_err(document_error),
    }
}

/// Fills what a playground config may leave out (token hash, destinations), so people can try
/// naming, identity and selection options without secrets.
fn playground_config(input: &JsValue) -> Result<ConnectorConfig, JsValue> {
    let mut doc = config_value(input)
        .map_err(|e| js_error("invalid_config", &e.message, std::slice::from_ref(&e)))?;
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("token_sha256")
            .or_insert_with(|| PLACEHOLDER_HASH.into());
        obj.entry("destinations").or_insert_with(
            || serde_json::json!({ "playground": { "write_key": "playground", "region": "us" } }),
        );
    }
    ConnectorConfig::from_json(&doc.to_string())
        .map_err(|errors| js_error("invalid_config", "the connector config is invalid", &errors))
}

fn run(
    body: &str,
    connector_config: &JsValue,
    connector_id: Option<String>,
    nearest_region: Option<String>,
) -> Result<Outcome, JsValue> {
    let config = playground_config(connector_config)?;
    let region = match nearest_region.as_deref() {
        Some("eu") => Some(Region::Eu),
        Some("us") => Some(Region::Us),
        _ => None,
    };
    let ctx = ProcessContext {
        connector_id: connector_id.as_deref().unwrap_or(PLAYGROUND_CONNECTOR),
        nearest_region: region,
        // The browser's clock: the batches show the `received_ms` the Worker would stamp.
        received_ms: browser_now_ms(),
    };
    process(body.as_bytes(), &config, &ctx).map_err(|e| js_error(e.code(), &e, &[]))
}

/// The counts of an outcome, as the Worker answers an ingest request (without `messages`, a
/// detail of queue delivery).
#[derive(Serialize)]
struct Summary {
    received: usize,
    accepted: usize,
    filtered: usize,
    quarantined: usize,
    batches: usize,
}

impl Summary {
    fn of(outcome: &Outcome) -> Self {
        Summary {
            received: outcome.received,
            accepted: outcome.accepted(),
            filtered: outcome.filtered.len(),
            quarantined: outcome.quarantined.len(),
            batches: outcome.batches.len(),
        }
    }
}

/// Raw JSON as its exact text (a JavaScript string).
struct Text<'a>(&'a RawValue);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.get())
    }
}

/// A slice serialised through a view of each element.
struct Each<'a, T, V>(&'a [T], fn(&'a T) -> V);

impl<'a, T, V: Serialize> Serialize for Each<'a, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

/// The outcome as JavaScript sees it (pkg/index.d.ts `Outcome`): the pipeline's fields plus
/// `summary`, raw JSON as text; `drift` is the batch's report as the Worker records it.
struct OutcomeView<'a>(&'a Outcome);
struct BatchView<'a>(&'a DeliveryMessage);
struct EventView<'a>(&'a QueuedEvent);
struct QuarantinedView<'a>(&'a QuarantinedEvent);

impl Serialize for OutcomeView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut st = s.serialize_struct("Outcome", 6)?;
        st.serialize_field("received", &o.received)?;
        st.serialize_field("summary", &Summary::of(o))?;
        st.serialize_field("batches", &Each(&o.batches, BatchView))?;
        st.serialize_field("filtered", &o.filtered)?;
        st.serialize_field("quarantined", &Each(&o.quarantined, QuarantinedView))?;
        st.serialize_field("drift", &o.drift)?;
        st.end()
    }
}

impl Serialize for BatchView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.0;
        let mut st = s.serialize_struct("SegmentBatch", 3)?;
        st.serialize_field("destination", &b.destination)?;
        st.serialize_field("region", &b.region)?;
        st.serialize_field("events", &Each(&b.events, EventView))?;
        st.end()
    }
}

impl Serialize for EventView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("BatchedEvent", 5)?;
        st.serialize_field("index", &e.index)?;
        st.serialize_field("event_id", &e.event_id)?;
        st.serialize_field("event_type", &e.event_type)?;
        st.serialize_field("message_id", &e.message_id)?;
        st.serialize_field("json", &Text(&e.json))?;
        st.end()
    }
}

impl Serialize for QuarantinedView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let q = self.0;
        let mut st = s.serialize_struct("QuarantinedEvent", 6)?;
        st.serialize_field("index", &q.index)?;
        st.serialize_field("event_id", &q.event_id)?;
        st.serialize_field("event_type", &q.event_type)?;
        st.serialize_field("reason", &q.reason)?;
        st.serialize_field("detail", &q.detail)?;
        st.serialize_field("raw", &Text(&q.raw))?;
        st.end()
    }
}

/// `translateBatch(body, connectorConfig?, connectorId?, nearestRegion?)`: a Currents request
/// body (text) and a connector config (object or JSON text) → the outcome exactly as the Worker
/// computes it. Throws `{code, message, errors?}` for a body that is not a batch or an invalid
/// config.
#[wasm_bindgen(js_name = translateBatch)]
pub fn translate_batch(
    body: &str,
    connector_config: JsValue,
    connector_id: Option<String>,
    nearest_region: Option<String>,
) -> Result<JsValue, JsValue> {
    let outcome = run(body, &connector_config, connector_id, nearest_region)?;
    to_js(&OutcomeView(&outcome))
}

/// `translateBatchJson(...)`: the same outcome as JSON text (`JSON.parse` gives what
/// `translateBatch` returns), e.g. to save it. `translateBatch` is the faster way to the object
/// (docs/BENCHMARKS.md, "Crossing the boundary").
#[wasm_bindgen(js_name = translateBatchJson)]
pub fn translate_batch_json(
    body: &str,
    connector_config: JsValue,
    connector_id: Option<String>,
    nearest_region: Option<String>,
) -> Result<String, JsValue> {
    let outcome = run(body, &connector_config, connector_id, nearest_region)?;
    serde_json::to_string(&OutcomeView(&outcome)).map_err(|e| js_error("internal", e, &[]))
}

/// `validateConfig(connectorConfig)`: `{valid, errors: [{field, message}]}` for a connector
/// document (object or JSON text); the console shows each error at its field.
#[wasm_bindgen(js_name = validateConfig)]
pub fn validate_config(connector_config: JsValue) -> Result<JsValue, JsValue> {
    let checked = match connector_config.as_string() {
        Some(text) => ConnectorConfig::from_json(&text),
        None => config_value(&connector_config)
            .map_err(|e| vec![e])
            .and_then(|doc| ConnectorConfig::from_json(&doc.to_string())),
    };
    let errors = checked.err().unwrap_or_default();
    #[derive(Serialize)]
    struct Validation {
        valid: bool,
        errors: Vec<ConfigError>,
    }
    to_js(&Validation {
        valid: errors.is_empty(),
        errors,
    })
}

/// `knownEventTypes()`: the 50 event types of the mapping table.
#[wasm_bindgen(js_name = knownEventTypes)]
pub fn known_event_types() -> Vec<String> {
    crate::mapping::known_event_types()
        .map(str::to_owned)
        .collect()
}

/// `version()`: the crate version, as in `context.library.version`.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The browser's clock, UNIX ms.
#[allow(clippy::disallowed_methods)] // The browser wrapper is a shell: it reads the platform clock.
fn browser_now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The Worker's ingest work on one batch, for `scripts/bench-wasm.mjs` (feature `bench`, never in
/// `pkg/`): parse, validate, translate, pack and write the queue message bodies as JavaScript
/// strings, exactly what ingest does between reading the body and the platform writes, with
/// nothing crossing the boundary but the body's bytes in and the queue bodies out.
#[cfg(feature = "bench")]
#[wasm_bindgen]
pub struct BenchIngest {
    config: ConnectorConfig,
}

#[cfg(feature = "bench")]
#[wasm_bindgen]
impl BenchIngest {
    /// Parses the connector document once, as the Worker's config cache does.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<BenchIngest, JsValue> {
        let config = ConnectorConfig::from_json(config_json)
            .map_err(|errors| js_error("invalid_config", "invalid connector", &errors))?;
        Ok(BenchIngest { config })
    }

    /// Runs ingest on `body`; returns the bytes of the queue bodies it made (JavaScript strings,
    /// as the Worker hands them to the queue).
    pub fn run(&self, body: &[u8]) -> Result<usize, JsValue> {
        let ctx = ProcessContext {
            connector_id: "bench",
            nearest_region: None,
            received_ms: 0,
        };
        let outcome = process(body, &self.config, &ctx).map_err(|e| js_error(e.code(), &e, &[]))?;
        let plan = crate::ingest::plan("bench", None, &outcome, 0);
        let mut buf = String::new();
        let bodies: Vec<js_sys::JsString> = outcome
            .batches
            .iter()
            .map(|m| crate::delivery::js::body(m, &mut buf))
            .collect();
        std::hint::black_box((&plan, &bodies));
        Ok(outcome.batches.iter().map(DeliveryMessage::json_len).sum())
    }
}
