//! People before agents on the calls that matter: the shop names the agent actions a person
//! must approve (a cancel, a large invoice, a late reschedule, anything on a flagged ticket).
//! Such a call changes nothing; it waits in the office's queue until someone approves it (it
//! then runs once, as the agent asked) or rejects it with a reason.

use crate::action::ActionInput;
use crate::case::{Case, TicketFlag};
use crate::error::{DomainError, FieldError};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which agent calls wait for a person. Stored as the shop's setting; the defaults hold until
/// the shop changes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// Every cancel an agent asks for.
    pub cancel: bool,
    /// An invoice draft (or a closeout packet sending one) whose total is above this, in cents;
    /// null: no limit. Every field is required: a rule left out is not silently switched off.
    #[serde(deserialize_with = "present")]
    pub invoice_above_cents: Option<i64>,
    /// Moving an appointment that starts within this many minutes; null: never held.
    #[serde(deserialize_with = "present")]
    pub reschedule_within_minutes: Option<i64>,
    /// Anything an agent does on a ticket marked VIP or complaint (its messages excepted: they
    /// record what was said).
    pub flagged_tickets: bool,
}

/// An optional value that must still be written (as null when there is none).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<i64>::deserialize(d)
}

/// The default invoice limit: $1,000.00.
pub const DEFAULT_INVOICE_LIMIT_CENTS: i64 = 100_000;
/// The default reschedule window: two hours before the appointment.
pub const DEFAULT_RESCHEDULE_MINUTES: i64 = 120;

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            cancel: true,
            invoice_above_cents: Some(DEFAULT_INVOICE_LIMIT_CENTS),
            reschedule_within_minutes: Some(DEFAULT_RESCHEDULE_MINUTES),
            flagged_tickets: true,
        }
    }
}

