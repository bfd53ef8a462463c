//! What a run did, counted: the summary printed at the end (and written as JSON on request), the
//! exit status it implies, and the quarantine file's lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::value::RawValue;

/// Exit status: every selected event was sent (or deliberately filtered).
pub const EXIT_OK: u8 = 0;
/// Exit status: the run finished, but some events are in the quarantine file (Segment or
/// validation refused them: running again does not help; inspect them).
pub const EXIT_QUARANTINED: u8 = 1;
/// Exit status: nothing was done: bad arguments, config or checkpoint.
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the run is incomplete (events not sent after every attempt, a file not readable
/// to its end, or the run stopped): run it again, it goes on from the checkpoint.
pub const EXIT_INCOMPLETE: u8 = 3;

/// Counts of files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileCounts {
    /// Files found under the inputs.
    pub found: u64,
    /// Files opened in this run.
    pub read: u64,
    /// Files an earlier run completed (checkpoint), not opened.
    pub already_complete: u64,
    /// Files left out by `--types` / `--since` / `--until` from their path alone.
    pub skipped: u64,
    /// Files that could not be read to their end, by reason.
    pub unreadable: BTreeMap<String, u64>,
}

/// Counts of events (records).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Records read in this run: each is sent, filtered, quarantined or left unsent.
    pub read: u64,
    /// Records an earlier run settled (checkpoint), skipped.
    pub already_settled: u64,
    /// Events Segment acknowledged (in a dry run: printed).
    pub sent: u64,
    /// Events not forwarded by choice, by reason.
    pub filtered: BTreeMap<String, u64>,
    /// Events written to the quarantine file, by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Events left unsent for the next run, by reason.
    pub unsent: BTreeMap<String, u64>,
}

/// Counts of Segment requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests Segment acknowledged.
    pub delivered: u64,
    /// Attempts that failed transiently and were tried again.
    pub retried: u64,
    /// Requests refused as a whole and split in halves.
    pub split: u64,
}

/// The summary of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The connector id.
    pub connector: String,
    /// Nothing was sent: the calls were printed.
    pub dry_run: bool,
    /// Files.
    pub files: FileCounts,
    /// Events.
    pub events: EventCounts,
    /// Requests.
    pub requests: RequestCounts,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Adds `n` under `reason`.
pub fn add(map: &mut BTreeMap<String, u64>, reason: &str, n: u64) {
    if n > 0 {
        *map.entry(reason.to_owned()).or_default() += n;
    }
}

fn total(map: &BTreeMap<String, u64>) -> u64 {
    map.values().sum()
}

fn by_reason(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Summary {
    /// The exit status this run ends with.
    pub fn exit_code(&self) -> u8 {
        let e = &self.events;
        if self.stopped.is_some() || total(&e.unsent) > 0 || total(&self.files.unreadable) > 0 {
            EXIT_INCOMPLETE
        } else if total(&e.quarantined) > 0 {
            EXIT_QUARANTINED
        } else {
            EXIT_OK
        }
    }

    /// The summary for people, several lines.
    pub fn text(&self) -> String {
        let (f, e, r) = (&self.files, &self.events, &self.requests);
        let mut out = String::new();
        let verb = if self.dry_run { "printed" } else { "sent" };
        let _ = writeln!(out, "backfill summary, connector {}", self.connector);
        let _ = writeln!(
            out,
            "  files: {} found, {} read, {} already complete, {} skipped by --types/--since/--until, {} unreadable{}",
            f.found,
            f.read,
            f.already_complete,
            f.skipped,
            total(&f.unreadable),
            paren(&f.unreadable)
        );
        let _ = writeln!(
            out,
            "  events: {} read, {} {verb} ({} settled by an earlier run, skipped)",
            e.read, e.sent, e.already_settled
        );
        if !self.dry_run {
            let _ = writeln!(
                out,
                "  requests: {} delivered, {} retried, {} split",
                r.delivered, r.retried, r.split
            );
        }
        for (label, map) in [
            ("filtered", &e.filtered),
            ("quarantined", &e.quarantined),
            ("not sent (run again)", &e.unsent),
        ] {
            let _ = writeln!(out, "  {label}: {}{}", total(map), paren(map));
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(out, "  stopped: {why}");
        }
        let _ = write!(out, "  exit status {}", self.exit_code());
        out
    }
}

fn paren(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_reason(map))
    }
}

