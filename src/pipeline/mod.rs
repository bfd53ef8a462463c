//! The one entry point the Worker, the browser build and the tests call: a Currents request body
//! and a connector config in; Segment batches (packed once, each the queue message that carries
//! it and the Segment request it becomes), filtered events and quarantined events out. Every
//! input event ends in exactly one of the three. Along the way each valid event is checked
//! against the mapping table: what it does not describe is the batch's drift report.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::{ConnectorConfig, Region};
use crate::currents::{Element, Events, JsonText, RawEvent, RejectReason, Rejected, validate};
use crate::delivery::{DeliveryMessage, Packer, QueuedEvent};
use crate::drift;
use crate::error::RequestError;
use crate::translate::{FilterReason, TranslateContext, translate};

/// Inputs besides the body and the config, supplied by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ProcessContext<'a> {
    /// The connector's id (scopes `messageId`).
    pub connector_id: &'a str,
    /// Region nearest the request's origin, for `auto` destinations.
    pub nearest_region: Option<Region>,
    /// When the batch was received (UNIX ms): the delivery messages' retention counts from here.
    pub received_ms: u64,
}

/// An event the connector chose not to forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilteredEvent {
    /// Position in the Currents batch.
    pub index: usize,
    /// Braze's event id.
    pub event_id: String,
    /// Braze's event type.
    pub event_type: String,
    /// Why.
    pub reason: FilterReason,
}

/// An event that cannot be forwarded as it is: kept whole, with its reason, for replay.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantinedEvent {
    /// Position in the Currents batch.
    pub index: usize,
    /// Braze's event id, when readable.
    pub event_id: Option<String>,
    /// Braze's event type, when readable.
    pub event_type: Option<String>,
    /// Stable reason code.
    pub reason: RejectReason,
    /// What exactly was wrong.
    pub detail: String,
    /// The event exactly as Braze sent it.
    pub raw: Box<RawValue>,
}

/// The result of processing one Currents batch.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Number of events in the request.
    pub received: usize,
    /// Segment batch requests to send, each as the delivery message that carries it.
    pub batches: Vec<DeliveryMessage>,
    /// Events deliberately not forwarded.
    pub filtered: Vec<FilteredEvent>,
    /// Events kept for inspection and replay.
    pub quarantined: Vec<QuarantinedEvent>,
    /// Event types and properties of the valid events (forwarded, filtered or quarantined alike)
    /// that the mapping table does not describe, seen at `received_ms` (empty when the caller
    /// asked for none: [`Drift::Skip`]).
    pub drift: drift::Report,
}

impl Outcome {
    /// Number of events in `batches`.
    pub fn accepted(&self) -> usize {
        self.batches.iter().map(|b| b.events.len()).sum()
    }

    /// The input positions of every event in `batches`, `filtered` and `quarantined`, sorted.
    /// Equal to `0..received` exactly when each event ended in one outcome, once.
    pub fn outcome_indices(&self) -> Vec<usize> {
        let mut indices: Vec<usize> = self
            .batches
            .iter()
            .flat_map(|b| b.events.iter().filter_map(|e| e.index))
            .chain(self.filtered.iter().map(|f| f.index))
            .chain(self.quarantined.iter().map(|q| q.index))
            .collect();
        indices.sort_unstable();
        indices
    }
}

/// Parses, validates, translates and batches one Currents request body.
///
/// Fails only when the body as a whole is not a batch; per-event problems end in `quarantined`.
pub fn process(
    body: &[u8],
    config: &ConnectorConfig,
    ctx: &ProcessContext<'_>,
) -> Result<Outcome, RequestError> {
    process_events(Events::new(body)?, config, ctx, Drift::Observe)
}

/// Whether [`process_events`] observes the batch's drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// Fill [`Outcome::drift`] (the Worker and the browser package report it).
    Observe,
    /// Leave it empty: for a caller that reports none (the backfill command).
    Skip,
}

/// [`process`] on the events of a batch as its reader yields them: the Worker's own reader
/// ([`Events`]), or events that were written with their fields' places known (the backfill's
/// records), which need no reading back.
///
/// Fails when an element does (the body is not a batch after all); nothing of it is returned.
pub fn process_events<'a>(
    events: impl IntoIterator<Item = Result<Element<'a>, RequestError>>,
    config: &ConnectorConfig,
    ctx: &ProcessContext<'_>,
    drift_mode: Drift,
) -> Result<Outcome, RequestError> {
    let tctx = TranslateContext::new(ctx.connector_id, ctx.nearest_region, config);
    let mut outcome = Outcome {
        received: 0,
        batches: Vec::new(),
        filtered: Vec::new(),
        quarantined: Vec::new(),
        drift: drift::Report::default(),
    };
    let mut drift = drift::Observer::default();
    let mut packer = Packer::new(
        ctx.connector_id,
        config.generation.as_deref(),
        ctx.received_ms,
    );
    for (index, element) in events.into_iter().enumerate() {
        let Element { raw, event } = element?;
        outcome.received = index + 1;
        let ev = match event.and_then(|ev| validate(ev, raw)) {
            Ok(ev) => ev,
            Err(rejected) => {
                outcome.quarantined.push(quarantine(index, raw, rejected));
                continue;
            }
        };
        if drift_mode == Drift::Observe {
            drift.observe(&ev, ctx.received_ms);
        }
        let translated = match translate(&ev, config, &tctx) {
            Ok(t) => t,
            Err(reason) => {
                outcome.filtered.push(FilteredEvent {
                    index,
                    event_id: ev.id.into_owned(),
                    event_type: ev.event_type.into_owned(),
                    reason,
                });
                continue;
            }
        };
        let event_type = match ev.spec {
            Some(spec) if spec.event_type == ev.event_type => Cow::Borrowed(spec.event_type),
            _ => Cow::Owned(ev.event_type.into_owned()),
        };
        let event = QueuedEvent {
            index: Some(index),
            event_id: ev.id.into_owned(),
            event_type,
            message_id: translated.message_id,
            json: translated.json,
        };
        if let Err(too_large) = packer.push(translated.destination, translated.region, event) {
            let rejected = Rejected::new(RejectReason::EventTooLarge, too_large.detail());
            outcome.quarantined.push(quarantine(index, raw, rejected));
        }
    }
    outcome.batches = packer.finish();
    outcome.drift = drift.report;
    Ok(outcome)
}

fn quarantine(index: usize, raw: &str, rejected: Rejected) -> QuarantinedEvent {
    // Best effort: the id and type help an operator find the event even when it is invalid.
    let fields = serde_json::from_str::<RawEvent<'_>>(raw).ok();
    let text =
        |r: Option<JsonText<'_>>| r.and_then(|r| serde_json::from_str::<String>(r.get()).ok());
    QuarantinedEvent {
        index,
        event_id: text(fields.as_ref().and_then(|e| e.id)),
        event_type: text(fields.as_ref().and_then(|e| e.event_type)),
        reason: rejected.reason,
        detail: rejected.detail,
        raw: RawValue::from_string(raw.to_owned())
            .expect("an element the batch reader parsed is one JSON value"),
    }
}

#[cfg(test)]
mod tests;
