//! The case lifecycle and its one table of legal transitions.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Lead,
    Intake,
    Scheduled,
    Dispatched,
    Onsite,
    WorkPerformed,
    CloseoutReady,
    InvoiceReady,
    PaidOrAr,
    Canceled,
}

use CaseState::*;

/// Every legal `(from, to)` pair. The database carries the same list (see the migrations and
/// the `transition_table_matches_migrations` test), so nothing else can write an illegal move.
pub const TRANSITIONS: &[(CaseState, CaseState)] = &[
    (Lead, Intake),
    (Intake, Scheduled),
    // Reschedule: a new confirmed appointment replaces the old one.
    (Scheduled, Scheduled),
    (Scheduled, Dispatched),
    // Book: the slot and its technician at once.
    (Intake, Dispatched),
    // Move a booked job to another time or technician before anyone is on the way in earnest
    // (the dispatch calendar's drag and drop): the new appointment replaces the old one.
    (Dispatched, Dispatched),
    (Dispatched, Onsite),
    (Onsite, WorkPerformed),
    (WorkPerformed, CloseoutReady),
    (CloseoutReady, InvoiceReady),
    (InvoiceReady, PaidOrAr),
    // Cancel is possible until a technician is on site.
    (Lead, Canceled),
    (Intake, Canceled),
    (Scheduled, Canceled),
    (Dispatched, Canceled),
];

impl CaseState {
    pub const ALL: [CaseState; 10] =
        [Lead, Intake, Scheduled, Dispatched, Onsite, WorkPerformed, CloseoutReady, InvoiceReady, PaidOrAr, Canceled];

    pub const fn as_str(self) -> &'static str {
        match self {
            Lead => "lead",
            Intake => "intake",
            Scheduled => "scheduled",
            Dispatched => "dispatched",
            Onsite => "onsite",
            WorkPerformed => "work_performed",
            CloseoutReady => "closeout_ready",
            InvoiceReady => "invoice_ready",
            PaidOrAr => "paid_or_ar",
            Canceled => "canceled",
        }
    }

    /// Words for people (console badges, the customer portal).
    pub const fn label(self) -> &'static str {
        match self {
            Lead => "Lead",
            Intake => "Intake",
            Scheduled => "Scheduled",
            Dispatched => "Dispatched",
            Onsite => "On site",
            WorkPerformed => "Work performed",
            CloseoutReady => "Closeout ready",
            InvoiceReady => "Invoice ready",
            PaidOrAr => "Paid / AR",
            Canceled => "Canceled",
        }
    }

    /// Words for the technician in the field: a job is "Booked" until someone says the
    /// technician is on the way (an ETA), then "On the way", "On site", "Work done"; the
    /// office's steps after that read as what they mean to the technician.
    pub const fn field_word(self, eta_set: bool) -> &'static str {
        match self {
            Lead | Intake => "New",
            Scheduled => "Booked",
            Dispatched if eta_set => "On the way",
            Dispatched => "Booked",
            Onsite => "On site",
            WorkPerformed => "Work done",
            CloseoutReady => "Closed out",
            InvoiceReady => "Invoiced",
            PaidOrAr => "Paid",
            Canceled => "Canceled",
        }
    }

    pub fn can_transition_to(self, to: CaseState) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// States from which `to` may be entered; reported with `INVALID_STATE_TRANSITION`.
    pub fn allowed_from(to: CaseState) -> Vec<CaseState> {
        TRANSITIONS.iter().filter(|(_, t)| *t == to).map(|(f, _)| *f).collect()
    }

    /// States reachable from `self` in one step.
    pub fn next_states(self) -> Vec<CaseState> {
        TRANSITIONS.iter().filter(|(f, _)| *f == self).map(|(_, t)| *t).collect()
    }

    pub fn is_terminal(self) -> bool {
        self.next_states().is_empty()
    }

    /// Open work: everything a dispatcher still has to look after.
    pub fn is_open(self) -> bool {
        !matches!(self, PaidOrAr | Canceled)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown case state '{}'", self.0)
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for CaseState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGAL: &[(&str, &str)] = &[
        ("lead", "intake"),
        ("intake", "scheduled"),
        ("scheduled", "scheduled"),
        ("scheduled", "dispatched"),
        ("dispatched", "onsite"),
        ("onsite", "work_performed"),
        ("work_performed", "closeout_ready"),
        ("closeout_ready", "invoice_ready"),
        ("invoice_ready", "paid_or_ar"),
        ("intake", "dispatched"),
        ("dispatched", "dispatched"),
        ("lead", "canceled"),
        ("intake", "canceled"),
        ("scheduled", "canceled"),
        ("dispatched", "canceled"),
    ];

    #[test]
    fn every_pair_is_legal_exactly_when_listed() {
        let mut legal = 0;
        for from in CaseState::ALL {
            for to in CaseState::ALL {
                let expected = LEGAL.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.can_transition_to(to), expected, "{from} -> {to}");
                legal += usize::from(expected);
            }
        }
        assert_eq!(legal, LEGAL.len());
        // 10 x 10 pairs, 15 legal: 85 illegal pairs are refused.
        assert_eq!(CaseState::ALL.len() * CaseState::ALL.len() - legal, 85);
    }

    #[test]
    fn technicians_read_field_words() {
        assert_eq!(Scheduled.field_word(false), "Booked");
        assert_eq!(Dispatched.field_word(false), "Booked", "assigned, nobody said they are on the way");
        assert_eq!(Dispatched.field_word(true), "On the way");
        assert_eq!(Onsite.field_word(true), "On site");
        assert_eq!(WorkPerformed.field_word(false), "Work done");
        for st in CaseState::ALL {
            for eta in [false, true] {
                let w = st.field_word(eta);
                assert!(!w.contains('_') && w != "Dispatched", "{st}: {w}");
            }
        }
    }

    #[test]
    fn cancel_only_before_onsite() {
        for from in CaseState::ALL {
            let before_onsite = matches!(from, Lead | Intake | Scheduled | Dispatched);
            assert_eq!(from.can_transition_to(Canceled), before_onsite, "{from}");
        }
    }

    #[test]
    fn terminal_states_have_no_exit() {
        assert!(PaidOrAr.is_terminal());
        assert!(Canceled.is_terminal());
        assert!(!Scheduled.is_terminal());
        assert!(!PaidOrAr.is_open() && !Canceled.is_open() && Lead.is_open());
    }

    #[test]
    fn allowed_from_lists_sources() {
        assert_eq!(CaseState::allowed_from(Onsite), vec![Dispatched]);
        assert_eq!(CaseState::allowed_from(Scheduled), vec![Intake, Scheduled]);
        assert_eq!(CaseState::allowed_from(Canceled), vec![Lead, Intake, Scheduled, Dispatched]);
        assert!(CaseState::allowed_from(Lead).is_empty());
        assert_eq!(Scheduled.next_states(), vec![Scheduled, Dispatched, Canceled]);
    }

    #[test]
    fn names_round_trip_and_match_serde() {
        for st in CaseState::ALL {
            assert_eq!(st.as_str().parse::<CaseState>(), Ok(st));
            let json = serde_json::to_string(&st).expect("serialize");
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!("open".parse::<CaseState>(), Err(UnknownState("open".into())));
    }
}
