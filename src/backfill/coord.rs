//! The one thread that keeps the run's state: it receives what the reader and the senders did
//! ([`Note`]s), counts it, writes the quarantine file, moves each file's watermark and saves the
//! checkpoint, and draws the progress. Being alone to write them, it orders them: a quarantine
//! line is flushed to disk before a checkpoint says its record is settled.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::checkpoint::{Checkpoint, Ledger};
use super::clock::Stopwatch;
use super::progress::Progress;
use super::tally::{Notices, Summary, add};

/// A record: the file's number in the run and the record's position in it.
pub type At = (u32, u64);

/// Something the reader or a sender did.
#[derive(Debug)]
pub enum Note {
    /// A line for the operator.
    Log(String),
    /// A file is read from record `start` (earlier ones were settled before).
    Opened {
        /// The file's number in the run.
        file: u32,
        /// Its absolute path.
        key: String,
        /// Its size.
        bytes: u64,
        /// The first record read.
        start: u64,
    },
    /// Records decoded and going on, and records skipped because an earlier run settled them.
    Decoded {
        /// Records decoded in this run.
        records: u64,
        /// Records an earlier run settled.
        already: u64,
    },
    /// Segment acknowledged these events (in a dry run: they were printed).
    Sent(Vec<At>),
    /// These records were not forwarded, by choice.
    Filtered(&'static str, Vec<At>),
    /// One record goes to the quarantine file.
    Quarantined {
        /// The record.
        at: At,
        /// Its reason code.
        reason: String,
        /// The quarantine line.
        line: String,
        /// The terminal's line, written for the first record of this reason in its file.
        notice: String,
    },
    /// These events were not sent; the next run sends them.
    Unsent(String, Vec<At>),
    /// A file was read to its end (`total` records), or stopped (`failure`: its reason, the
    /// quarantine line and the terminal's line).
    Ended {
        /// The file.
        file: u32,
        /// Records in the file, when read to its end.
        total: Option<u64>,
        /// Why it stopped.
        failure: Option<(String, String, String)>,
    },
    /// A request was delivered.
    Delivered,
    /// An attempt failed and is tried again.
    Retried,
    /// A refused request was split.
    Split,
    /// The run must stop.
    Stop(String),
}

/// Where the state goes.
#[derive(Debug)]
pub struct Sinks {
    /// The checkpoint file (`None`: a dry run).
    pub checkpoint: Option<PathBuf>,
    /// The quarantine file, open for appending.
    pub quarantine: Option<BufWriter<File>>,
    /// Bytes decoded so far (shared with the reader).
    pub decoded: Arc<AtomicU64>,
    /// Set when the state cannot be kept (the checkpoint or quarantine file cannot be written):
    /// sending on would send what no checkpoint records, so the run stops.
    pub stop: Arc<AtomicBool>,
}

/// The coordinator's state.
struct Coordinator {
    checkpoint: Checkpoint,
    ledgers: HashMap<u32, (String, Ledger)>,
    dirty: bool,
    summary: Summary,
    notices: Notices,
    sinks: Sinks,
    progress: Progress,
    clock: Stopwatch,
    last_save: Duration,
    save_cost: Duration,
    save_error: Option<String>,
}

/// Runs until every sender of notes is gone; returns the summary.
pub fn coordinate(
    notes: Receiver<Note>,
    checkpoint: Checkpoint,
    summary: Summary,
    sinks: Sinks,
    progress: Progress,
) -> Summary {
    let mut c = Coordinator {
        checkpoint,
        ledgers: HashMap::new(),
        dirty: false,
        summary,
        notices: Notices::default(),
        sinks,
        progress,
        clock: Stopwatch::start(),
        last_save: Duration::ZERO,
        save_cost: Duration::ZERO,
        save_error: None,
    };
    loop {
        match notes.recv_timeout(Duration::from_millis(200)) {
            Ok(note) => c.note(note),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let elapsed = c.clock.elapsed();
        let bytes = c.sinks.decoded.load(Ordering::Relaxed);
        c.progress.tick(bytes, &c.summary, elapsed);
        c.save(false);
    }
    c.save(true);
    c.progress.finish();
    if let Some(e) = c.save_error.take() {
        c.summary.stopped.get_or_insert(e);
    }
    c.summary
}

impl Coordinator {
    fn note(&mut self, note: Note) {
        let e = &mut self.summary.events;
        match note {
            Note::Log(line) => self.progress.line(&line),
            Note::Opened {
                file,
                key,
                bytes,
                start,
            } => {
                self.summary.files.read += 1;
                self.ledgers.insert(file, (key, Ledger::new(bytes, start)));
                self.dirty = true;
            }
            Note::Decoded { records, already } => {
                e.read += records;
                e.already_settled += already;
            }
            Note::Sent(at) => {
                e.sent += at.len() as u64;
                self.settle(&at);
            }
            Note::Filtered(reason, at) => {
                add(&mut e.filtered, reason, at.len() as u64);
                self.settle(&at);
            }
            Note::Quarantined {
                at,
                reason,
                line,
                notice,
            } => {
                add(&mut e.quarantined, &reason, 1);
                self.write_quarantine(&line);
                if self.notices.first(at.0, &reason) {
                    self.progress.line(&notice);
                }
                self.settle(&[at]);
            }
            Note::Unsent(reason, at) => add(&mut e.unsent, &reason, at.len() as u64),
            Note::Ended {
                file,
                total,
                failure,
            } => {
                if let Some((reason, line, notice)) = failure {
                    add(&mut self.summary.files.unreadable, &reason, 1);
                    self.write_quarantine(&line);
                    self.progress.line(&notice);
                }
                if let (Some(total), Some((_, ledger))) = (total, self.ledgers.get_mut(&file)) {
                    ledger.read_all(total);
                    self.dirty = true;
                }
            }
            Note::Delivered => self.summary.requests.delivered += 1,
            Note::Retried => self.summary.requests.retried += 1,
            Note::Split => self.summary.requests.split += 1,
            Note::Stop(why) => {
                self.progress.line(&format!("stopping: {why}"));
                self.summary.stopped.get_or_insert(why);
            }
        }
    }

    fn settle(&mut self, at: &[At]) {
        for &(file, record) in at {
            if let Some((_, ledger)) = self.ledgers.get_mut(&file) {
                ledger.settle(record);
            }
        }
        self.dirty = true;
    }

    fn write_quarantine(&mut self, line: &str) {
        if let Some(q) = &mut self.sinks.quarantine
            && let Err(e) = writeln!(q, "{line}")
        {
            self.cannot_keep_state(format!("the quarantine file could not be written: {e}"));
        }
    }

    /// The checkpoint or the quarantine file cannot be written: stop the run.
    fn cannot_keep_state(&mut self, why: String) {
        if self.save_error.is_none() {
            self.progress.line(&format!("stopping: {why}"));
            self.sinks.stop.store(true, Ordering::Relaxed);
            self.save_error = Some(why);
        }
    }

    /// Saves the checkpoint when something changed, at most every second, and less often when
    /// writing it takes long (a checkpoint of many files): never more than ~5 % of the time.
    fn save(&mut self, last: bool) {
        let Some(path) = self.sinks.checkpoint.clone() else {
            return;
        };
        let now = self.clock.elapsed();
        let wait = Duration::from_secs(1).max(self.save_cost * 20);
        if !self.dirty || (!last && now < self.last_save + wait) || self.save_error.is_some() {
            return;
        }
        let started = self.clock.elapsed();
        // The quarantine lines of settled records reach the disk before the checkpoint says so.
        if let Some(q) = &mut self.sinks.quarantine
            && let Err(e) = q.flush().and_then(|()| q.get_ref().sync_data())
        {
            self.cannot_keep_state(format!("the quarantine file could not be written: {e}"));
            return;
        }
        let mut complete = Vec::new();
        for (file, (key, ledger)) in &self.ledgers {
            self.checkpoint.set(key, ledger.state());
            if ledger.complete() {
                complete.push(*file);
            }
        }
        for file in complete {
            self.ledgers.remove(&file);
        }
        if let Err(e) = write_atomically(&path, self.checkpoint.to_json().as_bytes()) {
            self.cannot_keep_state(format!(
                "the checkpoint could not be written: {}: {e}",
                path.display()
            ));
            return;
        }
        self.dirty = false;
        self.last_save = self.clock.elapsed();
        self.save_cost = self.last_save.saturating_sub(started);
    }
}

/// Writes `path` so that it holds either the old or the new content, whatever happens: a
/// temporary file beside it, flushed to disk, renamed over it, and the folder synced.
pub fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    file.write_all(content)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Make the rename itself durable; some file systems cannot sync a folder, which is fine.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
