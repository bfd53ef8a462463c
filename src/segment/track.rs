//! One Segment `track` call, written straight from borrowed parts into one buffer sized up front:
//! property values are copied as the raw JSON Braze sent, never rebuilt as a value tree (and runs
//! of properties that stand in the event as they would be written, key and value alike, in one
//! copy: [`Member::Run`]), and the text is what `serde_json` writes for the same object (compact,
//! keys in this order).

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::config::{Library, MessageIdScope};
use crate::currents::JsonText;

use super::MAX_MESSAGE_ID_LEN;

/// A property or context value: raw JSON from Braze, or a string the relay supplies.
#[derive(Debug, Clone, Copy)]
pub enum PropValue<'a> {
    /// Verbatim JSON from the event.
    Raw(JsonText<'a>),
    /// A string (e.g. `user.device_id`).
    Str(&'a str),
}

impl PropValue<'_> {
    /// Its JSON length, unless it is a string that needs escapes.
    fn len_hint(&self) -> usize {
        match self {
            PropValue::Raw(r) => r.get().len(),
            PropValue::Str(s) => s.len() + 2,
        }
    }
}

/// A member of the `properties` object: one property, or a run of properties that stand in the
/// Currents event exactly as the writer would write them (`"key":value` joined by single commas,
/// keys without escapes), copied as they are: the same text in one copy.
#[derive(Debug, Clone, Copy)]
pub enum Member<'a> {
    /// One property.
    Pair(&'a str, PropValue<'a>),
    /// Consecutive properties, verbatim (`"k1":v1,"k2":v2`).
    Run(&'a str),
}

impl Member<'_> {
    /// Its JSON length, unless it is a pair with a key or string that needs escapes.
    fn len_hint(&self) -> usize {
        match self {
            Member::Pair(key, value) => key.len() + 3 + value.len_hint(),
            Member::Run(text) => text.len(),
        }
    }
}

/// A Segment `track` call ready to write.
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
    pub properties: &'a [Member<'a>],
    /// `context.device`.
    pub device: &'a [(&'a str, PropValue<'a>)],
    /// `context.traits`.
    pub traits: &'a [(&'a str, PropValue<'a>)],
    /// `context.library`, rendered once per batch ([`library_json`]).
    pub library: &'a RawValue,
    /// `integrations`, serialised once per batch.
    pub integrations: &'a RawValue,
}

impl Track<'_> {
    /// The call as compact JSON:
    /// `{"type":"track","event":…,"userId":…,"anonymousId":…,"messageId":…,"timestamp":…,
    /// "properties":{…},"context":{"device":{…},"traits":{…},"library":{…}},"integrations":…}`
    /// (`userId` and `anonymousId` only when present).
    pub fn to_json(&self) -> Box<RawValue> {
        let strings = self.strings();
        let mut out = String::with_capacity(self.len_unescaped(&strings));
        out.push_str(TRACK_START);
        for (key, value) in strings {
            if let Some(value) = value {
                out.push_str(key);
                push_string(&mut out, value);
            }
        }
        out.push_str(PROPERTIES_KEY);
        push_members(&mut out, self.properties);
        out.push_str(CONTEXT_DEVICE_KEYS);
        push_object(&mut out, self.device);
        out.push_str(TRAITS_KEY);
        push_object(&mut out, self.traits);
        out.push_str(LIBRARY_KEY);
        out.push_str(self.library.get());
        out.push('}');
        out.push_str(INTEGRATIONS_KEY);
        out.push_str(self.integrations.get());
        out.push('}');
        // Not `RawValue::from_string`: parsing the text again to prove it is JSON costs a tenth
        // of the Worker's time per batch (docs/BENCHMARKS.md, section 9). Debug builds, every
        // test among them, still parse it (a `debug_assert!` in serde_json).
        // SAFETY: `out` is one JSON object with no surrounding whitespace: fixed keys, strings
        // written by `push_string` (serde_json's escaping, held by a property test), and raw
        // values that are `JsonText`s, each of them one valid JSON value (read by serde_json, or
        // written by the relay's own writer and checked in debug builds), and `RawValue`s.
        #[allow(unsafe_code)]
        unsafe {
            RawValue::from_string_unchecked(out)
        }
    }
}

/// How a track call begins.
const TRACK_START: &str = r#"{"type":"track""#;
/// The keys after a track call's strings, each as it is written.
const PROPERTIES_KEY: &str = r#","properties":"#;
const CONTEXT_DEVICE_KEYS: &str = r#","context":{"device":"#;
const TRAITS_KEY: &str = r#","traits":"#;
const LIBRARY_KEY: &str = r#","library":"#;
const INTEGRATIONS_KEY: &str = r#","integrations":"#;
/// Those keys and the two closing braces (of `context` and of the call).
const TRACK_FIXED_LEN: usize = PROPERTIES_KEY.len()
    + CONTEXT_DEVICE_KEYS.len()
    + TRAITS_KEY.len()
    + LIBRARY_KEY.len()
    + INTEGRATIONS_KEY.len()
    + 2;

