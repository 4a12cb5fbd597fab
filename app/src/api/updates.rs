//! Customer updates in the console: a ticket's updates, the ones that could not be sent, and
//! the shop's rules (which kinds go out, in which words).

use super::*;
pub use domain::updates::{CustomerUpdate, UpdateSettings};

#[server(endpoint = "ticket_updates")]
pub async fn ticket_updates(ticket_id: String) -> Result<Vec<CustomerUpdate>, ServerFnError> {
    ssr::service()?.customer_updates_of(&ssr::context(Action::BoardRead)?, &ticket_id).await.map_err(ssr::error)
}

#[server(endpoint = "undelivered_updates")]
pub async fn undelivered_updates() -> Result<Vec<CustomerUpdate>, ServerFnError> {
    ssr::service()?.undelivered_updates(&ssr::context(Action::BoardRead)?).await.map_err(ssr::error)
}

#[server(endpoint = "update_rules")]
pub async fn update_rules() -> Result<UpdateSettings, ServerFnError> {
    ssr::service()?.update_rules(&ssr::context(Action::BoardRead)?).await.map_err(ssr::error)
}

/// One kind's switch and words (`customer_updates.set` with the other kinds as they are).
#[server(endpoint = "set_update_rule")]
pub async fn set_update_rule(
    kind: String,
    #[server(default)] enabled: Option<String>,
    template: String,
) -> Result<FormOutcome<UpdateSettings>, ServerFnError> {
    ssr::allow(Action::BoardRead)?;
    let Ok(kind) = kind.parse::<domain::updates::UpdateKind>() else {
        return Ok(FormOutcome::Invalid { message: "Unknown kind of update.".into(), fields: vec![] });
    };
    let mut settings = ssr::service()?.update_settings().await.map_err(ssr::error)?;
    let rule = domain::updates::UpdateRule { kind, enabled: enabled.is_some(), template: template.trim().to_string() };
    match settings.rules.iter_mut().find(|r| r.kind == kind) {
        Some(r) => *r = rule,
        None => settings.rules.push(rule),
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        updates: UpdateSettings,
    }
    ssr::outcome(ssr::run::<Answer>(domain::ActionInput::CustomerUpdatesSet(settings)).await?.map(|a| a.updates))
}
