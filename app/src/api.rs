//! Server functions: typed calls from the browser, each one line into the service.

use domain::{Case, CaseState, CaseSummary, FieldError, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The result of a form submission: the new state, or what to fix, field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormOutcome<T> {
    Done(T),
    Invalid { message: String, fields: Vec<FieldError> },
}

/// Who is signed in, as the page header shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub role: Role,
    /// True for a visitor who came by a portal link (no account, no password).
    pub by_link: bool,
}

/// An account row for the admin page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
}

/// What a customer sees of their ticket: no internal notes, no storage keys, no originals.
/// Times are written by the server in the shop's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalTicket {
    pub id: String,
    pub number: String,
    pub state: CaseState,
    pub version: i64,
    pub problem_summary: Option<String>,
    pub address: Option<String>,
    pub appointment: Option<String>,
    pub technician_first_name: Option<String>,
    pub eta: Option<String>,
    pub messages: Vec<PortalMessage>,
    /// From the end of the work on.
    pub closeout: Option<PortalCloseout>,
    /// "Paid on …" or "Due …", once recorded.
    pub payment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalMessage {
    pub at: String,
    pub from_office: bool,
    pub sender: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalCloseout {
    pub summary: Vec<String>,
    pub checklist: Vec<(String, bool)>,
    /// Attachment ids and what they show (served as the shared copy).
    pub photos: Vec<(String, String)>,
    /// Shown once it went out with the closeout packet (before that it may still change).
    pub invoice: Option<PortalInvoice>,
    pub packet_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalInvoice {
    pub number: String,
    /// Description, quantity, amount.
    pub lines: Vec<(String, String, String)>,
    pub subtotal: String,
    pub tax_label: String,
    pub tax: String,
    pub total: String,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use dispatch::users::{ClientAddr, CurrentActor};
    use dispatch::{CallContext, Service, ServiceError};
    use domain::{Actor, Role, SourceChannel};
    use leptos::prelude::*;

    pub fn service() -> Result<Service, ServerFnError> {
        use_context::<Service>().ok_or_else(|| ServerFnError::new("service unavailable"))
    }

    fn parts() -> Option<http::request::Parts> {
        use_context::<http::request::Parts>()
    }

    /// The signed-in actor of this request, resolved from the session by the server (never
    /// from anything the browser sends).
    pub fn current_actor() -> Option<Actor> {
        parts().and_then(|p| p.extensions.get::<CurrentActor>().cloned()).and_then(|a| a.0)
    }

    pub fn client_addr() -> String {
        parts().and_then(|p| p.extensions.get::<ClientAddr>().cloned()).map(|c| c.0).unwrap_or_else(|| "unknown".into())
    }

    pub fn request_id() -> Option<String> {
        parts().and_then(|p| p.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string))
    }

    /// The call context of the signed-in actor, or an error asking to sign in.
    pub fn context() -> Result<CallContext, ServerFnError> {
        let actor = current_actor().ok_or_else(|| ServerFnError::new("please sign in again"))?;
        let channel = if actor.role == Role::Customer { SourceChannel::Webchat } else { SourceChannel::Internal };
        Ok(CallContext { channel, request_id: request_id(), ..CallContext::new(actor) })
    }

    pub async fn session() -> Result<tower_sessions::Session, ServerFnError> {
        leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| ServerFnError::new("sessions unavailable"))
    }

    /// A refusal as a server-function error, answered with the code's own HTTP status
    /// (400, 403, 404, 409, ...): only an internal error is a 500.
    pub fn error(e: ServiceError) -> ServerFnError {
        set_status(e.code().http_status());
        ServerFnError::new(e.public_message())
    }

    fn set_status(status: u16) {
        if let (Some(options), Ok(status)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(status))
        {
            options.set_status(status);
        }
    }

    /// Service errors that the user can act on become form outcomes; the rest become
    /// server-function errors with the public message only.
    pub fn outcome<T>(r: Result<T, ServiceError>) -> Result<super::FormOutcome<T>, ServerFnError> {
        match r {
            Ok(v) => Ok(super::FormOutcome::Done(v)),
            Err(ServiceError::Domain(domain::DomainError::Invalid(fields))) => {
                Ok(super::FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields })
            }
            Err(e @ (ServiceError::Internal(_) | ServiceError::Forbidden(_) | ServiceError::NotAllowed { .. })) => {
                Err(error(e))
            }
            Err(e) => Ok(super::FormOutcome::Invalid { message: e.public_message(), fields: vec![] }),
        }
    }

    /// Where a role starts.
    pub fn home_of(role: Role) -> &'static str {
        match role {
            Role::Technician => "/tech",
            Role::Customer => "/portal",
            _ => "/console",
        }
    }
}

