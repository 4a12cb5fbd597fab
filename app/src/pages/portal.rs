//! The customer portal: where their job stands, in plain words, with the ETA kept current, a
//! way to write to the office, and after the job the summary, the invoice and the packet.

use crate::api::{portal_stamp, portal_ticket_view, portal_tickets, PortalCloseout, PortalSend, PortalTicket};
use crate::pages::field_error;
use crate::pages::session::TopBar;
use domain::CaseState;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// How often the page asks whether the ticket changed (one small query).
#[cfg(feature = "hydrate")]
const POLL_MS: u64 = 4_000;

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
                        Ok(list) => {
                            let shop = list[0].shop.clone();
                            view! {
                            <ShopCard shop/>
                            {list.into_iter().map(|t| view! {
                            <a class="panel ticket-link" href=format!("/portal/tickets/{}", t.id) data-ticket=t.number.clone()>
                                <strong>{t.number.clone()}</strong> " · " {t.problem_summary.clone().unwrap_or_default()}
                                <span class="status">{plain_status(&t)}</span>
                            </a>
                            }).collect_view()}
                            }.into_any()
                        }
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
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let send = ServerAction::<PortalSend>::new();
    let changed = RwSignal::new(0u64);
    let ticket =
        Resource::new(move || (id(), changed.get(), send.version().get()), |(id, _, _)| portal_ticket_view(id));
    watch(ticket, changed);
    // What the customer is typing survives the page's live updates; a sent message clears it.
    let draft = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(crate::api::FormOutcome::Done(_))) = send.value().get() {
            draft.set(String::new());
        }
    });
    view! {
        <TopBar title="Your service request"/>
        <main class="portal">
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match ticket.await {
                        Ok(t) => view! { <TicketView t send draft/> }.into_any(),
                        Err(e) => view! { <p class="bad" data-test="portal-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

/// In the browser: asks every few seconds for the ticket's version and reloads the page's
/// data when it moved (an ETA set by the office or an agent shows up without a reload).
fn watch(ticket: Resource<Result<PortalTicket, ServerFnError>>, changed: RwSignal<u64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let tick = move || {
            leptos::task::spawn_local(async move {
                let Some(Ok(t)) = ticket.get_untracked() else { return };
                if let Ok(v) = portal_stamp(t.id.clone()).await {
                    if v != t.version {
                        changed.update(|n| *n += 1);
                    }
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(POLL_MS)) {
            on_cleanup(move || handle.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (ticket, changed, portal_stamp);
}

/// The customer's steps; several lifecycle states read as one step to them.
const STEPS: [(&str, &[CaseState]); 7] = [
    ("Request received", &[CaseState::Lead, CaseState::Intake]),
    ("Scheduled", &[CaseState::Scheduled]),
    ("On the way", &[CaseState::Dispatched]),
    ("On site", &[CaseState::Onsite]),
    ("Work done", &[CaseState::WorkPerformed, CaseState::CloseoutReady]),
    ("Invoice", &[CaseState::InvoiceReady]),
    ("Paid", &[CaseState::PaidOrAr]),
];

/// Where the job stands, in a sentence.
pub fn plain_status(t: &PortalTicket) -> String {
    let tech = t.technician_first_name.clone().unwrap_or_else(|| "Your technician".into());
    match t.state {
        CaseState::Lead => "We have your request and need a few more details.".into(),
        CaseState::Intake => "We have your request and are finding a time for you.".into(),
        CaseState::Scheduled => "Your appointment is booked.".into(),
        CaseState::Dispatched => match &t.eta {
            Some(eta) => format!("{tech} is on the way, expected {eta}."),
            None => format!("{tech} is assigned to your job."),
        },
        CaseState::Onsite => format!("{tech} is at your place now."),
        CaseState::WorkPerformed | CaseState::CloseoutReady => {
            "The work is done. We are preparing your summary and invoice.".into()
        }
        CaseState::InvoiceReady => "The work is done and your invoice is ready.".into(),
        CaseState::PaidOrAr => "All done. Thank you!".into(),
        CaseState::Canceled => "This request was canceled.".into(),
    }
}

/// Who the customer deals with: the shop's logo, name and phone.
#[component]
fn ShopCard(shop: domain::portal_view::PortalShop) -> impl IntoView {
    let call = shop.phone.as_ref().map(|p| {
        let number = domain::validate::Phone::parse("phone", p).map(|n| n.as_str().to_string());
        (format!("tel:{}", number.unwrap_or_else(|_| p.clone())), p.clone())
    });
    view! {
        <header class="shop-card" data-test="shop-card">
            {shop.logo_url.map(|src| view! { <img class="shop-logo" src=src alt="" data-test="shop-logo"/> })}
            <strong data-test="shop-name">{shop.name}</strong>
            {call.map(|(href, text)| view! { <a href=href data-test="shop-phone">{text}</a> })}
        </header>
    }
}

#[component]
fn Progress(state: CaseState) -> impl IntoView {
    let current = STEPS.iter().position(|(_, states)| states.contains(&state));
    view! {
        <ol class="progress" aria-label="Progress">
            {STEPS.iter().enumerate().map(|(i, (label, _))| {
                let class = match current {
                    Some(c) if i < c => "done",
                    Some(c) if i == c => "current",
                    _ => "todo",
                };
                view! { <li class=class aria-current=(class == "current").then_some("step")>{*label}</li> }
            }).collect_view()}
        </ol>
    }
}

#[component]
fn TicketView(t: PortalTicket, send: ServerAction<PortalSend>, draft: RwSignal<String>) -> impl IntoView {
    let status = plain_status(&t);
    let id = t.id.clone();
    let plain = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("sent"));

    view! {
        <ShopCard shop=t.shop.clone()/>
        <article class="panel portal-ticket" data-ticket=t.number.clone() data-version=t.version>
            <h1>{t.number.clone()}</h1>
            <p class="status" data-test="status" role="status" aria-live="polite">{status}</p>
            {(t.state != CaseState::Canceled).then(|| view! { <Progress state=t.state/> })}
            <dl class="facts">
                <dt>"Problem"</dt><dd>{t.problem_summary.clone().unwrap_or_else(|| "—".into())}</dd>
                {t.address.clone().map(|a| view! { <dt>"Address"</dt><dd>{a}</dd> })}
                <dt>"Appointment"</dt><dd data-test="appointment">{t.appointment.clone().unwrap_or_else(|| "not booked yet".into())}</dd>
                {t.technician_first_name.clone().map(|n| view! { <dt>"Technician"</dt><dd data-test="technician">{n}</dd> })}
                {t.eta.clone().map(|eta| view! { <dt>"Expected arrival"</dt><dd data-test="eta">{eta}</dd> })}
            </dl>
            {t.payment.clone().map(|p| view! { <p class="good" data-test="payment">{p}</p> })}
        </article>
        {t.closeout.clone().map(|c| view! { <Closeout c/> }.into_any())}
        <section class="panel" aria-label="Messages">
            <h2>"Messages"</h2>
            {if t.messages.is_empty() {
                view! { <p class="muted">"No messages yet. Write to us below."</p> }.into_any()
            } else {
                view! { <ol class="thread" data-test="thread">
                    {t.messages.iter().map(|m| view! {
                        <li class=if m.from_office { "msg outbound" } else { "msg inbound" }>
                            <small class="muted">{m.sender.clone()} " · " {m.at.clone()}</small>
                            <p>{m.text.clone()}</p>
                        </li>
                    }).collect_view()}
                </ol> }.into_any()
            }}
            <ActionForm action=send attr:class="form compact" attr:id="portal-message">
                <input type="hidden" name="ticket_id" value=id/>
                <label class="field"><span>"Message to the office"</span>
                    <textarea name="text" rows="3" required=true maxlength="8000"
                        prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                    <small class="field-error" role="alert">{move || field_error(send.value().get(), &["text"])}</small></label>
                <button type="submit" class="primary">"Send"</button>
                <p class="form-status" role="status" data-test="portal-sent">{move || match send.value().get() {
                    Some(Ok(crate::api::FormOutcome::Done(_))) => SENT.to_string(),
                    Some(Ok(crate::api::FormOutcome::Invalid { message, .. })) => message,
                    Some(Err(ServerFnError::Request(_))) => "No signal \u{2014} your message is still here. Tap Send to try again.".to_string(),
                    Some(Err(e)) => format!("Not sent: {e}"),
                    // A plain form post (no client) came back here: the address says how it went.
                    None => match plain.as_deref() {
                        Some("1") => SENT.to_string(),
                        Some(_) => "Not sent. Please check your message and try again.".to_string(),
                        None => String::new(),
                    },
                }}</p>
            </ActionForm>
        </section>
    }
}

const SENT: &str = "Sent. The office will answer here or by phone.";

#[component]
fn Closeout(c: PortalCloseout) -> impl IntoView {
    view! {
        <section class="panel" aria-label="What we did" data-test="closeout">
            <h2>"What we did"</h2>
            {c.summary.iter().map(|s| view! { <p class="summary">{s.clone()}</p> }).collect_view()}
            {(!c.checklist.is_empty()).then(|| view! {
                <ul class="checklist">
                    {c.checklist.iter().map(|(label, done)| view! {
                        <li class=if *done { "done" } else { "open" }>{if *done { "✓ " } else { "○ " }}{label.clone()}</li>
                    }).collect_view()}
                </ul>
            })}
            {(!c.photos.is_empty()).then(|| view! {
                <div class="thumbs">
                    {c.photos.iter().map(|(id, label)| view! {
                        <a href=format!("/files/{id}/view") target="_blank">
                            <img src=format!("/files/{id}/thumb") alt=label.clone() loading="lazy" width="120" height="120"/>
                        </a>
                    }).collect_view()}
                </div>
            })}
            {c.invoice.clone().map(|inv| view! {
                <table class="invoice" data-test="portal-invoice">
                    <caption>{format!("Invoice {}", inv.number)}</caption>
                    <tbody>
                        {inv.lines.into_iter().map(|(d, q, a)| view! { <tr><td>{d}</td><td>{q}</td><td class="num">{a}</td></tr> }).collect_view()}
                    </tbody>
                    <tfoot>
                        <tr><td colspan="2">"Subtotal"</td><td class="num">{inv.subtotal}</td></tr>
                        <tr><td colspan="2">{inv.tax_label}</td><td class="num">{inv.tax}</td></tr>
                        <tr><th colspan="2">"Total"</th><th class="num" data-test="portal-total">{inv.total}</th></tr>
                    </tfoot>
                </table>
            })}
            {c.packet_url.clone().map(|url| view! {
                <p><a class="button primary" href=url download="" data-test="packet-link">"Download the closeout packet (PDF)"</a></p>
            })}
        </section>
    }
}
