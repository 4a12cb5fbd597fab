//! The customer portal: what a customer sees of their tickets, and messages to the office.

use super::*;

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