/// One line of the quarantine file: where the record is, why it was not sent, and the record.
#[derive(Debug, Serialize)]
pub struct QuarantineLine<'a> {
    /// The file.
    pub file: &'a str,
    /// The record's position in the file (for a file that stopped reading: where it stopped).
    pub record: u64,
    /// Stable reason code.
    pub reason: &'a str,
    /// What exactly was wrong.
    pub detail: &'a str,
    /// Braze's event id, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<&'a str>,
    /// The event type, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'a str>,
    /// Segment's status, when Segment refused the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The Currents event the record became (what the Worker would have received: a line can be
    /// fixed and posted to it), when it became one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a RawValue>,
    /// The storage record as decoded (every field, `null`s kept), when quarantined while reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<&'a RawValue>,
}

impl QuarantineLine<'_> {
    /// The line, without its newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a quarantine line always serialises")
    }
}

/// Which (file, reason) pairs were already reported on the terminal: the first quarantined
/// record of each reason in each file is named there; every one is in the quarantine file.
#[derive(Debug, Default)]
pub struct Notices {
    seen: BTreeSet<(u32, String)>,
}

impl Notices {
    /// Whether this is the first `reason` in `file`.
    pub fn first(&mut self, file: u32, reason: &str) -> bool {
        self.seen.insert((file, reason.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_says_what_to_do_next() {
        let mut s = Summary::default();
        assert_eq!(s.exit_code(), EXIT_OK);
        add(&mut s.events.filtered, "anonymous_user", 3);
        assert_eq!(s.exit_code(), EXIT_OK, "filtering is a choice");
        add(&mut s.events.quarantined, "invalid_time", 1);
        assert_eq!(s.exit_code(), EXIT_QUARANTINED);
        add(&mut s.events.unsent, "http_503", 0);
        assert_eq!(s.exit_code(), EXIT_QUARANTINED, "zero counts are not kept");
        add(&mut s.files.unreadable, "unreadable_file", 1);
        assert_eq!(s.exit_code(), EXIT_INCOMPLETE);
        let mut stopped = Summary {
            stopped: Some("Segment answered 404".into()),
            ..Summary::default()
        };
        assert_eq!(stopped.exit_code(), EXIT_INCOMPLETE);
        stopped.stopped = None;
        add(&mut stopped.events.unsent, "timeout", 5);
        assert_eq!(stopped.exit_code(), EXIT_INCOMPLETE);
    }

    #[test]
    fn the_text_names_every_reason_with_its_count() {
        let mut s = Summary {
            connector: "acme".into(),
            ..Summary::default()
        };
        s.files.found = 3;
        s.events.read = 10;
        s.events.sent = 7;
        add(&mut s.events.filtered, "anonymous_user", 2);
        add(&mut s.events.quarantined, "invalid_time", 1);
        add(&mut s.events.quarantined, "invalid_time", 1);
        let text = s.text();
        assert!(text.contains("connector acme"), "{text}");
        assert!(
            text.contains("10 read, 7 sent (0 settled by an earlier run, skipped)"),
            "{text}"
        );
        assert!(text.contains("filtered: 2 (anonymous_user 2)"), "{text}");
        assert!(text.contains("quarantined: 2 (invalid_time 2)"), "{text}");
        assert!(text.contains("not sent (run again): 0\n"), "{text}");
        assert!(text.ends_with("exit status 1"), "{text}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["events"]["quarantined"]["invalid_time"], 2);
        assert!(json.get("stopped").is_none());
    }

    #[test]
    fn quarantine_lines_carry_the_raw_record() {
        let raw = RawValue::from_string(r#"{"id":"e","time":"x"}"#.into()).unwrap();
        let event = RawValue::from_string(r#"{"id":"e","time":"x","user":{}}"#.into()).unwrap();
        let line = QuarantineLine {
            file: "/x/f.avro",
            record: 4,
            reason: "invalid_time",
            detail: "time is a string",
            event_id: Some("e"),
            event_type: None,
            status: None,
            event: Some(&event),
            raw: Some(&raw),
        };
        assert_eq!(
            line.to_json(),
            r#"{"file":"/x/f.avro","record":4,"reason":"invalid_time","detail":"time is a string","event_id":"e","event":{"id":"e","time":"x","user":{}},"raw":{"id":"e","time":"x"}}"#
        );
        let mut n = Notices::default();
        assert!(n.first(1, "invalid_time"));
        assert!(!n.first(1, "invalid_time"));
        assert!(n.first(2, "invalid_time"));
    }
}