/// Signs in. On success the browser is sent on (to `next` when it is a page of this site,
/// else to the role's start page); otherwise the answer is one message for every failure.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: String) -> Result<String, ServerFnError> {
    use dispatch::users::{LoginFrom, SessionAuth};
    let service = ssr::service()?;
    let from = LoginFrom { client: ssr::client_addr(), request_id: ssr::request_id() };
    let (user, auth) = match service.login(&email, &password, &from).await {
        Ok(ok) => ok,
        Err(e @ (dispatch::ServiceError::LoginFailed | dispatch::ServiceError::RateLimited { .. })) => {
            return Ok(e.public_message())
        }
        Err(e) => return Err(ssr::error(e)),
    };
    let session = ssr::session().await?;
    // A new session id at sign-in: an id planted before login is worth nothing after it.
    session.cycle_id().await.map_err(|_| ServerFnError::new("could not start the session"))?;
    session.insert(SessionAuth::KEY, auth).await.map_err(|_| ServerFnError::new("could not start the session"))?;
    let home = ssr::home_of(user.role);
    let safe_next = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    let target = if safe_next && next.starts_with(home) { next.as_str() } else { home };
    leptos_axum::redirect(target);
    Ok(String::new())
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let session = ssr::session().await?;
    if let Ok(ctx) = ssr::context() {
        ssr::service()?.logout(&ctx).await.map_err(ssr::error)?;
    }
    session.flush().await.map_err(|_| ServerFnError::new("could not end the session"))?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    Ok(ssr::current_actor().map(|a| Me { by_link: a.id.starts_with("link:"), name: a.name, role: a.role }))
}

/// Changes the signed-in account's password. Every session of the account ends; this one
/// continues under a new id.
#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<FormOutcome<()>, ServerFnError> {
    use dispatch::users::SessionAuth;
    let ctx = ssr::context()?;
    let service = ssr::service()?;
    let epoch = match service.change_password(&ctx, &current_password, &new_password).await {
        Ok(epoch) => epoch,
        Err(e) => return ssr::outcome(Err(e)),
    };
    let session = ssr::session().await?;
    let auth =
        SessionAuth { user_id: Some(ctx.actor.id.clone()), epoch, link_id: None, auth_ms: dispatch::ids::now_ms() };
    session.cycle_id().await.map_err(|_| ServerFnError::new("could not renew the session"))?;
    session.insert(SessionAuth::KEY, auth).await.map_err(|_| ServerFnError::new("could not renew the session"))?;
    Ok(FormOutcome::Done(()))
}

#[server(endpoint = "accounts")]
pub async fn accounts() -> Result<Vec<Account>, ServerFnError> {
    let users = ssr::service()?.users(&ssr::context()?).await.map_err(ssr::error)?;
    Ok(users
        .into_iter()
        .map(|u| Account { id: u.id, email: u.email, name: u.name, role: u.role, disabled: u.disabled })
        .collect())
}

