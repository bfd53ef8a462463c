//! Braze's storage layout and what a run selects from it.
//!
//! Currents writes one Avro file per event type and queue hour (Braze, "Event delivery
//! semantics"): `<prefix>/dataexport.<cluster>.<S3|AzureBlob|GCS>.integration.<id>/
//! event_type=<type>/date=<YYYY-MM-DD-HH>/<schema-id or version=N>/<zone>/dataexport...+<partition>+<offset>.avro`.
//! The event type and the hour (UTC, when Braze queued the events) are read from the
//! `event_type=` and `date=` folders wherever they sit in the path, so an export copied under any
//! prefix, or one of its folders given alone, is understood the same way.
//!
//! `--since` / `--until` select by that queue hour: a gap in the live feed is made of the events
//! Braze queued while the connector was not receiving them, whatever their own `time` (an SDK
//! event can be queued hours after it happened). Files outside the layout (no `date=` folder) are
//! selected by each event's `time` instead.

use std::collections::BTreeSet;
use std::path::Path;

use time::{Date, Month, PrimitiveDateTime, Time};

/// Seconds in the hour a `date=` folder covers.
pub const HOUR_SECS: i64 = 3_600;

/// What the path of a file says about its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// From the `event_type=` folder.
    pub event_type: Option<String>,
    /// Start of the `date=YYYY-MM-DD-HH` folder's hour, UNIX seconds (UTC).
    pub hour: Option<i64>,
}

/// Reads the `event_type=` and `date=` folders of `path` (the innermost of each wins).
pub fn file_meta(path: &Path) -> FileMeta {
    let mut meta = FileMeta::default();
    for part in path.iter().filter_map(|p| p.to_str()) {
        if let Some(t) = part.strip_prefix("event_type=").filter(|t| !t.is_empty()) {
            meta.event_type = Some(t.to_owned());
        } else if let Some(d) = part.strip_prefix("date=") {
            meta.hour = parse_folder_hour(d);
        }
    }
    meta
}

/// `YYYY-MM-DD-HH` (a `date=` folder) → UNIX seconds of that hour.
pub fn parse_folder_hour(text: &str) -> Option<i64> {
    let (day, hour) = text.rsplit_once('-')?;
    let hour: u8 = digits(hour, 2)?;
    instant(parse_day(day)?, hour, 0, 0)
}

/// A `--since` / `--until` value → UNIX seconds (UTC). Accepted: `YYYY-MM-DD`,
/// `YYYY-MM-DD-HH` (as in `date=` folders), `YYYY-MM-DDTHH`, `YYYY-MM-DDTHH:MM`,
/// `YYYY-MM-DDTHH:MM:SS`, each with an optional `Z`, or whole UNIX seconds.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let fail = || {
        format!(
            "{text:?} is not a time: use YYYY-MM-DD, YYYY-MM-DD-HH, YYYY-MM-DDTHH:MM[:SS][Z] (UTC) \
             or UNIX seconds"
        )
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| fail());
    }
    let t = text.strip_suffix('Z').unwrap_or(text);
    let day = t.get(..10).and_then(parse_day).ok_or_else(fail)?;
    let clock = match (t.as_bytes().get(10), t.get(11..)) {
        (None, _) => return instant(day, 0, 0, 0).ok_or_else(fail),
        // `YYYY-MM-DD-HH`, the `date=` folder's form: the hour alone.
        (Some(b'-'), Some(hour)) if hour.len() == 2 => hour,
        (Some(b'T'), Some(clock)) => clock,
        _ => return Err(fail()),
    };
    let parts: Vec<Option<u8>> = clock.split(':').map(|p| digits(p, 2)).collect();
    match parts[..] {
        [Some(h)] => instant(day, h, 0, 0),
        [Some(h), Some(m)] => instant(day, h, m, 0),
        [Some(h), Some(m), Some(s)] => instant(day, h, m, s),
        _ => None,
    }
    .ok_or_else(fail)
}

