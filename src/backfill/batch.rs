//! The records of a chunk written as one Currents batch, with where each event's fields stand in
//! its text: `process()` then reads the events as the Worker's reader would find them in that
//! text ([`crate::pipeline::process_events`]), without reading the text back.
//!
//! The text is still written whole: it is what an event refused later is quarantined as, and
//! the batch body the Worker would receive for the same records. Tests: `record/tests.rs`.

use std::borrow::Cow;
use std::ops::Range;

use apache_avro::types::Value;

use super::record::{Appended, MapError, Top, write_record};
use crate::currents::{Element, JsonText, Properties, RawEvent, Shaped};
use crate::error::RequestError;

/// Storage records written one after the other as the events of a `{"events":[...]}` body.
#[derive(Debug)]
pub struct EventBatch<'a> {
    text: String,
    events: Vec<Written>,
    /// Every event's properties: (HTTP name, place of the value in `text`).
    props: Vec<(&'a str, Range<usize>)>,
}

/// One event of the batch.
#[derive(Debug)]
struct Written {
    /// The text's length before the event (and the comma before it).
    mark: usize,
    span: Range<usize>,
    top: Top,
    /// Its properties in `EventBatch::props`.
    props: Range<usize>,
}

/// What a record takes in the text, about, to reserve it up front.
const BYTES_PER_RECORD: usize = 512;

impl<'a> EventBatch<'a> {
    /// An empty batch with room for about `records` records.
    pub fn new(records: usize) -> Self {
        let mut text = String::with_capacity(16 + BYTES_PER_RECORD * records);
        text.push_str(r#"{"events":["#);
        EventBatch {
            text,
            events: Vec::with_capacity(records),
            props: Vec::with_capacity(records * 16),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there is no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Maps a record (`path_type`: the file's `event_type=` folder) and adds it as the last
    /// event. A record that cannot be mapped leaves the batch as it was.
    pub fn push(
        &mut self,
        value: &'a Value,
        path_type: Option<&'a str>,
    ) -> Result<Appended<'a>, MapError> {
        let mark = self.text.len();
        if !self.events.is_empty() {
            self.text.push(',');
        }
        let props_from = self.props.len();
        match write_record(value, path_type, &mut self.text, &mut self.props) {
            Ok((appended, top)) => {
                self.events.push(Written {
                    mark,
                    span: appended.span.clone(),
                    top,
                    props: props_from..self.props.len(),
                });
                Ok(appended)
            }
            Err(e) => {
                self.text.truncate(mark);
                Err(e)
            }
        }
    }

    /// Takes the last event out again (a record the run's selection skips).
    pub fn pop(&mut self) {
        if let Some(last) = self.events.pop() {
            self.text.truncate(last.mark);
            self.props.truncate(last.props.start);
        }
    }

    /// The text of event `i`.
    pub fn event_text(&self, i: usize) -> &str {
        &self.text[self.events[i].span.clone()]
    }

    /// Where event `i` stands in the text.
    pub fn span(&self, i: usize) -> Range<usize> {
        self.events[i].span.clone()
    }

    /// The events, as the Worker's batch reader reads them from [`Self::into_body`]'s text.
    pub fn elements(&self) -> impl Iterator<Item = Result<Element<'_>, RequestError>> + '_ {
        self.events.iter().map(|w| Ok(self.element(w)))
    }

    fn element(&self, w: &Written) -> Element<'_> {
        let json = |r: &Range<usize>| JsonText::written(&self.text[r.clone()]);
        let properties = self.props[w.props.clone()]
            .iter()
            .map(|(key, r)| (Cow::Borrowed(*key), json(r)))
            .collect();
        Element {
            raw: &self.text[w.span.clone()],
            event: Ok(RawEvent {
                id: w.top.id.as_ref().map(json),
                event_type: w.top.event_type.as_ref().map(json),
                time: w.top.time.as_ref().map(json),
                user: Some(json(&w.top.user)),
                properties: Some(Shaped::Expected(Properties::new(properties))),
                extra: Vec::new(),
            }),
        }
    }

    /// The batch's text, a whole `{"events":[...]}` body.
    pub fn into_body(mut self) -> String {
        self.text.push_str("]}");
        self.text
    }
}
