//! One batch's observation: [`Report::observe`] for each valid event, with a memory of the
//! property names each known type last came with and which of them the table does not document.
//! Braze sends a type's properties in one order, so an event whose type came earlier in the batch
//! with the same names mostly costs one string comparison per property instead of a lookup in the
//! type's entry, and a lookup only for what drifted.

use std::borrow::Cow;

use super::Report;
use crate::currents::ValidEvent;
use crate::mapping::EventSpec;

/// What the observer remembers of a known type's latest event.
#[derive(Debug)]
struct Remembered<'a> {
    spec: &'static EventSpec,
    /// Its non-`null` property names, in order.
    names: Vec<&'a str>,
    /// The positions in `names` the table does not document.
    drifted: Vec<usize>,
}

/// The drift of one batch, observed event by event by [`crate::pipeline::process`].
#[derive(Debug, Default)]
pub struct Observer<'a> {
    /// The batch's report so far.
    pub report: Report,
    /// Per known type of the batch: its latest event's names.
    remembered: Vec<Remembered<'a>>,
}

impl<'a> Observer<'a> {
    /// Records one valid event of the batch received at `at_ms`, as [`Report::observe`] does.
    /// An event of a known type that carries exactly the property names of the type's previous
    /// event records that event's drift again without looking its names up. Allocates once per
    /// known type of the batch for its names (and once more if it drifts).
    pub fn observe(&mut self, ev: &ValidEvent<'a>, at_ms: u64) {
        let Some(spec) = ev.spec else {
            self.report.observe(ev, at_ms);
            return;
        };
        let slot = self
            .remembered
            .iter()
            .position(|r| std::ptr::eq(r.spec, spec));
        if let Some(r) = slot.map(|i| &self.remembered[i])
            && same_names(&r.names, ev)
        {
            if !r.drifted.is_empty() {
                self.report.observe_again(ev, at_ms, &r.drifted);
            }
            return;
        }
        let i = slot.unwrap_or_else(|| {
            self.remembered.push(Remembered {
                spec,
                names: Vec::with_capacity(ev.properties.0.len()),
                drifted: Vec::new(),
            });
            self.remembered.len() - 1
        });
        let r = &mut self.remembered[i];
        r.drifted.clear();
        self.report.observe_noting(ev, at_ms, Some(&mut r.drifted));
        r.names.clear();
        for (name, raw) in &ev.properties.0 {
            match name {
                _ if raw.get() == "null" => {}
                Cow::Borrowed(name) => r.names.push(*name),
                // A name with escapes is a copy that does not outlive the event: remember no
                // names and no drift, which only an event without properties matches.
                Cow::Owned(_) => {
                    r.names.clear();
                    r.drifted.clear();
                    return;
                }
            }
        }
    }
}

/// Whether `ev`'s non-`null` property names are `names`, in that order.
fn same_names(names: &[&str], ev: &ValidEvent<'_>) -> bool {
    let mut remembered = names.iter();
    let present = ev
        .properties
        .0
        .iter()
        .filter(|(_, raw)| raw.get() != "null");
    present
        .map(|(name, _)| name.as_ref())
        .all(|name| remembered.next() == Some(&name))
        && remembered.next().is_none()
}
