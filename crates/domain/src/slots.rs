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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Slot {
    pub start_ms: i64,
    pub end_ms: i64,
    pub technician_id: String,
    pub technician_name: String,
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

/// Earliest slots first; at each start time the least-booked qualified technician. Distinct
/// start times, so a customer is offered real choices.
pub fn propose(query: &SlotQuery, candidates: &[Candidate]) -> Vec<Slot> {
    if query.duration_ms <= 0 || query.step_ms <= 0 || query.max_slots == 0 {
        return vec![];
    }
    let mut options: Vec<(i64, usize, &Candidate)> = vec![];
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
        for free in subtract(&in_range, &padded) {
            // First grid point at or after the free interval's start.
            let mut start = free.start_ms.div_euclid(query.step_ms) * query.step_ms;
            if start < free.start_ms {
                start += query.step_ms;
            }
            while start + query.duration_ms <= free.end_ms {
                options.push((start, c.booked.len(), c));
                start += query.step_ms;
            }
        }
    }
    options.sort_by(|a, b| (a.0, a.1, &a.2.technician_id).cmp(&(b.0, b.1, &b.2.technician_id)));
    let mut slots: Vec<Slot> = vec![];
    for (start, _, c) in options {
        if slots.last().is_some_and(|s| s.start_ms == start) {
            continue;
        }
        slots.push(Slot {
            start_ms: start,
            end_ms: start + query.duration_ms,
            technician_id: c.technician_id.clone(),
            technician_name: c.technician_name.clone(),
        });
        if slots.len() == query.max_slots {
            break;
        }
    }
    slots
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
        assert_eq!(starts, vec![12, 13, 14, 15]);
        assert!(slots.iter().all(|s| s.technician_id == "a"));
    }

    #[test]
    fn least_booked_technician_wins_a_shared_start() {
        let techs = vec![
            tech("a", &["hvac"], "north", vec![w(8, 17)], vec![w(15, 16)]),
            tech("b", &["hvac"], "north", vec![w(8, 17)], vec![]),
        ];
        let slots = propose(&SlotQuery { max_slots: 2, ..query("hvac", w(0, 24)) }, &techs);
        assert_eq!(slots.len(), 2);
        assert_eq!((slots[0].start_ms / HOUR_MS, slots[0].technician_id.as_str()), (8, "b"));
        assert_eq!((slots[1].start_ms / HOUR_MS, slots[1].technician_id.as_str()), (9, "b"));
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