#[server(endpoint = "create_account")]
pub async fn create_account(
    email: String,
    name: String,
    role: String,
    password: String,
    technician_id: String,
    customer_id: String,
) -> Result<FormOutcome<Account>, ServerFnError> {
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let Ok(role) = role.parse::<Role>() else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("role", "invalid_role", "admin, operator, technician or customer")],
        });
    };
    let input = dispatch::users::NewUser {
        email,
        name,
        role: Some(role),
        password,
        technician_id: opt(technician_id),
        customer_id: opt(customer_id),
    };
    let r = ssr::service()?.create_user(&ssr::context()?, &input).await;
    ssr::outcome(r.map(|u| Account { id: u.id, email: u.email, name: u.name, role: u.role, disabled: u.disabled }))
}

#[server(endpoint = "set_account_disabled")]
pub async fn set_account_disabled(user_id: String, disabled: bool) -> Result<(), ServerFnError> {
    ssr::service()?.set_user_disabled(&ssr::context()?, &user_id, disabled).await.map_err(ssr::error)?;
    Ok(())
}

#[server(endpoint = "reset_account_password")]
pub async fn reset_account_password(user_id: String, password: String) -> Result<FormOutcome<()>, ServerFnError> {
    ssr::outcome(ssr::service()?.reset_password(&ssr::context()?, &user_id, &password).await)
}

/// The technician's own jobs (the service narrows the list to them).
#[server(endpoint = "my_jobs")]
pub async fn my_jobs() -> Result<Vec<CaseSummary>, ServerFnError> {
    let filter = dispatch::tickets::CaseFilter { open_only: true, limit: Some(200), ..Default::default() };
    ssr::service()?.cases(&ssr::context()?, &filter).await.map_err(ssr::error)
}

/// One case, if the caller may see it (another technician's job reads as not found).
#[server(endpoint = "job_case")]
pub async fn job_case(ticket_id: String) -> Result<Case, ServerFnError> {
    ssr::service()?.case(&ssr::context()?, &ticket_id).await.map_err(ssr::error)
}

/// The customer's tickets (one, for a visitor who came by a link).
#[server(endpoint = "portal_tickets")]
pub async fn portal_tickets() -> Result<Vec<PortalTicket>, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let filter = dispatch::tickets::CaseFilter { limit: Some(100), ..Default::default() };
    let mut out = vec![];
    for row in service.cases(&ctx, &filter).await.map_err(ssr::error)? {
        let case = service.case(&ctx, &row.id).await.map_err(ssr::error)?;
        out.push(portal_view(service.settings(), case, vec![]));
    }
    Ok(out)
}

#[server(endpoint = "portal_ticket")]
pub async fn portal_ticket_view(ticket_id: String) -> Result<PortalTicket, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let case = service.case(&ctx, &ticket_id).await.map_err(ssr::error)?;
    let messages = service.conversation(&ctx, &case.id).await.map_err(ssr::error)?;
    Ok(portal_view(service.settings(), case, messages))
}

/// The ticket's version: the portal asks every few seconds and reloads only on a change.
#[server(endpoint = "portal_stamp")]
pub async fn portal_stamp(ticket_id: String) -> Result<i64, ServerFnError> {
    Ok(ssr::service()?.case(&ssr::context()?, &ticket_id).await.map_err(ssr::error)?.version)
}

/// A message from the customer to the office (`ticket.add_message`, channel webchat).
#[server(endpoint = "portal_send")]
pub async fn portal_send(ticket_id: String, text: String) -> ActionResult {
    let input = domain::commands::AddMessage {
        ticket_id,
        direction: domain::commands::Direction::Inbound,
        channel: None,
        sender: None,
        text,
    };
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::TicketAddMessage(input)).await)
}

