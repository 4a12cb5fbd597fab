//! The office's approval queue: agent calls held for a person, and the shop's rules.

use super::*;
pub use domain::approval::{Approval, GatePolicy, QueuedApproval};

#[server(endpoint = "approval_queue")]
pub async fn approval_queue() -> Result<Vec<QueuedApproval>, ServerFnError> {
    ssr::service()?.approvals(&ssr::context(Action::ApprovalsRead)?).await.map_err(ssr::error)
}

/// Approves (the call runs once, as the agent asked) or rejects (a reason is required).
#[server(endpoint = "decide_approval")]
pub async fn decide_approval(
    approval_id: String,
    decision: String,
    note: String,
) -> Result<FormOutcome<Approval>, ServerFnError> {
    ssr::allow(Action::ApprovalsRead)?;
    let input = domain::approval::ApprovalDecision { approval_id, note: Some(note) };
    let action = match decision.as_str() {
        "approve" => domain::ActionInput::ApprovalApprove(input),
        "reject" => domain::ActionInput::ApprovalReject(input),
        _ => return Ok(FormOutcome::Invalid { message: "Choose approve or reject.".into(), fields: vec![] }),
    };
    #[derive(serde::Deserialize)]
    struct Answer {
        approval: Approval,
    }
    ssr::outcome(ssr::run::<Answer>(action).await?.map(|a| a.approval))
}

#[server(endpoint = "approval_rules")]
pub async fn approval_rules() -> Result<GatePolicy, ServerFnError> {
    ssr::service()?.approval_rules(&ssr::context(Action::ApprovalsRead)?).await.map_err(ssr::error)
}

/// The admin's rules form: checkboxes and amounts as typed (dollars, minutes; blank: none).
#[server(endpoint = "set_approval_rules")]
pub async fn set_approval_rules(
    #[server(default)] cancel: Option<String>,
    #[server(default)] flagged_tickets: Option<String>,
    invoice_above: String,
    reschedule_within_minutes: String,
) -> Result<FormOutcome<GatePolicy>, ServerFnError> {
    ssr::allow(Action::ApprovalsRead)?;
    let mut fields = vec![];
    let invoice_above_cents = match invoice_above.trim() {
        "" => None,
        raw => match domain::money::Money::parse("invoice_above", raw) {
            Ok(m) => Some(m.cents()),
            Err(e) => {
                fields.push(e);
                None
            }
        },
    };
    let reschedule_within_minutes = match reschedule_within_minutes.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                fields.push(FieldError::new("reschedule_within_minutes", "invalid", "a whole number of minutes"));
                None
            }
        },
    };
    if !fields.is_empty() {
        return Ok(FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields });
    }
    let policy = GatePolicy {
        cancel: cancel.is_some(),
        invoice_above_cents,
        reschedule_within_minutes,
        flagged_tickets: flagged_tickets.is_some(),
    };
    #[derive(serde::Deserialize)]
    struct Answer {
        rules: GatePolicy,
    }
    ssr::outcome(ssr::run::<Answer>(domain::ActionInput::ApprovalGateSet(policy)).await?.map(|a| a.rules))
}

/// Marks the ticket VIP or complaint, or clears the mark (`ticket.set_flag`).
#[server(endpoint = "console_set_flag")]
pub async fn console_set_flag(ticket_id: String, flag: String, version: String) -> ActionResult {
    ssr::allow(Action::ApprovalsRead)?;
    let flag = match flag.as_str() {
        "" | "none" => None,
        f => match f.parse() {
            Ok(f) => Some(f),
            Err(()) => {
                return Ok(FormOutcome::Invalid { message: "Choose VIP, complaint or none.".into(), fields: vec![] })
            }
        },
    };
    let input = domain::approval::SetFlag { ticket_id, flag, expected_version: super::version(&version) };
    super::case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::ApprovalsRead)?, domain::ActionInput::TicketSetFlag(input))
            .await,
    )
}
