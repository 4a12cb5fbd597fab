//! Follow-up and escalation timers, run by `real-dispatch worker`.
//!
//! Three kinds: a lead unanswered for N minutes, no ETA M minutes before the appointment, and
//! a job not closed out by the end of its day. The worker plans them from the tickets (rows in
//! `followups`, one per ticket, kind and due time), claims due rows with a lease (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL; SQLite has a single writer), re-checks each against the case
//! as it is now, and fires it: OpenClaw is told through its webhook, then the row is marked
//! fired and an audit event written in one transaction, by the claim holder only. A timer
//! therefore fires once however many workers run; a crashed worker's lease runs out and
//! another takes the timer over. Nothing here changes a case: agents act through the toolset.

use crate::audit::{self, NewEvent, Who};
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::followups as timers;
use domain::{ActorKind, Case, CaseState, Role};
use serde::Serialize;

/// How long a claim holds before another worker may take the timer over.
pub const LEASE_MS: i64 = 2 * 60_000;
/// Notification attempts before a timer is given up (and that is audited).
pub const MAX_ATTEMPTS: i64 = 5;
const BATCH: i64 = 20;
/// How long a timer whose agent is paused waits before it is looked at again.
pub const HOLD_MS: i64 = 5 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    LeadUnanswered,
    EtaMissing,
    CloseoutIncomplete,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LeadUnanswered => "lead_unanswered",
            Kind::EtaMissing => "eta_missing",
            Kind::CloseoutIncomplete => "closeout_incomplete",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [Kind::LeadUnanswered, Kind::EtaMissing, Kind::CloseoutIncomplete].into_iter().find(|k| k.as_str() == s)
    }

    /// The OpenClaw agent that should act on it.
    pub fn agent(self) -> &'static str {
        match self {
            Kind::LeadUnanswered => "intake",
            Kind::EtaMissing => "scheduling",
            Kind::CloseoutIncomplete => "closeout",
        }
    }

    /// The role of the agent it wakes (what a pause of the agents is about).
    pub fn role(self) -> Role {
        match self {
            Kind::LeadUnanswered => Role::IntakeAgent,
            Kind::EtaMissing => Role::SchedulingAgent,
            Kind::CloseoutIncomplete => Role::CloseoutAgent,
        }
    }
}

/// When each kind falls due (from the environment; README).
#[derive(Debug, Clone)]
pub struct FollowupRules {
    pub lead_minutes: i64,
    pub eta_minutes: i64,
    /// Local hour (shop time zone) by which a job should be closed out on its day.
    pub closeout_hour: i8,
}

impl FollowupRules {
    pub fn from_env() -> Result<FollowupRules, crate::settings::SettingsError> {
        let d = FollowupRules::default();
        Ok(FollowupRules {
            lead_minutes: crate::settings::int("RD_FOLLOWUP_LEAD_MINUTES", d.lead_minutes, 1..=10_080)?,
            eta_minutes: crate::settings::int("RD_FOLLOWUP_ETA_MINUTES", d.eta_minutes, 1..=1_440)?,
            closeout_hour: crate::settings::int("RD_FOLLOWUP_CLOSEOUT_HOUR", i64::from(d.closeout_hour), 0..=23)? as i8,
        })
    }
}

impl Default for FollowupRules {
    fn default() -> Self {
        FollowupRules { lead_minutes: 15, eta_minutes: 60, closeout_hour: 18 }
    }
}

/// A claimed timer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Followup {
    pub id: String,
    pub ticket_id: String,
    pub kind: Kind,
    pub due_at_ms: i64,
    pub attempts: i64,
}

/// What to tell OpenClaw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub followup_id: String,
    pub agent: &'static str,
    pub ticket_id: String,
    pub ticket_number: String,
    pub kind: Kind,
    pub message: String,
}

/// One worker pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub planned: u64,
    pub claimed: u64,
    pub fired: u64,
    pub dropped: u64,
    pub retried: u64,
    pub failed: u64,
    /// Due, but their agent is paused: they wait, spending no attempt.
    pub held: u64,
    /// Customer updates delivered, and attempts that failed (retried or given up).
    pub updates_sent: u64,
    pub updates_failed: u64,
}

