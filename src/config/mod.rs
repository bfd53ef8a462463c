//! The connector configuration: one JSON document per connector in Workers KV (CONTRACTS §5).
//!
//! Parsing is strict (`deny_unknown_fields`, so a typo is an error, not a silently ignored
//! option) and [`ConnectorConfig::validate`] names every offending field by its path.
//!
//! Also here: connector ids and their KV keys (`keys`), the Worker's typed settings and
//! binding names (`settings`), the per-isolate cache's policy (`cache`), and on wasm32 the KV
//! store that keeps that cache (`store`).

pub mod admin;
mod cache;
mod keys;
mod secrets;
mod settings;
#[cfg(all(target_arch = "wasm32", feature = "edge"))]
pub(crate) mod store;

pub use cache::{
    ABSENT_CACHE_MAX_ENTRIES, ABSENT_CACHE_MAX_MS, CONFIG_CACHE_MAX_ENTRIES, CachePolicy, Cached,
    ConfigCache,
};
pub use keys::{
    CONNECTOR_KEY_PREFIX, GENERATION_BYTES, MAX_CONNECTOR_ID_LEN, connector_id_of_key,
    connector_key, is_valid_connector_id, new_generation,
};
pub use secrets::{
    BearerToken, MAX_TOKEN_LEN, MAX_WEBHOOK_URL_LEN, SHOWN_SUFFIX, TokenHash, WebhookUrl, WriteKey,
    bearer_credentials, redact,
};
pub use settings::{
    ADMIN_TOKEN_SECRET, CLOCK_OFFSET_KEY, CONFIG_BINDING, CONFIG_CACHE_SECONDS_VAR,
    CONSOLE_ORIGIN_VAR, DEAD_LETTER_MAX_RETRIES, DEAD_LETTER_QUEUE, DEFAULT_CONFIG_CACHE_SECONDS,
    DEFAULT_PLATFORM_RETRY_SECONDS, DEFAULT_SEGMENT_TIMEOUT_MS, DELIVERY_BINDING,
    DELIVERY_MAX_RETRIES, DELIVERY_QUEUE, MAX_QUEUE_DELAY, METRICS_TOKEN_SECRET,
    PLATFORM_RETRY_SECONDS_VAR, PLATFORM_RETRY_SURVIVAL, QUARANTINE_BINDING, SEGMENT_EU_URL_VAR,
    SEGMENT_TIMEOUT_MS_VAR, SEGMENT_US_URL_VAR, SETTING_VARS, STATS_BINDING, SettingWarning,
    Settings, TEST_HOOKS_VAR, offset_now,
};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alerts::AlertRules;
use crate::mapping::NamingProfile;

/// Default retention of undeliverable events before they move to quarantine: 7 days, longer
/// than Braze's own (CONTRACTS §4).
pub const DEFAULT_RETENTION_HOURS: u32 = 7 * 24;
/// Longest retention a connector may set: one year.
pub const MAX_RETENTION_HOURS: u32 = 365 * 24;
/// Longest destination name, route key, event name or override.
pub const MAX_NAME_LEN: usize = 200;
/// Longest connector `description`, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 1_024;

/// A Segment workspace region (CONTRACTS §2): the region belongs to the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// `https://api.segment.io/v1/batch`.
    Us,
    /// `https://events.eu1.segmentapis.com/v1/batch`.
    Eu,
}

impl Region {
    /// The lowercase code, `us` or `eu`.
    pub fn code(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }
}

/// Where a destination's write key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionChoice {
    /// Always the US endpoint.
    Us,
    /// Always the EU endpoint.
    Eu,
    /// The source exists in both regions: use the one nearest the request's origin.
    Auto,
}

impl RegionChoice {
    /// The region to send to, given the region nearest the caller (US when unknown).
    pub fn resolve(self, nearest: Option<Region>) -> Region {
        match self {
            RegionChoice::Us => Region::Us,
            RegionChoice::Eu => Region::Eu,
            RegionChoice::Auto => nearest.unwrap_or(Region::Us),
        }
    }
}

/// One Segment source: a write key and its region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The source's write key (never logged or returned in full).
    pub write_key: WriteKey,
    /// The workspace region.
    pub region: RegionChoice,
}

/// Which event property routes events to destinations (CONTRACTS §3 decision 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteField {
    /// `properties.app_id`: one Segment source per app.
    AppId,
    /// `properties.app_group_id`: one Segment source per Braze workspace.
    AppGroupId,
}

