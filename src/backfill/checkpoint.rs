//! The checkpoint: what earlier runs settled, file by file, so a run after an interrupt or a
//! crash goes on where they stopped.
//!
//! A record is *settled* once its fate is stored: Segment acknowledged it, a filter skipped it,
//! or its quarantine line is written. Requests finish out of order (several are in flight), so a
//! file's checkpoint is a watermark: every record before `settled` is settled. A resumed run
//! skips those and reads on; records after the watermark that a crashed run had already sent are
//! sent again with the same `messageId`s, which Segment deduplicates. A file whose every record
//! is settled is `complete` and not opened again.
//!
//! The checkpoint belongs to one connector, config and selection: resuming with another one
//! would skip events that were never sent to its destinations, so it is refused
//! ([`Checkpoint::check`]). A file whose size changed since (a partial download finished, a
//! file replaced) is read again from its start.
//!
//! Pure: the file is written by the shell, atomically (a temporary file, then a rename).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What is known of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Its size when it was read (a different size means another file).
    pub bytes: u64,
    /// Records `0..settled` are settled.
    pub settled: u64,
    /// Every record is settled: the file holds exactly `settled` records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub complete: bool,
}

/// The checkpoint file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The connector id the events were sent for.
    pub connector: String,
    /// SHA-256 of the config document and the selection (see [`fingerprint`]).
    pub fingerprint: String,
    /// Folder → file name → state (grouped by folder: an export has thousands of files per
    /// folder prefix, written once each).
    pub files: BTreeMap<String, BTreeMap<String, FileState>>,
}

/// Where a run starts in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Never read: from the first record.
    Fresh,
    /// Read in part: from this record.
    From(u64),
    /// Every record settled: not opened.
    Complete,
    /// Its size changed since it was checkpointed: read again from the first record.
    Changed,
}

/// Why a checkpoint cannot be used for this run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Another format version.
    #[error(
        "the checkpoint is format version {0}, this program writes version {CHECKPOINT_VERSION}"
    )]
    Version(u32),
    /// Another connector.
    #[error("the checkpoint is for connector {found:?}, not {expected:?}")]
    Connector {
        /// In the checkpoint.
        found: String,
        /// This run's.
        expected: String,
    },
    /// Another config document or selection.
    #[error("the checkpoint was written with another config file or other --types/--since/--until")]
    Fingerprint,
}

/// SHA-256 (hex) of the config document's bytes and the selection's text: a checkpoint only
/// resumes the run that wrote it.
pub fn fingerprint(config_text: &[u8], selection: &str) -> String {
    let mut h = Sha256::new();
    h.update((config_text.len() as u64).to_be_bytes());
    h.update(config_text);
    h.update(selection.as_bytes());
    hex::encode(h.finalize())
}

/// Splits a file key (its absolute path) into folder and name.
pub fn split_key(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or(("", key))
}

impl Checkpoint {
    /// An empty checkpoint for this run.
    pub fn new(connector: &str, fingerprint: &str) -> Self {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            connector: connector.to_owned(),
            fingerprint: fingerprint.to_owned(),
            files: BTreeMap::new(),
        }
    }

    /// Whether this checkpoint belongs to the run of `connector` with `fingerprint`.
    pub fn check(&self, connector: &str, fingerprint: &str) -> Result<(), Mismatch> {
        if self.version != CHECKPOINT_VERSION {
            return Err(Mismatch::Version(self.version));
        }
        if self.connector != connector {
            return Err(Mismatch::Connector {
                found: self.connector.clone(),
                expected: connector.to_owned(),
            });
        }
        if self.fingerprint != fingerprint {
            return Err(Mismatch::Fingerprint);
        }
        Ok(())
    }

    /// The state of the file at `key`.
    pub fn get(&self, key: &str) -> Option<&FileState> {
        let (dir, name) = split_key(key);
        self.files.get(dir)?.get(name)
    }

    /// Where to start the file at `key`, now `bytes` long.
    pub fn resume(&self, key: &str, bytes: u64) -> Resume {
        match self.get(key) {
            None => Resume::Fresh,
            Some(s) if s.bytes != bytes => Resume::Changed,
            Some(s) if s.complete => Resume::Complete,
            Some(s) if s.settled == 0 => Resume::Fresh,
            Some(s) => Resume::From(s.settled),
        }
    }

    /// Records the state of the file at `key`.
    pub fn set(&mut self, key: &str, state: FileState) {
        let (dir, name) = split_key(key);
        self.files
            .entry(dir.to_owned())
            .or_default()
            .insert(name.to_owned(), state);
    }

    /// The checkpoint as written to disk.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint always serialises")
    }

    /// Reads a checkpoint file's content.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// A file being read in this run: which of its records are settled, so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Size of the file.
    pub bytes: u64,
    /// Records `0..watermark` are settled.
    watermark: u64,
    /// Settled records above the watermark.
    ahead: BTreeSet<u64>,
    /// How many records the file holds, once it was read to its end.
    total: Option<u64>,
}