/// When `kind` is due for `case`, if it applies to the case as it is now.
pub fn due_for(
    kind: Kind,
    case: &Case,
    rules: &FollowupRules,
    tz: &jiff::tz::TimeZone,
    has_outbound: bool,
) -> Option<i64> {
    match kind {
        Kind::LeadUnanswered => (matches!(case.state, CaseState::Lead | CaseState::Intake) && !has_outbound)
            .then(|| case.created_at_ms + rules.lead_minutes * 60_000),
        Kind::EtaMissing => {
            let a = case.appointment.as_ref()?;
            (matches!(case.state, CaseState::Scheduled | CaseState::Dispatched) && case.eta.is_none())
                .then(|| a.start_ms - rules.eta_minutes * 60_000)
        }
        Kind::CloseoutIncomplete => {
            let a = case.appointment.as_ref()?;
            if !matches!(case.state, CaseState::Dispatched | CaseState::Onsite | CaseState::WorkPerformed) {
                return None;
            }
            let day = jiff::Timestamp::from_millisecond(a.start_ms).ok()?.to_zoned(tz.clone()).date();
            let at = day.at(rules.closeout_hour, 0, 0, 0).to_zoned(tz.clone()).ok()?;
            Some(at.timestamp().as_millisecond())
        }
    }
}

fn message(kind: Kind, case: &Case, rules: &FollowupRules) -> String {
    let who = format!("{} ({}, {})", case.number, case.id, case.customer.name);
    match kind {
        Kind::LeadUnanswered => format!(
            "Follow-up: ticket {who} has had no answer for {} minutes. Read it with dispatch_case_summary and reply to the customer.",
            rules.lead_minutes
        ),
        Kind::EtaMissing => format!(
            "Escalation: ticket {who} is booked to start within {} minutes and has no ETA. Ask the technician and set it with dispatch_dispatch_set_eta.",
            rules.eta_minutes
        ),
        Kind::CloseoutIncomplete => format!(
            "Escalation: ticket {who} is still {} at the end of its day. Check with the technician what is missing for closeout.",
            case.state.label()
        ),
    }
}

impl Service {
    /// Writes the timers the open tickets call for (existing ones are left as they are).
    pub async fn plan_followups(&self, rules: &FollowupRules, now: i64) -> Result<u64, ServiceError> {
        let ids = timers::open_tickets(self.db.pool()).await?;
        // Timers already written are known up front, so a pass that adds nothing takes no
        // write transaction (on SQLite it would queue behind the actions of the day).
        let known = timers::known(self.db.pool()).await?;
        let shop = self.shop().await;
        let mut new = vec![];
        for id in ids {
            let mut conn = self.db.pool().acquire().await?;
            let case = crate::case_store::load_case(&mut conn, &id).await?;
            drop(conn);
            let outbound = timers::has_outbound(self.db.pool(), &id).await?;
            for kind in [Kind::LeadUnanswered, Kind::EtaMissing, Kind::CloseoutIncomplete] {
                let Some(due) = due_for(kind, &case, rules, &shop.timezone, outbound) else { continue };
                if !known.contains(&(id.clone(), kind.as_str().to_string(), due)) {
                    new.push((id.clone(), kind, due));
                }
            }
        }
        if new.is_empty() {
            return Ok(0);
        }
        let mut planned = 0;
        let mut tx = self.db.begin_write().await?;
        for (id, kind, due) in new {
            planned += u64::from(timers::plan(&mut tx, &id, kind.as_str(), due, now).await?);
        }
        tx.commit().await?;
        Ok(planned)
    }

