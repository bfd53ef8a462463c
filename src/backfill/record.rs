//! One Avro record of a Currents storage file → the Currents event Braze's HTTP push carries for
//! it, so the Worker's `process()` translates it.
//!
//! A storage record is flat: every field of the event side by side (Braze's glossary, "Cloud
//! Storage" tabs). The HTTP push groups them: `id`, `event_type` and `time` at the top,
//! `user_id`, `external_user_id`, `device_id` and `timezone` in `user`, everything else in
//! `properties`. Two fields differ in shape: the `properties` of custom events and purchases is a
//! JSON *string* in storage and the object `custom_properties` / `purchase_properties` in the
//! HTTP push. An Avro `null` (a union's null branch) is an absent field, as Braze sends it.
//!
//! Values are written as JSON text in one pass (no value tree): strings escaped, integers as they
//! are, a `float` with the shortest text that reads back as the same 32-bit number (what Braze
//! wrote before it was stored), a JSON string of properties copied verbatim.

use std::fmt::Write;
use std::ops::Range;

use apache_avro::types::Value;
use serde_json::value::RawValue;

use crate::mapping::CUSTOM_EVENT_TYPE;
use crate::segment::push_string;

pub use super::batch::EventBatch;

/// Record fields that the HTTP push carries in `user`.
pub const USER_FIELDS: [&str; 4] = ["user_id", "external_user_id", "device_id", "timezone"];
/// Record fields that the HTTP push carries at the top of the event.
pub const TOP_FIELDS: [&str; 3] = ["id", "event_type", "time"];
/// The storage field holding a JSON string of an event's own properties.
pub const PROPERTIES_FIELD: &str = "properties";
/// Braze's purchase event type.
pub const PURCHASE_TYPE: &str = "users.behaviors.Purchase";

/// The HTTP field of a storage field, for an event of `event_type`.
pub fn http_field<'a>(event_type: Option<&str>, field: &'a str) -> &'a str {
    match (event_type, field) {
        (Some(CUSTOM_EVENT_TYPE), PROPERTIES_FIELD) => "custom_properties",
        (Some(PURCHASE_TYPE), PROPERTIES_FIELD) => "purchase_properties",
        _ => field,
    }
}

/// A record as a Currents event, and what the run's filters need to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The Currents event, JSON text (one element of a `{"events": [...]}` body).
    pub event: String,
    /// The event type: the record's `event_type` field, else the file's `event_type=` folder.
    pub event_type: Option<String>,
    /// The record's `time`, when it is an integer.
    pub time: Option<i64>,
}

/// A record written as a Currents event at the end of a batch ([`EventBatch::push`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended<'a> {
    /// Where the event's JSON text is in the body.
    pub span: Range<usize>,
    /// The event type: the record's `event_type` field, else the file's `event_type=` folder.
    pub event_type: Option<&'a str>,
    /// The record's `time`, when it is an integer.
    pub time: Option<i64>,
}

/// Why a record cannot become a Currents event (its raw form: [`raw_record`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The value is not a record (the file's schema is not a Currents storage schema).
    #[error("the record is an Avro {0}, not a record")]
    NotARecord(&'static str),
    /// A field holds an Avro value JSON cannot carry as Braze would send it.
    #[error("field {field:?} holds an Avro {kind}, which has no JSON form in a Currents event")]
    Unsupported {
        /// The field.
        field: String,
        /// The Avro type.
        kind: &'static str,
    },
    /// A JSON-string `properties` field is not a JSON object.
    #[error("field {field:?} is not a JSON object ({detail})")]
    PropertiesNotJson {
        /// The field.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
}

impl MapError {
    /// The stable code counted and written with the quarantined record.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotARecord(_) => "not_a_record",
            Self::Unsupported { .. } => "unsupported_value",
            Self::PropertiesNotJson { .. } => "invalid_properties_json",
        }
    }
}

/// Maps one record; `path_type` is the file's `event_type=` folder.
pub fn map_record(value: &Value, path_type: Option<&str>) -> Result<Mapped, MapError> {
    let mut batch = EventBatch::new(1);
    let appended = batch.push(value, path_type)?;
    Ok(Mapped {
        event: batch.event_text(0).to_owned(),
        event_type: appended.event_type.map(str::to_owned),
        time: appended.time,
    })
}

