//! The console's actions on one ticket: each one row of the action table, run by `Service::execute`.

use super::*;

#[server(endpoint = "console_set_priority")]
pub async fn console_set_priority(ticket_id: String, priority: String, version: String) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    let Ok(priority) = priority.parse() else {
        return Ok(FormOutcome::Invalid { message: "Choose standard, urgent or emergency.".into(), fields: vec![] });
    };
    let input =
        domain::commands::SetPriority { ticket_id, priority, reason: None, expected_version: self::version(&version) };
    case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::TicketSetPriority(input))
            .await,
    )
}

/// Real candidate slots for the ticket (`schedule.propose_slots`), recorded as proposed.
#[server(endpoint = "console_propose")]
pub async fn console_propose(
    ticket_id: String,
    duration_minutes: String,
    days: String,
) -> Result<FormOutcome<Vec<domain::slots::Slot>>, ServerFnError> {
    let now = dispatch::ids::now_ms();
    let days: i64 = days.trim().parse().unwrap_or(7).clamp(1, 31);
    let input = domain::commands::ProposeSlots {
        ticket_id,
        from_ms: Some(now),
        to_ms: Some(now + days * 86_400_000),
        duration_minutes: duration_minutes.trim().parse().ok(),
        max_slots: Some(8),
    };
    let r = ssr::service()?
        .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::ScheduleProposeSlots(input))
        .await;
    ssr::outcome(r.map(|o| serde_json::from_value(o.data["slots"].clone()).unwrap_or_default()))
}

/// A customer's link to their ticket page, as the console shows it once to copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerLink {
    /// `/portal/link/…`: the page puts its own address in front.
    pub path: String,
    pub expires_at_ms: i64,
}

/// A new customer link to the ticket's portal page (`portal.create_link`, audited).
#[server(endpoint = "console_customer_link")]
pub async fn console_customer_link(ticket_id: String) -> Result<FormOutcome<CustomerLink>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    let input = domain::commands::CreateLink { ticket_id, ttl_hours: None };
    let made = ssr::run::<serde_json::Value>(domain::ActionInput::PortalCreateLink(input)).await?;
    ssr::outcome(made.and_then(|v| {
        serde_json::from_value::<CustomerLink>(v["link"].clone())
            .map_err(|e| dispatch::ServiceError::Internal(e.to_string()))
    }))
}

/// Sends the customer a link to the ticket's page through their channel (`portal.send_link`):
/// answers with who it goes to.
#[server(endpoint = "console_send_link")]
pub async fn console_send_link(ticket_id: String) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: None };
    let queued = ssr::run::<serde_json::Value>(domain::ActionInput::PortalSendLink(input)).await?;
    ssr::outcome(queued.map(|v| {
        let to = v["update"]["to"].as_str().unwrap_or_default();
        let to = domain::validate::Phone::parse("to", to)
            .map(|p| domain::validate::phone_for_people(p.as_str()))
            .unwrap_or_else(|_| to.to_string());
        format!("The link goes to {to}; it shows under Customer updates once sent.")
    }))
}

/// Books a slot and assigns its technician in one step (`ticket.book`).
#[server(endpoint = "console_book")]
pub async fn console_book(
    ticket_id: String,
    start_ms: i64,
    end_ms: i64,
    technician_id: String,
    reschedule: bool,
) -> ActionResult {
    let input =
        domain::commands::BookSlot { ticket_id, start_ms, end_ms, technician_id, reschedule, expected_version: None };
    case_of(
        ssr::service()?.execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::TicketBook(input)).await,
    )
}

/// `dispatch.set_eta` from the console: a time of day in the shop's zone (`time`, "14:30", on
/// the booked day), or a shortcut of `minutes` from now (the "now + 15 min" buttons, which
/// win when both come). The time zone is the server's business, not the browser's.
#[server(endpoint = "console_set_eta")]
pub async fn console_set_eta(
    ticket_id: String,
    #[server(default)] time: Option<String>,
    #[server(default)] minutes: Option<String>,
    #[server(default)] late_reason: Option<String>,
    #[server(default)] note: Option<String>,
) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    let service = ssr::service()?;
    service.shop().await;
    let ctx = ssr::context(Action::BoardRead)?;
    let now = dispatch::ids::now_ms();
    let minutes = minutes.as_deref().map(str::trim).filter(|m| !m.is_empty());
    let time = time.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let eta_ms = match (minutes, time) {
        (Some(m), _) => m.parse::<i64>().ok().filter(|m| (0..=7 * 24 * 60).contains(m)).map(|m| now + m * 60_000),
        (None, Some(t)) => match domain::eta::parse_time_of_day(t) {
            Some(minute) => {
                let booked = service.case(&ctx, &ticket_id).await.map_err(ssr::error)?.appointment.map(|a| a.start_ms);
                Some(service.eta_at_time_of_day(now, minute, booked))
            }
            None => None,
        },
        (None, None) => None,
    };
    let Some(eta_ms) = eta_ms else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("eta_ms", "invalid", "an arrival time like 14:30")],
        });
    };
    let text = |s: Option<String>| s.filter(|n| !n.trim().is_empty());
    let input = domain::commands::SetEta { ticket_id, eta_ms, note: text(note), late_reason: text(late_reason) };
    case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::DispatchSetEta(input))
            .await,
    )
}