impl<'a> Track<'a> {
    /// The string members, each key as it is written (`,"key":`), and its value if present.
    fn strings(&self) -> [(&'static str, Option<&'a str>); 5] {
        [
            (r#","event":"#, Some(self.event)),
            (r#","userId":"#, self.user_id),
            (r#","anonymousId":"#, self.anonymous_id),
            (r#","messageId":"#, Some(self.message_id)),
            (r#","timestamp":"#, Some(self.timestamp)),
        ]
    }

    /// The length [`Self::to_json`] writes when no string needs escapes (every id and name a
    /// Currents body brings without escapes): the buffer is allocated once at its final size.
    /// A string with escapes makes the text longer and the buffer grow.
    fn len_unescaped(&self, strings: &[(&'static str, Option<&'a str>); 5]) -> usize {
        let strings: usize = strings
            .iter()
            .filter_map(|(key, value)| value.map(|v| key.len() + v.len() + 2))
            .sum();
        let members = self.properties.iter().map(Member::len_hint);
        let objects = object_len(members)
            + object_len(self.device.iter().map(|(k, v)| k.len() + 3 + v.len_hint()))
            + object_len(self.traits.iter().map(|(k, v)| k.len() + 3 + v.len_hint()));
        TRACK_START.len()
            + strings
            + objects
            + TRACK_FIXED_LEN
            + self.library.get().len()
            + self.integrations.get().len()
    }
}

/// The length of an object of members of these lengths: braces, members, and the commas between.
fn object_len(members: impl ExactSizeIterator<Item = usize>) -> usize {
    let commas = members.len().saturating_sub(1);
    2 + members.sum::<usize>() + commas
}

/// `context.library` as JSON: `{"name":…,"version":…}`.
pub fn library_json(library: &Library) -> Box<RawValue> {
    let pairs = [
        ("name", PropValue::Str(&library.name)),
        ("version", PropValue::Str(&library.version)),
    ];
    let mut out = String::new();
    push_object(&mut out, &pairs);
    RawValue::from_string(out).expect("an object of strings is JSON")
}

/// Appends `,"key":`.
pub(crate) fn push_key(out: &mut String, key: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
}

/// Appends `s` as a JSON string. A string without quotes, backslashes or control characters is
/// copied as it is (every name and id from a Currents body without escapes); any other is
/// escaped by `serde_json`, so the text is always what `serde_json` writes.
pub(crate) fn push_string(out: &mut String, s: &str) {
    if needs_escapes(s.as_bytes()) {
        out.push_str(&serde_json::to_string(s).expect("a string serialises"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// The length of `s` as a JSON string, as [`push_string`] writes it.
pub(crate) fn json_string_len(s: &str) -> usize {
    if needs_escapes(s.as_bytes()) {
        serde_json::to_string(s).expect("a string serialises").len()
    } else {
        s.len() + 2
    }
}

/// Whether `s` holds a byte JSON escapes: a control character, `"` or `\`. Eight bytes at a
/// time: a byte below `n` (at most 128) leaves its high bit set in `x - n·0x01…01` and clear
/// in `x`, and a byte equal to `c` is a zero byte of `x ^ c·0x01…01`; both tests are exact.
fn needs_escapes(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH_BITS != 0;
    let mut words = s.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if below(x, 0x20)
            || below(x ^ (ONES * u64::from(b'"')), 1)
            || below(x ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends an ordered JSON object of borrowed pairs.
fn push_object(out: &mut String, pairs: &[(&str, PropValue<'_>)]) {
    out.push('{');
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_pair(out, key, value);
    }
    out.push('}');
}

/// Appends the `properties` object.
fn push_members(out: &mut String, members: &[Member<'_>]) {
    out.push('{');
    for (i, member) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match member {
            Member::Pair(key, value) => push_pair(out, key, value),
            Member::Run(text) => out.push_str(text),
        }
    }
    out.push('}');
}

/// Appends `"key":value`.
fn push_pair(out: &mut String, key: &str, value: &PropValue<'_>) {
    push_string(out, key);
    out.push(':');
    match value {
        PropValue::Raw(r) => out.push_str(r.get()),
        PropValue::Str(s) => push_string(out, s),
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

/// A `track` call's `timestamp`: `YYYY-MM-DDTHH:MM:SS.000Z`, held without an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp([u8; 24]);

impl Timestamp {
    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("digits and ASCII punctuation")
    }
}

/// UNIX seconds → `YYYY-MM-DDTHH:MM:SS.000Z`. `None` outside years 0000-9999 (validation keeps
/// event times inside).
pub fn format_timestamp(unix_seconds: i64) -> Option<Timestamp> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let fields = [
        (year, 1000, b'-'),
        (u32::from(u8::from(t.month())), 10, b'-'),
        (u32::from(t.day()), 10, b'T'),
        (u32::from(t.hour()), 10, b':'),
        (u32::from(t.minute()), 10, b':'),
        (u32::from(t.second()), 10, b'.'),
    ];
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut at = 0;
    for (value, mut place, then) in fields {
        while place > 0 {
            text[at] = b'0' + (value / place % 10) as u8;
            (at, place) = (at + 1, place / 10);
        }
        text[at] = then;
        at += 1;
    }
    Some(Timestamp(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(
            format_timestamp(0).unwrap().as_str(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(1_477_502_783).unwrap().as_str(),
            "2016-10-26T17:26:23.000Z"
        );
        assert_eq!(
            format_timestamp(2_033_802_504).unwrap().as_str(),
            "2034-06-13T09:08:24.000Z"
        );
        assert_eq!(
            format_timestamp(253_402_300_799).unwrap().as_str(),
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

    proptest::proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(s in "(?s).{0,40}") {
            let mut out = String::new();
            push_string(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn the_word_at_a_time_check_finds_every_byte_to_escape() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        let fillers: [&[u8]; 4] = [b"a", "\u{e9}".as_bytes(), "\u{1f600}".as_bytes(), b"\x7f"];
        for len in 0..20 {
            for filler in fillers {
                let base: Vec<u8> = filler.iter().copied().cycle().take(len).collect();
                assert_eq!(needs_escapes(&base), naive(&base));
                for at in 0..len {
                    for b in 0..=0x7f_u8 {
                        let mut s = base.clone();
                        s[at] = b;
                        assert_eq!(needs_escapes(&s), naive(&s), "{s:?}");
                        // A second byte after it: borrows between bytes must not hide or invent one.
                        for (next, after) in [(0x1f, b'!'), (b'"', b'#'), (b'\\', b']')] {
                            if at + 1 < len {
                                s[at + 1] = next;
                                assert_eq!(needs_escapes(&s), naive(&s), "{s:?}");
                                s[at + 1] = after;
                                assert_eq!(needs_escapes(&s), naive(&s), "{s:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strings_needing_escapes_are_escaped() {
        for s in [
            "",
            "plain",
            "qu\"ote",
            "back\\slash",
            "tab\there",
            "\u{1}",
            "é ü \u{7f}",
        ] {
            let mut out = String::new();
            push_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn track_serialises_in_segment_shape() {
        let lib = library_json(&Library::default());
        let integrations = RawValue::from_string(r#"{"Braze":false}"#.into()).unwrap();
        let raw = RawValue::from_string("[1, 2]".into()).unwrap();
        let props = [
            Member::Pair("list", PropValue::Raw(JsonText::from(&*raw))),
            Member::Pair("device_id", PropValue::Str("d\"1")),
            Member::Pair("k\u{1}", PropValue::Str("")),
            Member::Run(r#""a":1,"b":{"c":null}"#),
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
        let json = t.to_json();
        assert_eq!(
            json.get(),
            format!(
                r#"{{"type":"track","event":"Email Opened","userId":"u1","messageId":"m","timestamp":"1970-01-01T00:00:00.000Z","properties":{{"list":[1, 2],"device_id":"d\"1","k\u0001":"","a":1,"b":{{"c":null}}}},"context":{{"device":{{}},"traits":{{}},"library":{{"name":"currents-relay","version":"{}"}}}},"integrations":{{"Braze":false}}}}"#,
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn a_call_without_escapes_is_allocated_at_its_final_size() {
        let lib = library_json(&Library::default());
        let integrations = RawValue::from_string(r#"{"Braze":false,"All":true}"#.into()).unwrap();
        let raw = RawValue::from_string(r#"{"a":[1,"x"]}"#.into()).unwrap();
        let props = [
            Member::Pair("nested", PropValue::Raw(JsonText::from(&*raw))),
            Member::Run(r#""x":"y","z":[]"#),
            Member::Pair("device_id", PropValue::Str("d1")),
        ];
        let one = [("model", PropValue::Str("iPhone15,2"))];
        for (properties, device, traits, user_id) in [
            (&props[..], &one[..], &one[..], Some("u1")),
            (&[][..], &[][..], &[][..], None),
            (&props[..1], &[][..], &one[..], Some("")),
            (&props[1..2], &[][..], &[][..], Some("")),
        ] {
            let t = Track {
                event: "Custom Event",
                user_id,
                anonymous_id: Some("anon-1"),
                message_id: "crl-0123",
                timestamp: "1970-01-01T00:00:00.000Z",
                properties,
                device,
                traits,
                library: &lib,
                integrations: &integrations,
            };
            let json = t.to_json();
            assert_eq!(
                t.len_unescaped(&t.strings()),
                json.get().len(),
                "{}",
                json.get()
            );
        }
    }
}
