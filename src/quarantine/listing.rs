//! The admin listing of quarantine objects, served from R2 `customMetadata` so a list needs no
//! object reads. Every object the Worker writes carries its summary as metadata; objects written
//! before (no metadata) are summarised from their body by the shell.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::doc::QuarantineDoc;

/// Metadata key: connector id.
pub const META_CONNECTOR: &str = "connector";
/// Metadata key: receipt time (ISO-8601).
pub const META_RECEIVED_AT: &str = "received_at";
/// Metadata key: `{reason: count}` as JSON text.
pub const META_REASONS: &str = "reasons";
/// Metadata key: number of events.
pub const META_EVENTS: &str = "events";
/// Metadata key: the connector generation the events belong to (absent if none).
pub const META_GENERATION: &str = "generation";
/// Metadata key: when the object was last replayed (ISO-8601), absent if never.
pub const META_REPLAYED_AT: &str = "replayed_at";

/// The R2 custom metadata of a quarantine object (strings only: R2's model).
pub fn quarantine_metadata(doc: &QuarantineDoc) -> HashMap<String, String> {
    let mut meta = HashMap::from([
        (META_CONNECTOR.to_owned(), doc.connector.clone()),
        (META_RECEIVED_AT.to_owned(), doc.received_at.clone()),
        (
            META_REASONS.to_owned(),
            serde_json::to_string(&doc.reasons).unwrap_or_default(),
        ),
        (META_EVENTS.to_owned(), doc.events.len().to_string()),
    ]);
    if let Some(g) = &doc.generation {
        meta.insert(META_GENERATION.to_owned(), g.clone());
    }
    meta
}

/// One object in `GET /admin/quarantine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingEntry {
    /// R2 key.
    pub key: String,
    /// Connector id.
    pub connector: String,
    /// The connector generation the events belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Receipt time.
    pub received_at: String,
    /// Events per reason code.
    pub reasons: BTreeMap<String, usize>,
    /// Number of events.
    pub events: usize,
    /// Last replay, if any.
    pub replayed_at: Option<String>,
}

impl ListingEntry {
    /// The entry from an object's metadata; `None` when it lacks the summary (older objects).
    pub fn from_metadata(key: &str, meta: &HashMap<String, String>) -> Option<Self> {
        Some(ListingEntry {
            key: key.to_owned(),
            connector: meta.get(META_CONNECTOR)?.clone(),
            generation: meta.get(META_GENERATION).cloned(),
            received_at: meta.get(META_RECEIVED_AT)?.clone(),
            reasons: serde_json::from_str(meta.get(META_REASONS)?).ok()?,
            events: meta.get(META_EVENTS)?.parse().ok()?,
            replayed_at: meta.get(META_REPLAYED_AT).cloned(),
        })
    }

    /// The entry from an object's body.
    pub fn from_doc(key: &str, doc: &QuarantineDoc, replayed_at: Option<String>) -> Self {
        ListingEntry {
            key: key.to_owned(),
            connector: doc.connector.clone(),
            generation: doc.generation.clone(),
            received_at: doc.received_at.clone(),
            reasons: doc.reasons.clone(),
            events: doc.events.len(),
            replayed_at,
        }
    }

    /// Whether the object belongs to the generations `wanted` selects.
    pub fn in_generation(&self, wanted: &GenerationFilter) -> bool {
        match wanted {
            GenerationFilter::Any => true,
            GenerationFilter::Only(g) => self.generation == *g,
        }
    }

    /// Whether the object holds events of `reason` (no filter matches everything).
    pub fn has_reason(&self, reason: Option<&str>) -> bool {
        reason.is_none_or(|r| self.reasons.contains_key(r))
    }
}

/// Which generations of a connector a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationFilter {
    /// Every object.
    Any,
    /// Objects of this generation (`None`: objects without one).
    Only(Option<String>),
}

impl GenerationFilter {
    /// From the `generation` query parameter and the connector's current generation (`None`
    /// when the connector does not exist): `*` shows every object, a value that generation;
    /// absent, the current generation, or every object of a deleted connector.
    pub fn new(param: Option<&str>, current: Option<Option<&str>>) -> Self {
        match (param, current) {
            (Some("*"), _) | (None, None) => GenerationFilter::Any,
            (Some(g), _) => GenerationFilter::Only(Some(g.to_owned())),
            (None, Some(current)) => GenerationFilter::Only(current.map(str::to_owned)),
        }
    }
}

/// The `GET /admin/quarantine` body.
pub fn listing_json(entries: &[ListingEntry]) -> String {
    #[derive(Serialize)]
    struct Listing<'a> {
        objects: &'a [ListingEntry],
    }
    serde_json::to_string(&Listing { objects: entries }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> QuarantineDoc {
        serde_json::from_str(
            r#"{"connector":"acme","received_at":"2026-01-01T00:00:00.000Z","reasons":{"missing_id":2},
            "events":[{"reason":"missing_id","raw":{}},{"reason":"missing_id","raw":{}}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn metadata_round_trips_into_a_listing_entry() {
        let d = doc();
        let mut meta = quarantine_metadata(&d);
        let e = ListingEntry::from_metadata("quarantine/acme/k.json", &meta).unwrap();
        assert_eq!(
            e,
            ListingEntry::from_doc("quarantine/acme/k.json", &d, None)
        );
        assert_eq!(e.events, 2);
        assert!(e.has_reason(Some("missing_id")));
        assert!(!e.has_reason(Some("dead_letter")));
        assert!(e.has_reason(None));
        meta.insert(META_REPLAYED_AT.into(), "2026-01-02T00:00:00.000Z".into());
        let e = ListingEntry::from_metadata("k", &meta).unwrap();
        let v: serde_json::Value = serde_json::from_str(&listing_json(&[e])).unwrap();
        assert_eq!(v["objects"][0]["replayed_at"], "2026-01-02T00:00:00.000Z");
        assert_eq!(v["objects"][0]["reasons"]["missing_id"], 2);
        assert!(ListingEntry::from_metadata("k", &HashMap::new()).is_none());
    }

    #[test]
    fn listings_show_one_generation() {
        let mut d = doc();
        d.generation = Some("g1".into());
        let e = ListingEntry::from_metadata("k", &quarantine_metadata(&d)).unwrap();
        assert_eq!(e.generation.as_deref(), Some("g1"));
        let current_g2 = GenerationFilter::new(None, Some(Some("g2")));
        assert!(
            !e.in_generation(&current_g2),
            "a re-created connector hides the old objects"
        );
        assert!(e.in_generation(&GenerationFilter::new(Some("g1"), Some(Some("g2")))));
        assert!(e.in_generation(&GenerationFilter::new(Some("*"), Some(Some("g2")))));
        assert!(
            e.in_generation(&GenerationFilter::new(None, None)),
            "deleted: everything"
        );
        let legacy = ListingEntry::from_doc("k", &doc(), None);
        assert!(legacy.in_generation(&GenerationFilter::new(None, Some(None))));
        assert!(!legacy.in_generation(&current_g2));
    }

    #[test]
    fn never_replayed_is_null() {
        let e = ListingEntry::from_doc("k", &doc(), None);
        let v: serde_json::Value = serde_json::from_str(&listing_json(&[e])).unwrap();
        assert!(v["objects"][0]["replayed_at"].is_null());
    }
}