#[server(endpoint = "console_message")]
pub async fn console_message(ticket_id: String, direction: String, text: String) -> ActionResult {
    use domain::commands::Direction;
    let direction = match direction.as_str() {
        "outbound" => Direction::Outbound,
        "inbound" => Direction::Inbound,
        _ => Direction::Internal,
    };
    let input = domain::commands::AddMessage { ticket_id, direction, channel: None, sender: None, text };
    case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::TicketAddMessage(input))
            .await,
    )
}

#[server(endpoint = "console_cancel")]
pub async fn console_cancel(ticket_id: String, reason: String, version: String) -> ActionResult {
    let input = domain::commands::CancelTicket { ticket_id, reason, expected_version: self::version(&version) };
    case_of(
        ssr::service()?.execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::TicketCancel(input)).await,
    )
}

/// Pauses or resumes the agents on one ticket (`autonomy.pause`, `autonomy.resume`): one click
/// on the ticket page, so a person can take over a conversation at once.
#[server(endpoint = "console_agents")]
pub async fn console_agents(
    ticket_id: String,
    switch: String,
    reason: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    use domain::autonomy::{AutonomyChange, PauseScope};
    let scope = PauseScope::Ticket { ticket_id };
    let reason = Some(reason.trim()).filter(|r| !r.is_empty());
    let input = AutonomyChange::new(&scope, reason);
    let action = match switch.as_str() {
        "pause" => domain::ActionInput::AutonomyPause(input),
        "resume" => domain::ActionInput::AutonomyResume(input),
        _ => return Ok(FormOutcome::Invalid { message: "Choose pause or resume.".into(), fields: vec![] }),
    };
    ssr::outcome(ssr::service()?.execute(&ssr::context(Action::BoardRead)?, action).await.map(|_| switch))
}

/// Pauses or resumes every agent from the board (`autonomy.pause` / `autonomy.resume`, scope all).
#[server(endpoint = "console_agents_all")]
pub async fn console_agents_all(switch: String, reason: String) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    use domain::autonomy::{AutonomyChange, PauseScope};
    let reason = Some(reason.trim()).filter(|r| !r.is_empty());
    let input = AutonomyChange::new(&PauseScope::All, reason);
    let action = match switch.as_str() {
        "pause" => domain::ActionInput::AutonomyPause(input),
        "resume" => domain::ActionInput::AutonomyResume(input),
        _ => return Ok(FormOutcome::Invalid { message: "Choose pause or resume.".into(), fields: vec![] }),
    };
    ssr::outcome(ssr::service()?.execute(&ssr::context(Action::BoardRead)?, action).await.map(|_| switch))
}

/// Check-in or work completion on the technician's behalf (`job.check_in`, `job.complete_work`).
#[server(endpoint = "console_job_step")]
pub async fn console_job_step(ticket_id: String, step: String, version: String) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::BoardRead)?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: self::version(&version) };
    match step.as_str() {
        "check_in" => case_of(service.execute_case(&ctx, domain::ActionInput::JobCheckIn(input.clone())).await),
        "complete_work" => {
            case_of(service.execute_case(&ctx, domain::ActionInput::JobCompleteWork(input.clone())).await)
        }
        _ => Ok(FormOutcome::Invalid { message: "unknown step".into(), fields: vec![] }),
    }
}

