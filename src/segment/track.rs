//! One Segment `track` call, serialised straight from borrowed parts: property values are
//! copied as the raw JSON Braze sent, never rebuilt as a value tree.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::config::{Library, MessageIdScope};

use super::MAX_MESSAGE_ID_LEN;

/// A property or context value: raw JSON from Braze, or a string the relay supplies.
#[derive(Debug, Clone, Copy)]
pub enum PropValue<'a> {
    /// Verbatim JSON from the event.
    Raw(&'a RawValue),
    /// A string (e.g. `user.device_id`).
    Str(&'a str),
}

impl Serialize for PropValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PropValue::Raw(r) => r.serialize(s),
            PropValue::Str(v) => s.serialize_str(v),
        }
    }
}

/// An ordered JSON object of borrowed pairs.
#[derive(Debug)]
pub struct Pairs<'a>(pub &'a [(&'a str, PropValue<'a>)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Serialize)]
struct Context<'a> {
    device: Pairs<'a>,
    traits: Pairs<'a>,
    library: &'a Library,
}

/// A Segment `track` call ready to serialise.
#[derive(Debug)]
pub struct Track<'a> {
    /// Segment event name.
    pub event: &'a str,
    /// `userId` ← `user.external_user_id`.
    pub user_id: Option<&'a str>,
    /// `anonymousId` ← `user.user_id`.
    pub anonymous_id: Option<&'a str>,
    /// Deduplication key, ≤ 100 chars.
    pub message_id: &'a str,
    /// ISO-8601 UTC with milliseconds.
    pub timestamp: &'a str,
    /// `properties`.
    pub properties: &'a [(&'a str, PropValue<'a>)],
    /// `context.device`.
    pub device: &'a [(&'a str, PropValue<'a>)],
    /// `context.traits`.
    pub traits: &'a [(&'a str, PropValue<'a>)],
    /// `context.library`.
    pub library: &'a Library,
    /// `integrations`, serialised once per batch.
    pub integrations: &'a RawValue,
}

impl Serialize for Track<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", "track")?;
        map.serialize_entry("event", self.event)?;
        if let Some(id) = self.user_id {
            map.serialize_entry("userId", id)?;
        }
        if let Some(id) = self.anonymous_id {
            map.serialize_entry("anonymousId", id)?;
        }
        map.serialize_entry("messageId", self.message_id)?;
        map.serialize_entry("timestamp", self.timestamp)?;
        map.serialize_entry("properties", &Pairs(self.properties))?;
        map.serialize_entry(
            "context",
            &Context {
                device: Pairs(self.device),
                traits: Pairs(self.traits),
                library: self.library,
            },
        )?;
        map.serialize_entry("integrations", self.integrations)?;
        map.end()
    }
}

/// Prefix of hashed message ids, so they are recognisable in Segment's debugger.
const MESSAGE_ID_PREFIX: &str = "crl-";

/// The `messageId` of an event (CONTRACTS §3 decision 5).
///
/// `Connector` scope: `crl-` + hex SHA-256 of (connector id, event id), 68 chars. Stable across
/// Braze's resends (so Segment dedupes them) and distinct between connectors feeding one
/// workspace (so they never dedupe each other: Segment dedupes across all sources).
/// `EventId` scope: Braze's id itself, hashed only if it would exceed 100 chars.
pub fn message_id(scope: MessageIdScope, connector_id: &str, event_id: &str) -> String {
    let digest = match scope {
        MessageIdScope::EventId if event_id.len() <= MAX_MESSAGE_ID_LEN => {
            return event_id.to_owned();
        }
        MessageIdScope::EventId => Sha256::new().chain_update(event_id.as_bytes()),
        MessageIdScope::Connector => Sha256::new()
            // Length prefix: ("ab","c") and ("a","bc") must not collide.
            .chain_update((connector_id.len() as u64).to_be_bytes())
            .chain_update(connector_id.as_bytes())
            .chain_update(event_id.as_bytes()),
    };
    let mut hex = [0u8; 64];
    hex::encode_to_slice(digest.finalize(), &mut hex).expect("64 hex digits for 32 bytes");
    let mut out = String::with_capacity(MESSAGE_ID_PREFIX.len() + hex.len());
    out.push_str(MESSAGE_ID_PREFIX);
    out.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
    out
}

/// UNIX seconds → `YYYY-MM-DDTHH:MM:SS.000Z`. `None` outside years 0000-9999 (validation keeps
/// event times inside).
pub fn format_timestamp(unix_seconds: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(format_timestamp(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(1_477_502_783).unwrap(),
            "2016-10-26T17:26:23.000Z"
        );
        assert_eq!(
            format_timestamp(2_033_802_504).unwrap(),
            "2034-06-13T09:08:24.000Z"
        );
        assert_eq!(
            format_timestamp(253_402_300_799).unwrap(),
            "9999-12-31T23:59:59.000Z"
        );
        assert_eq!(format_timestamp(253_402_300_800), None);
    }

    #[test]
    fn message_ids_are_deterministic_scoped_and_short() {
        let a = message_id(MessageIdScope::Connector, "acme", "e1");
        assert_eq!(a, message_id(MessageIdScope::Connector, "acme", "e1"));
        assert_ne!(a, message_id(MessageIdScope::Connector, "other", "e1"));
        assert_ne!(a, message_id(MessageIdScope::Connector, "acme", "e2"));
        assert_ne!(
            message_id(MessageIdScope::Connector, "ab", "c"),
            message_id(MessageIdScope::Connector, "a", "bc")
        );
        assert_eq!(a.len(), 68);
        assert!(a.starts_with("crl-"));
        assert_eq!(message_id(MessageIdScope::EventId, "acme", "e1"), "e1");
        let long = "x".repeat(101);
        let hashed = message_id(MessageIdScope::EventId, "acme", &long);
        assert!(hashed.len() <= MAX_MESSAGE_ID_LEN && hashed.starts_with("crl-"));
    }

    #[test]
    fn track_serialises_in_segment_shape() {
        let lib = Library::default();
        let integrations = RawValue::from_string(r#"{"Braze":false}"#.into()).unwrap();
        let raw = RawValue::from_string("[1, 2]".into()).unwrap();
        let props = [
            ("list", PropValue::Raw(&raw)),
            ("device_id", PropValue::Str("d\"1")),
        ];
        let t = Track {
            event: "Email Opened",
            user_id: Some("u1"),
            anonymous_id: None,
            message_id: "m",
            timestamp: "1970-01-01T00:00:00.000Z",
            properties: &props,
            device: &[],
            traits: &[],
            library: &lib,
            integrations: &integrations,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"type":"track","event":"Email Opened","userId":"u1","messageId":"m","timestamp":"1970-01-01T00:00:00.000Z","properties":{{"list":[1, 2],"device_id":"d\"1"}},"context":{{"device":{{}},"traits":{{}},"library":{{"name":"currents-relay","version":"{}"}}}},"integrations":{{"Braze":false}}}}"#,
                env!("CARGO_PKG_VERSION")
            )
        );
    }
}
