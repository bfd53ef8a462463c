//! A validated Currents event + a connector's config → a Segment `track` call, or the reason the
//! connector does not forward it (CONTRACTS §3).

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::{ConnectorConfig, Region};
use crate::currents::ValidEvent;
use crate::mapping::{self, CUSTOM_EVENT_NAME_PROPERTY, CUSTOM_EVENT_TYPE, EventSpec};
use crate::segment::{Member, PropValue, Track, format_timestamp, library_json, message_id};

/// Why the connector deliberately does not forward an event. Counted and reported, never silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterReason {
    /// A known type the connector's `events.include` does not list.
    NotSelected,
    /// A type the table does not know, with `forward_unknown` off.
    UnknownType,
    /// No `external_user_id` and `include_anonymous` off (what Braze's own export does).
    AnonymousUser,
    /// Neither `external_user_id` nor `user_id`: Segment needs one of them.
    NoIdentity,
    /// No route matches the event and the connector has no default destination.
    NoRoute,
}

impl FilterReason {
    /// Every reason, for exhaustive reporting.
    pub const ALL: [FilterReason; 5] = [
        Self::NotSelected,
        Self::UnknownType,
        Self::AnonymousUser,
        Self::NoIdentity,
        Self::NoRoute,
    ];

    /// The stable code, e.g. `not_selected`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotSelected => "not_selected",
            Self::UnknownType => "unknown_type",
            Self::AnonymousUser => "anonymous_user",
            Self::NoIdentity => "no_identity",
            Self::NoRoute => "no_route",
        }
    }
}

/// What translation needs besides the event and the config; all supplied by the caller, so the
/// core reads no clock and no request. The parts of a call that are the same for every event of
/// a connector are rendered here, once per batch.
#[derive(Debug, Clone)]
pub struct TranslateContext<'a> {
    /// The connector's id (the KV key), scoping `messageId`.
    pub connector_id: &'a str,
    /// Region nearest the request's origin, for destinations with region `auto`.
    pub nearest_region: Option<Region>,
    /// `integrations` as JSON.
    integrations: Box<RawValue>,
    /// `context.library` as JSON.
    library: Box<RawValue>,
}

impl<'a> TranslateContext<'a> {
    /// The context of a batch for `config`.
    pub fn new(
        connector_id: &'a str,
        nearest_region: Option<Region>,
        config: &ConnectorConfig,
    ) -> Self {
        TranslateContext {
            connector_id,
            nearest_region,
            integrations: serde_json::value::to_raw_value(&config.integrations)
                .expect("a JSON map serialises"),
            library: library_json(&config.library),
        }
    }
}

/// A translated event with its routing.
#[derive(Debug)]
pub struct Translated<'c> {
    /// Destination name in the config.
    pub destination: &'c str,
    /// Resolved region.
    pub region: Region,
    /// Segment `messageId`.
    pub message_id: String,
    /// The `track` call as JSON.
    pub json: Box<RawValue>,
}

