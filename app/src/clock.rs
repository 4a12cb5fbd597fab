//! Times in the shop's time zone, the same on the server and in the browser.
//!
//! The server sends the zone's offsets for a window around now (from the IANA database, with
//! its daylight-saving changes) in the page; both sides format with that table, so a hydrated
//! page never disagrees with the server-rendered one and the browser needs no time-zone data.

use serde::{Deserialize, Serialize};

/// From `from_ms` on, the zone is `offset_s` seconds east of UTC and called `abbr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSpan {
    pub from_ms: i64,
    pub offset_s: i32,
    pub abbr: String,
}

/// The shop's clock: spans in time order; before the first one, the first one's offset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShopClock {
    pub spans: Vec<ClockSpan>,
}

/// The `<meta>` name the server writes the clock under.
pub const META_NAME: &str = "rd-clock";

impl ShopClock {
    pub fn utc() -> Self {
        ShopClock { spans: vec![ClockSpan { from_ms: i64::MIN, offset_s: 0, abbr: "UTC".into() }] }
    }

    fn span_at(&self, ms: i64) -> Option<&ClockSpan> {
        let i = self.spans.partition_point(|s| s.from_ms <= ms);
        self.spans.get(i.saturating_sub(1))
    }

    /// `YYYY-MM-DD HH:MM ABBR` in the shop's zone.
    pub fn format(&self, ms: i64) -> String {
        let (offset, abbr) = self.span_at(ms).map(|s| (s.offset_s, s.abbr.as_str())).unwrap_or((0, "UTC"));
        format!("{} {abbr}", civil(ms.saturating_add(i64::from(offset) * 1000)))
    }

    fn local(&self, ms: i64) -> i64 {
        let offset = self.span_at(ms).map(|s| i64::from(s.offset_s) * 1000).unwrap_or(0);
        ms.saturating_add(offset)
    }

    /// A window as a technician reads it, in the shop's zone: `Tue 30 Nov, 09:30–11:30`.
    pub fn range(&self, start_ms: i64, end_ms: i64) -> String {
        domain::window::range_text(self.local(start_ms), self.local(end_ms))
    }

    /// One time, the same way: `Tue 30 Nov, 09:30`.
    pub fn day_time(&self, ms: i64) -> String {
        domain::window::day_and_time(self.local(ms))
    }

    /// `09:42`, in the shop's zone.
    pub fn time_of_day(&self, ms: i64) -> String {
        self.format(ms).get(11..16).unwrap_or_default().to_string()
    }

    /// `Mon 30 Nov 2026`, the shop-local day that holds `ms`.
    pub fn day_label(&self, ms: i64) -> String {
        let offset = self.span_at(ms).map(|s| i64::from(s.offset_s) * 1000).unwrap_or(0);
        let days = ms.saturating_add(offset).div_euclid(86_400_000);
        // 1970-01-01 was a Thursday.
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
        format!("{weekday} {}", short_date(&self.format(ms)))
    }

    /// `30 Nov`, the shop-local date of `ms`.
    pub fn short_day(&self, ms: i64) -> String {
        let d = short_date(&self.format(ms));
        d.rsplit_once(' ').map(|(dm, _)| dm.to_string()).unwrap_or(d)
    }

    /// The shop-local midnight starting the day that holds `ms`.
    pub fn day_start(&self, ms: i64) -> i64 {
        let offset = self.span_at(ms).map(|s| i64::from(s.offset_s) * 1000).unwrap_or(0);
        let local = ms.saturating_add(offset);
        (local - local.rem_euclid(86_400_000)).saturating_sub(offset)
    }
}

