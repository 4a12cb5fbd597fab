//! Whether an arrival time keeps the promise made to the customer: the booked window.
//!
//! An ETA inside the window is simply set. One after it is a broken promise the customer must
//! hear about, so it is taken only with a "running late" reason (stored and told to the
//! customer). One before the window is refused: arriving early is a new appointment, not an
//! ETA (reschedule instead).

use crate::case::Appointment;

/// How an arrival time sits against the booked window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtaFit {
    /// Within the window (both ends included), or there is no window to keep.
    Within,
    /// Before the window starts.
    Early,
    /// After the window ends.
    Late,
}

pub fn fit(eta_ms: i64, appointment: Option<&Appointment>) -> EtaFit {
    match appointment {
        Some(a) if eta_ms < a.start_ms => EtaFit::Early,
        Some(a) if eta_ms > a.end_ms => EtaFit::Late,
        _ => EtaFit::Within,
    }
}

/// Why an ETA is refused, with the window it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtaRefusal {
    pub fit: EtaFit,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The window check: `Ok` when the ETA may be set — inside the window, or late with a reason.
pub fn check(eta_ms: i64, appointment: Option<&Appointment>, late_reason: Option<&str>) -> Result<(), EtaRefusal> {
    let Some(a) = appointment else { return Ok(()) };
    let given = late_reason.is_some_and(|r| !r.trim().is_empty());
    match fit(eta_ms, Some(a)) {
        EtaFit::Within => Ok(()),
        EtaFit::Late if given => Ok(()),
        f => Err(EtaRefusal { fit: f, start_ms: a.start_ms, end_ms: a.end_ms }),
    }
}

/// The first moment at `minute_of_day` (shop-local minutes after midnight, through
/// `day_start_ms`, the shop-local midnight of today and the offsets of the zone) not earlier
/// than an hour ago: "09:30" typed in the evening means tomorrow morning, typed at 10:15 it
/// means this morning (an arrival being recorded late).
pub fn next_at(now_ms: i64, minute_of_day: i64, local_midnight: impl Fn(i64) -> i64) -> i64 {
    const DAY_MS: i64 = 86_400_000;
    let today = local_midnight(now_ms);
    let at = today + minute_of_day * 60_000;
    if at >= now_ms - 3_600_000 {
        at
    } else {
        // Via the next day's own midnight, so a daylight-saving change in between is honoured.
        local_midnight(today + DAY_MS + DAY_MS / 2) + minute_of_day * 60_000
    }
}

/// A time of day typed for a booked job: on the day its window starts (an ETA is for that
/// visit), or the day after when that would put it more than twelve hours before the window
/// (a late arrival after midnight). `local_midnight` as for [`next_at`].
pub fn on_booking_day(start_ms: i64, minute_of_day: i64, local_midnight: impl Fn(i64) -> i64) -> i64 {
    const DAY_MS: i64 = 86_400_000;
    let day = local_midnight(start_ms);
    let at = day + minute_of_day * 60_000;
    if at < start_ms - DAY_MS / 2 {
        local_midnight(day + DAY_MS + DAY_MS / 2) + minute_of_day * 60_000
    } else {
        at
    }
}

/// "HH:MM" (or "H:MM", "HHMM") as minutes after midnight.
pub fn parse_time_of_day(raw: &str) -> Option<i64> {
    let t = raw.trim();
    let (h, m) = match t.split_once(':') {
        Some((h, m)) => (h, m),
        None if t.len() == 4 => t.split_at(2),
        None => return None,
    };
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn booked(start_h: i64, end_h: i64) -> Appointment {
        Appointment { id: "apt".into(), start_ms: start_h * H, end_ms: end_h * H, technician_id: None }
    }

    #[test]
    fn an_eta_inside_the_window_is_set_with_or_without_a_reason() {
        let a = booked(33, 35); // tomorrow 09:00-11:00
        assert_eq!(check(33 * H, Some(&a), None), Ok(()));
        assert_eq!(check(34 * H, Some(&a), None), Ok(()));
        assert_eq!(check(35 * H, Some(&a), None), Ok(()), "the end of the window is still in it");
        assert_eq!(check(34 * H, Some(&a), Some("traffic")), Ok(()));
    }

    #[test]
    fn an_eta_for_today_on_a_job_booked_tomorrow_is_refused_even_with_a_reason() {
        let a = booked(33, 35);
        let now_plus_45 = 18 * H + 45 * 60_000;
        let early = EtaRefusal { fit: EtaFit::Early, start_ms: 33 * H, end_ms: 35 * H };
        assert_eq!(check(now_plus_45, Some(&a), None), Err(early));
        assert_eq!(check(now_plus_45, Some(&a), Some("running late")), Err(early));
    }

    #[test]
    fn a_late_eta_needs_a_running_late_reason() {
        let a = booked(33, 35);
        let late = 35 * H + 60_000;
        assert_eq!(check(late, Some(&a), None).map_err(|r| r.fit), Err(EtaFit::Late));
        assert_eq!(check(late, Some(&a), Some("  ")).map_err(|r| r.fit), Err(EtaFit::Late), "blank is no reason");
        assert_eq!(check(late, Some(&a), Some("the previous job ran over")), Ok(()));
    }

    #[test]
    fn without_a_booking_there_is_no_window_to_miss() {
        assert_eq!(check(5, None, None), Ok(()));
        assert_eq!(fit(5, None), EtaFit::Within);
    }

    #[test]
    fn a_time_of_day_means_its_next_occurrence_from_an_hour_ago() {
        // The shop is six hours behind UTC: its midnight is at 06:00 UTC.
        let midnight = |ms: i64| (ms - 6 * H).div_euclid(24 * H) * 24 * H + 6 * H;
        let evening = 24 * H + 2 * H; // 20:00 local on day 0
        assert_eq!(next_at(evening, 9 * 60 + 30, midnight), 30 * H + 9 * H + 30 * 60_000, "tomorrow morning");
        let morning = 6 * H + 10 * H + 15 * 60_000; // 10:15 local
        assert_eq!(next_at(morning, 9 * 60 + 30, midnight), 6 * H + 9 * H + 30 * 60_000, "this morning");
        assert_eq!(next_at(morning, 11 * 60, midnight), 6 * H + 11 * H);
    }

    #[test]
    fn a_time_for_a_booked_job_is_on_its_day() {
        let midnight = |ms: i64| (ms - 6 * H).div_euclid(24 * H) * 24 * H + 6 * H;
        let start = 30 * H + 10 * H; // day 1, 10:00 local
        assert_eq!(on_booking_day(start, 12 * 60 + 30, midnight), 30 * H + 12 * H + 30 * 60_000, "12:30 that day");
        assert_eq!(on_booking_day(start, 9 * 60, midnight), 30 * H + 9 * H, "early, still that day");
        let evening = 30 * H + 21 * H; // day 1, 21:00 local
        assert_eq!(on_booking_day(evening, 30, midnight), 54 * H + 30 * 60_000, "00:30 is after midnight");
    }

    #[test]
    fn times_of_day_are_read_as_people_type_them() {
        assert_eq!(parse_time_of_day("09:30"), Some(570));
        assert_eq!(parse_time_of_day(" 9:05 "), Some(545));
        assert_eq!(parse_time_of_day("1430"), Some(870));
        for bad in ["", "24:00", "12:60", "noon", "9", "-1:30", "12:5:1"] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }
}
