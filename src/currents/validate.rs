//! Untrusted event → [`ValidEvent`] or [`Rejected`] with a stable reason code.
//!
//! This is the only place that turns raw Currents JSON into typed data. Each event is judged
//! alone, so one bad event never affects another.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use super::fields::{CowStr, JsonText, Properties, RawEvent, RawUser, Shaped};
use super::json_kind;
use super::stream::Element;
use crate::error::message_without_position;
use crate::mapping::{self, EventSpec};

/// Earliest accepted `time`: the UNIX epoch. Braze sends UNIX seconds; a negative value is corrupt.
pub const MIN_EVENT_TIME: i64 = 0;
/// Latest accepted `time`: 9999-12-31T23:59:59Z, the last second ISO-8601's four-digit year can
/// carry. Larger values are corrupt (or milliseconds sent as seconds).
pub const MAX_EVENT_TIME: i64 = 253_402_300_799;
/// Longest accepted `id` / `event_type`, in bytes. Braze's ids are 36-byte UUIDs.
pub const MAX_ID_BYTES: usize = 256;

/// Why an event was quarantined. The snake_case codes are stable: dashboards and replay tools
/// key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The element of `events` is not a JSON object.
    NotAnObject,
    /// The object repeats a top-level field.
    MalformedEvent,
    /// `id` is absent, null or empty.
    MissingId,
    /// `id` is not a string, or too long.
    InvalidId,
    /// `event_type` is absent, null or empty.
    MissingEventType,
    /// `event_type` is not a string, or too long.
    InvalidEventType,
    /// `time` is absent or null.
    MissingTime,
    /// `time` is not an integer number of seconds within range.
    InvalidTime,
    /// `user` is not an object, or one of its ids is not a string.
    InvalidUser,
    /// `user.user_id` is absent on an event type that always carries it.
    MissingUserId,
    /// `properties` is not an object.
    InvalidProperties,
    /// The translated event is larger than Segment accepts (32 KB).
    EventTooLarge,
}

impl RejectReason {
    /// Every reason, for exhaustive reporting.
    pub const ALL: [RejectReason; 12] = [
        Self::NotAnObject,
        Self::MalformedEvent,
        Self::MissingId,
        Self::InvalidId,
        Self::MissingEventType,
        Self::InvalidEventType,
        Self::MissingTime,
        Self::InvalidTime,
        Self::InvalidUser,
        Self::MissingUserId,
        Self::InvalidProperties,
        Self::EventTooLarge,
    ];

    /// The stable code, e.g. `missing_id`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotAnObject => "not_an_object",
            Self::MalformedEvent => "malformed_event",
            Self::MissingId => "missing_id",
            Self::InvalidId => "invalid_id",
            Self::MissingEventType => "missing_event_type",
            Self::InvalidEventType => "invalid_event_type",
            Self::MissingTime => "missing_time",
            Self::InvalidTime => "invalid_time",
            Self::InvalidUser => "invalid_user",
            Self::MissingUserId => "missing_user_id",
            Self::InvalidProperties => "invalid_properties",
            Self::EventTooLarge => "event_too_large",
        }
    }
}

/// A rejected event's reason and a human explanation (never containing property values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The stable reason.
    pub reason: RejectReason,
    /// What exactly was wrong, for the operator.
    pub detail: String,
}

impl Rejected {
    /// A rejection with its reason and explanation.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejected {
            reason,
            detail: detail.into(),
        }
    }
}

/// The identity part of a valid event. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User<'a> {
    /// Braze's id → `anonymousId`.
    pub user_id: Option<Cow<'a, str>>,
    /// The customer's id → `userId`.
    pub external_user_id: Option<Cow<'a, str>>,
    /// → `properties.device_id` where the table lists it.
    pub device_id: Option<Cow<'a, str>>,
}

