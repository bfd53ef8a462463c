//! The mapping table: what each known Braze event type becomes in Segment.
//!
//! The table itself is data (`table.rs`); this module looks entries up and holds the rules that
//! apply to every event (CONTRACTS §3).

mod index;
mod table;

use serde::{Deserialize, Serialize};

/// One known event type and how Braze's own Segment export renders it.
#[derive(Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// Canonical Currents type, e.g. `users.messages.email.Open`.
    pub event_type: &'static str,
    /// Older spelling Braze may still send (`users_campaigns_abort`).
    pub legacy_alias: Option<&'static str>,
    /// Segment event name in the Braze glossary ("Email Opened").
    pub name: &'static str,
    /// Name on Segment's Braze-source catalog page, where it differs from [`Self::name`].
    pub catalog_name: Option<&'static str>,
    /// `(context.device key, property it moves from)`.
    pub context_device: &'static [(&'static str, &'static str)],
    /// `(context.traits key, property it moves from)`.
    pub context_traits: &'static [(&'static str, &'static str)],
    /// `(Braze property, Segment property)` renames.
    pub renames: &'static [(&'static str, &'static str)],
    /// Properties of this type that are never forwarded.
    pub dropped: &'static [&'static str],
    /// Properties Braze's export sends, sorted (documentation and golden checks; others pass too).
    pub properties: &'static [&'static str],
    /// Other fields Braze documents for this type (its storage glossary, its official samples)
    /// that its Segment export does not list, sorted: forwarded unchanged as properties, and not
    /// schema drift.
    pub passthrough: &'static [&'static str],
    /// Whether `user.user_id` is always present (false only for inbound SMS/WhatsApp).
    pub user_id_required: bool,
}

impl EventSpec {
    /// Whether Braze's export lists `property` for this type.
    pub fn lists_property(&self, property: &str) -> bool {
        self.properties.binary_search(&property).is_ok()
    }

    /// Whether the table describes `field` for this type: a property Braze's export lists, a
    /// field it moves into `context`, renames or drops, or one forwarded by a general rule.
    /// Anything else arriving on this type is schema drift.
    pub fn documents(&self, field: &str) -> bool {
        index::index()
            .describes(self, field)
            .unwrap_or_else(|| self.described_fields().any(|f| f == field))
            || never_forwarded(field)
    }

    /// The fields this entry names: listed, passed through, dropped, moved into `context` or
    /// renamed.
    fn described_fields(&self) -> impl Iterator<Item = &'static str> {
        let properties = self.properties.iter().chain(self.passthrough);
        let moved = self.context_device.iter().chain(self.context_traits);
        properties
            .chain(self.dropped)
            .copied()
            .chain(moved.map(|(_, from)| *from))
            .chain(self.renames.iter().map(|(from, _)| *from))
    }

    /// The Segment event name under a naming profile.
    pub fn name_for(&self, profile: NamingProfile) -> &'static str {
        match profile {
            NamingProfile::Braze => self.name,
            NamingProfile::SegmentCatalog => self.catalog_name.unwrap_or(self.name),
        }
    }
}

/// Which published names known events get (CONTRACTS §3 decision 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamingProfile {
    /// The names of the Segment tab of Braze's Currents glossary (Braze's own export).
    #[default]
    Braze,
    /// The names of Segment's Braze-source catalog page ("Email Unsubscribed", ...).
    SegmentCatalog,
}

/// Properties never forwarded on any event (CONTRACTS §3): device OS version and sending IP are
/// not part of Braze's export.
const ALWAYS_DROPPED: [&str; 2] = ["os_version", "sending_ip"];
/// Suffix of deprecated API-id properties, never forwarded.
const DEPRECATED_SUFFIX: &str = "_api_id";

/// `(context.device key, property)` moved on event types the table does not know: the general
/// rule of the table (CONTRACTS §3 decision 3, docs/DECISIONS.md).
pub const UNKNOWN_CONTEXT_DEVICE: &[(&str, &str)] = &[("model", "device_model")];
/// `(context.traits key, property)` moved on event types the table does not know. Both phone
/// fields map to `phone`: the first present wins and the other stays a property.
pub const UNKNOWN_CONTEXT_TRAITS: &[(&str, &str)] = &[
    ("email", "email_address"),
    ("phone", "user_phone_number"),
    ("phone", "to_phone_number"),
];

/// Whether a property is dropped from every event, known or not.
pub fn never_forwarded(property: &str) -> bool {
    ALWAYS_DROPPED.contains(&property) || property.ends_with(DEPRECATED_SUFFIX)
}

/// The entry for an event type, by canonical name or legacy spelling.
pub fn lookup(event_type: &str) -> Option<&'static EventSpec> {
    index::index().spec(event_type)
}

/// All known canonical event types, sorted: the default event selection.
pub fn known_event_types() -> impl Iterator<Item = &'static str> {
    table::EVENT_SPECS.iter().map(|s| s.event_type)
}