/// `30 Nov 2026` of a `YYYY-MM-DD …` text.
fn short_date(civil: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d) = (civil.get(0..4), civil.get(5..7), civil.get(8..10));
    match (y, m.and_then(|m| m.parse::<usize>().ok()), d.and_then(|d| d.parse::<u32>().ok())) {
        (Some(y), Some(m @ 1..=12), Some(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
        _ => civil.to_string(),
    }
}

/// `YYYY-MM-DD HH:MM` of a UTC millisecond count.
pub fn civil(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = domain::window::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

/// The clock of a time zone for `[now - back, now + ahead]` (server side).
#[cfg(feature = "ssr")]
pub fn from_zone(tz: &jiff::tz::TimeZone, now_ms: i64) -> ShopClock {
    const YEAR_MS: i64 = 366 * 86_400_000;
    let Ok(start) = jiff::Timestamp::from_millisecond(now_ms - YEAR_MS) else { return ShopClock::utc() };
    let info = tz.to_offset_info(start);
    let mut spans =
        vec![ClockSpan { from_ms: i64::MIN, offset_s: info.offset().seconds(), abbr: info.abbreviation().to_string() }];
    for t in tz.following(start).take(8) {
        let at = t.timestamp().as_millisecond();
        if at > now_ms + YEAR_MS {
            break;
        }
        spans.push(ClockSpan { from_ms: at, offset_s: t.offset().seconds(), abbr: t.abbreviation().to_string() });
    }
    ShopClock { spans }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chicago_2026() -> ShopClock {
        // CST until 2026-03-08 08:00 UTC, CDT until 2026-11-01 07:00 UTC, then CST.
        ShopClock {
            spans: vec![
                ClockSpan { from_ms: i64::MIN, offset_s: -6 * 3600, abbr: "CST".into() },
                ClockSpan { from_ms: 1_772_956_800_000, offset_s: -5 * 3600, abbr: "CDT".into() },
                ClockSpan { from_ms: 1_793_516_400_000, offset_s: -6 * 3600, abbr: "CST".into() },
            ],
        }
    }

    #[test]
    fn times_follow_the_zone_and_its_daylight_saving() {
        let c = chicago_2026();
        assert_eq!(c.format(1_772_956_800_000 - 60_000), "2026-03-08 01:59 CST");
        assert_eq!(c.format(1_772_956_800_000), "2026-03-08 03:00 CDT");
        assert_eq!(c.format(1_793_516_400_000), "2026-11-01 01:00 CST");
        assert_eq!(ShopClock::utc().format(0), "1970-01-01 00:00 UTC");
        assert_eq!(ShopClock::default().format(-60_000), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn windows_read_in_the_shops_zone() {
        let c = chicago_2026();
        // 2026-11-30 15:30 to 17:30 UTC is 09:30 to 11:30 CST, a Monday.
        let start = 1_796_052_600_000;
        assert_eq!(c.range(start, start + 7_200_000), "Mon 30 Nov, 09:30\u{2013}11:30");
        assert_eq!(c.day_time(start), "Mon 30 Nov, 09:30");
        assert_eq!(ShopClock::utc().range(start, start + 7_200_000), "Mon 30 Nov, 15:30\u{2013}17:30");
    }

    #[test]
    fn days_and_times_read_as_people_write_them() {
        let c = chicago_2026();
        let ms = 1_795_489_200_000; // 2026-11-23 21:00 CST, a Monday
        assert_eq!(c.time_of_day(ms), "21:00");
        assert_eq!(c.day_label(ms), "Mon 23 Nov 2026");
        assert_eq!(c.short_day(ms), "23 Nov");
        assert_eq!(ShopClock::utc().day_label(0), "Thu 1 Jan 1970");
    }

    #[test]
    fn local_days_start_at_local_midnight() {
        let c = chicago_2026();
        // 2026-11-24 03:00 UTC is 2026-11-23 21:00 CST: that day began at 06:00 UTC on the 23rd.
        let ms = 1_795_489_200_000;
        assert_eq!(c.format(c.day_start(ms)), "2026-11-23 00:00 CST");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_reads_the_zone_database() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        let c = from_zone(&tz, 1_795_489_200_000);
        assert_eq!(c.format(1_795_489_200_000), "2026-11-23 21:00 CST");
        assert_eq!(c.format(1_782_900_000_000), "2026-07-01 05:00 CDT");
        assert!(c.spans.len() >= 3, "{:?}", c.spans);
    }
}