/// Translates one event, or says why it is filtered.
pub fn translate<'c>(
    ev: &ValidEvent<'_>,
    config: &'c ConnectorConfig,
    ctx: &TranslateContext<'_>,
) -> Result<Translated<'c>, FilterReason> {
    select(ev, config)?;
    let (user_id, anonymous_id) = identity(ev, config)?;
    let (destination, region) = route(ev, config, ctx.nearest_region)?;

    let mut properties: Vec<Member<'_>> = Vec::with_capacity(ev.properties.0.len() + 1);
    let mut device: Vec<(&str, PropValue<'_>)> = Vec::new();
    let mut traits: Vec<(&str, PropValue<'_>)> = Vec::new();
    let mut renamed: Vec<(&str, PropValue<'_>)> = Vec::new();
    let (device_from, traits_from, renames, dropped) = match ev.spec {
        Some(spec) => (
            spec.context_device,
            spec.context_traits,
            spec.renames,
            spec.dropped,
        ),
        None => (
            mapping::UNKNOWN_CONTEXT_DEVICE,
            mapping::UNKNOWN_CONTEXT_TRAITS,
            &[][..],
            &[][..],
        ),
    };
    for (key, value) in &ev.properties.0 {
        let key = key.as_ref();
        if value.get() == "null" || mapping::never_forwarded(key) || dropped.contains(&key) {
            continue;
        }
        let value = PropValue::Raw(*value);
        if let Some((to, _)) = device_from.iter().find(|(_, from)| *from == key) {
            place(&mut device, &mut properties, to, key, value);
        } else if let Some((to, _)) = traits_from.iter().find(|(_, from)| *from == key) {
            place(&mut traits, &mut properties, to, key, value);
        } else if let Some((_, to)) = renames.iter().find(|(from, _)| *from == key) {
            renamed.push((to, value));
        } else {
            properties.push(Member::Pair(key, value));
        }
    }
    if let Some(device_id) = ev.user.device_id.as_deref()
        && ev.spec.is_none_or(|s| s.lists_property("device_id"))
    {
        renamed.push(("device_id", PropValue::Str(device_id)));
    }
    // Renamed and supplied values win over a same-named original (e.g. `url` → `link_url`).
    for (key, value) in renamed {
        let slot = properties.iter_mut().find_map(|m| match m {
            Member::Pair(k, v) if *k == key => Some(v),
            _ => None,
        });
        match slot {
            Some(slot) => *slot = value,
            None => properties.push(Member::Pair(key, value)),
        }
    }
    coalesce(&mut properties, ev.source);

    let timestamp = format_timestamp(ev.time).expect("validation bounds the time");
    let message_id = message_id(config.message_id, ctx.connector_id, &ev.id);
    let event = event_name(ev, config);
    let track = Track {
        event: &event,
        user_id,
        anonymous_id,
        message_id: &message_id,
        timestamp: timestamp.as_str(),
        properties: &properties,
        device: &device,
        traits: &traits,
        library: &ctx.library,
        integrations: &ctx.integrations,
    };
    Ok(Translated {
        destination,
        region,
        json: track.to_json(),
        message_id,
    })
}

/// Moves a property into a `context` section, unless another property already filled that key
/// there (an unknown type with both phone fields): then it stays a property, never lost.
fn place<'e>(
    section: &mut Vec<(&'e str, PropValue<'e>)>,
    properties: &mut Vec<Member<'e>>,
    to: &'e str,
    key: &'e str,
    value: PropValue<'e>,
) {
    if section.iter().any(|(k, _)| *k == to) {
        properties.push(Member::Pair(key, value));
    } else {
        section.push((to, value));
    }
}

/// Joins consecutive properties that stand next to each other in the event's text `source`,
/// exactly as the writer would write them, into one [`Member::Run`]: the writer then copies the
/// run at once instead of writing each key and value. A property stands as written when its key
/// and its raw value are slices of `source` with exactly `":` between them (a key read without
/// escapes is the text between its quotes, and holds nothing to escape), and two such properties
/// are consecutive when exactly one byte (a comma, the only byte JSON allows there besides
/// whitespace) separates them. Anything else (a renamed or supplied property, a key with escapes,
/// whitespace, a property dropped or moved from between two others) stays a pair, so the text
/// written is the same either way.
fn coalesce<'e>(properties: &mut Vec<Member<'e>>, source: &'e str) {
    let base = source.as_ptr() as usize;
    let bytes = source.as_bytes();
    // A property's place in `source`, from its key's opening quote to the end of its value.
    let span = |member: &Member<'e>| -> Option<Range<usize>> {
        let Member::Pair(key, PropValue::Raw(value)) = member else {
            return None;
        };
        let k = (key.as_ptr() as usize).checked_sub(base)?.checked_sub(1)?;
        let v = (value.get().as_ptr() as usize).checked_sub(base)?;
        let end = v.checked_add(value.get().len())?;
        let quoted = k + 1 + key.len();
        let stands = end <= bytes.len()
            && v == quoted + 2
            && bytes[k] == b'"'
            && &bytes[quoted..v] == br#"":"#;
        stands.then_some(k..end)
    };
    let mut kept = 0;
    let mut i = 0;
    while i < properties.len() {
        let mut run = span(&properties[i]);
        let mut next = i + 1;
        while let Some(r) = &mut run {
            match properties.get(next).and_then(span) {
                Some(s) if s.start == r.end + 1 && bytes[r.end] == b',' => {
                    r.end = s.end;
                    next += 1;
                }
                _ => break,
            }
        }
        properties[kept] = match run.and_then(|r| source.get(r)) {
            Some(text) if next - i > 1 => Member::Run(text),
            _ => properties[i],
        };
        kept += 1;
        i = next;
    }
    properties.truncate(kept);
}