impl Ledger {
    /// A file of `bytes` whose records before `start` were settled by an earlier run.
    pub fn new(bytes: u64, start: u64) -> Self {
        Ledger {
            bytes,
            watermark: start,
            ahead: BTreeSet::new(),
            total: None,
        }
    }

    /// Marks `record` settled.
    pub fn settle(&mut self, record: u64) {
        if record < self.watermark {
            return;
        }
        self.ahead.insert(record);
        while self.ahead.remove(&self.watermark) {
            self.watermark += 1;
        }
    }

    /// The file was read to its end: it holds `total` records.
    pub fn read_all(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// Every record is settled.
    pub fn complete(&self) -> bool {
        self.total == Some(self.watermark)
    }

    /// Records `0..watermark()` are settled.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// What the checkpoint says of the file now.
    pub fn state(&self) -> FileState {
        FileState {
            bytes: self.bytes,
            settled: self.watermark,
            complete: self.complete(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_moves_only_over_settled_records() {
        let mut l = Ledger::new(100, 0);
        for r in [1, 2, 4] {
            l.settle(r);
        }
        assert_eq!(l.watermark(), 0, "record 0 is still in flight");
        l.settle(0);
        assert_eq!(l.watermark(), 3);
        l.settle(3);
        assert_eq!(l.watermark(), 5);
        l.settle(2); // settled twice (a resent event): no change
        assert_eq!(l.watermark(), 5);
        assert!(!l.complete(), "the end of the file is not known yet");
        l.read_all(6);
        assert!(!l.complete());
        l.settle(5);
        assert!(l.complete());
        assert_eq!(
            l.state(),
            FileState {
                bytes: 100,
                settled: 6,
                complete: true
            }
        );
        // An empty file is complete once read.
        let mut empty = Ledger::new(10, 0);
        empty.read_all(0);
        assert!(empty.complete());
        // A resumed file starts at its watermark.
        let mut resumed = Ledger::new(10, 40);
        resumed.settle(3);
        resumed.settle(40);
        assert_eq!(resumed.watermark(), 41);
    }

    #[test]
    fn resume_points() {
        let mut c = Checkpoint::new("acme", "f");
        let state = |settled, complete| FileState {
            bytes: 500,
            settled,
            complete,
        };
        c.set(
            "/x/event_type=a/date=2025-01-01-00/f1.avro",
            state(10, false),
        );
        c.set("/x/event_type=a/date=2025-01-01-00/f2.avro", state(7, true));
        c.set(
            "/x/event_type=a/date=2025-01-01-00/f3.avro",
            state(0, false),
        );
        let key = |n: &str| format!("/x/event_type=a/date=2025-01-01-00/{n}");
        assert_eq!(c.resume(&key("f1.avro"), 500), Resume::From(10));
        assert_eq!(c.resume(&key("f2.avro"), 500), Resume::Complete);
        assert_eq!(c.resume(&key("f3.avro"), 500), Resume::Fresh);
        assert_eq!(c.resume(&key("f2.avro"), 501), Resume::Changed);
        assert_eq!(c.resume(&key("f9.avro"), 500), Resume::Fresh);
        assert_eq!(c.files.len(), 1, "grouped by folder");
        let back = Checkpoint::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
        assert!(!c.to_json().contains("\"complete\":false"));
    }

    #[test]
    fn a_checkpoint_resumes_only_its_own_run() {
        let fp = fingerprint(br#"{"a":1}"#, "types=*;since=-;until=-");
        assert_eq!(fp.len(), 64);
        assert_ne!(fp, fingerprint(br#"{"a":2}"#, "types=*;since=-;until=-"));
        assert_ne!(fp, fingerprint(br#"{"a":1}"#, "types=x;since=-;until=-"));
        let c = Checkpoint::new("acme", &fp);
        assert_eq!(c.check("acme", &fp), Ok(()));
        assert_eq!(
            c.check("other", &fp),
            Err(Mismatch::Connector {
                found: "acme".into(),
                expected: "other".into()
            })
        );
        assert_eq!(c.check("acme", "x"), Err(Mismatch::Fingerprint));
        let mut old = c.clone();
        old.version = 0;
        assert_eq!(old.check("acme", &fp), Err(Mismatch::Version(0)));
        assert_eq!(split_key("/a/b/c.avro"), ("/a/b", "c.avro"));
        assert_eq!(split_key("c.avro"), ("", "c.avro"));
    }
}