impl GatePolicy {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = vec![];
        if self.invoice_above_cents.is_some_and(|c| c < 0) {
            errors.push(FieldError::new("invoice_above_cents", "negative", "an amount of zero or more"));
        }
        if self.reschedule_within_minutes.is_some_and(|m| !(0..=7 * 24 * 60).contains(&m)) {
            errors.push(FieldError::new("reschedule_within_minutes", "out_of_range", "0 to 10080 minutes (a week)"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }
}

/// Why a call waits for a person: the rule (a stable key) and a sentence for the office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gated {
    pub rule: GateRule,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateRule {
    Cancel,
    InvoiceAbove,
    RescheduleSoon,
    FlaggedTicket,
}

impl GateRule {
    pub const fn as_str(self) -> &'static str {
        match self {
            GateRule::Cancel => "cancel",
            GateRule::InvoiceAbove => "invoice_above",
            GateRule::RescheduleSoon => "reschedule_soon",
            GateRule::FlaggedTicket => "flagged_ticket",
        }
    }
}

impl FromStr for GateRule {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [GateRule::Cancel, GateRule::InvoiceAbove, GateRule::RescheduleSoon, GateRule::FlaggedTicket]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

/// Whether the rules could hold this call at all, before the case is read: messages never,
/// and other calls only under a rule that is on (a flagged ticket can hold any of them).
pub fn may_gate(policy: &GatePolicy, input: &ActionInput) -> bool {
    use ActionInput as A;
    match input {
        A::TicketAddMessage(_) => false,
        _ if policy.flagged_tickets => true,
        A::TicketCancel(_) => policy.cancel,
        A::BillingGenerateInvoiceDraft(_) | A::BillingCompileCloseoutPacket(_) => policy.invoice_above_cents.is_some(),
        A::ScheduleConfirm(i) => i.reschedule && policy.reschedule_within_minutes.is_some(),
        A::TicketBook(i) => i.reschedule && policy.reschedule_within_minutes.is_some(),
        _ => false,
    }
}

/// Whether an agent's call must wait for a person, judged on the case as it stands.
/// `tax_rate_bp` prices an invoice draft not yet made.
pub fn gate(policy: &GatePolicy, input: &ActionInput, case: &Case, tax_rate_bp: i64, now_ms: i64) -> Option<Gated> {
    use ActionInput as A;
    if policy.flagged_tickets && !matches!(input, A::TicketAddMessage(_)) {
        if let Some(flag) = case.flag {
            return Some(Gated {
                rule: GateRule::FlaggedTicket,
                reason: format!("the ticket is marked {}: a person decides every step", flag.label()),
            });
        }
    }
    match input {
        A::TicketCancel(_) if policy.cancel => {
            Some(Gated { rule: GateRule::Cancel, reason: "an agent asked to cancel the ticket".into() })
        }
        A::BillingGenerateInvoiceDraft(_) => {
            // Only the total is read: the lines' wording (and its currency) does not matter here.
            let total = crate::invoice::totals(&case.labor, &case.parts, tax_rate_bp, Default::default())
                .map(|t| t.total.cents());
            over_limit(policy, total.unwrap_or(i64::MAX))
        }
        A::BillingCompileCloseoutPacket(_) => over_limit(policy, case.invoice.as_ref()?.total_cents),
        A::ScheduleConfirm(i) if i.reschedule => late_move(policy, case, now_ms),
        A::TicketBook(i) if i.reschedule => late_move(policy, case, now_ms),
        _ => None,
    }
}

fn over_limit(policy: &GatePolicy, total_cents: i64) -> Option<Gated> {
    let limit = policy.invoice_above_cents?;
    (total_cents > limit).then(|| Gated {
        rule: GateRule::InvoiceAbove,
        reason: format!("the invoice total {} is above the {} a person must approve", Money(total_cents), Money(limit)),
    })
}

fn late_move(policy: &GatePolicy, case: &Case, now_ms: i64) -> Option<Gated> {
    let within = policy.reschedule_within_minutes?;
    let start = case.appointment.as_ref()?.start_ms;
    let minutes_left = (start - now_ms).div_euclid(60_000);
    (minutes_left < within).then(|| Gated {
        rule: GateRule::RescheduleSoon,
        reason: if minutes_left < 0 {
            "an agent asked to move an appointment whose time has come".into()
        } else {
            format!("an agent asked to move an appointment that starts in {minutes_left} min")
        },
    })
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a person.
    Pending,
    /// Approved and run: the action is applied.
    Approved,
    /// A person said no, with a reason.
    Rejected,
    /// Approved, but the action could no longer run (the ticket moved on meanwhile).
    Failed,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 4] =
        [ApprovalStatus::Pending, ApprovalStatus::Approved, ApprovalStatus::Rejected, ApprovalStatus::Failed];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalStatus::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

/// One agent call held for a person, as the office and the agent see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Approval {
    pub id: String,
    pub ticket_id: String,
    /// The action the agent asked for (`ticket.cancel`).
    pub action: String,
    /// Its input, exactly as the agent sent it.
    pub input: serde_json::Value,
    pub rule: GateRule,
    pub reason: String,
    /// The agent's token id and role.
    pub requested_by: String,
    pub requested_role: String,
    pub requested_at_ms: i64,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at_ms: Option<i64>,
    /// Why it was rejected, or why an approved call could not run.
    pub decision_note: Option<String>,
    /// The audit event of the action, once it ran.
    pub result_event_id: Option<String>,
}

/// A held call in the office's queue, with the ticket it is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueuedApproval {
    pub approval: Approval,
    pub ticket_number: String,
    pub ticket_state: crate::state::CaseState,
    pub customer_name: String,
}

/// `approval.approve` and `approval.reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    pub approval_id: String,
    /// With a rejection: why (the agent is told). Optional with an approval.
    #[serde(default)]
    pub note: Option<String>,
}

pub const MAX_NOTE: usize = 1_000;

