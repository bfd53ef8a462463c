//! The table indexed by name, built once per process (a Worker isolate, a browser page) on first
//! use: an event type's entry, and whether an entry documents a field, each take one hash lookup
//! instead of binary searches over the table's sorted lists (string comparisons that dominated
//! the schema-drift observation, docs/BENCHMARKS.md §9). Fx hashing: the maps are filled from the
//! table alone, so the names a request brings are only looked up, never inserted, and cannot
//! crowd a bucket.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::EventSpec;
use super::table::EVENT_SPECS;

/// A set of table entries, by position: bit `i % 64` of word `i / 64`.
type Entries = [u64; 2];

#[derive(Debug)]
pub(super) struct Index {
    /// Canonical event types and legacy spellings → their entry.
    types: FxHashMap<&'static str, &'static EventSpec>,
    /// Every field some entry documents → the entries that document it.
    fields: FxHashMap<&'static str, Entries>,
}

/// The index, built on first use.
pub(super) fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(build)
}

fn build() -> Index {
    assert!(EVENT_SPECS.len() <= 64 * 2, "one bit per table entry");
    let mut types = FxHashMap::default();
    let mut fields: FxHashMap<&'static str, Entries> = FxHashMap::default();
    for (i, spec) in EVENT_SPECS.iter().enumerate() {
        types.insert(spec.event_type, spec);
        if let Some(alias) = spec.legacy_alias {
            types.insert(alias, spec);
        }
        for field in spec.described_fields() {
            fields.entry(field).or_default()[i / 64] |= 1 << (i % 64);
        }
    }
    Index { types, fields }
}

impl Index {
    /// The entry for an event type, by canonical name or legacy spelling.
    pub(super) fn spec(&self, event_type: &str) -> Option<&'static EventSpec> {
        self.types.get(event_type).copied()
    }

    /// Whether `spec`'s lists describe `field`; `None` when `spec` is not an entry of the table.
    pub(super) fn describes(&self, spec: &EventSpec, field: &str) -> Option<bool> {
        let i = position(spec)?;
        Some(
            self.fields
                .get(field)
                .is_some_and(|entries| entries[i / 64] & (1 << (i % 64)) != 0),
        )
    }
}

/// `spec`'s position in the table, from its address (entries are never copied: the table is a
/// `static` and lookups hand out references into it).
fn position(spec: &EventSpec) -> Option<usize> {
    let size = std::mem::size_of::<EventSpec>();
    let offset = (spec as *const EventSpec as usize).checked_sub(EVENT_SPECS.as_ptr() as usize)?;
    let i = offset / size;
    (offset % size == 0 && i < EVENT_SPECS.len()).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::never_forwarded;

    /// What the index answers, by searching the entry's lists.
    fn documents_by_search(spec: &EventSpec, field: &str) -> bool {
        spec.properties.binary_search(&field).is_ok()
            || spec.passthrough.binary_search(&field).is_ok()
            || never_forwarded(field)
            || spec.dropped.contains(&field)
            || spec.context_device.iter().any(|(_, from)| *from == field)
            || spec.context_traits.iter().any(|(_, from)| *from == field)
            || spec.renames.iter().any(|(from, _)| *from == field)
    }

    #[test]
    fn every_entry_documents_what_its_lists_say() {
        let mut fields: Vec<&str> = EVENT_SPECS
            .iter()
            .flat_map(EventSpec::described_fields)
            .collect();
        fields.extend([
            "",
            "brand_new_field",
            "x_api_id",
            "os_version",
            "Campaign_id",
        ]);
        let mut documented = 0;
        for spec in &EVENT_SPECS {
            for field in &fields {
                let expected = documents_by_search(spec, field);
                assert_eq!(
                    spec.documents(field),
                    expected,
                    "{} {field}",
                    spec.event_type
                );
                documented += usize::from(expected);
            }
        }
        assert!(documented > 1_000, "{documented}");
    }

    #[test]
    fn an_entry_outside_the_table_is_searched() {
        let copy = EventSpec {
            properties: &["only_here"],
            ..EVENT_SPECS[0]
        };
        assert_eq!(position(&copy), None);
        assert!(copy.documents("only_here") && !copy.documents("name"));
        assert_eq!(position(&EVENT_SPECS[81]), Some(81));
    }

    #[test]
    fn types_and_legacy_spellings_find_their_entry() {
        for (i, spec) in EVENT_SPECS.iter().enumerate() {
            assert!(std::ptr::eq(index().spec(spec.event_type).unwrap(), spec));
            if let Some(alias) = spec.legacy_alias {
                assert!(std::ptr::eq(index().spec(alias).unwrap(), &EVENT_SPECS[i]));
            }
        }
        for unknown in [
            "",
            "users.messages.email",
            "users.messages.email.open",
            "users_x",
        ] {
            assert!(index().spec(unknown).is_none(), "{unknown}");
        }
    }
}