/// Maps one record, writing its Currents event at the end of `out` (no copy of the event of
/// its own) and the place of each of its properties in `out` at the end of `props`: the
/// event's fields as reading the text back would find them. On an error `out` and `props` are
/// left as they were.
pub(super) fn write_record<'a>(
    value: &'a Value,
    path_type: Option<&'a str>,
    out: &mut String,
    props: &mut Vec<(&'a str, Range<usize>)>,
) -> Result<(Appended<'a>, Top), MapError> {
    let Value::Record(fields) = value else {
        return Err(MapError::NotARecord(kind(value)));
    };
    let event_type = fields
        .iter()
        .find(|(name, _)| name == "event_type")
        .and_then(|(_, v)| match present(v) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        });
    let has_type_field = event_type.is_some();
    let event_type = event_type.or(path_type);
    let time = fields
        .iter()
        .find(|(name, _)| name == "time")
        .and_then(|(_, v)| match present(v) {
            Some(Value::Int(t)) => Some(i64::from(*t)),
            Some(Value::Long(t)) => Some(*t),
            _ => None,
        });
    // An unusable `event_type` field (null, empty, not a string) gives way to the folder's;
    // without a folder it stays, for validation to name it.
    let skip_type_field = !has_type_field && path_type.is_some();
    let start = out.len();
    let props_before = props.len();
    let top = match event_json(fields, event_type, skip_type_field, out, props) {
        Ok(top) => top,
        Err(e) => {
            out.truncate(start);
            props.truncate(props_before);
            return Err(e);
        }
    };
    let appended = Appended {
        span: start..out.len(),
        event_type,
        time,
    };
    Ok((appended, top))
}

/// The storage record as JSON, every field with `null`s kept, for the quarantine file (a value
/// with no JSON form, such as Avro bytes, as `null`).
pub fn raw_record(value: &Value) -> String {
    let mut raw = String::with_capacity(1024);
    let _ = render(value, &mut raw, "");
    raw
}

/// Why a file's records cannot be read as Currents events, from its schema alone: a reason
/// code and what is wrong.
pub fn check_schema(
    fields: Option<&[&str]>,
    path_type: Option<&str>,
) -> Result<(), (&'static str, String)> {
    let Some(fields) = fields else {
        return Err((
            "foreign_schema",
            "the file's schema is not a record: not a Currents storage file".into(),
        ));
    };
    let missing: Vec<&str> = ["id", "time"]
        .into_iter()
        .filter(|f| !fields.contains(f))
        .collect();
    if !missing.is_empty() {
        return Err((
            "foreign_schema",
            format!(
                "the file's records have no {} field: not a Currents storage file",
                missing.join(" or ")
            ),
        ));
    }
    if path_type.is_none() && !fields.contains(&"event_type") {
        return Err((
            "unknown_event_type",
            "no event type: the records have no event_type field and the path no event_type= folder"
                .into(),
        ));
    }
    Ok(())
}

/// The value inside a union, `None` for null.
fn present(value: &Value) -> Option<&Value> {
    match value {
        Value::Null => None,
        Value::Union(_, inner) => present(inner),
        v => Some(v),
    }
}

/// Where a record field goes in the HTTP push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `id`, `event_type`, `time`: at the top.
    Id,
    EventType,
    Time,
    /// In `user`.
    User,
    /// In `properties`: `properties` itself (a JSON string the HTTP push may carry as an object
    /// of another name), or any other field.
    JsonProperties,
    Properties,
}

fn part(field: &str) -> Part {
    // The same names as TOP_FIELDS, USER_FIELDS and PROPERTIES_FIELD (a test keeps them in
    // step), as one match.
    match field {
        "id" => Part::Id,
        "event_type" => Part::EventType,
        "time" => Part::Time,
        "user_id" | "external_user_id" | "device_id" | "timezone" => Part::User,
        "properties" => Part::JsonProperties,
        _ => Part::Properties,
    }
}

/// The positions of a record's fields in one part of the event, in order: bit `i` of a mask
/// for field `i`, and, past the 64th field (which no storage schema has), the fields whose
/// [`part`] is `wanted`.
fn positions(
    mask: u64,
    fields: &[(String, Value)],
    wanted: fn(Part) -> bool,
) -> impl Iterator<Item = usize> + '_ {
    let bits = std::iter::successors((mask != 0).then_some(mask), |m| {
        let rest = m & (m - 1);
        (rest != 0).then_some(rest)
    })
    .map(|m| m.trailing_zeros() as usize);
    let beyond = (64..fields.len())
        .filter(move |&i| wanted(part(&fields[i].0)) && present(&fields[i].1).is_some());
    bits.chain(beyond)
}

