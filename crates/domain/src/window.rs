//! Time windows (unix milliseconds, UTC) and weekly working hours.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The earliest time any input may name: 2000-01-01 00:00 UTC.
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// The latest: 2200-01-01 00:00 UTC. Every time from input lies between the two, so adding a
/// day or a time zone's offset to it, or writing it as a date, can never overflow.
pub const LATEST_MS: i64 = 7_258_118_400_000;

/// A time from input (unix milliseconds), refused outside [`EARLIEST_MS`, `LATEST_MS`).
pub fn instant(field: &str, ms: i64) -> Result<i64, FieldError> {
    if (EARLIEST_MS..LATEST_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(FieldError::new(field, "out_of_range", "a time between the years 2000 and 2200 (unix milliseconds)"))
    }
}

/// A half-open interval `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeWindow {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl TimeWindow {
    /// A window that starts before it ends and lasts at most `max_ms`.
    pub fn parse(field: &str, start_ms: i64, end_ms: i64, max_ms: i64) -> Result<TimeWindow, FieldError> {
        if instant(field, start_ms).is_err() || instant(field, end_ms).is_err() {
            return Err(FieldError::new(
                field,
                "invalid_window",
                "times are unix milliseconds between the years 2000 and 2200",
            ));
        }
        if end_ms <= start_ms {
            return Err(FieldError::new(field, "invalid_window", "the window must end after it starts"));
        }
        if end_ms - start_ms > max_ms {
            return Err(FieldError::new(field, "window_too_long", format!("at most {} hours", max_ms / HOUR_MS)));
        }
        Ok(TimeWindow { start_ms, end_ms })
    }

    pub fn duration_ms(self) -> i64 {
        self.end_ms - self.start_ms
    }

    pub fn overlaps(self, other: TimeWindow) -> bool {
        self.start_ms < other.end_ms && other.start_ms < self.end_ms
    }

    pub fn contains(self, inner: TimeWindow) -> bool {
        self.start_ms <= inner.start_ms && inner.end_ms <= self.end_ms
    }
}

/// `busy` removed from `free`; both may be unsorted, the result is sorted and disjoint.
pub fn subtract(free: &[TimeWindow], busy: &[TimeWindow]) -> Vec<TimeWindow> {
    let mut busy = busy.to_vec();
    busy.sort();
    let mut out = vec![];
    let mut free = free.to_vec();
    free.sort();
    for f in free {
        let mut cursor = f.start_ms;
        for b in busy.iter().filter(|b| b.overlaps(f)) {
            if b.start_ms > cursor {
                out.push(TimeWindow { start_ms: cursor, end_ms: b.start_ms });
            }
            cursor = cursor.max(b.end_ms);
        }
        if cursor < f.end_ms {
            out.push(TimeWindow { start_ms: cursor, end_ms: f.end_ms });
        }
    }
    out
}

/// Weekly working hours in the shop's local time: for each weekday (0 = Monday), a list of
/// `[start_minute, end_minute)` ranges within the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkingHours(pub [Vec<(u16, u16)>; 7]);

