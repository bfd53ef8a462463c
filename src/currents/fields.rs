//! Borrowing deserializers for one Currents event: top-level fields stay raw until validation
//! gives each a reason code; properties become `(key, raw value)` pairs copied verbatim later.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A string that borrows from the input unless JSON escapes forced a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CowStr<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// One event as Braze sent it: the fields the relay reads, still raw, plus any others.
#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    /// `id`: Braze's globally unique event id.
    pub id: Option<&'a RawValue>,
    /// `event_type`, e.g. `users.messages.email.Open`.
    pub event_type: Option<&'a RawValue>,
    /// `time`: UNIX seconds, UTC.
    pub time: Option<&'a RawValue>,
    /// `user`: the identity object.
    pub user: Option<&'a RawValue>,
    /// `properties`: everything else Braze knows about the event.
    pub properties: Option<&'a RawValue>,
    /// Top-level keys this version does not know; kept so nothing Braze adds is lost in parsing.
    pub extra: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'de> Deserialize<'de> for RawEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEvent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ev = RawEvent::default();
                while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    let slot = match key.as_ref() {
                        "id" => &mut ev.id,
                        "event_type" => &mut ev.event_type,
                        "time" => &mut ev.time,
                        "user" => &mut ev.user,
                        "properties" => &mut ev.properties,
                        _ => {
                            ev.extra.push((key, value));
                            continue;
                        }
                    };
                    if slot.replace(value).is_some() {
                        return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                }
                Ok(ev)
            }
        }
        d.deserialize_map(V)
    }
}

/// The `user` object. Absent and `null` keys are both `None`; unknown keys are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct RawUser<'a> {
    /// Braze's own user id (becomes Segment's `anonymousId`).
    #[serde(borrow, default)]
    pub user_id: Option<Cow<'a, str>>,
    /// The customer's id for the user (becomes Segment's `userId`).
    #[serde(borrow, default)]
    pub external_user_id: Option<Cow<'a, str>>,
    /// The device the event happened on (becomes `properties.device_id` where listed).
    #[serde(borrow, default)]
    pub device_id: Option<Cow<'a, str>>,
    /// The user's time zone: never forwarded (Braze's export drops it too).
    #[serde(borrow, default)]
    pub timezone: Option<Cow<'a, str>>,
}

/// Event properties in Braze's order, values still raw JSON. A repeated key keeps its last
/// value, like every JSON object model does, so the output never carries duplicate keys.
#[derive(Debug, Default)]
pub struct Properties<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Properties<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Properties<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a properties object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut props: Vec<(Cow<'de, str>, &'de RawValue)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
                    props.push((key, map.next_value()?));
                }
                dedupe_last_wins(&mut props);
                Ok(Properties(props))
            }
        }
        d.deserialize_map(V)
    }
}

/// Keeps the first position and the last value of each repeated key. Linear scans serve the
/// usual few dozen keys; a hash index keeps hostile objects with many keys linear too.
fn dedupe_last_wins<V: Copy>(props: &mut Vec<(Cow<'_, str>, V)>) {
    const LINEAR_UP_TO: usize = 32;
    if props.len() <= LINEAR_UP_TO {
        let mut i = 0;
        while i < props.len() {
            if let Some(first) = props[..i].iter().position(|(k, _)| *k == props[i].0) {
                props[first].1 = props[i].1;
                props.remove(i);
            } else {
                i += 1;
            }
        }
        return;
    }
    let mut first_at: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(props.len());
    let mut keep = vec![true; props.len()];
    for i in 0..props.len() {
        match first_at.get(props[i].0.as_ref()) {
            Some(&first) => {
                props[first].1 = props[i].1;
                keep[i] = false;
            }
            None => {
                first_at.insert(props[i].0.to_string(), i);
            }
        }
    }
    let mut flags = keep.into_iter();
    props.retain(|_| flags.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_borrow_unless_escaped() {
        let plain: CowStr = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(plain.0, Cow::Borrowed("abc")));
        let escaped: CowStr = serde_json::from_str(r#""a\"c""#).unwrap();
        assert!(matches!(escaped.0, Cow::Owned(ref s) if s == "a\"c"));
    }

    #[test]
    fn event_keeps_unknown_top_level_fields() {
        let ev: RawEvent = serde_json::from_str(r#"{"id":"x","schema":3,"time":1}"#).unwrap();
        assert_eq!(ev.id.unwrap().get(), r#""x""#);
        assert_eq!(ev.extra.len(), 1);
        assert_eq!(ev.extra[0].0, "schema");
        assert!(ev.user.is_none());
    }

    #[test]
    fn duplicate_top_level_field_is_an_error() {
        let err = serde_json::from_str::<RawEvent>(r#"{"id":"a","id":"b"}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate field `id`"));
    }

    #[test]
    fn repeated_property_keeps_last_value_in_first_position() {
        let p: Properties = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        let flat: Vec<(&str, &str)> = p.0.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
        assert_eq!(flat, vec![("a", "3"), ("b", "2")]);
    }

    #[test]
    fn many_repeated_keys_dedupe_the_same_way() {
        let mut body = String::from("{");
        for i in 0..100 {
            body.push_str(&format!("\"k{}\":{i},", i % 40));
        }
        body.push_str("\"last\":true}");
        let p: Properties = serde_json::from_str(&body).unwrap();
        assert_eq!(p.0.len(), 41);
        assert_eq!(p.0[0].0, "k0");
        assert_eq!(p.0[0].1.get(), "80");
        assert_eq!(p.0[39].1.get(), "79");
    }
}