/// `users.behaviors.CustomEvent`: a customer behaviour event outside the table, named after its
/// own `name` property when the connector opts in (CONTRACTS §3 decision 3).
pub const CUSTOM_EVENT_TYPE: &str = "users.behaviors.CustomEvent";
/// The property that carries a custom event's own name.
pub const CUSTOM_EVENT_NAME_PROPERTY: &str = "name";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn reference() -> serde_json::Map<String, Value> {
        let text = include_str!("../../tests/fixtures/segment-event-mapping.json");
        let mut doc: Value = serde_json::from_str(text).unwrap();
        doc["events"].as_object_mut().unwrap().clone()
    }

    fn pairs(v: &Value) -> Vec<(String, String)> {
        let mut out: Vec<_> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        out.sort();
        out
    }

    fn owned(p: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut out: Vec<_> = p
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn table_matches_reference() {
        // The seed's 50 types are unchanged; the others are checked against the glossary in
        // `tests/reference.rs`.
        let reference = reference();
        assert_eq!(reference.len(), 50);
        for (event_type, r) in &reference {
            let spec = lookup(event_type).unwrap();
            if let Some(name) = r["segment_event"].as_str() {
                assert_eq!(spec.name, name, "{}", spec.event_type);
            }
            assert_eq!(owned(spec.context_device), pairs(&r["context_device"]));
            assert_eq!(owned(spec.context_traits), pairs(&r["context_traits"]));
            let props: Vec<&str> = r["properties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(spec.properties, props.as_slice(), "{}", spec.event_type);
            assert_eq!(spec.user_id_required, r["anonymousId_required"] == true);
        }
    }

    #[test]
    fn table_is_sorted_for_binary_search_and_lists_are_sorted() {
        for w in table::EVENT_SPECS.windows(2) {
            assert!(w[0].event_type < w[1].event_type);
        }
        for s in &table::EVENT_SPECS {
            for list in [s.properties, s.passthrough] {
                assert!(list.windows(2).all(|w| w[0] < w[1]), "{}", s.event_type);
            }
            for field in s.passthrough {
                assert!(!s.lists_property(field), "{} {field}", s.event_type);
            }
        }
    }

    #[test]
    fn renames_follow_the_glossary_notes() {
        for s in &table::EVENT_SPECS {
            for (from, to) in s.renames {
                assert!(s.lists_property(to), "{} lists {to}", s.event_type);
                assert!(
                    !s.lists_property(from),
                    "{} must not list {from}",
                    s.event_type
                );
            }
        }
        let click = lookup("users.messages.email.Click").unwrap();
        assert_eq!(click.renames, &[("url", "link_url")]);
        let card = lookup("users.messages.contentcard.Impression").unwrap();
        assert_eq!(card.renames, &[("content_card_id", "card_id")]);
    }

    #[test]
    fn legacy_aborts_in_both_spellings() {
        assert_eq!(
            lookup("users.campaigns.Abort").unwrap().name,
            "Campaign Aborted"
        );
        assert_eq!(
            lookup("users_campaigns_abort").unwrap().name,
            "Campaign Aborted"
        );
        assert_eq!(lookup("users.canvas.Abort").unwrap().name, "Canvas Aborted");
        assert_eq!(lookup("users_canvas_abort").unwrap().name, "Canvas Aborted");
        assert!(lookup("users_other_abort").is_none());
    }

    #[test]
    fn catalog_profile_differs_only_where_the_catalog_does() {
        let differing: Vec<_> = table::EVENT_SPECS
            .iter()
            .filter(|s| s.name_for(NamingProfile::SegmentCatalog) != s.name)
            .map(|s| s.name_for(NamingProfile::SegmentCatalog))
            .collect();
        assert_eq!(
            differing,
            [
                "Email Marked As Spam",
                "Email Unsubscribed",
                "iOS Foreground Push Opened"
            ]
        );
    }

    #[test]
    fn never_forwarded_rules() {
        assert!(never_forwarded("os_version"));
        assert!(never_forwarded("sending_ip"));
        assert!(never_forwarded("canvas_step_message_variation_api_id"));
        assert!(!never_forwarded("campaign_id"));
        assert!(
            lookup("users.messages.pushnotification.Open")
                .unwrap()
                .dropped
                .contains(&"button_string")
        );
    }

    #[test]
    fn unknown_type_is_none() {
        assert!(lookup("users.messages.banner.Dismiss").is_none());
        assert!(lookup("users.behaviors.CustomEvent").is_some());
        assert_eq!(known_event_types().count(), 82);
    }

    #[test]
    fn documents_what_the_table_describes_and_nothing_else() {
        let open = lookup("users.messages.email.Open").unwrap();
        for field in ["campaign_id", "email_address", "os_version", "x_api_id"] {
            assert!(open.documents(field), "{field}");
        }
        assert!(!open.documents("brand_new_field"));
        let abort = lookup("users.messages.email.Abort").unwrap();
        assert!(abort.documents("canvas_step_message_variation_id"));
        let click = lookup("users.messages.email.Click").unwrap();
        assert!(click.documents("url") && click.documents("link_url"));
        let custom = lookup(CUSTOM_EVENT_TYPE).unwrap();
        assert!(custom.documents("custom_properties") && !custom.documents("properties"));
    }
}