impl WorkingHours {
    /// Monday to Friday, 08:00–17:00.
    pub fn weekdays_8_to_5() -> Self {
        let day = vec![(8 * 60, 17 * 60)];
        WorkingHours([day.clone(), day.clone(), day.clone(), day.clone(), day, vec![], vec![]])
    }

    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        for ranges in &self.0 {
            for (s, e) in ranges {
                if s >= e || *e > 24 * 60 {
                    return Err(FieldError::new(
                        field,
                        "invalid_hours",
                        "each range is [start, end) minutes within one day",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A day and time of a local clock, as a technician reads it: `Tue 30 Nov, 09:30`. `local_ms`
/// is already shifted into the shop's zone (milliseconds since 1970-01-01 00:00 local).
pub fn day_and_time(local_ms: i64) -> String {
    let (day, minute) = local_parts(local_ms);
    format!("{day}, {minute}")
}

/// A window on a local clock: `Tue 30 Nov, 09:30–11:30`, or with both days when it runs past
/// midnight (`Tue 30 Nov, 22:00 – Wed 1 Dec, 01:00`). Both ends are already in the shop's zone.
pub fn range_text(start_local_ms: i64, end_local_ms: i64) -> String {
    let (start_day, start_time) = local_parts(start_local_ms);
    let (end_day, end_time) = local_parts(end_local_ms);
    if start_day == end_day {
        format!("{start_day}, {start_time}\u{2013}{end_time}")
    } else {
        format!("{start_day}, {start_time} \u{2013} {end_day}, {end_time}")
    }
}

/// (`Tue 30 Nov`, `09:30`) of a local millisecond count.
fn local_parts(local_ms: i64) -> (String, String) {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = local_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let (_, month, day) = civil_from_days(days);
    let month = MONTHS[(month - 1).clamp(0, 11) as usize];
    (format!("{weekday} {day} {month}"), format!("{:02}:{:02}", rem / 3600, rem % 3600 / 60))
}

/// (year, month 1–12, day 1–31) of a count of days since 1970-01-01 (Howard Hinnant's
/// civil-from-days), without a calendar library.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: i64, e: i64) -> TimeWindow {
        TimeWindow { start_ms: s, end_ms: e }
    }

    #[test]
    fn windows_parse() {
        let t = EARLIEST_MS;
        assert!(TimeWindow::parse("w", t + 10, t + 20, 100).is_ok());
        assert_eq!(TimeWindow::parse("w", t + 20, t + 10, 100).unwrap_err().code, "invalid_window");
        assert_eq!(TimeWindow::parse("w", t + 10, t + 10, 100).unwrap_err().code, "invalid_window");
        assert_eq!(TimeWindow::parse("w", t + 10, t + 200, 100).unwrap_err().code, "window_too_long");
        assert_eq!(TimeWindow::parse("w", -5, t + 10, 100).unwrap_err().code, "invalid_window");
        assert_eq!(TimeWindow::parse("w", LATEST_MS, LATEST_MS + 1, 100).unwrap_err().code, "invalid_window");
    }

    #[test]
    fn overlap_is_half_open() {
        assert!(w(0, 10).overlaps(w(9, 20)));
        assert!(!w(0, 10).overlaps(w(10, 20)));
        assert!(w(0, 10).contains(w(2, 10)));
    }

    #[test]
    fn subtraction() {
        assert_eq!(subtract(&[w(0, 100)], &[w(10, 20), w(15, 30), w(90, 120)]), vec![w(0, 10), w(30, 90)]);
        assert_eq!(subtract(&[w(0, 100)], &[]), vec![w(0, 100)]);
        assert_eq!(subtract(&[w(0, 100)], &[w(0, 100)]), vec![]);
        assert_eq!(subtract(&[w(50, 60), w(0, 10)], &[w(5, 55)]), vec![w(0, 5), w(55, 60)]);
    }

    #[test]
    fn hours_validate() {
        assert!(WorkingHours::weekdays_8_to_5().validate("h").is_ok());
        let mut bad = WorkingHours::weekdays_8_to_5();
        bad.0[0] = vec![(600, 500)];
        assert!(bad.validate("h").is_err());
    }

    #[test]
    fn windows_read_as_a_day_and_two_times() {
        // 2026-11-30 (a Monday) 09:30 to 11:30 on the local clock.
        let start = 1_796_031_000_000;
        assert_eq!(range_text(start, start + 2 * HOUR_MS), "Mon 30 Nov, 09:30\u{2013}11:30");
        assert_eq!(day_and_time(start), "Mon 30 Nov, 09:30");
        // 2021-11-30 was a Tuesday.
        let tue = 1_638_264_600_000;
        assert_eq!(range_text(tue, tue + 2 * HOUR_MS), "Tue 30 Nov, 09:30\u{2013}11:30");
        // Past midnight: both days.
        let late = start + 12 * HOUR_MS + 30 * MINUTE_MS; // 22:00
        assert_eq!(range_text(late, late + 3 * HOUR_MS), "Mon 30 Nov, 22:00 \u{2013} Tue 1 Dec, 01:00");
        assert_eq!(day_and_time(0), "Thu 1 Jan, 00:00");
        assert_eq!(day_and_time(-60_000), "Wed 31 Dec, 23:59");
        assert_eq!(day_and_time(EARLIEST_MS + 29 * DAY_MS + 5 * HOUR_MS), "Sun 30 Jan, 05:00");
        for extreme in [i64::MIN, i64::MAX] {
            assert!(!day_and_time(extreme).is_empty(), "no panic at any instant");
        }
    }
}
