//! The bounded drift report: a batch's observations, or a connector's totals, and their merge.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Kind, MAX_EXAMPLE_PROPERTIES, MAX_FIELDS, MAX_TYPES, cut};
use crate::currents::ValidEvent;

/// What arrived that the mapping table does not describe: one batch's observations (the
/// pipeline's `Outcome`) or a connector's totals (its stats object). Lists are sorted by key, so
/// lookups are binary searches and two reports merge the same whatever their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Event types the table does not know, by type.
    #[serde(default)]
    pub types: Vec<Entry>,
    /// Properties of known types the table does not document, by type then name.
    #[serde(default)]
    pub fields: Vec<Entry>,
    /// Occurrences not recorded because their list was full: what a reset would let in.
    #[serde(default)]
    pub overflow: u64,
}

/// One new event type (no `field`) or one undocumented property of a known type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The event type as Braze sent it (cut to [`super::MAX_NAME_BYTES`]).
    pub event_type: String,
    /// The undocumented property (field entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The property's JSON kind when first seen (field entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Events of the type (type entries), or events carrying the property (field entries).
    pub count: u64,
    /// When the first batch carrying it was received (UNIX ms).
    pub first_seen_ms: u64,
    /// When the latest batch carrying it was received (UNIX ms).
    pub last_seen_ms: u64,
    /// The first such event's properties as `[name, kind]` pairs in Braze's order: names and
    /// kinds only, never values; `null`s left out; at most [`MAX_EXAMPLE_PROPERTIES`].
    #[serde(default)]
    pub example: Vec<(String, Kind)>,
    /// The example's properties left out beyond [`MAX_EXAMPLE_PROPERTIES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub example_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Entry {
    fn key(&self) -> (&str, &str) {
        (&self.event_type, self.field.as_deref().unwrap_or(""))
    }
}

/// One event's properties (names and kinds) and how many were left out.
type Example = (Vec<(String, Kind)>, u64);

fn example_of(properties: &[(Cow<'_, str>, &RawValue)]) -> Example {
    let mut kept = Vec::new();
    let mut omitted = 0;
    for (name, kind) in properties
        .iter()
        .filter_map(|(name, raw)| Some((name, Kind::of(raw.get())?)))
    {
        if kept.len() < MAX_EXAMPLE_PROPERTIES {
            kept.push((cut(name).into_owned(), kind));
        } else {
            omitted += 1;
        }
    }
    (kept, omitted)
}

/// Adds `n` occurrences seen from `first` to `last` to the entry at `key`, or inserts `new()`
/// there while the list holds fewer than `cap` entries. `false`: the list was full.
fn add(
    list: &mut Vec<Entry>,
    cap: usize,
    key: (&str, &str),
    (n, first, last): (u64, u64, u64),
    new: impl FnOnce() -> Entry,
) -> bool {
    match list.binary_search_by(|e| e.key().cmp(&key)) {
        Ok(i) => {
            let e = &mut list[i];
            e.count = e.count.saturating_add(n);
            e.first_seen_ms = e.first_seen_ms.min(first);
            e.last_seen_ms = e.last_seen_ms.max(last);
            true
        }
        Err(_) if list.len() >= cap => false,
        Err(i) => {
            list.insert(i, new());
            true
        }
    }
}

impl Report {
    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty() && self.overflow == 0
    }

    /// Forgets everything (`DELETE /admin/connectors/{id}/drift`).
    pub fn reset(&mut self) {
        *self = Report::default();
    }

    /// Records one valid event of a batch received at `at_ms`: its type when the table does not
    /// know it, else each non-`null` property its entry does not document. Allocates only for a
    /// new entry (the example is read once per event).
    pub fn observe(&mut self, ev: &ValidEvent<'_>, at_ms: u64) {
        let props = ev.properties.0.as_slice();
        let seen = (1, at_ms, at_ms);
        let Some(spec) = ev.spec else {
            let ty = cut(&ev.event_type);
            let new = || Entry::new(&ty, None, example_of(props), at_ms);
            if !add(&mut self.types, MAX_TYPES, (&ty, ""), seen, new) {
                self.overflow += 1;
            }
            return;
        };
        let mut example: Option<Example> = None;
        for (name, raw) in props {
            let Some(kind) = Kind::of(raw.get()) else {
                continue;
            };
            if spec.documents(name) {
                continue;
            }
            let (ty, field) = (cut(&ev.event_type), cut(name));
            let new = || {
                let ex = example.get_or_insert_with(|| example_of(props)).clone();
                Entry::new(&ty, Some((&field, kind)), ex, at_ms)
            };
            if !add(&mut self.fields, MAX_FIELDS, (&ty, &field), seen, new) {
                self.overflow += 1;
            }
        }
    }

    /// Adds another report (a batch's observations) to this one: counts add up, first and last
    /// seen widen, a known entry keeps its example; entries that find their list full count in
    /// `overflow`. `true` when anything changed, i.e. the report must be stored again.
    pub fn merge(&mut self, delta: &Report) -> bool {
        let lists = [
            (&mut self.types, MAX_TYPES, &delta.types),
            (&mut self.fields, MAX_FIELDS, &delta.fields),
        ];
        for (list, cap, from) in lists {
            for e in from {
                let seen = (e.count, e.first_seen_ms, e.last_seen_ms);
                if !add(list, cap, e.key(), seen, || e.clone()) {
                    self.overflow = self.overflow.saturating_add(e.count);
                }
            }
        }
        self.overflow = self.overflow.saturating_add(delta.overflow);
        !delta.is_empty()
    }
}

impl Entry {
    fn new(ty: &str, field: Option<(&str, Kind)>, example: Example, at_ms: u64) -> Entry {
        Entry {
            event_type: ty.to_owned(),
            field: field.map(|(f, _)| f.to_owned()),
            kind: field.map(|(_, k)| k),
            count: 1,
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            example: example.0,
            example_omitted: example.1,
        }
    }
}