/// An event that passed validation: typed fields, properties still raw.
#[derive(Debug)]
pub struct ValidEvent<'a> {
    /// Braze's event id.
    pub id: Cow<'a, str>,
    /// The event type as sent.
    pub event_type: Cow<'a, str>,
    /// The table entry, when the type is one of the known 50 (or a legacy spelling).
    pub spec: Option<&'static EventSpec>,
    /// UNIX seconds, within [`crate::currents::MIN_EVENT_TIME`]..=[`crate::currents::MAX_EVENT_TIME`].
    pub time: i64,
    /// Identity.
    pub user: User<'a>,
    /// Properties in Braze's order, repeated keys folded.
    pub properties: Properties<'a>,
    /// The event's JSON text, which the properties' keys and values were read from (the
    /// translator copies runs of it as they stand).
    pub source: &'a str,
}

/// Validates one element of the `events` array.
pub fn validate_event(raw: &RawValue) -> Result<ValidEvent<'_>, Rejected> {
    let element = Element::from_raw(raw);
    element.event.and_then(|ev| validate(ev, element.raw))
}

/// Validates the fields of one event object, as the batch reader parsed them from `source`.
pub fn validate<'a>(ev: RawEvent<'a>, source: &'a str) -> Result<ValidEvent<'a>, Rejected> {
    let id = required_str(
        ev.id,
        "id",
        RejectReason::MissingId,
        RejectReason::InvalidId,
    )?;
    let event_type = required_str(
        ev.event_type,
        "event_type",
        RejectReason::MissingEventType,
        RejectReason::InvalidEventType,
    )?;
    let time = parse_time(ev.time)?;
    let user = parse_user(ev.user)?;
    let spec = mapping::lookup(&event_type);
    if user.user_id.is_none() && spec.is_some_and(|s| s.user_id_required) {
        return Err(Rejected::new(
            RejectReason::MissingUserId,
            format!("user.user_id is required on {event_type}"),
        ));
    }
    let properties = match ev.properties {
        None | Some(Shaped::Null) => Properties::default(),
        Some(Shaped::Expected(props)) => props,
        Some(Shaped::Wrong(kind)) => {
            return Err(Rejected::new(
                RejectReason::InvalidProperties,
                format!("properties is a {kind}, not an object"),
            ));
        }
    };
    Ok(ValidEvent {
        id,
        event_type,
        spec,
        time,
        user,
        properties,
        source,
    })
}

/// `None` for an absent or `null` field: CONTRACTS §1, optional fields may be either.
fn present(raw: Option<JsonText<'_>>) -> Option<JsonText<'_>> {
    raw.filter(|r| r.get() != "null")
}

fn required_str<'a>(
    raw: Option<JsonText<'a>>,
    field: &str,
    missing: RejectReason,
    invalid: RejectReason,
) -> Result<Cow<'a, str>, Rejected> {
    let raw = present(raw).ok_or_else(|| Rejected::new(missing, format!("{field} is absent")))?;
    let value = match without_escapes(raw.get()) {
        Some(plain) => Cow::Borrowed(plain),
        None => {
            let CowStr(value) = serde_json::from_str(raw.get()).map_err(|_| {
                Rejected::new(
                    invalid,
                    format!("{field} is a {}, not a string", json_kind(raw.get())),
                )
            })?;
            value
        }
    };
    if value.is_empty() {
        return Err(Rejected::new(missing, format!("{field} is empty")));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(Rejected::new(
            invalid,
            format!("{field} is {} bytes, over {MAX_ID_BYTES}", value.len()),
        ));
    }
    Ok(value)
}

/// The text of a JSON string token without escapes, as it stands between its quotes: what
/// parsing it would give (a valid token holds no raw quote or control character).
fn without_escapes(token: &str) -> Option<&str> {
    let text = token.strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains('\\')).then_some(text)
}

fn parse_time(raw: Option<JsonText<'_>>) -> Result<i64, Rejected> {
    let raw =
        present(raw).ok_or_else(|| Rejected::new(RejectReason::MissingTime, "time is absent"))?;
    let digits = raw.get();
    // Up to 18 digits is what Braze sends and always fits: read without the number parser.
    if (1..=18).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(seconds) = digits.parse::<i64>()
        && seconds <= MAX_EVENT_TIME
    {
        return Ok(seconds);
    }
    parse_time_number(digits)
}

