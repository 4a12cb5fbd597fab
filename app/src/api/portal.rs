//! The customer portal: what a customer sees of their tickets, and messages to the office.

use super::*;

pub use domain::portal_view::{PortalCloseout, PortalInvoice, PortalMessage, PortalTicket};

/// The customer's tickets (one, for a visitor who came by a link).
#[server(endpoint = "portal_tickets")]
pub async fn portal_tickets() -> Result<Vec<PortalTicket>, ServerFnError> {
    ssr::service()?.portal_tickets(&ssr::context(Action::PortalRead)?).await.map_err(ssr::error)
}

#[server(endpoint = "portal_ticket")]
pub async fn portal_ticket_view(ticket_id: String) -> Result<PortalTicket, ServerFnError> {
    ssr::service()?.portal_ticket(&ssr::context(Action::PortalRead)?, &ticket_id).await.map_err(ssr::error)
}

/// The ticket's version: the portal asks every few seconds and reloads only on a change.
#[server(endpoint = "portal_stamp")]
pub async fn portal_stamp(ticket_id: String) -> Result<i64, ServerFnError> {
    ssr::service()?.portal_stamp(&ssr::context(Action::PortalRead)?, &ticket_id).await.map_err(ssr::error)
}

/// A message from the customer to the office (`ticket.add_message`, channel webchat),
/// answered with the ticket as the portal shows it.
#[server(endpoint = "portal_send")]
pub async fn portal_send(ticket_id: String, text: String) -> Result<FormOutcome<PortalTicket>, ServerFnError> {
    ssr::allow(Action::PortalRead)?;
    let input = domain::commands::AddMessage {
        ticket_id: ticket_id.clone(),
        direction: domain::commands::Direction::Inbound,
        channel: None,
        sender: None,
        text,
    };
    let service = ssr::service()?;
    let ctx = ssr::context(Action::PortalRead)?;
    let sent = service.execute_case(&ctx, domain::ActionInput::TicketAddMessage(input)).await;
    let answer = match sent {
        Ok(o) => ssr::outcome(service.portal_ticket(&ctx, &o.case.id).await),
        Err(e) => ssr::outcome(Err(e)),
    };
    if ssr::plain_form_post() {
        // Without the client, back to the same page, which says whether it went (a word of a
        // fixed list, never text from the address).
        let outcome = if matches!(answer, Ok(FormOutcome::Done(_))) { "sent=1" } else { "sent=0" };
        ssr::see_other(&format!("/portal/tickets/{}?{outcome}", ssr::path_segment(&ticket_id)));
    }
    answer
}