#[cfg(feature = "ssr")]
fn portal_view(settings: &dispatch::ShopSettings, c: Case, messages: Vec<domain::views::MessageEntry>) -> PortalTicket {
    use domain::case::{AttachmentKind, NoteKind, PaymentKind};
    use domain::money::Money;
    let money = |cents: i64| Money(cents).to_string();
    let closeout = matches!(
        c.state,
        CaseState::WorkPerformed | CaseState::CloseoutReady | CaseState::InvoiceReady | CaseState::PaidOrAr
    )
    .then(|| PortalCloseout {
        summary: c.notes.iter().filter(|n| n.kind == NoteKind::WorkSummary).map(|n| n.text.clone()).collect(),
        checklist: c.checklist.iter().map(|i| (i.label.clone(), i.done)).collect(),
        photos: c
            .attachments
            .iter()
            .filter(|a| a.view_key.is_some() && matches!(a.kind, AttachmentKind::Before | AttachmentKind::After))
            .map(|a| (a.id.clone(), if a.kind == AttachmentKind::Before { "Before" } else { "After" }.to_string()))
            .collect(),
        invoice: c.invoice.as_ref().filter(|_| c.packet.is_some()).map(|i| PortalInvoice {
            number: i.number.clone(),
            lines: i.lines.iter().map(|l| (l.description.clone(), l.quantity.clone(), money(l.amount_cents))).collect(),
            subtotal: money(i.subtotal_cents),
            tax_label: format!("Tax ({}.{:02} %)", i.tax_rate_bp / 100, i.tax_rate_bp % 100),
            tax: money(i.tax_cents),
            total: money(i.total_cents),
        }),
        packet_url: c.packet.as_ref().map(|_| format!("/packets/{}", c.id)),
    });
    PortalTicket {
        id: c.id.clone(),
        number: c.number.clone(),
        state: c.state,
        version: c.version,
        problem_summary: c.problem_summary.clone(),
        address: c.site.as_ref().map(|s| s.address.clone()),
        appointment: c.appointment.as_ref().map(|a| settings.window_label(a.start_ms, a.end_ms)),
        technician_first_name: c
            .assignment
            .as_ref()
            .and_then(|a| a.technician_name.split_whitespace().next().map(str::to_string)),
        eta: c.eta.as_ref().map(|e| settings.time_label(e.eta_ms)),
        messages: messages
            .into_iter()
            .map(|m| PortalMessage {
                at: settings.time_label(m.at_ms),
                from_office: m.direction == "outbound",
                sender: if m.direction == "outbound" {
                    "The office".into()
                } else {
                    m.sender.unwrap_or_else(|| "You".into())
                },
                text: m.text,
            })
            .collect(),
        closeout,
        payment: c.payment.as_ref().map(|p| match p.kind {
            PaymentKind::Paid => {
                format!("Paid {} on {}. Thank you!", money(p.amount_cents), settings.time_label(p.recorded_at_ms))
            }
            PaymentKind::Ar => format!(
                "{} due {}",
                money(p.amount_cents),
                p.due_ms.map(|d| settings.time_label(d)).unwrap_or_else(|| "on your account terms".into())
            ),
        }),
    }
}

#[server(endpoint = "create_ticket")]
pub async fn create_ticket(
    customer_name: String,
    phone: String,
    email: String,
    address: String,
    problem_summary: String,
    trade: String,
    priority: String,
) -> Result<FormOutcome<Case>, ServerFnError> {
    use domain::{CreateTicket, NewCustomer, NewSite};
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let priority = match priority.parse() {
        Ok(p) => Some(p),
        Err(()) if priority.trim().is_empty() => None,
        Err(()) => {
            return Ok(FormOutcome::Invalid {
                message: "Please correct the highlighted fields.".into(),
                fields: vec![FieldError::new("priority", "invalid_priority", "standard, urgent or emergency")],
            })
        }
    };
    let input = CreateTicket {
        customer: NewCustomer {
            name: opt(customer_name),
            phone: opt(phone),
            email: opt(email),
            preferred_channel: None,
        },
        site: opt(address).map(|a| NewSite { address: Some(a), ..Default::default() }),
        problem_summary: opt(problem_summary),
        trade: opt(trade),
        priority,
        ..Default::default()
    };
    let service = ssr::service()?;
    ssr::outcome(service.create_ticket(&ssr::context()?, &input).await.map(|o| o.case))
}