/// `time` read by serde_json's number parser, whatever the token.
fn parse_time_number(raw: &str) -> Result<i64, Rejected> {
    let invalid = |detail: String| Rejected::new(RejectReason::InvalidTime, detail);
    let number: serde_json::Number = serde_json::from_str(raw)
        .map_err(|_| invalid(format!("time is a {}, not a number", json_kind(raw))))?;
    let Some(seconds) = number.as_i64() else {
        return Err(if number.is_u64() {
            invalid("time is beyond the 64-bit range".into())
        } else {
            invalid("time is not a whole number of seconds".into())
        });
    };
    if seconds < MIN_EVENT_TIME {
        return Err(invalid(format!("time {seconds} is before 1970")));
    }
    if seconds > MAX_EVENT_TIME {
        let hint = if seconds > 1_000_000_000_000 {
            " (milliseconds instead of seconds?)"
        } else {
            ""
        };
        return Err(invalid(format!("time {seconds} is after year 9999{hint}")));
    }
    Ok(seconds)
}

fn non_empty(v: Option<CowStr<'_>>) -> Option<Cow<'_, str>> {
    v.map(|CowStr(s)| s).filter(|s| !s.is_empty())
}

fn parse_user(raw: Option<JsonText<'_>>) -> Result<User<'_>, Rejected> {
    let Some(raw) = present(raw) else {
        return Ok(User::default());
    };
    if !raw.get().starts_with('{') {
        return Err(Rejected::new(
            RejectReason::InvalidUser,
            format!("user is a {}, not an object", json_kind(raw.get())),
        ));
    }
    let user: RawUser<'_> = serde_json::from_str(raw.get())
        .map_err(|e| Rejected::new(RejectReason::InvalidUser, message_without_position(&e)))?;
    Ok(User {
        user_id: non_empty(user.user_id),
        external_user_id: non_empty(user.external_user_id),
        device_id: non_empty(user.device_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn reason(s: &str) -> RejectReason {
        validate_event(&raw(s)).unwrap_err().reason
    }

    const OK: &str = r#"{"id":"e1","event_type":"users.messages.email.Open","time":1477502783,
        "user":{"user_id":"b1","external_user_id":"u1"},"properties":{"a":1}}"#;

    #[test]
    fn a_complete_event_validates() {
        let binding = raw(OK);
        let ev = validate_event(&binding).unwrap();
        assert_eq!(ev.id, "e1");
        assert_eq!(ev.time, 1_477_502_783);
        assert_eq!(ev.user.external_user_id.as_deref(), Some("u1"));
        assert_eq!(ev.spec.unwrap().name, "Email Opened");
        assert_eq!(ev.properties.0.len(), 1);
    }

    #[test]
    fn each_reason_code_is_reachable() {
        let cases = [
            ("[1]", RejectReason::NotAnObject),
            (r#"{"id":"a","id":"b"}"#, RejectReason::MalformedEvent),
            (r#"{"event_type":"x","time":1}"#, RejectReason::MissingId),
            (
                r#"{"id":null,"event_type":"x","time":1}"#,
                RejectReason::MissingId,
            ),
            (
                r#"{"id":"","event_type":"x","time":1}"#,
                RejectReason::MissingId,
            ),
            (
                r#"{"id":5,"event_type":"x","time":1}"#,
                RejectReason::InvalidId,
            ),
            (r#"{"id":"a","time":1}"#, RejectReason::MissingEventType),
            (
                r#"{"id":"a","event_type":[],"time":1}"#,
                RejectReason::InvalidEventType,
            ),
            (r#"{"id":"a","event_type":"x"}"#, RejectReason::MissingTime),
            (
                r#"{"id":"a","event_type":"x","time":"1"}"#,
                RejectReason::InvalidTime,
            ),
            (
                r#"{"id":"a","event_type":"x","time":1.5}"#,
                RejectReason::InvalidTime,
            ),
            (
                r#"{"id":"a","event_type":"x","time":1,"user":3}"#,
                RejectReason::InvalidUser,
            ),
            (
                r#"{"id":"a","event_type":"x","time":1,"user":{"user_id":7}}"#,
                RejectReason::InvalidUser,
            ),
            (
                r#"{"id":"a","event_type":"users.messages.email.Open","time":1,"user":{}}"#,
                RejectReason::MissingUserId,
            ),
            (
                r#"{"id":"a","event_type":"x","time":1,"properties":[]}"#,
                RejectReason::InvalidProperties,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(reason(input), expected, "{input}");
        }
    }

    #[test]
    fn time_accepts_32_and_64_bit_and_rejects_out_of_range() {
        let at = |t: &str| format!(r#"{{"id":"a","event_type":"x","time":{t}}}"#);
        assert_eq!(
            validate_event(&raw(&at("2147483647"))).unwrap().time,
            i32::MAX as i64
        );
        assert_eq!(
            validate_event(&raw(&at("4102444800"))).unwrap().time,
            4_102_444_800
        );
        assert_eq!(validate_event(&raw(&at("0"))).unwrap().time, 0);
        for bad in [
            "-1",
            "253402300800",
            "1700000000000",
            "18446744073709551616",
            "1e3",
        ] {
            assert_eq!(reason(&at(bad)), RejectReason::InvalidTime, "{bad}");
        }
        let detail = validate_event(&raw(&at("1700000000000")))
            .unwrap_err()
            .detail;
        assert!(detail.contains("milliseconds"), "{detail}");
    }

    #[test]
    fn inbound_messages_may_lack_user_id() {
        for t in [
            "users.messages.sms.InboundReceive",
            "users.messages.whatsapp.InboundReceive",
        ] {
            let ev = format!(
                r#"{{"id":"a","event_type":"{t}","time":1,"user":{{"external_user_id":"u"}}}}"#
            );
            assert!(validate_event(&raw(&ev)).is_ok(), "{t}");
        }
    }

    #[test]
    fn unknown_types_do_not_require_user_id() {
        let ev = r#"{"id":"a","event_type":"users.messages.newthing.Send","time":1}"#;
        assert!(validate_event(&raw(ev)).unwrap().spec.is_none());
    }

    #[test]
    fn null_optionals_equal_absent_ones() {
        let absent = r#"{"id":"a","event_type":"x","time":1}"#;
        let nulls = r#"{"id":"a","event_type":"x","time":1,"user":null,"properties":null}"#;
        let (a, b) = (raw(absent), raw(nulls));
        let (a, b) = (validate_event(&a).unwrap(), validate_event(&b).unwrap());
        assert_eq!(a.user, b.user);
        assert!(b.properties.0.is_empty());
        let user_nulls = r#"{"id":"a","event_type":"x","time":1,
            "user":{"user_id":"b","external_user_id":null,"device_id":null,"timezone":null}}"#;
        let u = raw(user_nulls);
        let u = validate_event(&u).unwrap().user;
        assert_eq!(u.external_user_id, None);
        assert_eq!(u.user_id.as_deref(), Some("b"));
    }

    fn raw_of(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn strings_read_without_the_parser_are_what_the_parser_reads(s in "(?s).{0,40}") {
            let token = raw_of(&serde_json::to_string(&s).unwrap());
            let read = required_str(Some(JsonText::from(&*token)), "id", RejectReason::MissingId, RejectReason::InvalidId);
            let expected: Result<Cow<'_, str>, RejectReason> = if s.is_empty() {
                Err(RejectReason::MissingId)
            } else if s.len() > MAX_ID_BYTES {
                Err(RejectReason::InvalidId)
            } else {
                Ok(Cow::Borrowed(s.as_str()))
            };
            proptest::prop_assert_eq!(read.map_err(|e| e.reason), expected);
        }

        #[test]
        fn times_read_without_the_parser_are_what_the_parser_reads(
            text in "-?[0-9]{1,22}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?"
        ) {
            // Only valid JSON numbers (no leading zeros), as a `RawValue` holds.
            if let Ok(raw) = RawValue::from_string(text.clone()) {
                proptest::prop_assert_eq!(parse_time(Some(JsonText::from(&*raw))), parse_time_number(raw.get()));
            }
        }
    }

    #[test]
    fn overlong_ids_are_invalid() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        let ev = format!(r#"{{"id":"{long}","event_type":"x","time":1}}"#);
        assert_eq!(reason(&ev), RejectReason::InvalidId);
    }

    #[test]
    fn codes_are_unique_snake_case_and_match_serde() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RejectReason::ALL {
            assert!(seen.insert(r.code()));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
    }
}
