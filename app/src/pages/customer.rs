//! One customer's file: how to reach them, who else calls for them, their sites, and every
//! ticket they have had (paid and canceled too), newest first; edits behind a disclosure.

use crate::api::{customer_file, EditCustomer, EditSite, FormOutcome};
use crate::pages::session::TopBar;
use crate::pages::{day_label, failure_text, window_text};
use domain::validate::phone_for_people;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn CustomerPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let edit = ServerAction::<EditCustomer>::new();
    let site = ServerAction::<EditSite>::new();
    let file =
        Resource::new(move || (id(), edit.version().get(), site.version().get()), |(id, _, _)| customer_file(id));
    let saved = move || match (edit.value().get(), site.value().get()) {
        (Some(Ok(FormOutcome::Done(_))), _) | (_, Some(Ok(FormOutcome::Done(_)))) => Some((true, "Saved.".to_string())),
        (e, s) => failure_text(e).or_else(|| failure_text(s)).map(|t| (false, t)),
    };
    view! {
        <TopBar title="Customer"/>
        <main class="console customer-page">
            <Transition fallback=|| view! { <p class="muted">"Loading the customer…"</p> }>
                {move || Suspend::new(async move {
                    match file.await {
                        Ok(f) => {
                            let c = f.customer.clone();
                            let phones: Vec<String> = c.phones.iter().map(|p| phone_for_people(p)).collect();
                            let (cid, cname) = (c.id.clone(), c.name.clone());
                            view! {
                                <section class="panel" aria-labelledby="customer-name">
                                    <h2 id="customer-name" data-test="customer-name">{c.name.clone()}</h2>
                                    <dl class="facts">
                                        <dt>"Phone"</dt><dd data-test="customer-phones">{if phones.is_empty() { "—".to_string() } else { phones.join(", ") }}</dd>
                                        <dt>"E-mail"</dt><dd>{if c.emails.is_empty() { "—".to_string() } else { c.emails.join(", ") }}</dd>
                                        <dt>"Prefers"</dt><dd>{c.preferred_channel.map(|ch| ch.as_str().to_string()).unwrap_or_else(|| "—".into())}</dd>
                                    </dl>
                                    <h3>"Other contacts"</h3>
                                    {if f.people.is_empty() {
                                        view! { <p class="muted">"Nobody else calls for this customer yet."</p> }.into_any()
                                    } else {
                                        view! { <ul class="people" data-test="people">
                                            {f.people.iter().map(|p| {
                                                let reach: Vec<String> = p.phone.iter().map(|x| phone_for_people(x)).chain(p.email.clone()).collect();
                                                view! { <li>{p.name.clone()} {(!reach.is_empty()).then(|| format!(" \u{b7} {}", reach.join(", ")))}</li> }
                                            }).collect_view()}
                                        </ul> }.into_any()
                                    }}
                                    <details class="edit">
                                        <summary>"Edit name or add a phone / e-mail"</summary>
                                        <ActionForm action=edit attr:class="form compact">
                                            <input type="hidden" name="customer_id" value=cid/>
                                            <label class="field"><span>"Name"</span><input name="name" value=cname required=true/></label>
                                            <label class="field"><span>"Add phone"</span><input name="add_phone" type="tel"/></label>
                                            <label class="field"><span>"Add e-mail"</span><input name="add_email" type="email"/></label>
                                            <button type="submit">"Save"</button>
                                        </ActionForm>
                                    </details>
                                    <p class="form-status" role="status">{move || saved().map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}</p>
                                </section>
                                <section class="panel" aria-labelledby="sites-title">
                                    <h2 id="sites-title">"Sites"</h2>
                                    {if f.sites.is_empty() { Some(view! { <p class="muted">"No site yet."</p> }) } else { None }}
                                    {f.sites.into_iter().map(|s| {
                                        // The form's fields are rendered again on every submission: owned copies.
                                        let (sid, address, notes, zone) = (s.id.clone(), s.address.clone(), s.access_notes.clone().unwrap_or_default(), s.zone.clone().unwrap_or_default());
                                        view! {
                                        <article class="record site" data-site=s.address.clone()>
                                            <strong>{s.address.clone()}</strong>
                                            {s.zone.clone().map(|z| view! { <span class="badge">{z}</span> })}
                                            {s.access_notes.clone().map(|n| view! { <p class="muted">{n}</p> })}
                                            <details class="edit">
                                                <summary>"Edit site"</summary>
                                                <ActionForm action=site attr:class="form compact site">
                                                    <input type="hidden" name="site_id" value=sid/>
                                                    <label class="field"><span>"Address"</span><input name="address" value=address required=true/></label>
                                                    <label class="field"><span>"Access notes"</span><input name="access_notes" value=notes/></label>
                                                    <label class="field"><span>"Zone"</span><input name="zone" value=zone/></label>
                                                    <button type="submit">"Save site"</button>
                                                </ActionForm>
                                            </details>
                                        </article>
                                    }}).collect_view()}
                                </section>
                                <section class="panel history" aria-labelledby="history-title">
                                    <h2 id="history-title">"Tickets " <span class="count">{f.tickets.len()}</span></h2>
                                    {if f.tickets.is_empty() {
                                        view! { <p class="muted">"No tickets yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="ticket-table" id="customer-tickets">
                                                <thead><tr><th>"Ticket"</th><th>"State"</th><th>"Problem"</th><th>"Appointment"</th><th>"Opened"</th></tr></thead>
                                                <tbody>
                                                    {f.tickets.into_iter().map(|t| view! {
                                                        <tr data-ticket=t.number.clone()>
                                                            <td><a href=format!("/console/tickets/{}", t.id)>{t.number.clone()}</a></td>
                                                            <td><span class=format!("state state-{}", t.state.as_str())>{t.state.label()}</span></td>
                                                            <td>{t.problem_summary.clone().unwrap_or_else(|| "—".into())}</td>
                                                            <td>{t.appointment.map(|w| window_text(w.start_ms, w.end_ms)).unwrap_or_else(|| "—".into())}</td>
                                                            <td>{day_label(t.created_at_ms)}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! { <section class="panel"><p class="bad">{format!("Could not load this customer: {e}")}</p>
                            <p><a href="/console/customers">"Back to customers"</a></p></section> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}