/// Cards sent per column (the counts always cover every matching ticket).
pub const BOARD_PER_COLUMN: usize = 25;

pub use domain::views::{BoardColumn, BoardFilter};

/// The dispatch board, filtered on the server so the page carries only the cards it shows,
/// with the server's clock so ages and badges render the same on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub now_ms: i64,
    pub stamp: String,
    pub total: usize,
    pub columns: Vec<BoardColumn>,
    pub technicians: Vec<String>,
    pub trades: Vec<String>,
}

#[server(endpoint = "board")]
pub async fn load_board(filter: BoardFilter) -> Result<Board, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let stamp = service.board_stamp(&ctx).await.map_err(ssr::error)?;
    let data = service.board(&ctx, &filter, BOARD_PER_COLUMN as i64).await.map_err(ssr::error)?;
    let (columns, technicians, trades) = (data.columns, data.technicians, data.trades);
    let total = columns.iter().map(|c| c.count).sum();
    Ok(Board { now_ms: dispatch::ids::now_ms(), stamp, total, columns, technicians, trades })
}

/// Changes whenever any ticket changes; the board polls it.
#[server(endpoint = "board_stamp")]
pub async fn board_stamp() -> Result<String, ServerFnError> {
    ssr::service()?.board_stamp(&ssr::context()?).await.map_err(ssr::error)
}

/// Everything the ticket page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub now_ms: i64,
    pub case: Case,
    pub messages: Vec<domain::views::MessageEntry>,
    pub timeline: Vec<domain::views::TimelineEntry>,
}

#[server(endpoint = "ticket_detail")]
pub async fn load_ticket(ticket_id: String) -> Result<TicketDetail, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let case = service.case(&ctx, &ticket_id).await.map_err(ssr::error)?;
    let messages = service.messages(&ctx, &case.id).await.map_err(ssr::error)?;
    let timeline = service.timeline(&ctx, &case.id).await.map_err(ssr::error)?;
    Ok(TicketDetail { now_ms: dispatch::ids::now_ms(), case, messages, timeline })
}

/// What a console action answers: the case after it, or what to fix.
pub type ActionResult = Result<FormOutcome<Case>, ServerFnError>;

#[cfg(feature = "ssr")]
fn case_of(r: Result<dispatch::Outcome, dispatch::ServiceError>) -> ActionResult {
    ssr::outcome(r.map(|o| o.case))
}

#[cfg(feature = "ssr")]
fn version(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

#[server(endpoint = "console_set_priority")]
pub async fn console_set_priority(ticket_id: String, priority: String, version: String) -> ActionResult {
    let Ok(priority) = priority.parse() else {
        return Ok(FormOutcome::Invalid { message: "Choose standard, urgent or emergency.".into(), fields: vec![] });
    };
    let input =
        domain::commands::SetPriority { ticket_id, priority, reason: None, expected_version: self::version(&version) };
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::TicketSetPriority(input)).await)
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
    let r = ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::ScheduleProposeSlots(input)).await;
    ssr::outcome(r.map(|o| serde_json::from_value(o.data["slots"].clone()).unwrap_or_default()))
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
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::TicketBook(input)).await)
}

/// `dispatch.set_eta`, as minutes from now (no time-zone guessing in the browser).
#[server(endpoint = "console_set_eta")]
pub async fn console_set_eta(ticket_id: String, minutes: String, note: String) -> ActionResult {
    let Ok(minutes) = minutes.trim().parse::<i64>() else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("eta_ms", "invalid", "minutes from now, e.g. 45")],
        });
    };
    let input = domain::commands::SetEta {
        ticket_id,
        eta_ms: dispatch::ids::now_ms() + minutes.clamp(0, 7 * 24 * 60) * 60_000,
        note: Some(note).filter(|n| !n.trim().is_empty()),
    };
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::DispatchSetEta(input)).await)
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
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::TicketAddMessage(input)).await)
}

