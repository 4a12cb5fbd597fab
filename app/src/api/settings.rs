//! The shop's settings page: the profile in force (staff read it), and the admin's save.

use super::*;
pub use domain::shop_profile::{ShopEntry, ShopKey, ShopProfile, ShopSettingsView, Source};

#[server(endpoint = "shop_settings")]
pub async fn shop_settings() -> Result<ShopSettingsView, ServerFnError> {
    ssr::service()?.shop_settings(&ssr::context(Action::ShopSettingsRead)?).await.map_err(ssr::error)
}

/// The settings form: every field as typed; only those that differ from what the page showed
/// are saved (`shop.settings.set`), so a value left alone keeps following its default.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "save_shop_settings")]
pub async fn save_shop_settings(
    business_name: String,
    address: String,
    phone: String,
    email: String,
    timezone: String,
    currency: String,
    tax_rate: String,
    labor_rate: String,
    payment_terms: String,
    working_hours: String,
    slot_step_minutes: String,
    travel_buffer_minutes: String,
) -> Result<FormOutcome<ShopSettingsView>, ServerFnError> {
    ssr::allow(Action::ShopSettingsSet)?;
    let service = ssr::service()?;
    let current = service.shop().await.view();
    let form = [
        (ShopKey::BusinessName, business_name),
        (ShopKey::Address, address),
        (ShopKey::Phone, phone),
        (ShopKey::Email, email),
        (ShopKey::Timezone, timezone),
        (ShopKey::Currency, currency),
        (ShopKey::TaxRate, tax_rate),
        (ShopKey::LaborRate, labor_rate),
        (ShopKey::PaymentTerms, payment_terms),
        (ShopKey::WorkingHours, working_hours),
        (ShopKey::SlotStepMinutes, slot_step_minutes),
        (ShopKey::TravelBufferMinutes, travel_buffer_minutes),
    ];
    let change = match current.profile.changes_from_form(&form) {
        Ok(change) => change,
        Err(e) => return ssr::outcome(Err(e.into())),
    };
    if change.keys().is_empty() {
        return Ok(FormOutcome::Done(current));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        settings: ShopSettingsView,
    }
    ssr::outcome(ssr::run::<Answer>(domain::ActionInput::ShopSettingsSet(change)).await?.map(|a| a.settings))
}