    /// Takes up to a batch of due timers (or ones whose claim ran out) for `worker`.
    pub async fn claim_followups(&self, worker: &str, now: i64) -> Result<Vec<Followup>, ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let rows = timers::claim(&mut tx, self.db.backend(), worker, now, now + LEASE_MS, BATCH).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(Followup {
                    kind: Kind::parse(&r.kind)
                        .ok_or_else(|| ServiceError::Internal(format!("unknown follow-up kind {}", r.kind)))?,
                    id: r.id,
                    ticket_id: r.ticket_id,
                    due_at_ms: r.due_at_ms,
                    attempts: r.attempts,
                })
            })
            .collect()
    }

    /// What to tell OpenClaw about a claimed timer, or None when the case moved on and the
    /// timer no longer applies (it is then dropped).
    pub async fn followup_notice(&self, f: &Followup, rules: &FollowupRules) -> Result<Option<Notice>, ServiceError> {
        let mut conn = self.db.pool().acquire().await?;
        let case = crate::case_store::load_case(&mut conn, &f.ticket_id).await?;
        drop(conn);
        let outbound = timers::has_outbound(self.db.pool(), &f.ticket_id).await?;
        if due_for(f.kind, &case, rules, &self.shop().await.timezone, outbound) != Some(f.due_at_ms) {
            timers::drop_claimed(self.db.pool(), &f.id).await?;
            return Ok(None);
        }
        Ok(Some(Notice {
            followup_id: f.id.clone(),
            agent: f.kind.agent(),
            ticket_id: case.id.clone(),
            ticket_number: case.number.clone(),
            kind: f.kind,
            message: message(f.kind, &case, rules),
        }))
    }

    /// Records the firing: only the claim holder's mark counts, and the audit event commits
    /// with it. False when the claim was lost (another worker fired it).
    pub async fn followup_fired(&self, worker: &str, f: &Followup, notified: bool) -> Result<bool, ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let now = crate::ids::now_ms();
        if !timers::mark_fired(&mut tx, &f.id, worker, now).await? {
            return Ok(false);
        }
        let detail = serde_json::json!({
            "followup_id": f.id, "kind": f.kind, "due_at_ms": f.due_at_ms, "agent": f.kind.agent(), "notified": notified,
        });
        audit::append_as(&mut tx, &worker_who(worker), NewEvent::ticket_note(&f.ticket_id, "followup.fired", detail))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The timer's agent is paused: it waits (no attempt spent) and is looked at again after
    /// [`HOLD_MS`]; false when the claim was lost.
    pub async fn followup_held(&self, worker: &str, f: &Followup, now: i64) -> Result<bool, ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let held = timers::hold(&mut tx, &f.id, worker, now + HOLD_MS).await?;
        tx.commit().await?;
        Ok(held)
    }

    /// A notification failed: try again later, or give up after [`MAX_ATTEMPTS`] (audited).
    pub async fn followup_failed(
        &self,
        worker: &str,
        f: &Followup,
        error: &str,
        now: i64,
    ) -> Result<bool, ServiceError> {
        let attempts = f.attempts + 1;
        let mut tx = self.db.begin_write().await?;
        if attempts >= MAX_ATTEMPTS {
            if timers::mark_failed(&mut tx, &f.id, worker, attempts, error).await? {
                let detail =
                    serde_json::json!({"followup_id": f.id, "kind": f.kind, "attempts": attempts, "error": error});
                audit::append_as(
                    &mut tx,
                    &worker_who(worker),
                    NewEvent::ticket_note(&f.ticket_id, "followup.failed", detail),
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(false);
        }
        // 30 s, 1 min, 2 min, 4 min between attempts.
        let next = now + 30_000 * (1 << (attempts - 1).min(6));
        timers::retry_later(&mut tx, &f.id, worker, attempts, error, next).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn worker_who(worker: &str) -> Who<'_> {
    Who {
        kind: ActorKind::System.as_str(),
        id: worker,
        role: Role::Admin.as_str(),
        channel: "internal",
        correlation_id: None,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closeout_deadline_is_the_local_hour_of_the_appointment_day() {
        let tz = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        let rules = FollowupRules::default();
        // 2026-11-24 15:00 UTC = 09:00 in Chicago; 18:00 there is 2026-11-25 00:00 UTC.
        let start = jiff::Timestamp::from_second(1_795_532_400).expect("ts").as_millisecond();
        let mut case: Case = serde_json::from_value(serde_json::json!({
            "id": "tkt_1", "number": "RD-000001", "state": "onsite", "priority": "standard",
            "customer": {"id": "cus_1", "name": "A", "phones": [], "emails": []},
            "appointment": {"id": "apt_1", "start_ms": start, "end_ms": start + 7_200_000},
            "checklist": [], "notes": [], "attachments": [], "labor": [], "parts": [],
            "message_count": 0, "version": 1, "created_at_ms": 0, "updated_at_ms": 0
        }))
        .expect("case");
        let due = due_for(Kind::CloseoutIncomplete, &case, &rules, &tz, false).expect("due");
        assert_eq!(due, jiff::Timestamp::from_second(1_795_564_800).expect("ts").as_millisecond());
        assert_eq!(due_for(Kind::LeadUnanswered, &case, &rules, &tz, false), None, "not a lead");
        case.state = CaseState::Dispatched;
        assert_eq!(due_for(Kind::EtaMissing, &case, &rules, &tz, false), Some(start - 3_600_000));
        case.state = CaseState::Intake;
        assert_eq!(due_for(Kind::LeadUnanswered, &case, &rules, &tz, false), Some(15 * 60_000));
        assert_eq!(due_for(Kind::LeadUnanswered, &case, &rules, &tz, true), None, "answered");
    }
}
