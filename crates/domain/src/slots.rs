//! Candidate appointment slots from technicians' skills, zones, hours and bookings.

use crate::window::{subtract, TimeWindow};
use serde::{Deserialize, Serialize};

/// A technician as the slot search sees them: free time is already in UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub technician_id: String,
    pub technician_name: String,
    pub skills: Vec<String>,
    pub zone: Option<String>,
    /// Working hours within the search range, minus time off.
    pub working: Vec<TimeWindow>,
    /// Confirmed appointments.
    pub booked: Vec<TimeWindow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlotQuery {
    pub trade: Option<String>,
    pub zone: Option<String>,
    pub range: TimeWindow,
    pub duration_ms: i64,
    /// Starts are aligned to this grid (e.g. 30 minutes).
    pub step_ms: i64,
    /// Kept free before and after each booking for travel.
    pub buffer_ms: i64,
    pub max_slots: usize,
    /// The shop's local midnights covering the range, in order: a technician's load is counted
    /// per shop day, not per UTC day. Empty: the whole range is one day.
    pub day_starts: Vec<i64>,
}

/// A candidate appointment: one technician at one time, with what makes it a good fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slot {
    pub start_ms: i64,
    pub end_ms: i64,
    pub technician_id: String,
    pub technician_name: String,
    /// The technician's zone.
    #[serde(default)]
    pub zone: Option<String>,
    /// Jobs the technician already has booked that day (shop time).
    #[serde(default)]
    pub jobs_that_day: u32,
    /// Why this technician and time, in words, best reason first.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Why a technician cannot take a job; reported with `TECH_UNAVAILABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    MissingSkill,
    OtherZone,
    OutsideWorkingHours,
    AlreadyBooked,
    Inactive,
}

impl Unavailable {
    pub const fn as_str(self) -> &'static str {
        match self {
            Unavailable::MissingSkill => "missing_skill",
            Unavailable::OtherZone => "other_zone",
            Unavailable::OutsideWorkingHours => "outside_working_hours",
            Unavailable::AlreadyBooked => "already_booked",
            Unavailable::Inactive => "inactive",
        }
    }
}

impl Candidate {
    pub fn qualifies(&self, trade: Option<&str>, zone: Option<&str>) -> Result<(), Unavailable> {
        if let Some(t) = trade {
            if !self.skills.iter().any(|s| s == t) {
                return Err(Unavailable::MissingSkill);
            }
        }
        if let (Some(want), Some(have)) = (zone, self.zone.as_deref()) {
            if want != have {
                return Err(Unavailable::OtherZone);
            }
        }
        Ok(())
    }

    /// Whether this technician can take `window` (skills and zone checked separately).
    pub fn can_take(&self, window: TimeWindow, buffer_ms: i64) -> Result<(), Unavailable> {
        if !self.working.iter().any(|w| w.contains(window)) {
            return Err(Unavailable::OutsideWorkingHours);
        }
        let padded = TimeWindow { start_ms: window.start_ms - buffer_ms, end_ms: window.end_ms + buffer_ms };
        if self.booked.iter().any(|b| b.overlaps(padded)) {
            return Err(Unavailable::AlreadyBooked);
        }
        Ok(())
    }
}

/// One bookable start for one technician, before the choice of which to offer.
struct Offer<'a> {
    start_ms: i64,
    day: usize,
    load: u32,
    after_job: bool,
    tech: &'a Candidate,
}

/// Slots across every qualified technician, best first: the soonest day, then the technician
/// with the fewest jobs that day, then the earliest time. Each technician with free time gets
/// a turn before anyone gets a second, so a qualified technician is always offered when there
/// is room; one technician's offers never overlap each other.
pub fn propose(query: &SlotQuery, candidates: &[Candidate]) -> Vec<Slot> {
    if query.duration_ms <= 0 || query.step_ms <= 0 || query.max_slots == 0 {
        return vec![];
    }
    let day_of = |ms: i64| query.day_starts.iter().rposition(|d| *d <= ms).unwrap_or(0);
    let mut per_tech: Vec<Vec<Offer>> = vec![];
    for c in candidates.iter().filter(|c| c.qualifies(query.trade.as_deref(), query.zone.as_deref()).is_ok()) {
        let padded: Vec<TimeWindow> = c
            .booked
            .iter()
            .map(|b| TimeWindow { start_ms: b.start_ms - query.buffer_ms, end_ms: b.end_ms + query.buffer_ms })
            .collect();
        let in_range: Vec<TimeWindow> = c
            .working
            .iter()
            .filter_map(|w| {
                let s = w.start_ms.max(query.range.start_ms);
                let e = w.end_ms.min(query.range.end_ms);
                (s < e).then_some(TimeWindow { start_ms: s, end_ms: e })
            })
            .collect();
        let mut options = vec![];
        for free in subtract(&in_range, &padded) {
            // First grid point at or after the free interval's start.
            let mut start = free.start_ms.div_euclid(query.step_ms) * query.step_ms;
            if start < free.start_ms {
                start += query.step_ms;
            }
            while start + query.duration_ms <= free.end_ms {
                let day = day_of(start);
                let load = c.booked.iter().filter(|b| day_of(b.start_ms) == day).count() as u32;
                let after_job = query.buffer_ms > 0
                    && c.booked.iter().any(|b| b.end_ms <= start && start - b.end_ms < query.buffer_ms + query.step_ms);
                options.push(Offer { start_ms: start, day, load, after_job, tech: c });
                start += query.step_ms;
            }
        }
        if !options.is_empty() {
            options.sort_by_key(|o| (o.day, o.start_ms));
            per_tech.push(options);
        }
    }
    // Each technician's turn goes to their first offer that does not overlap what they were
    // already offered: their offers are in (day, start) order and the load is one per day, so
    // that first one is also their best by rank.
    let mut chosen: Vec<Offer> = vec![];
    let mut taken: Vec<Vec<i64>> = vec![vec![]; per_tech.len()];
    loop {
        let mut turns: Vec<(usize, usize)> = (0..per_tech.len())
            .filter_map(|i| {
                per_tech[i].iter().position(|o| free_of(&taken[i], o.start_ms, query.duration_ms)).map(|n| (i, n))
            })
            .collect();
        if turns.is_empty() {
            break;
        }
        turns.sort_by_key(|&(i, n)| rank(&per_tech[i][n]));
        for (i, n) in turns {
            if chosen.len() == query.max_slots {
                break;
            }
            let o = per_tech[i].remove(n);
            taken[i].push(o.start_ms);
            chosen.push(o);
        }
        if chosen.len() == query.max_slots {
            break;
        }
    }
    chosen.sort_by_key(rank);
    chosen.into_iter().map(|o| slot_of(query, o)).collect()
}

