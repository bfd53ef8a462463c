//! Formatting of platform clock readings (UNIX milliseconds, passed in by the shell): `sentAt`,
//! quarantine times and date-partitioned keys.

use time::OffsetDateTime;

fn datetime(unix_ms: u64) -> OffsetDateTime {
    let nanos = i128::from(unix_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as Segment's `sentAt` and our records use.
pub fn iso_millis(unix_ms: u64) -> String {
    let t = datetime(unix_ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `YYYY-MM-DD` (UTC), for date-partitioned storage keys.
pub fn ymd(unix_ms: u64) -> String {
    let t = datetime(unix_ms);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_764_345_600_123), "2025-11-28T16:00:00.123Z");
        assert_eq!(ymd(1_764_345_600_123), "2025-11-28");
        assert_eq!(iso_millis(u64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
