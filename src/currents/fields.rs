//! Borrowing deserializers for one Currents event: top-level fields stay raw until validation
//! gives each a reason code; properties become `(key, raw value)` pairs copied verbatim later.
//! A raw value is [`JsonText`]: read from a body by serde_json, or written by the relay itself.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A string that borrows from the input unless JSON escapes forced a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CowStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = CowStr<'a>;
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
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// One JSON value's text exactly as it stands (no surrounding whitespace), known to be well
/// formed: read from a request body by serde_json ([`From<&RawValue>`], [`Deserialize`]), or
/// written by the relay's own JSON writer (the backfill's record writer builds events this way
/// without reading its own text back). Translation copies it into Segment calls verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonText<'a>(&'a str);

impl<'a> JsonText<'a> {
    /// The text.
    pub fn get(self) -> &'a str {
        self.0
    }

    /// Text the relay wrote as one JSON value (strings by `push_string`, numbers by `std::fmt`
    /// or serde_json, objects and arrays of those, JSON read and checked by serde_json). Debug
    /// builds, every test among them, check it.
    #[cfg_attr(not(feature = "backfill"), allow(dead_code))]
    pub(crate) fn written(text: &'a str) -> Self {
        debug_assert!(
            serde_json::from_str::<&RawValue>(text).is_ok_and(|r| r.get() == text),
            "not one JSON value without surrounding whitespace: {text:?}"
        );
        JsonText(text)
    }
}

impl<'a> From<&'a RawValue> for JsonText<'a> {
    fn from(raw: &'a RawValue) -> Self {
        JsonText(raw.get())
    }
}

impl<'de> Deserialize<'de> for JsonText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(JsonText::from)
    }
}

/// One event as Braze sent it: the fields the relay reads, still raw, plus any others.
#[derive(Debug, Default)]
pub struct RawEvent<'a> {
    /// `id`: Braze's globally unique event id.
    pub id: Option<JsonText<'a>>,
    /// `event_type`, e.g. `users.messages.email.Open`.
    pub event_type: Option<JsonText<'a>>,
    /// `time`: UNIX seconds, UTC.
    pub time: Option<JsonText<'a>>,
    /// `user`: the identity object.
    pub user: Option<JsonText<'a>>,
    /// `properties`: everything else Braze knows about the event, parsed in the same pass.
    pub properties: Option<Shaped<Properties<'a>>>,
    /// Top-level keys this version does not know; kept so nothing Braze adds is lost in parsing.
    pub extra: Vec<(Cow<'a, str>, JsonText<'a>)>,
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
                    if key == "properties" {
                        if ev.properties.replace(map.next_value()?).is_some() {
                            return Err(de::Error::custom("duplicate field `properties`"));
                        }
                        continue;
                    }
                    let value: JsonText<'de> = map.next_value()?;
                    let slot = match key.as_ref() {
                        "id" => &mut ev.id,
                        "event_type" => &mut ev.event_type,
                        "time" => &mut ev.time,
                        "user" => &mut ev.user,
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

/// A field that should hold a container (`T`, an object or an array), read in one pass whatever
/// it holds, so a wrong type becomes a reason code instead of a parse error.
#[derive(Debug)]
pub enum Shaped<T> {
    /// The expected container.
    Expected(T),
    /// `null`.
    Null,
    /// Another JSON kind (`"string"`, `"number"`, ...), consumed and dropped.
    Wrong(&'static str),
}

/// The JSON kinds [`Shaped`] reports.
struct ShapeVisitor<T>(std::marker::PhantomData<T>);

macro_rules! wrong_kind {
    ($($method:ident: $ty:ty => $kind:literal),*) => {
        $(fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Shaped::Wrong($kind))
        })*
    };
}

/// Containers [`Shaped`] can hold: an object read with `visit_map` or an array with `visit_seq`.
pub trait Container<'de>: Sized {
    /// Reads the object form, or `None` if this container is an array.
    fn from_map<A: MapAccess<'de>>(map: A) -> Option<Result<Self, A::Error>>;
    /// Reads the array form, or `None` if this container is an object.
    fn from_seq<A: de::SeqAccess<'de>>(seq: A) -> Option<Result<Self, A::Error>>;
}

impl<'de, T: Container<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = Shaped<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    wrong_kind!(visit_bool: bool => "boolean", visit_i64: i64 => "number", visit_u64: u64 => "number",
        visit_f64: f64 => "number", visit_str: &str => "string");
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Shaped::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match T::from_map(&mut map) {
            Some(result) => result.map(Shaped::Expected),
            None => {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Shaped::Wrong("object"))
            }
        }
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        match T::from_seq(&mut seq) {
            Some(result) => result.map(Shaped::Expected),
            None => {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Shaped::Wrong("array"))
            }
        }
    }
}

impl<'de, T: Container<'de>> Deserialize<'de> for Shaped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor(std::marker::PhantomData))
    }
}

/// The elements of an array, each kept as raw JSON (the `events` array of a batch).
#[derive(Debug, Default)]
pub struct RawList<'a>(pub Vec<&'a RawValue>);

