//! The bounded drift report: a batch's observations, or a connector's totals, and their merge.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;

use super::{Kind, MAX_EXAMPLE_PROPERTIES, MAX_FIELDS, MAX_TYPES, cut};
use crate::currents::{JsonText, ValidEvent};

/// What arrived that the mapping table does not describe: one batch's observations (the
/// pipeline's `Outcome`) or a connector's totals (its stats object). Lists are sorted by key, so
/// lookups are binary searches and two reports merge the same whatever their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Event types the table does not know, by type.
    pub types: Vec<Entry>,
    /// Properties of known types the table does not document, by type then name.
    pub fields: Vec<Entry>,
    /// Occurrences not recorded because their list was full: what a reset would let in.
    pub overflow: u64,
}

/// One new event type (no `field`) or one undocumented property of a known type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The event type as Braze sent it (cut to [`super::MAX_NAME_BYTES`]).
    pub event_type: String,
    /// The undocumented property (field entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The property's JSON kind when first seen (field entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Events of the type (type entries), or events carrying the property (field entries).
    pub count: u64,
    /// When the first batch carrying it was received (UNIX ms).
    pub first_seen_ms: u64,
    /// When the latest batch carrying it was received (UNIX ms).
    pub last_seen_ms: u64,
    /// The first such event's properties as `[name, kind]` pairs in Braze's order: names and
    /// kinds only, never values; `null`s left out; at most [`MAX_EXAMPLE_PROPERTIES`].
    pub example: Vec<(String, Kind)>,
    /// The example's properties left out beyond [`MAX_EXAMPLE_PROPERTIES`].
    #[serde(skip_serializing_if = "is_zero")]
    pub example_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Entry {
    fn key(&self) -> (&str, &str) {
        (&self.event_type, self.field.as_deref().unwrap_or(""))
    }

    /// `n` more occurrences, seen from `first` to `last`.
    fn widen(&mut self, (n, first, last): (u64, u64, u64)) {
        self.count = self.count.saturating_add(n);
        self.first_seen_ms = self.first_seen_ms.min(first);
        self.last_seen_ms = self.last_seen_ms.max(last);
    }
}

/// One event's properties (names and kinds) and how many were left out.
type Example = (Vec<(String, Kind)>, u64);

/// An event's properties that count: names with the kind of their value, `null`s left out.
fn present<'p>(
    properties: &'p [(Cow<'_, str>, JsonText<'_>)],
) -> impl Iterator<Item = (&'p str, Kind)> {
    properties
        .iter()
        .filter_map(|(name, raw)| Some((name.as_ref(), Kind::of(raw.get())?)))
}

fn example_of(properties: &[(Cow<'_, str>, JsonText<'_>)]) -> Example {
    let mut kept = Vec::new();
    let mut omitted = 0;
    for (name, kind) in present(properties) {
        if kept.len() < MAX_EXAMPLE_PROPERTIES {
            kept.push((cut(name).into_owned(), kind));
        } else {
            omitted += 1;
        }
    }
    (kept, omitted)
}