#[server(endpoint = "console_cancel")]
pub async fn console_cancel(ticket_id: String, reason: String, version: String) -> ActionResult {
    let input = domain::commands::CancelTicket { ticket_id, reason, expected_version: self::version(&version) };
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::TicketCancel(input)).await)
}

/// Check-in or work completion on the technician's behalf (`job.check_in`, `job.complete_work`).
#[server(endpoint = "console_job_step")]
pub async fn console_job_step(ticket_id: String, step: String, version: String) -> ActionResult {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: self::version(&version) };
    match step.as_str() {
        "check_in" => case_of(service.execute_case(&ctx, domain::ActionInput::JobCheckIn(input.clone())).await),
        "complete_work" => case_of(service.execute_case(&ctx, domain::ActionInput::JobCompleteWork(input.clone())).await),
        _ => Ok(FormOutcome::Invalid { message: "unknown step".into(), fields: vec![] }),
    }
}

/// Billing steps from the console: the invoice draft (`billing.generate_invoice_draft`) and
/// the closeout packet (`billing.compile_closeout_packet`).
#[server(endpoint = "console_billing_step")]
pub async fn console_billing_step(ticket_id: String, step: String, version: String) -> ActionResult {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: self::version(&version) };
    match step.as_str() {
        "invoice" => case_of(service.execute_case(&ctx, domain::ActionInput::BillingGenerateInvoiceDraft(input.clone())).await),
        "packet" => case_of(service.execute_case(&ctx, domain::ActionInput::BillingCompileCloseoutPacket(input.clone())).await),
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
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::BillingEditInvoiceDraft(input)).await)
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
    case_of(ssr::service()?.execute_case(&ssr::context()?, domain::ActionInput::BillingRecordPayment(input)).await)
}

/// A technician as the records page lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianRow {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub zone: Option<String>,
    pub hours: String,
    pub active: bool,
    /// The edit form's starting values: the first shift's hours and the days that have one.
    pub start: String,
    pub end: String,
    pub days: String,
}