/// Billing steps from the console: the invoice draft (`billing.generate_invoice_draft`) and
/// the closeout packet (`billing.compile_closeout_packet`).
#[server(endpoint = "console_billing_step")]
pub async fn console_billing_step(ticket_id: String, step: String, version: String) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::BoardRead)?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: self::version(&version) };
    match step.as_str() {
        "invoice" => {
            case_of(service.execute_case(&ctx, domain::ActionInput::BillingGenerateInvoiceDraft(input.clone())).await)
        }
        "packet" => {
            case_of(service.execute_case(&ctx, domain::ActionInput::BillingCompileCloseoutPacket(input.clone())).await)
        }
        _ => Ok(FormOutcome::Invalid { message: "unknown step".into(), fields: vec![] }),
    }
}

/// Reads one edited invoice row, `description | quantity | amount` (quantity optional).
pub fn invoice_row(i: usize, row: &str) -> Result<domain::commands::InvoiceLineInput, FieldError> {
    let parts: Vec<&str> = row.split('|').map(str::trim).collect();
    let (description, quantity, amount) = match parts.as_slice() {
        [d, a] => (*d, None, *a),
        [d, q, a] => (*d, Some(q.to_string()).filter(|q| !q.is_empty()), *a),
        _ => {
            return Err(FieldError::new(
                &format!("lines[{i}]"),
                "invalid_line",
                format!("line {}: write description | quantity | amount", i + 1),
            ))
        }
    };
    let (negative, digits) = match amount.strip_prefix('-') {
        Some(rest) => (true, rest.trim()),
        None => (false, amount),
    };
    let cents = domain::money::Money::parse(&format!("lines[{i}].amount_cents"), digits)
        .map_err(|e| FieldError::new(&e.field, &e.code, format!("line {}: an amount like 125.50 or -10.00", i + 1)))?
        .cents();
    Ok(domain::commands::InvoiceLineInput {
        description: description.to_string(),
        quantity,
        amount_cents: if negative { -cents } else { cents },
    })
}

/// `billing.edit_invoice_draft` from the console: one line per row, and the tax rate in percent.
#[server(endpoint = "console_edit_invoice")]
pub async fn console_edit_invoice(
    ticket_id: String,
    lines: String,
    tax_percent: String,
    version: String,
) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    let mut fields = vec![];
    let mut rows = vec![];
    for (i, row) in lines.lines().filter(|r| !r.trim().is_empty()).enumerate() {
        match invoice_row(i, row) {
            Ok(l) => rows.push(l),
            Err(e) => fields.push(e),
        }
    }
    let tax_rate_bp = match tax_percent.trim() {
        "" => None,
        t => match domain::money::Money::parse("tax_rate_bp", t.trim_end_matches('%').trim()) {
            // "8.25" parses as 825 hundredths: exactly the basis points.
            Ok(bp) => Some(bp.cents()),
            Err(_) => {
                fields.push(FieldError::new("tax_rate_bp", "invalid", "a percentage like 8.25"));
                None
            }
        },
    };
    if !fields.is_empty() {
        return Ok(FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields });
    }
    let input = domain::commands::EditInvoiceDraft {
        ticket_id,
        lines: rows,
        tax_rate_bp,
        expected_version: self::version(&version),
    };
    case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::BillingEditInvoiceDraft(input))
            .await,
    )
}

/// `billing.record_payment`: paid (amount defaults to the total) or on account with a due date.
#[server(endpoint = "console_record_payment")]
pub async fn console_record_payment(
    ticket_id: String,
    kind: String,
    amount: String,
    due: String,
    version: String,
) -> ActionResult {
    ssr::allow(Action::BoardRead)?;
    use domain::case::PaymentKind;
    let mut fields = vec![];
    let kind = match kind.as_str() {
        "ar" => PaymentKind::Ar,
        _ => PaymentKind::Paid,
    };
    let amount_cents = match amount.trim() {
        "" => None,
        a => match domain::money::Money::parse("amount_cents", a) {
            Ok(m) => Some(m.cents()),
            Err(e) => {
                fields.push(e);
                None
            }
        },
    };
    let due_ms = match due.trim() {
        "" => None,
        d => match crate::pages::date_ms(d) {
            // Due at the end of that day.
            Some(ms) => Some(ms + 86_400_000 - 1),
            None => {
                fields.push(FieldError::new("due_ms", "invalid", "a date like 2026-12-31"));
                None
            }
        },
    };
    if !fields.is_empty() {
        return Ok(FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields });
    }
    let input = domain::commands::RecordPayment {
        ticket_id,
        kind,
        amount_cents,
        due_ms,
        expected_version: self::version(&version),
    };
    case_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::BillingRecordPayment(input))
            .await,
    )
}