/// Records `n` more occurrences seen from `first` to `last` of the entry at `key`: counted in
/// its entry, or a new entry from `new()` while the list holds fewer than `cap`, or else in
/// `overflow`.
fn add(
    (list, cap, overflow): (&mut Vec<Entry>, usize, &mut u64),
    key: (&str, &str),
    (n, first, last): (u64, u64, u64),
    new: impl FnOnce() -> Entry,
) {
    match list.binary_search_by(|e| e.key().cmp(&key)) {
        Ok(i) => list[i].widen((n, first, last)),
        Err(i) if list.len() < cap => list.insert(i, new()),
        Err(_) => *overflow = overflow.saturating_add(n),
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
    /// new entry (the example is read once per event). `true` when the event had no drift.
    /// [`super::Observer`] calls it for a batch, skipping the lookups it can.
    pub fn observe(&mut self, ev: &ValidEvent<'_>, at_ms: u64) -> bool {
        self.observe_noting(ev, at_ms, None)
    }

    /// [`Self::observe`], also noting in `drifted` the position, among the event's non-`null`
    /// properties, of each one the table does not document.
    pub(super) fn observe_noting(
        &mut self,
        ev: &ValidEvent<'_>,
        at_ms: u64,
        mut drifted: Option<&mut Vec<usize>>,
    ) -> bool {
        let props = ev.properties.0.as_slice();
        let Some(spec) = ev.spec else {
            let ty = cut(&ev.event_type);
            let new = || Entry::new(&ty, None, example_of(props), at_ms);
            let list = (&mut self.types, MAX_TYPES, &mut self.overflow);
            add(list, (&ty, ""), (1, at_ms, at_ms), new);
            return false;
        };
        let mut example: Option<Example> = None;
        let mut documented = true;
        for (position, (name, kind)) in present(props).enumerate() {
            if spec.documents(name) {
                continue;
            }
            documented = false;
            if let Some(drifted) = drifted.as_deref_mut() {
                drifted.push(position);
            }
            self.undocumented(ev, name, kind, at_ms, &mut example);
        }
        documented
    }

    /// Records again the undocumented properties at `drifted` (positions among the non-`null`
    /// properties, ascending) of an event of a known type, found by an earlier
    /// [`Self::observe_noting`] of an event with the same property names.
    pub(super) fn observe_again(&mut self, ev: &ValidEvent<'_>, at_ms: u64, drifted: &[usize]) {
        let mut example: Option<Example> = None;
        let mut positions = drifted.iter().copied().peekable();
        for (position, (name, kind)) in present(&ev.properties.0).enumerate() {
            if positions.next_if_eq(&position).is_some() {
                self.undocumented(ev, name, kind, at_ms, &mut example);
            }
        }
    }

    /// One more event of a known type carrying `name`, which its entry does not document.
    fn undocumented(
        &mut self,
        ev: &ValidEvent<'_>,
        name: &str,
        kind: Kind,
        at_ms: u64,
        example: &mut Option<Example>,
    ) {
        let (ty, field) = (cut(&ev.event_type), cut(name));
        let new = || {
            let ex = example
                .get_or_insert_with(|| example_of(&ev.properties.0))
                .clone();
            Entry::new(&ty, Some((&field, kind)), ex, at_ms)
        };
        let list = (&mut self.fields, MAX_FIELDS, &mut self.overflow);
        add(list, (&ty, &field), (1, at_ms, at_ms), new);
    }

    /// Adds a batch's report to this one: counts add up, first and last seen widen, a known
    /// entry keeps its example; entries that find their list full count in `overflow`. `true`
    /// when anything changed, i.e. the report must be stored again.
    pub fn merge(&mut self, delta: Report) -> bool {
        let changed = !delta.is_empty();
        let lists = [
            (&mut self.types, MAX_TYPES, delta.types),
            (&mut self.fields, MAX_FIELDS, delta.fields),
        ];
        for (list, cap, from) in lists {
            for e in from {
                match list.binary_search_by(|x| x.key().cmp(&e.key())) {
                    Ok(i) => list[i].widen((e.count, e.first_seen_ms, e.last_seen_ms)),
                    Err(i) if list.len() < cap => list.insert(i, e),
                    Err(_) => self.overflow = self.overflow.saturating_add(e.count),
                }
            }
        }
        self.overflow = self.overflow.saturating_add(delta.overflow);
        changed
    }

    /// Reads a report from its JSON (as stored, or as ingest sends it); anything unreadable is
    /// left out. Read through a `serde_json::Value`, which the Worker parses anyway, rather than
    /// a derived `Deserialize`: about 10 KB less of raw Worker wasm (docs/BENCHMARKS.md §4).
    pub fn from_json(text: &str) -> Report {
        let doc: Value = serde_json::from_str(text).unwrap_or_default();
        let mut report = Report {
            overflow: doc.get("overflow").and_then(Value::as_u64).unwrap_or(0),
            ..Report::default()
        };
        for (key, list) in [("types", &mut report.types), ("fields", &mut report.fields)] {
            for v in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                list.extend(Entry::from_value(v));
            }
        }
        report
    }
}

impl Entry {
    fn from_value(v: &Value) -> Option<Entry> {
        let text = |key: &str| v.get(key).and_then(Value::as_str);
        let number = |key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let mut example = Vec::new();
        for pair in v
            .get("example")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = pair.get(0).and_then(Value::as_str);
            let kind = pair.get(1).and_then(Value::as_str).and_then(Kind::named);
            if let (Some(name), Some(kind)) = (name, kind) {
                example.push((name.to_owned(), kind));
            }
        }
        Some(Entry {
            event_type: text("event_type")?.to_owned(),
            field: text("field").map(str::to_owned),
            kind: text("kind").and_then(Kind::named),
            count: number("count"),
            first_seen_ms: number("first_seen_ms"),
            last_seen_ms: number("last_seen_ms"),
            example,
            example_omitted: number("example_omitted"),
        })
    }

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
