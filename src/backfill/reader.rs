//! The translating side of a run: the decoded records of each chunk mapped to Currents events,
//! translated by `process()`, and each event sent on (or printed, in a dry run), filtered or
//! quarantined.

use std::io::{BufWriter, StdoutLock, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use apache_avro::types::Value;
use serde::Serialize;
use serde_json::value::RawValue;

use super::cli::Options;
use super::clock::Stopwatch;
use super::coord::{At, Note};
use super::decode::{FileCtx, Work};
use super::record::{Appended, EventBatch, raw_record};
use super::requests::{Origin, Request, RequestPacker};
use super::run::dispatch;
use super::tally::QuarantineLine;
use crate::config::ConnectorConfig;
use crate::pipeline::{Drift, ProcessContext, process_events};

/// The translating side's state for one run.
pub(super) struct Reader<'a> {
    pub options: &'a Options,
    pub config: &'a ConnectorConfig,
    pub notes: Sender<Note>,
    pub requests: Option<SyncSender<Request>>,
    /// Chunks translated, handed back to the decoding thread to be freed there.
    pub done: Sender<Vec<(u64, Value)>>,
    pub clock: Stopwatch,
    pub stdout: Option<BufWriter<StdoutLock<'static>>>,
    /// Set to stop the run (the decoding thread stops reading).
    pub stop: Arc<AtomicBool>,
    pub packer: RequestPacker,
    /// The last file whose unknown event type was reported.
    pub warned_unknown: Option<u32>,
}

/// A dry run's line: where the call would go, where it came from, the call.
#[derive(Serialize)]
struct Printed<'a> {
    destination: &'a str,
    region: &'a str,
    file: &'a str,
    record: u64,
    call: &'a RawValue,
}

