//! The dispatch board, phone intake and the ticket page's reads.

use super::*;

// One argument per field of the intake form, as the form posts them.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "create_ticket")]
pub async fn create_ticket(
    customer_name: String,
    phone: String,
    email: String,
    address: String,
    problem_summary: String,
    trade: String,
    priority: String,
    // The answer to "who is calling?" when the phone or e-mail is another customer's name.
    #[server(default)] known_contact: Option<String>,
) -> Result<FormOutcome<Case>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
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
            known_contact: known_contact.as_deref().and_then(domain::KnownContact::parse),
        },
        site: opt(address).map(|a| NewSite { address: Some(a), ..Default::default() }),
        problem_summary: opt(problem_summary),
        trade: opt(trade),
        priority,
        ..Default::default()
    };
    match ssr::service()?
        .execute_case(&ssr::context(Action::BoardRead)?, domain::ActionInput::TicketCreate(input))
        .await
    {
        // The form asks the question beside the phone: the typed call stays, one click answers.
        Err(dispatch::ServiceError::ContactNameDiffers { customer_name, contact, .. }) => {
            tracing::info!("intake asked who is calling on a known contact");
            Ok(FormOutcome::Invalid {
                message: format!("{contact} is already {customer_name}'s. Who is calling?"),
                fields: vec![FieldError::new(
                    "customer.known_contact",
                    "contact_name_differs",
                    format!("{contact} is already {customer_name}'s"),
                )],
            })
        }
        r => case_of(r),
    }
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
    /// Pauses of the agents in force, broadest first.
    pub paused: Vec<domain::autonomy::Pause>,
}

#[server(endpoint = "board")]
pub async fn load_board(filter: BoardFilter) -> Result<Board, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::BoardRead)?;
    let stamp = service.board_stamp(&ctx).await.map_err(ssr::error)?;
    let data = service.board(&ctx, &filter, BOARD_PER_COLUMN as i64).await.map_err(ssr::error)?;
    let (columns, technicians, trades) = (data.columns, data.technicians, data.trades);
    let total = columns.iter().map(|c| c.count).sum();
    let paused = service.pauses(&ctx).await.map_err(ssr::error)?;
    Ok(Board { now_ms: dispatch::ids::now_ms(), stamp, total, columns, technicians, trades, paused })
}

/// Changes whenever any ticket changes; the board polls it.
#[server(endpoint = "board_stamp")]
pub async fn board_stamp() -> Result<String, ServerFnError> {
    ssr::service()?.board_stamp(&ssr::context(Action::BoardRead)?).await.map_err(ssr::error)
}

/// Everything the ticket page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub now_ms: i64,
    pub case: Case,
    pub messages: Vec<domain::views::MessageEntry>,
    pub timeline: Vec<domain::views::TimelineEntry>,
    /// The pause that holds the agents back on this ticket (of this ticket, or of every agent).
    pub paused: Option<domain::autonomy::Pause>,
    /// Agent calls on this ticket held for a person, newest first.
    pub approvals: Vec<domain::approval::Approval>,
    /// The shop's currency, for every amount on the page.
    pub currency: domain::currency::Currency,
}

#[server(endpoint = "ticket_detail")]
pub async fn load_ticket(ticket_id: String) -> Result<TicketDetail, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::BoardRead)?;
    let case = service.case(&ctx, &ticket_id).await.map_err(ssr::error)?;
    let messages = service.messages(&ctx, &case.id).await.map_err(ssr::error)?;
    let timeline = service.timeline(&ctx, &case.id).await.map_err(ssr::error)?;
    let paused = service.pause_over(ctx.actor.role, Some(&case.id)).await.map_err(ssr::error)?;
    let approvals = service.approvals_of(&ctx, &case.id).await.map_err(ssr::error)?;
    let currency = service.shop().await.profile.currency;
    Ok(TicketDetail { now_ms: dispatch::ids::now_ms(), case, messages, timeline, paused, approvals, currency })
}