fn digits<T: std::str::FromStr>(text: &str, len: usize) -> Option<T> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn parse_day(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let y: i32 = digits(parts.next()?, 4)?;
    let m: u8 = digits(parts.next()?, 2)?;
    let d: u8 = digits(parts.next()?, 2)?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn instant(day: Date, h: u8, m: u8, s: u8) -> Option<i64> {
    let time = Time::from_hms(h, m, s).ok()?;
    Some(
        PrimitiveDateTime::new(day, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// A half-open interval of UNIX seconds: `since <= t < until`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub since: Option<i64>,
    /// Exclusive end.
    pub until: Option<i64>,
}

impl Window {
    /// Whether the instant `t` is inside.
    pub fn contains(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// Whether any second of the hour starting at `hour` is inside.
    pub fn overlaps_hour(&self, hour: i64) -> bool {
        self.since.is_none_or(|s| hour + HOUR_SECS > s) && self.until.is_none_or(|u| hour < u)
    }
}

/// What a run reads: `--types`, `--since`, `--until`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these event types (`None`: every type).
    pub types: Option<BTreeSet<String>>,
    /// The queue hours (or, outside the layout, event times) read.
    pub window: Window,
}

/// Why a whole file is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSkip {
    /// Its `event_type=` folder is not one of `--types`.
    Type,
    /// Its `date=` hour is outside `--since` / `--until`.
    Window,
}

/// Why one record is not sent, decided before translation (the connector's own filters come
/// after, in `process()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSkip {
    /// Its event type is not one of `--types`.
    NotInTypes,
    /// Its `time` is outside `--since` / `--until` (files outside the layout only).
    OutsideWindow,
}

impl RecordSkip {
    /// The stable code counted in the summary.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotInTypes => "not_in_types",
            Self::OutsideWindow => "outside_window",
        }
    }
}

impl Selection {
    /// Whether a file is read at all, from its path alone.
    pub fn file(&self, meta: &FileMeta) -> Result<(), FileSkip> {
        if let (Some(types), Some(t)) = (&self.types, &meta.event_type)
            && !types.contains(t)
        {
            return Err(FileSkip::Type);
        }
        match meta.hour {
            Some(hour) if !self.window.overlaps_hour(hour) => Err(FileSkip::Window),
            _ => Ok(()),
        }
    }

    /// Whether one record of a file that is read goes on to translation. `hour_known`: the file
    /// was selected by its `date=` folder, so the record's own time does not matter.
    pub fn record(
        &self,
        event_type: Option<&str>,
        time: Option<i64>,
        hour_known: bool,
    ) -> Result<(), RecordSkip> {
        if let (Some(types), Some(t)) = (&self.types, event_type)
            && !types.contains(t)
        {
            return Err(RecordSkip::NotInTypes);
        }
        // A record without a readable time goes on: validation quarantines it with its reason.
        match time {
            Some(t) if !hour_known && !self.window.contains(t) => Err(RecordSkip::OutsideWindow),
            _ => Ok(()),
        }
    }