fn select(ev: &ValidEvent<'_>, config: &ConnectorConfig) -> Result<(), FilterReason> {
    let include = config.events.include.as_ref();
    let listed = |t: &str| include.is_some_and(|set| set.contains(t));
    match ev.spec {
        Some(spec) if include.is_none() || listed(spec.event_type) || listed(&ev.event_type) => {
            Ok(())
        }
        Some(_) => Err(FilterReason::NotSelected),
        None if config.events.forward_unknown || listed(&ev.event_type) => Ok(()),
        None => Err(FilterReason::UnknownType),
    }
}

type Identity<'e> = (Option<&'e str>, Option<&'e str>);

fn identity<'e>(
    ev: &'e ValidEvent<'_>,
    config: &ConnectorConfig,
) -> Result<Identity<'e>, FilterReason> {
    let user_id = ev.user.external_user_id.as_deref();
    let anonymous_id = ev.user.user_id.as_deref();
    match (user_id, anonymous_id) {
        (Some(_), _) => Ok((user_id, anonymous_id)),
        (None, Some(_)) if config.identity.include_anonymous => Ok((None, anonymous_id)),
        (None, Some(_)) => Err(FilterReason::AnonymousUser),
        (None, None) => Err(FilterReason::NoIdentity),
    }
}

fn route<'c>(
    ev: &ValidEvent<'_>,
    config: &'c ConnectorConfig,
    nearest: Option<Region>,
) -> Result<(&'c str, Region), FilterReason> {
    let routed = config.routing.as_ref().and_then(|routing| {
        let field = routing.by.property();
        let (_, raw) = ev.properties.0.iter().find(|(k, _)| k == field)?;
        let value: String = serde_json::from_str(raw.get()).ok()?;
        routing.routes.get(&value).map(String::as_str)
    });
    let name = routed
        .or_else(|| config.fallback_destination())
        .ok_or(FilterReason::NoRoute)?;
    let (name, dest) = config
        .destinations
        .get_key_value(name)
        .ok_or(FilterReason::NoRoute)?;
    Ok((name.as_str(), dest.region.resolve(nearest)))
}

fn event_name<'a>(ev: &'a ValidEvent<'_>, config: &'a ConnectorConfig) -> Cow<'a, str> {
    let naming = &config.naming;
    let canonical = ev.spec.map(|s: &EventSpec| s.event_type);
    if let Some(name) = naming
        .overrides
        .get(ev.event_type.as_ref())
        .or_else(|| canonical.and_then(|t| naming.overrides.get(t)))
    {
        return Cow::Borrowed(name);
    }
    if naming.custom_event_names && canonical == Some(CUSTOM_EVENT_TYPE) {
        let own = ev
            .properties
            .0
            .iter()
            .find(|(k, _)| k == CUSTOM_EVENT_NAME_PROPERTY)
            .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
            .filter(|name| !name.trim().is_empty());
        if let Some(name) = own {
            return Cow::Owned(name);
        }
    }
    if let Some(spec) = ev.spec {
        return Cow::Borrowed(spec.name_for(naming.profile));
    }
    Cow::Borrowed(&ev.event_type)
}

#[cfg(test)]
mod tests;
