//! Wall-clock time as Unix milliseconds: the one unit every store can keep
//! (a Redis hash field, a Postgres `bigint`, a field in an encrypted cookie).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_ms() -> u64 {
    // A clock before 1970 is a broken machine; treat it as the epoch rather than panic.
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as u64
}

pub fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// RFC 3339 in UTC, to the second, for the page and `/api/inspect`.
pub fn format_ms(ms: u64) -> String {
    let nanos = i128::from(ms / 1000) * 1_000_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms after the Unix epoch"))
}

/// A span as a person would say it: `8 h`, `30 min`, or seconds when it is neither.
pub fn span(duration: Duration) -> String {
    match duration.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_as_hours_minutes_or_seconds() {
        use std::time::Duration;
        let said = [28800, 1800, 90, 0].map(|s| super::span(Duration::from_secs(s)));
        assert_eq!(said, ["8 h", "30 min", "90 s", "0 s"]);
    }

    #[test]
    fn formats_as_rfc3339() {
        assert_eq!(super::format_ms(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