#[server(endpoint = "technicians")]
pub async fn technicians() -> Result<Vec<TechnicianRow>, ServerFnError> {
    let list = ssr::service()?.technicians(&ssr::context()?).await.map_err(ssr::error)?;
    Ok(list
        .into_iter()
        .map(|t| {
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            let hours = t
                .working_hours
                .0
                .iter()
                .zip(DAYS)
                .filter(|(ranges, _)| !ranges.is_empty())
                .map(|(ranges, day)| {
                    let r: Vec<String> = ranges
                        .iter()
                        .map(|(a, b)| format!("{:02}:{:02}–{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
                        .collect();
                    format!("{day} {}", r.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let first = t.working_hours.0.iter().find_map(|r| r.first().copied()).unwrap_or((8 * 60, 17 * 60));
            let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let days = (0..7)
                .filter(|d| !t.working_hours.0[*d].is_empty())
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            TechnicianRow {
                id: t.id,
                name: t.name,
                skills: t.skills,
                zone: t.zone,
                hours,
                active: t.active,
                start: hm(first.0),
                end: hm(first.1),
                days,
            }
        })
        .collect())
}

/// The same hours on the chosen days (`0` = Monday): the roster forms' shape of working hours.
#[cfg(feature = "ssr")]
fn form_hours(start: &str, end: &str, days: &str) -> Result<domain::window::WorkingHours, FormOutcome<String>> {
    let minutes = |s: &str| -> Option<u16> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (Some(a), Some(b)) = (minutes(start), minutes(end).or((end.trim() == "24:00").then_some(24 * 60))) else {
        return Err(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("working_hours", "invalid", "hours like 08:00 and 17:00")],
        });
    };
    let on: Vec<bool> = (0..7).map(|d| days.split(',').any(|x| x.trim() == d.to_string())).collect();
    Ok(domain::window::WorkingHours(std::array::from_fn(|d| if on[d] && a < b { vec![(a, b)] } else { vec![] })))
}

#[cfg(feature = "ssr")]
fn skill_list(skills: &str) -> Vec<String> {
    skills.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
}

/// A new technician: skills comma-separated, the same hours on the chosen days.
#[server(endpoint = "create_technician")]
pub async fn create_technician(
    name: String,
    skills: String,
    zone: String,
    start: String,
    end: String,
    days: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let hours = match form_hours(&start, &end, &days) {
        Ok(h) => h,
        Err(invalid) => return Ok(invalid),
    };
    let input = dispatch::scheduling::NewTechnician {
        name,
        phone: None,
        email: None,
        skills: skill_list(&skills),
        zone: Some(zone.trim().to_string()).filter(|z| !z.is_empty()),
        working_hours: Some(hours),
    };
    ssr::outcome(ssr::service()?.create_technician(&ssr::context()?, &input).await.map(|t| t.id))
}

/// New skills, zone, hours or availability for a technician.
#[server(endpoint = "update_technician")]
pub async fn update_technician(
    technician_id: String,
    skills: String,
    zone: String,
    start: String,
    end: String,
    days: String,
    active: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let hours = match form_hours(&start, &end, &days) {
        Ok(h) => h,
        Err(invalid) => return Ok(invalid),
    };
    let input = dispatch::scheduling::TechnicianEdit {
        technician_id,
        skills: skill_list(&skills),
        zone: Some(zone.trim().to_string()).filter(|z| !z.is_empty()),
        working_hours: hours,
        active: active != "false",
    };
    ssr::outcome(ssr::service()?.update_technician(&ssr::context()?, &input).await.map(|t| t.id))
}

/// Time off from one day to another (whole days, UTC), e.g. a vacation.
#[server(endpoint = "add_time_off")]
pub async fn add_time_off(
    technician_id: String,
    from: String,
    to: String,
    reason: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let (Some(a), Some(b)) = (crate::pages::date_ms(&from), crate::pages::date_ms(&to)) else {
        return Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new("dates", "invalid", "dates like 2026-12-24")],
        });
    };
    let reason = Some(reason).filter(|r| !r.trim().is_empty());
    let r = ssr::service()?.add_time_off(&ssr::context()?, &technician_id, a, b + 86_400_000, reason.as_deref()).await;
    ssr::outcome(r)
}

/// A week of appointments, starting `week` weeks from this Monday (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekAgenda {
    pub from_ms: i64,
    /// The eight local midnights that bound the week's seven days, in the shop's time zone.
    pub days: Vec<i64>,
    pub items: Vec<domain::views::AgendaItem>,
    pub technicians: Vec<(String, String)>,
}

#[server(endpoint = "agenda")]
pub async fn load_agenda(week: i64) -> Result<WeekAgenda, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    // The shop's week, Monday to Monday at local midnight (a daylight-saving day is 23 or 25 h).
    let tz = service.settings().timezone.clone();
    let now =
        jiff::Timestamp::from_millisecond(dispatch::ids::now_ms()).map_err(|e| ServerFnError::new(e.to_string()))?;
    let today = now.to_zoned(tz.clone()).date();
    let monday = today
        .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
        .and_then(|d| d.checked_add(jiff::Span::new().weeks(week.clamp(-52, 52))))
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    let mut days = vec![];
    for d in 0..=7 {
        let date = monday.checked_add(jiff::Span::new().days(d)).map_err(|e| ServerFnError::new(e.to_string()))?;
        let start = date.to_zoned(tz.clone()).map_err(|e| ServerFnError::new(e.to_string()))?;
        days.push(start.timestamp().as_millisecond());
    }
    let from_ms = days[0];
    let items = service.agenda(&ctx, from_ms, days[7]).await.map_err(ssr::error)?;
    let technicians = service
        .technicians(&ctx)
        .await
        .map_err(ssr::error)?
        .into_iter()
        .filter(|t| t.active)
        .map(|t| (t.id, t.name))
        .collect();
    Ok(WeekAgenda { from_ms, days, items, technicians })
}

