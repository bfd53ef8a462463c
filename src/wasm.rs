//! The translator for JavaScript (browser and Node), built into `pkg/` by `scripts/build-pkg.sh`.
//!
//! It exports the very [`crate::pipeline::process`] the Worker calls, so the playground shows
//! exactly what the Worker would send. Results cross the boundary as JSON text parsed by
//! `JSON.parse`: serde-wasm-bindgen would turn maps and raw JSON into `{}`.

use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use crate::config::{ConnectorConfig, Region};
use crate::pipeline::{ProcessContext, process};

/// Connector id used when the caller names none.
const PLAYGROUND_CONNECTOR: &str = "playground";
/// A token hash for configs pasted without one: the playground authenticates nothing.
const PLACEHOLDER_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(code: &str, message: impl std::fmt::Display, extra: Option<Value>) -> JsValue {
    let mut err = Map::new();
    err.insert("code".into(), code.into());
    err.insert("message".into(), message.to_string().into());
    if let Some(extra) = extra {
        err.insert("errors".into(), extra);
    }
    js_sys::JSON::parse(&Value::Object(err).to_string()).unwrap_or_else(|_| JsValue::from_str(code))
}

/// Fills what a playground config may leave out (token hash, destinations), so people can try
/// naming, identity and selection options without secrets.
fn playground_config(config_json: &str) -> Result<ConnectorConfig, JsValue> {
    let mut doc: Value = if config_json.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(config_json).map_err(|e| js_error("invalid_config", e, None))?
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("token_sha256")
            .or_insert_with(|| PLACEHOLDER_HASH.into());
        obj.entry("destinations").or_insert_with(
            || serde_json::json!({ "playground": { "write_key": "playground", "region": "us" } }),
        );
    }
    ConnectorConfig::from_json(&doc.to_string()).map_err(|errors| {
        let list = serde_json::to_value(&errors).unwrap_or(Value::Null);
        js_error(
            "invalid_config",
            "the connector config is invalid",
            Some(list),
        )
    })
}

/// `translateBatch(body, connectorConfig, connectorId?, region?)`: a Currents request body (text)
/// and a connector config (JSON text) → `{received, batches, filtered, quarantined}` exactly as
/// the Worker computes it. Throws `{code, message, errors?}` for a body that is not a batch or an
/// invalid config.
#[wasm_bindgen(js_name = translateBatch)]
pub fn translate_batch(
    body: &str,
    connector_config: &str,
    connector_id: Option<String>,
    nearest_region: Option<String>,
) -> Result<JsValue, JsValue> {
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
    let outcome =
        process(body.as_bytes(), &config, &ctx).map_err(|e| js_error(e.code(), &e, None))?;
    let json = serde_json::to_string(&outcome).map_err(|e| js_error("internal", e, None))?;
    js_sys::JSON::parse(&json)
}

/// `validateConfig(connectorConfig)`: `[]` when valid, else `[{field, message}]` (the console
/// shows each error at its field).
#[wasm_bindgen(js_name = validateConfig)]
pub fn validate_config(connector_config: &str) -> Result<JsValue, JsValue> {
    let errors = match ConnectorConfig::from_json(connector_config) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    let json = serde_json::to_string(&errors).map_err(|e| js_error("internal", e, None))?;
    js_sys::JSON::parse(&json)
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
