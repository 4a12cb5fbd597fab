//! The shop's settings (`/console/settings`): its profile, logo, billing and scheduling, and
//! the words of customer updates. Admins change them; operators read them. Every form here is
//! a plain form post too, so the page works before (and without) the client.

use crate::api::{shop_settings, whoami, FormOutcome, SaveShopSettings, ShopKey, ShopSettingsView, Source};
use crate::pages::field_error;
use crate::pages::session::TopBar;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Zones offered as suggestions; any IANA name is accepted.
const ZONES: [&str; 24] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Amsterdam",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Singapore",
    "Australia/Sydney",
    "Pacific/Auckland",
];

#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveShopSettings>::new();
    let settings = Resource::new(move || save.version().get(), |_| shop_settings());
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <TopBar title="Settings"/>
        <main class="settings-page">
            <h1>"Shop settings"</h1>
            <p class="muted">
                "What you save here is in force at once, on every server, and wins over the server's environment "
                "variables. A value never saved follows its default (shown next to it)."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(m)) if m.role == domain::Role::Admin);
                    match settings.await {
                        Ok(s) => view! { <Profile s admin save/> {admin.then(|| view! { <YourData/> })} }.into_any(),
                        Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
            <section class="panel" aria-labelledby="update-words">
                <h2 id="update-words">"Customer updates"</h2>
                <p class="muted">"Which updates customers get, and in which words (admins save)."</p>
                <crate::pages::updates::UpdateRules/>
            </section>
        </main>
    }
}

/// The admin's copy of everything, in the documented export format (docs/export-format.md).
#[component]
fn YourData() -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="data-h">
            <h2 id="data-h">"Your data"</h2>
            <p class="muted">
                "Everything the shop keeps — customers, technicians, tickets with their messages, photos, "
                "invoices and payments, and the audit trail — as one archive of plain files you can read "
                "anywhere or load into another Real Dispatch. Each download is recorded."
            </p>
            <a class="button" href="/console/export" download data-test="export-download" rel="external">
                "Download everything (.tar.gz)"
            </a>
        </section>
    }
}

/// Where a value comes from, in a few words.
fn source_note(s: &ShopSettingsView, key: ShopKey) -> String {
    match s.entry(key).map(|e| e.source) {
        Some(Source::Database) => "saved".into(),
        Some(Source::Environment) => format!("from {}", key.env().unwrap_or("the environment")),
        _ => "default".into(),
    }
}

#[component]
fn Profile(s: ShopSettingsView, admin: bool, save: ServerAction<SaveShopSettings>) -> impl IntoView {
    let s = StoredValue::new(s);
    let value = move |key: ShopKey| s.with_value(|s| s.profile.form_text(key));
    let note = move |key: ShopKey| s.with_value(|s| source_note(s, key));
    let error = move |key: ShopKey| field_error(save.value().get(), &[key.as_str(), key.field()]);
    let invalid = move |key: ShopKey| error(key).is_some().then_some("true");
    // One labelled input with its source and its error.
    let input = move |key: ShopKey, kind: &'static str, hint: &'static str| {
        let id = format!("set-{}", key.as_str());
        let label_for = id.clone();
        view! {
            <label class="field" for=label_for>
                <span>{key.label()} " " <small class="muted source" data-test=format!("source-{}", key.as_str())>"(" {note(key)} ")"</small></span>
                <input id=id type=kind name=key.as_str() value=value(key) aria-invalid=move || invalid(key)
                    list=(key == ShopKey::Timezone).then_some("zones")/>
                {(!hint.is_empty()).then(|| view! { <small class="muted">{hint}</small> })}
                <small class="field-error" role="alert" data-test=format!("error-{}", key.as_str())>{move || error(key)}</small>
            </label>
        }
    };
    let logo_url = s.with_value(|s| s.profile.logo.as_ref().map(|l| format!("/shop/logo?v={}", &l.sha256[..12])));
    view! {
        <section class="panel" aria-labelledby="logo-h">
            <h2 id="logo-h">"Logo"</h2>
            <LogoForms logo_url admin/>
        </section>
        <ActionForm action=save attr:id="settings-form" attr:class="form settings-form">
            <fieldset disabled=!admin>
                {(!admin).then(|| view! { <p class="muted">"Only an admin can change the shop's settings."</p> })}
                <section class="panel" aria-labelledby="business-h">
                    <h2 id="business-h">"Business"</h2>
                    {input(ShopKey::BusinessName, "text", "On packets, the portal and customer updates ({shop}).")}
                    <label class="field" for="set-address">
                        <span>"Address " <small class="muted source">"(" {note(ShopKey::Address)} ")"</small></span>
                        <textarea id="set-address" name="address" rows="3" aria-invalid=move || invalid(ShopKey::Address)>{value(ShopKey::Address)}</textarea>
                        <small class="field-error" role="alert">{move || error(ShopKey::Address)}</small>
                    </label>
                    {input(ShopKey::Phone, "tel", "Customers call this number; {shop_phone} in updates.")}
                    {input(ShopKey::Email, "email", "")}
                </section>
                <section class="panel" aria-labelledby="billing-h">
                    <h2 id="billing-h">"Billing"</h2>
                    {input(ShopKey::Currency, "text", "ISO 4217 code with two decimals: USD, CAD, EUR, GBP, …")}
                    {input(ShopKey::TaxRate, "text", "Sales tax on new invoice drafts, in percent (8.25).")}
                    {input(ShopKey::LaborRate, "text", "Per hour, unless a technician records another rate.")}
                    {input(ShopKey::PaymentTerms, "text", "Printed on the closeout packet: Due on receipt, Net 15, …")}
                </section>
                <section class="panel" aria-labelledby="scheduling-h">
                    <h2 id="scheduling-h">"Scheduling"</h2>
                    {input(ShopKey::Timezone, "text", "IANA name: working hours, day names and every time shown.")}
                    <datalist id="zones">{ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}</datalist>
                    {input(ShopKey::WorkingHours, "text", "New technicians work these: Mon-Fri 08:00-17:00; Sat 09:00-12:00")}
                    {input(ShopKey::SlotStepMinutes, "number", "Appointment starts are offered every this many minutes.")}
                    {input(ShopKey::TravelBufferMinutes, "number", "Kept free before and after each booking.")}
                </section>
                <button type="submit" class="primary" data-test="save-settings">"Save settings"</button>
            </fieldset>
        </ActionForm>
        <p class="form-status" role="status" aria-live="polite" data-test="settings-status">
            {move || match save.value().get() {
                Some(Ok(FormOutcome::Done(_))) => view! { <span class="ok">"Settings saved."</span> }.into_any(),
                Some(Ok(FormOutcome::Invalid { message, .. })) => view! { <span class="bad">{message}</span> }.into_any(),
                Some(Err(e)) => view! { <span class="bad">{e.to_string()}</span> }.into_any(),
                None => ().into_any(),
            }}
        </p>
    }
}