/// Best first: the soonest day, the lightest load that day, the earliest start.
fn rank<'a>(o: &Offer<'a>) -> (usize, u32, i64, &'a str) {
    (o.day, o.load, o.start_ms, o.tech.technician_id.as_str())
}

/// Whether a start `duration_ms` long overlaps none of the starts already offered.
fn free_of(taken: &[i64], start_ms: i64, duration_ms: i64) -> bool {
    taken.iter().all(|t| start_ms + duration_ms <= *t || *t + duration_ms <= start_ms)
}

fn slot_of(query: &SlotQuery, o: Offer) -> Slot {
    let c = o.tech;
    let mut reasons = vec![];
    if let Some(trade) = &query.trade {
        reasons.push(format!("does {trade}"));
    }
    if let (Some(_), Some(zone)) = (&query.zone, &c.zone) {
        reasons.push(format!("works the {zone} zone"));
    }
    reasons.push(match o.load {
        0 => "no other jobs that day".to_string(),
        1 => "1 other job that day".to_string(),
        n => format!("{n} other jobs that day"),
    });
    if o.after_job {
        reasons.push(format!("{} min kept for travel from the job before", query.buffer_ms / 60_000));
    }
    Slot {
        start_ms: o.start_ms,
        end_ms: o.start_ms + query.duration_ms,
        technician_id: c.technician_id.clone(),
        technician_name: c.technician_name.clone(),
        zone: c.zone.clone(),
        jobs_that_day: o.load,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::HOUR_MS;

    fn w(s: i64, e: i64) -> TimeWindow {
        TimeWindow { start_ms: s * HOUR_MS, end_ms: e * HOUR_MS }
    }

    fn tech(id: &str, skills: &[&str], zone: &str, working: Vec<TimeWindow>, booked: Vec<TimeWindow>) -> Candidate {
        Candidate {
            technician_id: id.into(),
            technician_name: id.to_uppercase(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            zone: Some(zone.into()),
            working,
            booked,
        }
    }

    fn query(trade: &str, range: TimeWindow) -> SlotQuery {
        SlotQuery {
            trade: Some(trade.into()),
            zone: None,
            range,
            duration_ms: 2 * HOUR_MS,
            step_ms: HOUR_MS,
            buffer_ms: 0,
            max_slots: 10,
            day_starts: vec![],
        }
    }

    #[test]
    fn slots_respect_skills_hours_and_bookings() {
        let techs = vec![
            tech("a", &["hvac"], "north", vec![w(8, 17)], vec![w(8, 12)]),
            tech("b", &["plumbing"], "north", vec![w(8, 17)], vec![]),
        ];
        let slots = propose(&query("hvac", w(0, 24)), &techs);
        let starts: Vec<i64> = slots.iter().map(|s| s.start_ms / HOUR_MS).collect();
        // One technician's offers do not overlap each other: 12-14 and 14-16, not 12, 13, 14, 15.
        assert_eq!(starts, vec![12, 14]);
        assert!(slots.iter().all(|s| s.technician_id == "a"));
        assert_eq!(slots[0].reasons, vec!["does hvac", "1 other job that day"]);
    }

    #[test]
    fn every_qualified_technician_is_offered_before_anyone_twice() {
        let techs = vec![
            tech("a", &["hvac"], "north", vec![w(8, 17)], vec![]),
            tech("b", &["hvac"], "north", vec![w(8, 17)], vec![w(8, 10)]),
            tech("c", &["hvac"], "north", vec![w(13, 17)], vec![]),
        ];
        let slots = propose(&SlotQuery { max_slots: 3, ..query("hvac", w(0, 24)) }, &techs);
        let mut who: Vec<&str> = slots.iter().map(|s| s.technician_id.as_str()).collect();
        who.sort();
        assert_eq!(who, vec!["a", "b", "c"], "c, free only in the afternoon, still gets a turn");
    }

    #[test]
    fn the_least_loaded_technician_that_day_ranks_first() {
        let techs = vec![
            tech("busy", &["hvac"], "north", vec![w(8, 17)], vec![w(15, 16), w(16, 17)]),
            tech("idle", &["hvac"], "north", vec![w(8, 17)], vec![]),
        ];
        let slots = propose(&SlotQuery { max_slots: 4, ..query("hvac", w(0, 24)) }, &techs);
        assert_eq!((slots[0].start_ms / HOUR_MS, slots[0].technician_id.as_str()), (8, "idle"));
        assert_eq!(slots[0].jobs_that_day, 0);
        let busy = slots.iter().find(|s| s.technician_id == "busy").expect("busy is offered too");
        assert_eq!(busy.jobs_that_day, 2);
        assert!(busy.reasons.contains(&"2 other jobs that day".to_string()));
    }

    #[test]
    fn load_is_counted_per_shop_day_and_sooner_days_come_first() {
        // Day 1 is [0, 24), day 2 is [24, 48). "a" is loaded on day 1 only.
        let techs = vec![
            tech("a", &["hvac"], "north", vec![w(8, 17), w(32, 41)], vec![w(8, 10), w(10, 12), w(12, 14)]),
            tech("b", &["hvac"], "north", vec![w(32, 41)], vec![]),
        ];
        let q = SlotQuery { max_slots: 4, day_starts: vec![0, 24 * HOUR_MS], ..query("hvac", w(0, 48)) };
        let slots = propose(&q, &techs);
        assert_eq!((slots[0].start_ms / HOUR_MS, slots[0].technician_id.as_str()), (14, "a"), "today first");
        assert_eq!(slots[0].jobs_that_day, 3);
        let tomorrow_a = slots.iter().find(|s| s.technician_id == "a" && s.start_ms >= 24 * HOUR_MS).expect("a again");
        assert_eq!(tomorrow_a.jobs_that_day, 0, "yesterday's jobs do not count against tomorrow");
        assert!(slots.iter().any(|s| s.technician_id == "b"));
    }

    #[test]
    fn a_start_right_after_a_job_says_travel_time_is_kept() {
        let techs = vec![tech("a", &["hvac"], "north", vec![w(8, 17)], vec![w(8, 10)])];
        let q = SlotQuery { buffer_ms: HOUR_MS / 2, step_ms: HOUR_MS / 2, max_slots: 1, ..query("hvac", w(0, 24)) };
        let slots = propose(&q, &techs);
        assert_eq!(slots[0].start_ms, 10 * HOUR_MS + HOUR_MS / 2);
        assert!(slots[0].reasons.contains(&"30 min kept for travel from the job before".to_string()));
    }

    #[test]
    fn zone_buffer_and_range_are_honoured() {
        let techs = vec![tech("a", &["hvac"], "south", vec![w(8, 17)], vec![w(12, 13)])];
        let mut q = query("hvac", w(10, 16));
        q.zone = Some("north".into());
        assert!(propose(&q, &techs).is_empty());
        q.zone = Some("south".into());
        q.buffer_ms = HOUR_MS;
        let starts: Vec<i64> = propose(&q, &techs).iter().map(|s| s.start_ms / HOUR_MS).collect();
        // 10-11 free before the buffer at 11; 14-16 after the buffer ends at 14.
        assert_eq!(starts, vec![14]);
    }

    #[test]
    fn can_take_explains_why_not() {
        let t = tech("a", &["hvac"], "north", vec![w(8, 17)], vec![w(12, 14)]);
        assert_eq!(t.can_take(w(9, 11), 0), Ok(()));
        assert_eq!(t.can_take(w(13, 15), 0), Err(Unavailable::AlreadyBooked));
        assert_eq!(t.can_take(w(16, 18), 0), Err(Unavailable::OutsideWorkingHours));
        assert_eq!(t.qualifies(Some("plumbing"), None), Err(Unavailable::MissingSkill));
        assert_eq!(t.qualifies(Some("hvac"), Some("south")), Err(Unavailable::OtherZone));
    }

    #[test]
    fn degenerate_queries_give_nothing() {
        let techs = vec![tech("a", &["hvac"], "north", vec![w(8, 17)], vec![])];
        assert!(propose(&SlotQuery { duration_ms: 0, ..query("hvac", w(0, 24)) }, &techs).is_empty());
        assert!(propose(&SlotQuery { max_slots: 0, ..query("hvac", w(0, 24)) }, &techs).is_empty());
        assert!(propose(&SlotQuery { duration_ms: 10 * HOUR_MS, ..query("hvac", w(0, 24)) }, &techs).is_empty());
    }
}
