//! One batch's observation: [`Report::observe`] for each valid event, with a memory of the
//! property names each known type last came with when the table documented them all. Braze sends
//! a type's properties in one order, so a batch without drift mostly costs one string comparison
//! per property instead of a lookup in the type's entry.

use std::borrow::Cow;

use super::Report;
use crate::currents::ValidEvent;
use crate::mapping::EventSpec;

/// The drift of one batch, observed event by event by [`crate::pipeline::process`].
#[derive(Debug, Default)]
pub struct Observer<'a> {
    /// The batch's report so far.
    pub report: Report,
    /// Per known type: the non-`null` property names of its latest event without drift.
    documented: Vec<(&'static EventSpec, Vec<&'a str>)>,
}

impl<'a> Observer<'a> {
    /// Records one valid event of the batch received at `at_ms` ([`Report::observe`]), unless
    /// it is of a known type and carries exactly the properties of an earlier event of that
    /// type that had no drift. Allocates once per known type of the batch, for its names.
    pub fn observe(&mut self, ev: &ValidEvent<'a>, at_ms: u64) {
        let Some(spec) = ev.spec else {
            self.report.observe(ev, at_ms);
            return;
        };
        let slot = self
            .documented
            .iter()
            .position(|(s, _)| std::ptr::eq(*s, spec));
        if slot.is_some_and(|i| same_names(&self.documented[i].1, ev)) {
            return;
        }
        if !self.report.observe(ev, at_ms) {
            return;
        }
        let i = slot.unwrap_or_else(|| {
            let names = Vec::with_capacity(ev.properties.0.len());
            self.documented.push((spec, names));
            self.documented.len() - 1
        });
        let names = &mut self.documented[i].1;
        names.clear();
        for (name, raw) in &ev.properties.0 {
            match name {
                _ if raw.get() == "null" => {}
                Cow::Borrowed(name) => names.push(*name),
                // A name with escapes is a copy that does not outlive the event: remember none.
                Cow::Owned(_) => return names.clear(),
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
