//! The customer portal: the status of their ticket(s), in plain language.

use crate::api::{portal_ticket_view, portal_tickets, PortalTicket};
use crate::pages::session::TopBar;
use crate::pages::when;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn PortalPage() -> impl IntoView {
    let tickets = Resource::new(|| (), |_| portal_tickets());
    view! {
        <TopBar title="Your service requests"/>
        <main class="portal">
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tickets.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No service requests yet."</p> }.into_any(),
                        Ok(list) => list.into_iter().map(|t| view! { <TicketCard t/> }).collect_view().into_any(),
                        Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
pub fn PortalTicketPage() -> impl IntoView {
    let params = use_params_map();
    let ticket = Resource::new(move || params.with(|p| p.get("id").unwrap_or_default()), portal_ticket_view);
    view! {
        <TopBar title="Your service request"/>
        <main class="portal">
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match ticket.await {
                        Ok(t) => view! { <TicketCard t/> }.into_any(),
                        Err(e) => view! { <p class="bad" data-test="portal-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn TicketCard(t: PortalTicket) -> impl IntoView {
    view! {
        <article class="panel ticket-card" data-ticket=t.number.clone()>
            <h2>{t.number.clone()}</h2>
            <p class="status" data-test="status">{t.state.label()}</p>
            <p>{t.problem_summary.clone().unwrap_or_default()}</p>
            {t.appointment.map(|w| view! { <p>"Appointment: " {when(w.start_ms)} " – " {when(w.end_ms)}</p> })}
            {t.technician_first_name.clone().map(|n| view! { <p>"Your technician: " {n}</p> })}
            {t.eta_ms.map(|ms| view! { <p data-test="eta">"Expected arrival: " {when(ms)}</p> })}
        </article>
    }
}