/// A customer record for the console (wasm-safe copy of the service's record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRow {
    pub customer: domain::CustomerView,
    pub sites: Vec<domain::SiteView>,
    pub tickets: i64,
}

#[server(endpoint = "customers")]
pub async fn customers(query: String) -> Result<Vec<CustomerRow>, ServerFnError> {
    let list = ssr::service()?.customers(&ssr::context()?, &query).await.map_err(ssr::error)?;
    Ok(list.into_iter().map(|r| CustomerRow { customer: r.customer, sites: r.sites, tickets: r.tickets }).collect())
}

/// A customer before any ticket, with an optional first site.
#[server(endpoint = "new_customer")]
pub async fn new_customer(
    name: String,
    phone: String,
    email: String,
    address: String,
    access_notes: String,
    zone: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let customer =
        domain::NewCustomer { name: opt(name), phone: opt(phone), email: opt(email), preferred_channel: None };
    let site = opt(address).map(|a| domain::NewSite {
        address: Some(a),
        access_notes: opt(access_notes),
        zone: opt(zone),
        ..Default::default()
    });
    let r = ssr::service()?.create_customer(&ssr::context()?, &customer, site.as_ref()).await;
    ssr::outcome(r.map(|c| c.customer.id))
}

#[server(endpoint = "edit_customer")]
pub async fn edit_customer(
    customer_id: String,
    name: String,
    add_phone: String,
    add_email: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let input = dispatch::records::CustomerEdit {
        customer_id,
        name: opt(name),
        add_phone: opt(add_phone),
        add_email: opt(add_email),
        preferred_channel: None,
    };
    ssr::outcome(ssr::service()?.update_customer(&ssr::context()?, &input).await.map(|c| c.name))
}

#[server(endpoint = "edit_site")]
pub async fn edit_site(
    site_id: String,
    address: String,
    access_notes: String,
    zone: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let input = dispatch::records::SiteEdit {
        site_id,
        address: Some(address),
        access_notes: Some(access_notes),
        zone: Some(zone),
    };
    ssr::outcome(ssr::service()?.update_site(&ssr::context()?, &input).await.map(|s| s.address))
}

/// A checklist template item (wasm-safe copy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRow {
    pub job_type: String,
    pub key: String,
    pub label: String,
    pub required: bool,
    pub position: i64,
}

#[server(endpoint = "checklist_templates")]
pub async fn checklist_templates() -> Result<Vec<TemplateRow>, ServerFnError> {
    let list = ssr::service()?.checklist_templates(&ssr::context()?).await.map_err(ssr::error)?;
    Ok(list
        .into_iter()
        .map(|t| TemplateRow {
            job_type: t.job_type,
            key: t.key,
            label: t.label,
            required: t.required,
            position: t.position,
        })
        .collect())
}

#[server(endpoint = "put_template_item")]
pub async fn put_template_item(
    job_type: String,
    label: String,
    required: Option<String>,
    position: String,
) -> Result<FormOutcome<String>, ServerFnError> {
    let item = dispatch::records::TemplateItem {
        job_type,
        key: String::new(),
        label,
        required: required.is_some(),
        position: position.trim().parse().unwrap_or(100),
    };
    ssr::outcome(ssr::service()?.put_template_item(&ssr::context()?, &item).await.map(|t| t.key))
}

#[server(endpoint = "remove_template_item")]
pub async fn remove_template_item(job_type: String, key: String) -> Result<FormOutcome<()>, ServerFnError> {
    ssr::outcome(ssr::service()?.remove_template_item(&ssr::context()?, &job_type, &key).await)
}
