//! Case summaries sized for a language model's context: facts from committed data only,
//! what happens next, what is still open, and the tools that are legal now.

use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use crate::store::messages;
use domain::case::closeout_missing;
use domain::{Action, Case, CaseState};

/// Hard bound of the serialised summary, whatever the case's history.
pub const MAX_SUMMARY_CHARS: usize = 6_000;
const MAX_MESSAGES: i64 = 5;
const MAX_MESSAGE_CHARS: usize = 280;

pub use crate::store::messages::MessageView;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

impl Service {
    /// The most recent messages of a case, newest last.
    pub(crate) async fn recent_messages(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
        limit: i64,
    ) -> Result<Vec<MessageView>, ServiceError> {
        self.visible_case(ctx, ticket_id).await?;
        self.thread(ticket_id.trim(), limit).await
    }

    /// The most recent messages of a ticket, newest last, for a caller already checked.
    pub(crate) async fn thread(&self, ticket_id: &str, limit: i64) -> Result<Vec<MessageView>, ServiceError> {
        let mut out = messages::newest(self.db.pool(), ticket_id, limit).await?;
        out.reverse();
        Ok(out)
    }

    fn local_time(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(self.shop_now().timezone.clone()).strftime("%a %Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|_| ms.to_string())
    }

    /// `GET /tools/v1/cases/{id}/summary`.
    pub async fn case_summary(&self, ctx: &CallContext, ticket_id: &str) -> Result<serde_json::Value, ServiceError> {
        self.shop().await;
        let case = self.case(ctx, ticket_id).await?;
        let mut messages = self.recent_messages(ctx, ticket_id, MAX_MESSAGES).await?;
        for m in &mut messages {
            m.text = clip(&m.text, MAX_MESSAGE_CHARS);
        }
        let legal: Vec<&str> = Action::agent_tools()
            .filter(|a| a.allowed_for(ctx.actor.role) && a.legal_in(case.state))
            .map(Action::name)
            .collect();
        let missing_closeout = if matches!(case.state, CaseState::Onsite | CaseState::WorkPerformed) {
            closeout_missing(&case)
        } else {
            vec![]
        };
        let questions = open_questions(&case, &messages);
        let pause = self.pause_over(ctx.actor.role, Some(&case.id)).await?;
        let (next, legal) = match &pause {
            // A paused agent is told so, and offered no tool: its calls would change nothing.
            Some(p) => (
                format!(
                    "Paused by the office ({}){}. Do not act or promise anything; a person is handling this ticket.",
                    p.scope,
                    p.reason.as_deref().map(|r| format!(" ({})", clip(r, 200))).unwrap_or_default()
                ),
                if ctx.actor.role.is_agent() { vec![] } else { legal },
            ),
            None => (self.next_step(&case, &missing_closeout), legal),
        };
        let approvals = self.ticket_approvals(&case.id).await?;
        let mut office = vec![];
        if let Some(flag) = case.flag {
            office.push(format!("Marked {} by the office: every step you take waits for a person.", flag.label()));
        }
        office.extend(approvals.iter().take(MAX_APPROVALS).map(approval_line));
        loop {
            let parts = Parts {
                messages: &messages,
                legal: &legal,
                missing_closeout: &missing_closeout,
                questions: &questions,
                next: &next,
                office: &office,
            };
            let mut doc = self.summary_doc(&case, &parts);
            doc["approvals"] =
                serde_json::to_value(approvals.iter().take(MAX_APPROVALS).collect::<Vec<_>>()).unwrap_or_default();
            doc["paused"] = serde_json::to_value(&pause).unwrap_or_default();
            let len = doc.to_string().chars().count();
            if len <= MAX_SUMMARY_CHARS || messages.is_empty() {
                return Ok(doc);
            }
            // Oldest context goes first when the bound is reached.
            messages.remove(0);
        }
    }

    fn next_step(&self, case: &Case, missing_closeout: &[String]) -> String {
        match case.state {
            CaseState::Lead => format!(
                "Complete intake: collect {} (ticket.create with lead_ticket_id).",
                missing_intake(case).join(", ")
            ),
            CaseState::Intake => {
                "Offer slots (schedule.propose_slots) and confirm one with the customer (schedule.confirm).".into()
            }
            CaseState::Scheduled => "Assign a qualified technician (dispatch.assign_tech).".into(),
            CaseState::Dispatched if case.eta.is_none() => {
                "Set an ETA (dispatch.set_eta) and tell the customer.".into()
            }
            CaseState::Dispatched => "The technician is on the way; they check in on arrival.".into(),
            CaseState::Onsite => "Work in progress: collect photos, notes and checklist items.".into(),
            CaseState::WorkPerformed if !missing_closeout.is_empty() => {
                format!("Collect closeout evidence: {}.", missing_closeout.join(", "))
            }
            CaseState::WorkPerformed => "Submit the closeout (closeout.checklist_complete with finalize: true).".into(),
            CaseState::CloseoutReady => "Generate the invoice draft (billing.generate_invoice_draft).".into(),
            CaseState::InvoiceReady => {
                "Compile the closeout packet (billing.compile_closeout_packet); the office records payment.".into()
            }
            CaseState::PaidOrAr => match &case.payment {
                Some(p) if p.due_ms.is_some() => {
                    format!("Closed; payment due {}.", self.local_time(p.due_ms.unwrap_or_default()))
                }
                _ => "Closed and paid.".into(),
            },
            CaseState::Canceled => format!("Canceled: {}.", case.cancel_reason.as_deref().unwrap_or("no reason given")),
        }
    }

    fn summary_doc(&self, case: &Case, parts: &Parts<'_>) -> serde_json::Value {
        let Parts { messages, legal, missing_closeout, questions, next, office } = *parts;
        let mut text = format!(
            "{} — {} ({}), priority {}.\nCustomer: {}{}.\n",
            case.number,
            case.state.label(),
            case.state,
            case.priority,
            clip(&case.customer.name, 100),
            case.customer.phone().or(case.customer.email()).map(|c| format!(", {c}")).unwrap_or_default()
        );
        if let Some(site) = &case.site {
            text.push_str(&format!("Site: {}", clip(&site.address, 200)));
            if let Some(n) = &site.access_notes {
                text.push_str(&format!(" (access: {})", clip(n, 200)));
            }
            text.push_str(".\n");
        }
        if let Some(p) = &case.problem_summary {
            text.push_str(&format!(
                "Problem{}: {}\n",
                case.trade.as_ref().map(|t| format!(" [{t}]")).unwrap_or_default(),
                clip(p, 500)
            ));
        }
        if let Some(a) = &case.appointment {
            text.push_str(&format!("Appointment: {} to {}.\n", self.local_time(a.start_ms), self.local_time(a.end_ms)));
        }
        if let Some(t) = &case.assignment {
            text.push_str(&format!("Technician: {}.\n", clip(&t.technician_name, 100)));
        }
        if let Some(e) = &case.eta {
            text.push_str(&format!("ETA: {}.\n", self.local_time(e.eta_ms)));
        }
        text.push_str(&format!("Next: {next}\n"));
        for o in office {
            text.push_str(&format!("Office: {o}\n"));
        }
        for q in questions {
            text.push_str(&format!("Open: {q}\n"));
        }
        for m in messages {
            text.push_str(&format!("[{} {} {}] {}\n", self.local_time(m.at_ms), m.direction, m.channel, m.text));
        }
        text.push_str(&format!("Tools now: {}.", legal.join(", ")));
        serde_json::json!({
            "ticket_id": case.id,
            "number": case.number,
            "state": case.state,
            "priority": case.priority,
            "version": case.version,
            "next_step": next,
            "open_questions": questions,
            "appointment": case.appointment.as_ref().map(|a| serde_json::json!({"start_ms": a.start_ms, "end_ms": a.end_ms})),
            "technician": case.assignment.as_ref().map(|a| serde_json::json!({"id": a.technician_id, "name": clip(&a.technician_name, 100)})),
            "eta_ms": case.eta.as_ref().map(|e| e.eta_ms),
            "last_messages": messages,
            "missing_closeout": missing_closeout,
            "legal_tools": legal,
            "text": text,
        })
    }
}

fn missing_intake(case: &Case) -> Vec<&'static str> {
    let mut m = vec![];
    if case.site.is_none() {
        m.push("site.address");
    }
    if case.problem_summary.is_none() {
        m.push("problem_summary");
    }
    m
}

