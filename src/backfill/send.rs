//! The senders: `--concurrency` threads that take requests from the reader, pace them, send
//! them, and follow [`after_attempt`]'s decision. They decide nothing themselves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;

use super::clock::{Stopwatch, now_ms, seed};
use super::coord::{At, Note};
use super::http::{endpoint, failure_code, send};
use super::requests::{Pacer, Request, Step, after_attempt};
use super::tally::QuarantineLine;
use crate::config::{ConnectorConfig, Region, WriteKey};
use crate::delivery::rejected_detail;
use crate::segment::RetryPolicy;
use crate::timefmt::iso_millis;

/// What every sender shares.
pub struct Senders {
    /// The HTTP agent.
    pub agent: ureq::Agent,
    /// `--segment-url`.
    pub base_url: Option<String>,
    /// Destination name → write key.
    pub keys: BTreeMap<String, WriteKey>,
    /// The Worker's backoff schedule.
    pub policy: RetryPolicy,
    /// Attempts per request.
    pub max_attempts: u32,
    /// The pace of all requests.
    pub pacer: Mutex<Pacer>,
    /// The run's monotonic clock (for the pacer).
    pub clock: Stopwatch,
    /// Set when the run must stop: requests still queued are left unsent.
    pub stop: Arc<AtomicBool>,
    /// Notes to the coordinator.
    pub notes: Sender<Note>,
    /// File number → path, for quarantine lines.
    pub files: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Senders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Senders")
            .field("destinations", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Senders {
    /// The write keys of `config`'s destinations.
    pub fn keys(config: &ConnectorConfig) -> BTreeMap<String, WriteKey> {
        config
            .destinations
            .iter()
            .map(|(name, d)| (name.clone(), d.write_key.clone()))
            .collect()
    }
}

/// One sender thread's loop: until the reader is done and the queue is empty.
pub fn sender(shared: Arc<Senders>, queue: Arc<Mutex<Receiver<Request>>>) {
    // One body buffer per sender, reused for every attempt (requests are up to 500 KB).
    let mut body = String::new();
    loop {
        let next = queue.lock().map(|q| q.recv());
        match next {
            Ok(Ok(request)) => shared.handle(request, &mut body),
            _ => return,
        }
    }
}

fn origins(r: &Request) -> Vec<At> {
    r.origins.iter().map(|o| (o.file, o.record)).collect()
}

impl Senders {
    fn note(&self, note: Note) {
        let _ = self.notes.send(note);
    }

    /// Sends a request, its retries and, when Segment refuses it as a whole, its halves.
    fn handle(&self, request: Request, body: &mut String) {
        let mut work = vec![request];
        while let Some(mut r) = work.pop() {
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    self.note(Note::Unsent("stopped".into(), origins(&r)));
                    break;
                }
                let Some(key) = self.keys.get(&r.msg.destination) else {
                    self.note(Note::Unsent("destination_missing".into(), origins(&r)));
                    break;
                };
                let wait = self
                    .pacer
                    .lock()
                    .map(|mut p| p.reserve(self.clock.elapsed().as_micros() as u64))
                    .unwrap_or_default();
                std::thread::sleep(wait);
                let now = now_ms();
                let url = endpoint(self.base_url.as_deref(), r.msg.region);
                r.msg.write_segment_body(&iso_millis(now), body);
                let attempt = send(&self.agent, &url, key, body, now);
                match after_attempt(
                    &mut r,
                    attempt.result,
                    &self.policy,
                    seed(),
                    self.max_attempts,
                ) {
                    Step::Delivered => {
                        self.note(Note::Delivered);
                        self.note(Note::Sent(origins(&r)));
                        break;
                    }
                    Step::Retry { delay } => {
                        self.note(Note::Retried);
                        self.pause(delay);
                    }
                    Step::Split { .. } => {
                        self.note(Note::Split);
                        let (a, b) = r.into_halves().expect("a split request has 2+ events");
                        work.push(b);
                        work.push(a);
                        break;
                    }
                    Step::Rejected { status } => {
                        let answer = attempt.answer.as_deref().unwrap_or("");
                        self.reject(&r, status, &rejected_detail(status, answer, r.msg.splits));
                        break;
                    }
                    Step::Stop { status } => {
                        self.stop.store(true, Ordering::Relaxed);
                        self.note(Note::Stop(format!(
                            "Segment refused a request to {} with HTTP {status}: the URL or the \
                             write key of destination {:?} is wrong; nothing more is sent",
                            region_url(&url, r.msg.region),
                            r.msg.destination
                        )));
                        self.note(Note::Unsent(format!("http_{status}"), origins(&r)));
                        break;
                    }
                    Step::GiveUp => {
                        let code = failure_code(attempt.result);
                        self.note(Note::Log(format!(
                            "{} events to {:?} not sent after {} attempts (last: {code}); the next run sends them",
                            r.msg.events.len(),
                            r.msg.destination,
                            r.msg.attempt
                        )));
                        self.note(Note::Unsent(code, origins(&r)));
                        break;
                    }
                }
            }
        }
    }

    /// Sleeps `delay`, waking early when the run stops.
    fn pause(&self, delay: Duration) {
        let step = Duration::from_millis(100);
        let mut left = delay;
        while !left.is_zero() && !self.stop.load(Ordering::Relaxed) {
            let d = left.min(step);
            std::thread::sleep(d);
            left -= d;
        }
    }

    /// Quarantines the one event of `r` that Segment refuses.
    fn reject(&self, r: &Request, status: u16, detail: &str) {
        let files = self.files.lock().map(|f| f.clone()).unwrap_or_default();
        for (event, origin) in r.msg.events.iter().zip(&r.origins) {
            let file = files.get(origin.file as usize).map_or("", String::as_str);
            let raw_event = RawValue::from_string(origin.event().to_owned()).ok();
            let line = QuarantineLine {
                file,
                record: origin.record,
                reason: "segment_rejected",
                detail,
                event_id: Some(&event.event_id),
                event_type: Some(&event.event_type),
                status: Some(status),
                event: raw_event.as_deref(),
                raw: None,
            };
            self.note(Note::Quarantined {
                at: (origin.file, origin.record),
                reason: "segment_rejected".into(),
                line: line.to_json(),
                notice: format!(
                    "{file}, record {}: quarantined segment_rejected: {detail}",
                    origin.record
                ),
            });
        }
    }
}

/// The URL for messages, with Segment's region named.
fn region_url(url: &str, region: Region) -> String {
    format!("{url} ({})", region.code())
}