impl RouteField {
    /// The property name.
    pub fn property(self) -> &'static str {
        match self {
            RouteField::AppId => "app_id",
            RouteField::AppGroupId => "app_group_id",
        }
    }
}

/// Routing of events to destinations by a property value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// The property to route on.
    pub by: RouteField,
    /// Property value → destination name. Unmatched events go to `default_destination`.
    pub routes: BTreeMap<String, String>,
}

/// Which events are exported (CONTRACTS §3 decisions 3 and 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSelection {
    /// Event types to export. Absent: all 50 known types. A known type not listed is filtered;
    /// an unknown type listed here is forwarded even when `forward_unknown` is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<BTreeSet<String>>,
    /// Forward event types the table does not know under their raw name (default on: Braze adds
    /// types with little notice and none must be lost).
    #[serde(default = "yes")]
    pub forward_unknown: bool,
}

impl Default for EventSelection {
    fn default() -> Self {
        EventSelection {
            include: None,
            forward_unknown: true,
        }
    }
}

/// Event naming (CONTRACTS §3 decision 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Naming {
    /// Published name set for known types.
    #[serde(default)]
    pub profile: NamingProfile,
    /// Event type → Segment name, for any type (known, behaviour or unknown). Wins over all else.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, String>,
    /// Name `users.behaviors.CustomEvent` events after their own `name` property (the default);
    /// off, or without a usable `name`, they are named "Custom Event".
    #[serde(default = "yes")]
    pub custom_event_names: bool,
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            profile: NamingProfile::default(),
            overrides: BTreeMap::new(),
            custom_event_names: true,
        }
    }
}

/// Who is forwarded (CONTRACTS §3 decision 4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Forward users without `external_user_id` under `anonymousId` alone (Braze does not).
    #[serde(default)]
    pub include_anonymous: bool,
}

/// How `messageId` is derived (CONTRACTS §3 decision 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageIdScope {
    /// A hash of (connector id, event id): two connectors never dedupe each other.
    #[default]
    Connector,
    /// Braze's event id as is (what Braze's own export does); hashed only if over 100 chars.
    EventId,
}

/// `context.library` of every forwarded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// Library name.
    pub name: String,
    /// Library version.
    pub version: String,
}

