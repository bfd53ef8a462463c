//! Schema drift: what Braze sends that the mapping table does not describe. Braze adds event
//! types and fields without notice; per connector the relay records the event types the table
//! does not know ([`crate::mapping::lookup`] is `None`) and the properties a known type's entry
//! does not document ([`crate::mapping::EventSpec::documents`] is false). Each entry keeps a
//! count, when it was first and last seen, and the names and JSON kinds of one example event's
//! properties: never a value, so no personal data is kept.
//!
//! Pure here: the observation of one valid event ([`Report::observe`], called for a batch by
//! [`Observer`] in [`crate::pipeline::process`], whose `Outcome` carries the report), the bounded
//! [`Report`] with its [`Report::merge`] and [`Report::reset`], and the admin answer. The report
//! lives in the connector's stats Durable Object (one per connector generation, see
//! [`crate::stats::object_name`]) under its own storage key [`DRIFT_STORAGE_KEY`]: ingest sends
//! a batch's report with its stats delta ([`crate::stats::IngestDelta`]), and the object answers
//! `GET` and `DELETE /admin/connectors/{id}/drift` ([`crate::stats::ObjectView`]).
//!
//! Every bound holds whatever Braze sends: at most [`MAX_TYPES`] type entries and
//! [`MAX_FIELDS`] field entries (occurrences that find their list full are counted in
//! `overflow` instead), names cut to [`MAX_NAME_BYTES`], examples of at most
//! [`MAX_EXAMPLE_PROPERTIES`] properties; so a stored report stays around 1 MB at worst, under a
//! Durable Object value's 2 MB. An event whose properties are all documented allocates nothing,
//! and costs one string comparison per property when an earlier event of its type in the batch
//! had the same names (else one table lookup per property).

mod observer;
mod report;

use std::borrow::Cow;

use serde::Serialize;

pub use observer::Observer;
pub use report::{Entry, Report};

/// Most event types a report keeps.
pub const MAX_TYPES: usize = 100;
/// Most undocumented properties (per event type) a report keeps.
pub const MAX_FIELDS: usize = 100;
/// Most properties an entry's example keeps (Braze's richest sample has 29); the rest are counted.
pub const MAX_EXAMPLE_PROPERTIES: usize = 32;
/// Longest event type or property name kept, in bytes (Braze's longest is 51); longer ones are
/// cut at a character boundary and end with `…`.
pub const MAX_NAME_BYTES: usize = 64;
/// Storage key of the report JSON inside a `ConnectorStats` object.
pub const DRIFT_STORAGE_KEY: &str = "drift";

/// The JSON kind of a property value. `null` has none: a `null` property counts as absent, as
/// it is never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::String,
        Kind::Number,
        Kind::Boolean,
        Kind::Object,
        Kind::Array,
    ];

    /// The kind of a raw JSON value (read from its first byte: nesting is never looked into),
    /// `None` for `null`.
    pub fn of(raw: &str) -> Option<Kind> {
        Some(match raw.as_bytes().first()? {
            b'"' => Kind::String,
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b't' | b'f' => Kind::Boolean,
            b'n' => return None,
            _ => Kind::Number,
        })
    }

    /// Its name in JSON: `string`, `number`, `boolean`, `object` or `array`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::Array => "array",
        }
    }

    /// The kind of a name, `None` for any other text.
    pub fn named(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A name as a report keeps it: at most [`MAX_NAME_BYTES`] bytes (a longer one is cut at a
/// character boundary and ends with `…`), ASCII control characters replaced by `?`, so a stored
/// name is never more than twice its length in JSON. Borrowed when nothing changes.
pub fn cut(name: &str) -> Cow<'_, str> {
    let bytes = name.as_bytes();
    if bytes.len() <= MAX_NAME_BYTES && !bytes.iter().any(u8::is_ascii_control) {
        return Cow::Borrowed(name);
    }
    let mut end = bytes.len().min(MAX_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = bytes[..end].to_vec();
    for b in out.iter_mut().filter(|b| b.is_ascii_control()) {
        *b = b'?';
    }
    if end < bytes.len() {
        out.extend_from_slice("…".as_bytes());
    }
    // Only ASCII bytes were replaced, by ASCII: still UTF-8.
    String::from_utf8(out).map_or(Cow::Borrowed(""), Cow::Owned)
}

/// The `GET /admin/connectors/{id}/drift` body: the connector, its report and the bounds.
pub fn report_json(connector: &str, report: &Report) -> String {
    #[derive(Serialize)]
    struct Limits {
        types: usize,
        fields: usize,
        example_properties: usize,
        name_bytes: usize,
    }
    #[derive(Serialize)]
    struct Answer<'a> {
        connector: &'a str,
        types: &'a [Entry],
        fields: &'a [Entry],
        overflow: u64,
        limits: Limits,
    }
    let answer = Answer {
        connector,
        types: &report.types,
        fields: &report.fields,
        overflow: report.overflow,
        limits: Limits {
            types: MAX_TYPES,
            fields: MAX_FIELDS,
            example_properties: MAX_EXAMPLE_PROPERTIES,
            name_bytes: MAX_NAME_BYTES,
        },
    };
    serde_json::to_string(&answer).unwrap_or_default()
}

#[cfg(test)]
mod tests;