fn open_questions(case: &Case, messages: &[MessageView]) -> Vec<String> {
    let mut q = vec![];
    if case.state == CaseState::Lead {
        q.extend(missing_intake(case).into_iter().map(|f| format!("{f} is unknown")));
    }
    if case.customer.phones.is_empty() && case.customer.emails.is_empty() {
        q.push("no way to reach the customer".into());
    }
    if case.state == CaseState::Dispatched && case.eta.is_none() {
        q.push("no ETA has been given to the customer".into());
    }
    if case.state.is_open() && messages.last().is_some_and(|m| m.direction == "inbound") {
        q.push("the customer's last message has not been answered".into());
    }
    q
}

/// What a summary says beyond the case itself.
#[derive(Clone, Copy)]
struct Parts<'a> {
    messages: &'a [MessageView],
    legal: &'a [&'a str],
    missing_closeout: &'a [String],
    questions: &'a [String],
    next: &'a str,
    /// What the office decided or marked that the agent must know.
    office: &'a [String],
}

/// How many of a ticket's held calls its summary shows (newest first).
const MAX_APPROVALS: usize = 5;

/// A held call as the agent is told of it.
fn approval_line(a: &domain::approval::Approval) -> String {
    use domain::approval::ApprovalStatus as S;
    let note = a.decision_note.as_deref().map(|n| clip(n, 300)).unwrap_or_else(|| "no reason given".into());
    match a.status {
        S::Pending => format!(
            "your {} waits for a person's approval ({}, {}); do not tell the customer it is done.",
            a.action, a.id, a.reason
        ),
        S::Approved => format!("a person approved your {} ({}); it is done.", a.action, a.id),
        S::Rejected => format!("a person rejected your {} ({}): {note}. Do not try it again.", a.action, a.id),
        S::Failed => format!("your {} was approved ({}) but could not run: {note}.", a.action, a.id),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clipping_respects_characters() {
        assert_eq!(super::clip("héllo", 10), "héllo");
        assert_eq!(super::clip("héllo wörld", 6), "héllo…");
    }
}