/// Where a written event's top-level fields stand in the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Top {
    pub id: Option<Range<usize>>,
    pub event_type: Option<Range<usize>>,
    pub time: Option<Range<usize>>,
    /// The `user` object (always written, `{}` when the record has no user field).
    pub user: Range<usize>,
}

/// The Currents event, appended to `out`: the top-level fields as the record's fields are
/// sorted into the parts of the event, then `user`, then `properties`. Each property's (HTTP
/// name, place of its value) goes to `props`.
fn event_json<'a>(
    fields: &'a [(String, Value)],
    event_type: Option<&str>,
    from_folder: bool,
    out: &mut String,
    props: &mut Vec<(&'a str, Range<usize>)>,
) -> Result<Top, MapError> {
    out.reserve(64 + 48 * fields.len());
    out.push('{');
    let mut top = Top::default();
    let mut first = true;
    if let (true, Some(t)) = (from_folder, event_type) {
        out.push_str(r#""event_type":"#);
        let at = out.len();
        push_string(out, t);
        top.event_type = Some(at..out.len());
        first = false;
    }
    // Writes `"key":value` (the value as the HTTP push carries the field); where the value is.
    let member = |out: &mut String, first: &mut bool, key: &str, i: usize, object: bool| {
        let (name, value) = &fields[i];
        let value = present(value).expect("only present fields are written");
        if !*first {
            out.push(',');
        }
        *first = false;
        push_string(out, key);
        out.push(':');
        let at = out.len();
        if object {
            json_object_text(out, name, value)?;
        } else {
            render(value, out, name)?;
        }
        Ok::<_, MapError>(at..out.len())
    };
    let (mut user, mut properties) = (0u64, 0u64);
    for (i, (name, value)) in fields.iter().enumerate() {
        if present(value).is_none() {
            continue;
        }
        let part = part(name);
        let slot = match part {
            Part::Id => &mut top.id,
            Part::EventType if from_folder => continue,
            Part::EventType => &mut top.event_type,
            Part::Time => &mut top.time,
            Part::User | Part::JsonProperties | Part::Properties if i < 64 => {
                *(if part == Part::User {
                    &mut user
                } else {
                    &mut properties
                }) |= 1 << i;
                continue;
            }
            Part::User | Part::JsonProperties | Part::Properties => continue,
        };
        *slot = Some(member(out, &mut first, name, i, false)?);
    }
    out.push_str(if first { r#""user":{"# } else { r#","user":{"# });
    top.user.start = out.len() - 1;
    first = true;
    for i in positions(user, fields, |p| p == Part::User) {
        member(out, &mut first, &fields[i].0, i, false)?;
    }
    top.user.end = out.len() + 1;
    out.push_str(r#"},"properties":{"#);
    first = true;
    // The one storage field whose name changes in the HTTP push, and its HTTP name.
    let renamed = http_field(event_type, PROPERTIES_FIELD);
    let is_property = |p: Part| matches!(p, Part::JsonProperties | Part::Properties);
    for i in positions(properties, fields, is_property) {
        let name = fields[i].0.as_str();
        let object = renamed != PROPERTIES_FIELD && part(name) == Part::JsonProperties;
        let key = if object { renamed } else { name };
        let span = member(out, &mut first, key, i, object)?;
        props.push((key, span));
    }
    out.push_str("}}");
    Ok(top)
}

/// A JSON-string field that the HTTP push carries as an object: its text, checked and copied
/// verbatim (numbers keep their precision). An empty string is an empty object.
fn json_object_text(out: &mut String, field: &str, value: &Value) -> Result<(), MapError> {
    let bad = |detail: String| MapError::PropertiesNotJson {
        field: field.to_owned(),
        detail,
    };
    let Value::String(text) = value else {
        return Err(bad(format!("an Avro {}, not a string", kind(value))));
    };
    let text = text.trim();
    if text.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    let raw: &RawValue =
        serde_json::from_str(text).map_err(|e| bad(crate::error::message_without_position(&e)))?;
    if !raw.get().starts_with('{') {
        return Err(bad(format!(
            "a JSON {}",
            crate::currents::json_kind(raw.get())
        )));
    }
    out.push_str(raw.get());
    Ok(())
}

/// The Avro type of a value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::Float(_) => "float",
        Value::Double(_) => "double",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "string",
        Value::Fixed(..) => "fixed",
        Value::Enum(..) => "enum",
        Value::Union(_, v) => kind(v),
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Record(_) => "record",
        Value::Date(_) => "date",
        Value::Decimal(_) | Value::BigDecimal(_) => "decimal",
        Value::TimeMillis(_) | Value::TimeMicros(_) => "time",
        Value::TimestampMillis(_)
        | Value::TimestampMicros(_)
        | Value::TimestampNanos(_)
        | Value::LocalTimestampMillis(_)
        | Value::LocalTimestampMicros(_)
        | Value::LocalTimestampNanos(_) => "timestamp",
        Value::Duration(_) => "duration",
        Value::Uuid(_) => "uuid",
    }
}

/// Writes `value` as JSON. Bytes, fixed, decimals, durations and non-finite numbers have no JSON
/// form Braze would send: they fail, naming `field` (the raw record still gets as far as it can,
/// with `null` in their place).
fn render(value: &Value, out: &mut String, field: &str) -> Result<(), MapError> {
    let unsupported = |kind: &'static str| MapError::Unsupported {
        field: field.to_owned(),
        kind,
    };
    let number = |out: &mut String, n: i64| write!(out, "{n}").expect("a String takes any text");
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) | Value::Date(n) | Value::TimeMillis(n) => number(out, i64::from(*n)),
        Value::Long(n)
        | Value::TimeMicros(n)
        | Value::TimestampMillis(n)
        | Value::TimestampMicros(n)
        | Value::TimestampNanos(n)
        | Value::LocalTimestampMillis(n)
        | Value::LocalTimestampMicros(n)
        | Value::LocalTimestampNanos(n) => number(out, *n),
        // serde_json's shortest text that reads back as the same number.
        Value::Float(f) if f.is_finite() => push_json(out, f),
        Value::Double(f) if f.is_finite() => push_json(out, f),
        Value::Float(_) | Value::Double(_) => {
            out.push_str("null");
            return Err(unsupported("non-finite number"));
        }
        Value::String(s) | Value::Enum(_, s) => push_string(out, s),
        Value::Uuid(u) => push_string(out, &u.to_string()),
        Value::Union(_, inner) => return render(inner, out, field),
        Value::Array(items) => {
            out.push('[');
            let mut first_err = None;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Err(e) = render(item, out, field) {
                    first_err.get_or_insert(e);
                }
            }
            out.push(']');
            return first_err.map_or(Ok(()), Err);
        }
        Value::Map(entries) => {
            // Avro maps have no order; sorted keys keep the output reproducible.
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort_unstable();
            let pairs = keys.into_iter().map(|k| (k.as_str(), &entries[k]));
            return render_object(pairs, out, Some(field));
        }
        Value::Record(fields) => {
            let pairs = fields.iter().map(|(k, v)| (k.as_str(), v));
            let nested = (!field.is_empty()).then_some(field);
            return render_object(pairs, out, nested);
        }
        Value::Bytes(_) | Value::Fixed(..) | Value::Decimal(_) | Value::BigDecimal(_) => {
            out.push_str("null");
            return Err(unsupported(kind(value)));
        }
        Value::Duration(_) => {
            out.push_str("null");
            return Err(unsupported("duration"));
        }
    }
    Ok(())
}

/// Appends `value` as `serde_json` writes it.
fn push_json(out: &mut String, value: &impl serde::Serialize) {
    out.push_str(&serde_json::to_string(value).expect("a finite number serialises"));
}

/// An object's members; `field` names the enclosing field in errors (`None` at the top, where
/// each member is its own field).
fn render_object<'v>(
    pairs: impl Iterator<Item = (&'v str, &'v Value)>,
    out: &mut String,
    field: Option<&str>,
) -> Result<(), MapError> {
    out.push('{');
    let mut first_err = None;
    for (i, (key, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, key);
        out.push(':');
        if let Err(e) = render(value, out, field.unwrap_or(key)) {
            first_err.get_or_insert(e);
        }
    }
    out.push('}');
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests;
