//! The Braze Currents wire model: the `{"events":[...]}` envelope pushed by the "Custom HTTP"
//! connector, parsed leniently and without copying.
//!
//! Each element of `events` is read on its own, with its text kept, so that a malformed event can
//! be quarantined on its own while the rest of the batch goes on (CONTRACTS §4: a 400 would make
//! Braze drop the event for good). Strings borrow from the request body unless they hold escapes.
//!
//! [`Events`] reads a batch in one pass, each event parsed where it stands; [`Envelope`] splits
//! it into one [`RawValue`] per element first. Both answer every body alike: the pipeline uses
//! the first, and the second names the request's error and serves as the reference in tests.

mod fields;
mod stream;
mod validate;

pub use fields::{Container, CowStr, JsonText, Properties, RawEvent, RawList, RawUser, Shaped};
pub use stream::{Element, Events};
pub use validate::{
    MAX_EVENT_TIME, MAX_ID_BYTES, MIN_EVENT_TIME, RejectReason, Rejected, User, ValidEvent,
    validate, validate_event,
};

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::RequestError;

/// A parsed Currents batch: the events, each still raw JSON, in the order Braze sent them.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// One entry per element of `events`.
    pub events: Vec<&'a RawValue>,
}

/// The top-level object: `events` read in one pass, any other key skipped.
struct EnvelopeWire<'a> {
    events: Option<Shaped<RawList<'a>>>,
}

impl<'de> Deserialize<'de> for EnvelopeWire<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvelopeWire<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with an \"events\" array")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut events = None;
                while let Some(key) = map.next_key::<CowStr<'de>>()? {
                    if key.0 != "events" {
                        map.next_value::<IgnoredAny>()?;
                    } else if events.replace(map.next_value()?).is_some() {
                        return Err(de::Error::duplicate_field("events"));
                    }
                }
                Ok(EnvelopeWire { events })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Envelope<'a> {
    /// Parses a request body. An empty (or all-whitespace) body is an empty batch: Braze probes
    /// credentials that way (CONTRACTS §1). Anything that is not an object with an `events` array
    /// is a [`RequestError`] naming what is wrong; unknown top-level keys are ignored.
    pub fn parse(body: &'a [u8]) -> Result<Self, RequestError> {
        let text = body_text(body)?;
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            return Ok(Envelope { events: Vec::new() });
        }
        if !trimmed.starts_with('{') {
            // Still report a syntax error as such, so "not JSON" and "JSON but not an object"
            // stay distinguishable for the operator.
            return Err(match serde_json::from_str::<&RawValue>(text) {
                Ok(_) => RequestError::NotAnObject,
                Err(e) => RequestError::invalid_json(&e),
            });
        }
        let wire: EnvelopeWire<'a> =
            serde_json::from_str(text).map_err(|e| RequestError::invalid_json(&e))?;
        match wire.events {
            Some(Shaped::Expected(RawList(events))) => Ok(Envelope { events }),
            None | Some(Shaped::Null) => Err(RequestError::MissingEvents),
            Some(Shaped::Wrong(found)) => Err(RequestError::EventsNotArray { found }),
        }
    }
}

/// A request body as text: UTF-8 (JSON must be), without a leading byte order mark.
fn body_text(body: &[u8]) -> Result<&str, RequestError> {
    let text = std::str::from_utf8(body).map_err(|e| RequestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The JSON kind of a raw value, from its first byte, for error messages.
pub(crate) fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b'"') => "string",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_an_empty_batch() {
        assert!(Envelope::parse(b"").unwrap().events.is_empty());
        assert!(Envelope::parse(b"  \n").unwrap().events.is_empty());
    }

    #[test]
    fn zero_events_is_an_empty_batch() {
        assert!(
            Envelope::parse(br#"{"events":[]}"#)
                .unwrap()
                .events
                .is_empty()
        );
    }

    #[test]
    fn events_are_split_raw_and_unknown_top_level_keys_ignored() {
        let env = Envelope::parse(br#"{"v":2,"events":[{"id":"a"}, 7, "x"]}"#).unwrap();
        let raws: Vec<&str> = env.events.iter().map(|r| r.get()).collect();
        assert_eq!(raws, vec![r#"{"id":"a"}"#, "7", r#""x""#]);
    }

    #[test]
    fn byte_order_mark_is_tolerated() {
        let env = Envelope::parse("\u{feff}{\"events\":[1]}".as_bytes()).unwrap();
        assert_eq!(env.events.len(), 1);
    }

    #[test]
    fn request_errors_name_what_is_wrong() {
        assert_eq!(
            Envelope::parse(b"[1]").unwrap_err(),
            RequestError::NotAnObject
        );
        assert_eq!(
            Envelope::parse(b"{}").unwrap_err(),
            RequestError::MissingEvents
        );
        assert_eq!(
            Envelope::parse(br#"{"events":null}"#).unwrap_err(),
            RequestError::MissingEvents
        );
        assert_eq!(
            Envelope::parse(br#"{"events":{"a":1}}"#).unwrap_err(),
            RequestError::EventsNotArray { found: "object" }
        );
        assert!(matches!(
            Envelope::parse(b"{\"events\":[").unwrap_err(),
            RequestError::InvalidJson { .. }
        ));
        assert!(matches!(
            Envelope::parse(b"not json").unwrap_err(),
            RequestError::InvalidJson { .. }
        ));
        assert_eq!(
            Envelope::parse(b"{\"events\":[\"\xff\"]}").unwrap_err(),
            RequestError::InvalidUtf8 { offset: 12 }
        );
    }

    #[test]
    fn duplicate_events_key_is_invalid_json() {
        let err = Envelope::parse(br#"{"events":[],"events":[]}"#).unwrap_err();
        assert!(matches!(err, RequestError::InvalidJson { .. }), "{err:?}");
    }
}