/// The logo: the current one, a new one (with a preview once chosen, where the client runs),
/// or none. Plain multipart posts to `/app/settings/logo`, which answers with this page again.
#[component]
fn LogoForms(logo_url: Option<String>, admin: bool) -> impl IntoView {
    let query = use_query_map();
    let problem = move || query.with(|q| q.get("logo_error"));
    let saved = move || query.with(|q| q.get("logo").is_some_and(|v| v == "saved"));
    let preview = RwSignal::new(None::<String>);
    let has_logo = logo_url.is_some();
    view! {
        {match logo_url {
            Some(url) => view! { <img class="logo-preview" src=url alt="The shop's logo" data-test="logo-current"/> }.into_any(),
            None => view! { <p class="muted" data-test="no-logo">"No logo yet: packets and the portal show the business name."</p> }.into_any(),
        }}
        {admin.then(|| view! {
            <form method="post" action="/app/settings/logo" enctype="multipart/form-data" class="form" id="logo-form">
                <label class="field" for="logo-file">
                    <span>"New logo: JPEG, PNG or WebP, at most 5 MiB"</span>
                    <input id="logo-file" type="file" name="file" accept="image/jpeg,image/png,image/webp" required=true
                        aria-invalid=move || problem().is_some().then_some("true")
                        on:change=move |ev| preview.set(chosen_preview(&ev))/>
                    <small class="field-error" role="alert" data-test="error-logo">{problem}</small>
                </label>
                {move || preview.get().map(|src| view! { <img class="logo-preview" src=src alt="The chosen logo, not saved yet"/> })}
                <button type="submit">"Upload logo"</button>
            </form>
            {has_logo.then(|| view! {
                <form method="post" action="/app/settings/logo" enctype="multipart/form-data" class="inline">
                    <input type="hidden" name="remove" value="1"/>
                    <button type="submit" class="link">"Remove the logo"</button>
                </form>
            })}
        })}
        {move || saved().then(|| view! { <p class="form-status" role="status"><span class="ok">"Logo saved."</span></p> })}
    }
}

/// A local address of the file just chosen, to show it before it is sent.
#[cfg(feature = "hydrate")]
fn chosen_preview(ev: &leptos::ev::Event) -> Option<String> {
    use wasm_bindgen::JsCast;
    let input = ev.target()?.dyn_into::<web_sys::HtmlInputElement>().ok()?;
    let file = input.files()?.get(0)?;
    web_sys::Url::create_object_url_with_blob(&file).ok()
}

#[cfg(not(feature = "hydrate"))]
fn chosen_preview(_ev: &leptos::ev::Event) -> Option<String> {
    None
}