impl<'de> Container<'de> for RawList<'de> {
    fn from_map<A: MapAccess<'de>>(_: A) -> Option<Result<Self, A::Error>> {
        None
    }
    fn from_seq<A: de::SeqAccess<'de>>(mut seq: A) -> Option<Result<Self, A::Error>> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(100));
        loop {
            match seq.next_element::<&'de RawValue>() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Some(Ok(RawList(items))),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<'de> Container<'de> for Properties<'de> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Option<Result<Self, A::Error>> {
        Some(PropertiesVisitor.visit_map(map))
    }
    fn from_seq<A: de::SeqAccess<'de>>(_: A) -> Option<Result<Self, A::Error>> {
        None
    }
}

/// The `user` object. Absent and `null` keys are both `None`; unknown keys are ignored. Ids
/// borrow from the body unless they hold escapes ([`CowStr`]: serde's own `Option<Cow<str>>`
/// always copies).
#[derive(Debug, Default, Deserialize)]
pub struct RawUser<'a> {
    /// Braze's own user id (becomes Segment's `anonymousId`).
    #[serde(borrow, default)]
    pub user_id: Option<CowStr<'a>>,
    /// The customer's id for the user (becomes Segment's `userId`).
    #[serde(borrow, default)]
    pub external_user_id: Option<CowStr<'a>>,
    /// The device the event happened on (becomes `properties.device_id` where listed).
    #[serde(borrow, default)]
    pub device_id: Option<CowStr<'a>>,
    /// The user's time zone: never forwarded (Braze's export drops it too).
    #[serde(borrow, default)]
    pub timezone: Option<CowStr<'a>>,
}

/// Event properties in Braze's order, values still raw JSON. A repeated key keeps its last
/// value, like every JSON object model does, so the output never carries duplicate keys.
#[derive(Debug, Default)]
pub struct Properties<'a>(pub Vec<(Cow<'a, str>, JsonText<'a>)>);

impl<'a> Properties<'a> {
    /// Properties from `(key, value)` pairs in order, a repeated key folded as when parsed.
    pub fn new(mut pairs: Vec<(Cow<'a, str>, JsonText<'a>)>) -> Self {
        dedupe_last_wins(&mut pairs);
        Properties(pairs)
    }
}

struct PropertiesVisitor;

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = Properties<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a properties object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut props: Vec<(Cow<'de, str>, JsonText<'de>)> =
            Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            props.push((key, map.next_value()?));
        }
        dedupe_last_wins(&mut props);
        Ok(Properties(props))
    }
}

impl<'de> Deserialize<'de> for Properties<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PropertiesVisitor)
    }
}

/// Keeps the first position and the last value of each repeated key. Linear scans serve the
/// usual few dozen keys, and only for a key whose [`key_bit`] an earlier key has; a hash index
/// keeps hostile objects with many keys linear too.
fn dedupe_last_wins<V: Copy>(props: &mut Vec<(Cow<'_, str>, V)>) {
    const LINEAR_UP_TO: usize = 32;
    if props.len() <= LINEAR_UP_TO {
        let mut bits = 0u64;
        let mut i = 0;
        while i < props.len() {
            let bit = key_bit(&props[i].0);
            let seen = bits & bit != 0;
            bits |= bit;
            if !seen {
                i += 1;
            } else if let Some(first) = props[..i].iter().position(|(k, _)| *k == props[i].0) {
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

/// One of 64 bits for a key, from its length and its first and last bytes: equal keys have the
/// same bit, so a key whose bit no earlier key has is new. Property names of one event mostly
/// differ in one of the three, where lengths alone often meet (`app_id`, `send_id`, ...).
fn key_bit(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let first = u64::from(bytes.first().copied().unwrap_or(0));
    let last = u64::from(bytes.last().copied().unwrap_or(0));
    let mixed = (bytes.len() as u64 | first << 16 | last << 24).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1 << (mixed >> 58)
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
        // What a string token can never hold, so one without escapes is its own value
        // (`validate::without_escapes`): a raw control character is not JSON.
        for raw in ["\"a\u{1}b\"", "\"a\nb\"", "\"\u{1f}\""] {
            assert!(serde_json::from_str::<CowStr>(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn user_ids_borrow_unless_escaped() {
        let user: RawUser = serde_json::from_str(
            r#"{"user_id":"b1","external_user_id":"u\u0031","device_id":null,"timezone":"UTC"}"#,
        )
        .unwrap();
        assert!(matches!(user.user_id, Some(CowStr(Cow::Borrowed("b1")))));
        assert!(matches!(user.external_user_id, Some(CowStr(Cow::Owned(ref s))) if s == "u1"));
        assert!(user.device_id.is_none());
        assert!(matches!(user.timezone, Some(CowStr(Cow::Borrowed("UTC")))));
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

    proptest::proptest! {
        #[test]
        fn dedupe_keeps_first_positions_and_last_values(
            keys in proptest::collection::vec("[ab]{0,3}|[a-z]{60,70}", 0..80)
        ) {
            let mut props: Vec<(Cow<'_, str>, usize)> =
                keys.iter().enumerate().map(|(i, k)| (Cow::Borrowed(k.as_str()), i)).collect();
            dedupe_last_wins(&mut props);
            let mut expected: Vec<(&str, usize)> = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                match expected.iter_mut().find(|(e, _)| e == k) {
                    Some(slot) => slot.1 = i,
                    None => expected.push((k, i)),
                }
            }
            let got: Vec<(&str, usize)> = props.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
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