impl Reader<'_> {
    fn note(&self, note: Note) {
        let _ = self.notes.send(note);
    }

    /// Translates what the decoding thread hands over until it is done, then sends what is
    /// still open.
    pub fn translate_all(&mut self, work: Receiver<Work>) {
        for item in work {
            match item {
                Work::Chunk {
                    file,
                    records,
                    already,
                } => self.translate(&file, records, already),
                Work::Failed {
                    file,
                    reason,
                    record,
                    detail,
                } => self.file_failed(&file, reason, record, &detail),
                Work::Ended { file, total } => self.note(Note::Ended {
                    file: file.no,
                    total: Some(total),
                    failure: None,
                }),
            }
        }
        let rest = std::mem::replace(&mut self.packer, RequestPacker::new("")).finish();
        for r in rest {
            dispatch(&self.requests, &self.notes, r);
        }
        if let Some(out) = &mut self.stdout {
            let _ = out.flush();
        }
    }

    fn file_failed(&self, cur: &FileCtx, reason: &str, record: u64, detail: &str) {
        let line = QuarantineLine {
            file: &cur.key,
            record,
            reason,
            detail,
            event_id: None,
            event_type: cur.meta.event_type.as_deref(),
            status: None,
            event: None,
            raw: None,
        };
        let notice = format!("{}, record {record}: {reason}: {detail}", &cur.key);
        self.note(Note::Ended {
            file: cur.no,
            total: None,
            failure: Some((reason.to_owned(), line.to_json(), notice)),
        });
    }

    fn quarantine(&self, cur: &FileCtx, record: u64, q: Quarantine<'_>) {
        let raw = RawValue::from_string(raw_record(q.value)).ok();
        let event = q
            .event
            .and_then(|e| RawValue::from_string(e.to_owned()).ok());
        let line = QuarantineLine {
            file: &cur.key,
            record,
            reason: q.reason,
            detail: q.detail,
            event_id: q.event_id,
            event_type: q.event_type,
            status: None,
            event: event.as_deref(),
            raw: raw.as_deref(),
        };
        self.note(Note::Quarantined {
            at: (cur.no, record),
            reason: q.reason.to_owned(),
            line: line.to_json(),
            notice: format!(
                "{}, record {record}: quarantined {}: {}",
                &cur.key, q.reason, q.detail
            ),
        });
    }

    /// Maps, filters and translates a chunk of records; sends, prints, filters or quarantines
    /// each.
    fn translate(&mut self, cur: &FileCtx, records: Vec<(u64, Value)>, already: u64) {
        self.note(Note::Decoded {
            records: records.len() as u64,
            already,
        });
        if records.is_empty() {
            return;
        }
        // (position in `records`, the mapped event) of the records that go on to
        // `process_events()`.
        // Each record is written into the chunk's batch once; a record that does not go on is
        // taken out again.
        let mut batch = EventBatch::new(records.len());
        let mut kept: Vec<(usize, Appended<'_>)> = Vec::with_capacity(records.len());
        for (i, (record, value)) in records.iter().enumerate() {
            let mapped = match batch.push(value, cur.meta.event_type.as_deref()) {
                Ok(m) => m,
                Err(e) => {
                    let q = Quarantine {
                        reason: e.code(),
                        detail: &e.to_string(),
                        value,
                        event: None,
                        event_id: None,
                        event_type: cur.meta.event_type.as_deref(),
                    };
                    self.quarantine(cur, *record, q);
                    continue;
                }
            };
            let selected = self.options.selection.record(
                mapped.event_type,
                mapped.time,
                cur.meta.hour.is_some(),
            );
            if let Err(skip) = selected {
                batch.pop();
                self.note(Note::Filtered(skip.code(), vec![(cur.no, *record)]));
                continue;
            }
            if self.warned_unknown != Some(cur.no)
                && let Some(t) = mapped.event_type
                && crate::mapping::lookup(t).is_none()
            {
                self.warned_unknown = Some(cur.no);
                self.note(Note::Log(format!(
                    "{}, record {record}: event type {t:?} is not in the table: translated as the Worker does (its own name; filtered unknown_type if the connector's events.forward_unknown is off)",
                    &cur.key
                )));
            }
            kept.push((i, mapped));
        }
        self.process(cur, &records, batch, &kept);
        // Freed where it was allocated (if the decoding thread is gone, here).
        let _ = self.done.send(records);
    }

    fn process(
        &mut self,
        cur: &FileCtx,
        records: &[(u64, Value)],
        batch: EventBatch<'_>,
        kept: &[(usize, Appended<'_>)],
    ) {
        let ctx = ProcessContext {
            connector_id: &self.options.connector,
            nearest_region: None,
            received_ms: 0,
        };
        let outcome = process_events(batch.elements(), self.config, &ctx, Drift::Skip)
            .expect("mapped records are a Currents batch");
        let body = Arc::new(batch.into_body());
        let at = |k: &(usize, Appended<'_>)| (cur.no, records[k.0].0);
        let mut filtered: Vec<(&'static str, Vec<At>)> = Vec::new();
        for f in &outcome.filtered {
            let at = at(&kept[f.index]);
            match filtered.iter_mut().find(|(r, _)| *r == f.reason.code()) {
                Some((_, list)) => list.push(at),
                None => filtered.push((f.reason.code(), vec![at])),
            }
        }
        for (reason, at) in filtered {
            self.note(Note::Filtered(reason, at));
        }
        for q in &outcome.quarantined {
            let (i, m) = &kept[q.index];
            let (record, value) = &records[*i];
            let quarantine = Quarantine {
                reason: q.reason.code(),
                detail: &q.detail,
                value,
                event: Some(&body[m.span.clone()]),
                event_id: q.event_id.as_deref(),
                event_type: m.event_type,
            };
            self.quarantine(cur, *record, quarantine);
        }
        let now = self.clock.elapsed().as_millis() as u64;
        let mut printed = Vec::new();
        for batch in outcome.batches {
            for event in batch.events {
                let index = event.index.expect("process() numbers its events");
                let (i, mapped) = &kept[index];
                let record = records[*i].0;
                if let Some(out) = &mut self.stdout {
                    let line = Printed {
                        destination: &batch.destination,
                        region: batch.region.code(),
                        file: &cur.key,
                        record,
                        call: &event.json,
                    };
                    let written = serde_json::to_writer(&mut *out, &line)
                        .map_err(std::io::Error::from)
                        .and_then(|()| out.write_all(b"\n"));
                    match written {
                        Ok(()) => printed.push((cur.no, record)),
                        // `| head` closed the pipe: nobody reads any more, so stop reading.
                        Err(_) if !self.stop.swap(true, Ordering::Relaxed) => {
                            self.note(Note::Stop("the standard output was closed".into()));
                        }
                        Err(_) => {}
                    }
                    continue;
                }
                let origin = Origin {
                    file: cur.no,
                    record,
                    body: Arc::clone(&body),
                    span: mapped.span.clone(),
                };
                if let Some(full) =
                    self.packer
                        .push(&batch.destination, batch.region, event, origin, now)
                {
                    dispatch(&self.requests, &self.notes, full);
                }
            }
        }
        if !printed.is_empty() {
            self.note(Note::Sent(printed));
        }
        for r in self.packer.due(now) {
            dispatch(&self.requests, &self.notes, r);
        }
    }
}

/// A record to quarantine, as the reader knows it.
struct Quarantine<'a> {
    reason: &'a str,
    detail: &'a str,
    /// The decoded record.
    value: &'a Value,
    /// The Currents event it became, if it did.
    event: Option<&'a str>,
    event_id: Option<&'a str>,
    event_type: Option<&'a str>,
}