impl Default for Library {
    fn default() -> Self {
        Library {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_integrations() -> Map<String, Value> {
    // Loop guard: never echo Braze's events back to a Braze destination (CONTRACTS §3 decision 6).
    Map::from_iter([("Braze".to_owned(), Value::Bool(false))])
}

fn default_retention() -> u32 {
    DEFAULT_RETENTION_HOURS
}

/// One connector: everything the Worker needs to accept, translate and deliver its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Operator's label for the connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SHA-256 of the inbound bearer token Braze presents.
    pub token_sha256: TokenHash,
    /// A paused connector still accepts and holds events; it does not deliver them.
    #[serde(default)]
    pub paused: bool,
    /// Named Segment sources.
    pub destinations: BTreeMap<String, Destination>,
    /// Destination for events no route matches. Optional when there is exactly one destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_destination: Option<String>,
    /// Routing by `app_id` / `app_group_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// Event selection.
    #[serde(default)]
    pub events: EventSelection,
    /// Event naming.
    #[serde(default)]
    pub naming: Naming,
    /// Identity policy.
    #[serde(default)]
    pub identity: Identity,
    /// `messageId` derivation.
    #[serde(default)]
    pub message_id: MessageIdScope,
    /// `context.library`.
    #[serde(default)]
    pub library: Library,
    /// `integrations` object of every event (default `{"Braze": false}`).
    #[serde(default = "default_integrations")]
    pub integrations: Map<String, Value>,
    /// Hours undeliverable events are held and retried before quarantine.
    #[serde(default = "default_retention")]
    pub retention_hours: u32,
    /// The connector's identity beyond its id: made when it is created, kept by every edit, and
    /// carried by its queue messages, quarantine objects and stats. A connector deleted and
    /// created again under the same id gets a new one, so the earlier connector's events are
    /// never sent with the new one's config. Absent on documents written by hand without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Alert rules and the webhook they are posted to ([`crate::alerts`]). Absent: no alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertRules>,
}

/// One problem with a configuration, at a field path such as `destinations.main.write_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending field (`.` for the document itself).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ConnectorConfig {
    /// Parses and validates a KV document. Errors name the field.
    pub fn from_json(text: &str) -> Result<Self, Vec<ConfigError>> {
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            vec![ConfigError::at(
                "",
                crate::error::message_without_position(&e),
            )]
        })?;
        let config: ConnectorConfig = serde_path_to_error::deserialize(doc).map_err(|e| {
            let message = crate::error::message_without_position(e.inner());
            vec![ConfigError::at(
                error_field(&e.path().to_string(), &message),
                message,
            )]
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The destination name for events no route matches, if any.
    pub fn fallback_destination(&self) -> Option<&str> {
        match &self.default_destination {
            Some(name) => Some(name),
            None if self.destinations.len() == 1 => {
                self.destinations.keys().next().map(|s| s.as_str())
            }
            None => None,
        }
    }

    /// Checks everything serde cannot: references, lengths, ranges. Returns every problem.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        if let Some(description) = &self.description
            && description.len() > MAX_DESCRIPTION_LEN
        {
            errs.push(ConfigError::at(
                "description",
                format!("longer than {MAX_DESCRIPTION_LEN} bytes"),
            ));
        }
        if let Some(g) = &self.generation
            && !is_valid_connector_id(g)
        {
            errs.push(ConfigError::at(
                "generation",
                "1-64 letters, digits, `_` or `-`",
            ));
        }
        if self.destinations.is_empty() {
            errs.push(ConfigError::at(
                "destinations",
                "at least one destination is required",
            ));
        }
        for (name, dest) in &self.destinations {
            check_name(&mut errs, &format!("destinations.{name}"), name);
            check_write_key(
                &mut errs,
                &format!("destinations.{name}.write_key"),
                &dest.write_key,
            );
        }
        if let Some(name) = &self.default_destination
            && !self.destinations.contains_key(name)
        {
            errs.push(ConfigError::at(
                "default_destination",
                format!("no destination named {name:?}"),
            ));
        }
        if self.fallback_destination().is_none()
            && self.routing.is_none()
            && self.destinations.len() > 1
        {
            errs.push(ConfigError::at(
                "default_destination",
                "required when there are several destinations and no routing",
            ));
        }
        if let Some(routing) = &self.routing {
            if routing.routes.is_empty() {
                errs.push(ConfigError::at(
                    "routing.routes",
                    "at least one route is required",
                ));
            }
            for (value, dest) in &routing.routes {
                let field = format!("routing.routes.{value}");
                check_name(&mut errs, &field, value);
                if !self.destinations.contains_key(dest) {
                    errs.push(ConfigError::at(
                        field,
                        format!("no destination named {dest:?}"),
                    ));
                }
            }
        }
        if let Some(include) = &self.events.include {
            for t in include {
                check_name(&mut errs, "events.include", t);
            }
        }
        for (t, name) in &self.naming.overrides {
            let field = format!("naming.overrides.{t}");
            check_name(&mut errs, &field, t);
            check_name(&mut errs, &field, name);
        }
        check_name(&mut errs, "library.name", &self.library.name);
        check_name(&mut errs, "library.version", &self.library.version);
        if !(1..=MAX_RETENTION_HOURS).contains(&self.retention_hours) {
            errs.push(ConfigError::at(
                "retention_hours",
                format!("must be between 1 and {MAX_RETENTION_HOURS}"),
            ));
        }
        if let Some(alerts) = &self.alerts {
            errs.extend(alerts.problems());
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// The field an error belongs to: serde reports a missing field at its parent's path, so the
/// field's own name is appended (the console shows the error next to that field).
fn error_field(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (missing, path) {
        (Some(name), ".") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, path) => path.to_owned(),
    }
}

fn check_name(errs: &mut Vec<ConfigError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        errs.push(ConfigError::at(field, "must not be empty"));
    } else if value.len() > MAX_NAME_LEN {
        errs.push(ConfigError::at(
            field,
            format!("longer than {MAX_NAME_LEN} bytes"),
        ));
    } else if value.chars().any(char::is_control) {
        errs.push(ConfigError::at(
            field,
            "must not contain control characters",
        ));
    }
}

fn check_write_key(errs: &mut Vec<ConfigError>, field: &str, key: &WriteKey) {
    let k = key.expose();
    // Segment write keys are short ASCII tokens; a colon would corrupt the Basic credentials.
    let valid =
        !k.is_empty() && k.len() <= 256 && k.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid {
        errs.push(ConfigError::at(
            field,
            "must be 1-256 printable ASCII characters without ':' or spaces",
        ));
    }
}

#[cfg(test)]
mod tests;