impl ApprovalDecision {
    /// The note, trimmed; a rejection must say why.
    pub fn validate(&self, rejecting: bool) -> Result<Option<String>, DomainError> {
        let mut errors = vec![];
        if !self.approval_id.starts_with("apr_") {
            errors.push(FieldError::new("approval_id", "invalid", "an approval id such as apr_01..."));
        }
        let note = self.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        match &note {
            None if rejecting => {
                errors.push(FieldError::new("note", "required", "say why, for the agent and the record"))
            }
            Some(n) if n.chars().count() > MAX_NOTE => {
                errors.push(FieldError::new("note", "too_long", format!("at most {MAX_NOTE} characters")))
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(note)
        } else {
            Err(DomainError::Invalid(errors))
        }
    }
}

/// `ticket.set_flag`: mark a ticket VIP or complaint (or clear the mark).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFlag {
    pub ticket_id: String,
    /// None clears the mark.
    #[serde(default)]
    pub flag: Option<TicketFlag>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Appointment;
    use crate::commands::{BookSlot, CancelTicket, TicketRef};

    fn case() -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "tkt_1", "number": "RD-000001", "state": "scheduled", "priority": "standard",
            "problem_summary": null, "trade": null, "requested_window": null,
            "customer": {"id": "cus_1", "name": "N", "phones": [], "emails": [], "preferred_channel": null},
            "site": null, "appointment": null, "assignment": null, "eta": null, "checklist": [], "notes": [],
            "attachments": [], "labor": [], "parts": [], "invoice": null, "packet": null, "payment": null,
            "cancel_reason": null, "flag": null, "message_count": 0, "last_message_at_ms": null, "version": 1,
            "created_at_ms": 0, "updated_at_ms": 0
        }))
        .expect("a case")
    }

    fn cancel() -> ActionInput {
        ActionInput::TicketCancel(CancelTicket {
            ticket_id: "tkt_1".into(),
            reason: "r".into(),
            expected_version: None,
        })
    }

    fn moving(reschedule: bool) -> ActionInput {
        ActionInput::TicketBook(BookSlot {
            ticket_id: "tkt_1".into(),
            start_ms: 0,
            end_ms: 1,
            technician_id: "tech_1".into(),
            reschedule,
            expected_version: None,
        })
    }

    #[test]
    fn a_cancel_waits_unless_the_shop_lets_agents_cancel() {
        let c = case();
        assert_eq!(gate(&GatePolicy::default(), &cancel(), &c, 0, 0).map(|g| g.rule), Some(GateRule::Cancel));
        let open = GatePolicy { cancel: false, ..GatePolicy::default() };
        assert_eq!(gate(&open, &cancel(), &c, 0, 0), None);
    }

    #[test]
    fn moving_an_appointment_waits_only_when_it_is_near() {
        let mut c = case();
        let hour = 3_600_000;
        c.appointment =
            Some(Appointment { id: "apt".into(), start_ms: 10 * hour, end_ms: 12 * hour, technician_id: None });
        let p = GatePolicy::default();
        assert_eq!(gate(&p, &moving(true), &c, 0, 7 * hour), None, "three hours ahead");
        let soon = gate(&p, &moving(true), &c, 0, 9 * hour).expect("one hour ahead waits");
        assert_eq!(soon.rule, GateRule::RescheduleSoon);
        assert!(soon.reason.contains("60 min"), "{}", soon.reason);
        assert_eq!(gate(&p, &moving(false), &c, 0, 9 * hour), None, "a first booking is not a move");
        let never = GatePolicy { reschedule_within_minutes: None, ..p };
        assert_eq!(gate(&never, &moving(true), &c, 0, 9 * hour), None);
    }

    #[test]
    fn an_invoice_waits_above_the_limit() {
        let mut c = case();
        let compile =
            ActionInput::BillingCompileCloseoutPacket(TicketRef { ticket_id: "tkt_1".into(), expected_version: None });
        let p = GatePolicy { invoice_above_cents: Some(50_000), ..GatePolicy::default() };
        assert_eq!(gate(&p, &compile, &c, 0, 0), None, "no invoice yet");
        c.invoice = Some(crate::case::InvoiceDraft {
            id: "inv".into(),
            number: "INV-1".into(),
            lines: vec![],
            subtotal_cents: 60_000,
            tax_rate_bp: 0,
            tax_cents: 0,
            total_cents: 60_000,
            created_at_ms: 0,
        });
        let g = gate(&p, &compile, &c, 0, 0).expect("above the limit");
        assert_eq!(g.rule, GateRule::InvoiceAbove);
        assert!(g.reason.contains("600.00") && g.reason.contains("500.00"), "{}", g.reason);
        let high = GatePolicy { invoice_above_cents: Some(60_000), ..p.clone() };
        assert_eq!(gate(&high, &compile, &c, 0, 0), None, "at the limit is not above it");
        let draft =
            ActionInput::BillingGenerateInvoiceDraft(TicketRef { ticket_id: "tkt_1".into(), expected_version: None });
        assert_eq!(gate(&p, &draft, &c, 0, 0), None, "no labor, no parts: nothing to hold");
    }

    #[test]
    fn a_flagged_ticket_holds_everything_but_messages() {
        let mut c = case();
        c.flag = Some(TicketFlag::Vip);
        let msg = ActionInput::TicketAddMessage(
            serde_json::from_value(
                serde_json::json!({"ticket_id": "tkt_1", "direction": "outbound", "channel": "sms", "text": "hi"}),
            )
            .expect("a message"),
        );
        let p = GatePolicy { cancel: false, ..GatePolicy::default() };
        assert_eq!(gate(&p, &cancel(), &c, 0, 0).map(|g| g.rule), Some(GateRule::FlaggedTicket));
        assert_eq!(gate(&p, &msg, &c, 0, 0), None);
        let off = GatePolicy { flagged_tickets: false, ..p };
        assert_eq!(gate(&off, &cancel(), &c, 0, 0), None);
    }

    #[test]
    fn what_may_be_held_covers_everything_that_is() {
        let mut c = case();
        let hour = 3_600_000;
        c.appointment = Some(Appointment { id: "apt".into(), start_ms: hour, end_ms: 2 * hour, technician_id: None });
        let inputs = [cancel(), moving(true), moving(false)];
        let policies = [
            GatePolicy::default(),
            GatePolicy { flagged_tickets: false, ..GatePolicy::default() },
            GatePolicy {
                cancel: false,
                flagged_tickets: false,
                reschedule_within_minutes: None,
                invoice_above_cents: None,
            },
        ];
        for flag in [None, Some(TicketFlag::Complaint)] {
            c.flag = flag;
            for p in &policies {
                for i in &inputs {
                    if gate(p, i, &c, 0, 0).is_some() {
                        assert!(may_gate(p, i), "{p:?} {i:?}");
                    }
                }
            }
        }
        let off = &policies[2];
        assert!(!may_gate(off, &cancel()) && !may_gate(off, &moving(true)), "nothing on: nothing read");
    }

    #[test]
    fn every_rule_must_be_written_out() {
        assert!(serde_json::from_str::<GatePolicy>("{}").is_err());
        let partial = r#"{"cancel": true, "flagged_tickets": true, "invoice_above_cents": 5}"#;
        assert!(serde_json::from_str::<GatePolicy>(partial).is_err(), "a missing limit is not 'no limit'");
        let full = r#"{"cancel": false, "flagged_tickets": true, "invoice_above_cents": null, "reschedule_within_minutes": 30}"#;
        let p: GatePolicy = serde_json::from_str(full).expect("all four");
        assert_eq!((p.cancel, p.invoice_above_cents, p.reschedule_within_minutes), (false, None, Some(30)));
    }

    #[test]
    fn a_rejection_must_say_why() {
        let d = ApprovalDecision { approval_id: "apr_1".into(), note: Some("  ".into()) };
        assert!(d.validate(true).is_err());
        assert_eq!(d.validate(false).expect("approve without a note"), None);
        let bad = ApprovalDecision { approval_id: "tkt_1".into(), note: None };
        assert!(bad.validate(false).is_err());
    }
}