    /// A stable text of the selection, for the checkpoint's fingerprint.
    pub fn describe(&self) -> String {
        let types = self
            .types
            .as_ref()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join(","))
            .unwrap_or_else(|| "*".into());
        let bound = |b: Option<i64>| b.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        format!(
            "types={types};since={};until={}",
            bound(self.window.since),
            bound(self.window.until)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH_SEND: &str = "currents-export/dataexport.prod-01.S3.integration.69cadaaed2d51b7c75b1a3e5/event_type=users.messages.pushnotification.Send/date=2025-04-01-17/version=6/us-01/dataexport.prod-01.S3.integration.69cadaaed2d51b7c75b1a3e5+0+123456.avro";

    #[test]
    fn braze_paths_give_the_type_and_the_queue_hour() {
        let meta = file_meta(Path::new(PUSH_SEND));
        assert_eq!(
            meta.event_type.as_deref(),
            Some("users.messages.pushnotification.Send")
        );
        assert_eq!(meta.hour, Some(1_743_526_800)); // 2025-04-01T17:00:00Z
        let older = "p/event_type=users.messages.email.Open/date=2019-04-25-19/1/z/f+0+1.avro";
        let meta = file_meta(Path::new(older));
        assert_eq!(
            meta.event_type.as_deref(),
            Some("users.messages.email.Open")
        );
        assert_eq!(meta.hour, Some(1_556_218_800));
        assert_eq!(
            file_meta(Path::new("/tmp/x/events.avro")),
            FileMeta::default()
        );
        assert_eq!(
            file_meta(Path::new("event_type=/date=2025-13-01-00/f")).hour,
            None
        );
    }

    #[test]
    fn instants_in_every_accepted_form() {
        let h17 = 1_743_526_800;
        for text in [
            "2025-04-01-17",
            "2025-04-01T17",
            "2025-04-01T17:00",
            "2025-04-01T17:00:00",
            "2025-04-01T17:00:00Z",
            "1743526800",
        ] {
            assert_eq!(parse_instant(text), Ok(h17), "{text}");
        }
        assert_eq!(parse_instant("2025-04-01"), Ok(h17 - 17 * 3600));
        assert_eq!(parse_instant("2025-04-01T17:30:05Z"), Ok(h17 + 1805));
        for bad in [
            "",
            "yesterday",
            "2025-4-1",
            "2025-02-30",
            "2025-04-01T25",
            "2025-04-01T17:00:00:00",
            "2025-04-01-17:00",
            "2025-04-01X17",
        ] {
            let err = parse_instant(bad).unwrap_err();
            assert!(err.contains("YYYY-MM-DD"), "{bad}: {err}");
        }
    }

    #[test]
    fn windows_are_half_open_and_hours_overlap() {
        let w = Window {
            since: Some(7_200),
            until: Some(10_800),
        };
        assert!(!w.contains(7_199) && w.contains(7_200) && w.contains(10_799));
        assert!(!w.contains(10_800));
        // The hour 01:00-02:00 ends before 02:00; 02:00 is in; 03:00 is the exclusive end.
        assert!(!w.overlaps_hour(3_600) && w.overlaps_hour(7_200) && !w.overlaps_hour(10_800));
        // A since inside an hour keeps that hour (its files may hold events after since).
        let mid = Window {
            since: Some(7_300),
            until: None,
        };
        assert!(mid.overlaps_hour(7_200));
        assert!(Window::default().contains(i64::MIN) && Window::default().overlaps_hour(0));
    }

    #[test]
    fn selection_of_files_and_records() {
        let sel = Selection {
            types: Some(BTreeSet::from(["users.messages.email.Open".to_owned()])),
            window: Window {
                since: Some(7_200),
                until: Some(10_800),
            },
        };
        let meta = |t: &str, hour| FileMeta {
            event_type: Some(t.into()),
            hour,
        };
        assert_eq!(
            sel.file(&meta("users.messages.email.Open", Some(7_200))),
            Ok(())
        );
        assert_eq!(
            sel.file(&meta("users.messages.email.Send", Some(7_200))),
            Err(FileSkip::Type)
        );
        assert_eq!(
            sel.file(&meta("users.messages.email.Open", Some(0))),
            Err(FileSkip::Window)
        );
        assert_eq!(sel.file(&FileMeta::default()), Ok(()));
        let open = Some("users.messages.email.Open");
        assert_eq!(sel.record(open, Some(0), true), Ok(()));
        assert_eq!(
            sel.record(open, Some(0), false),
            Err(RecordSkip::OutsideWindow)
        );
        assert_eq!(sel.record(open, None, false), Ok(()));
        assert_eq!(
            sel.record(Some("users.messages.sms.Send"), Some(7_200), false),
            Err(RecordSkip::NotInTypes)
        );
        assert_eq!(RecordSkip::NotInTypes.code(), "not_in_types");
        assert_eq!(
            sel.describe(),
            "types=users.messages.email.Open;since=7200;until=10800"
        );
        assert_eq!(Selection::default().describe(), "types=*;since=-;until=-");
    }
}
