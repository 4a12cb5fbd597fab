//! The console's records: technicians (skills, zone, working hours, time off), customers and
//! checklist templates. The schedule is the dispatch calendar (`pages::calendar`).

use crate::api::{technicians, AddTimeOff, CreateTechnician, FormOutcome, UpdateTechnician};
use crate::pages::failure_text;
use crate::pages::field_error;
use crate::pages::session::TopBar;
use leptos::prelude::*;

/// The last submission's outcome as (succeeded, text).
fn outcome_text<T>(r: Option<Result<FormOutcome<T>, ServerFnError>>, done: &'static str) -> Option<(bool, String)> {
    match r {
        Some(Ok(FormOutcome::Done(_))) => Some((true, done.to_string())),
        other => failure_text(other).map(|t| (false, t)),
    }
}

#[component]
pub fn TechniciansPage() -> impl IntoView {
    let create = ServerAction::<CreateTechnician>::new();
    let off = ServerAction::<AddTimeOff>::new();
    let edit = ServerAction::<UpdateTechnician>::new();
    let list = Resource::new(move || (create.version().get(), edit.version().get()), |_| technicians());
    view! {
        <TopBar title="Technicians"/>
        <main class="console">
            <section class="panel" aria-labelledby="new-tech">
                <h2 id="new-tech">"New technician"</h2>
                <ActionForm action=create attr:id="technician-form" attr:class="form">
                    <label class="field"><span>"Name"</span><input name="name" required=true/></label>
                    <label class="field"><span>"Skills (comma-separated trades)"</span><input name="skills" placeholder="hvac, plumbing" required=true/></label>
                    <label class="field"><span>"Service zone"</span><input name="zone" placeholder="north"/></label>
                    <div class="row">
                        <label class="field"><span>"From"</span><input name="start" value="08:00"/></label>
                        <label class="field"><span>"To"</span><input name="end" value="17:00"/></label>
                    </div>
                    <label class="field"><span>"Days (0 = Monday … 6 = Sunday)"</span><input name="days" value="0,1,2,3,4"/></label>
                    <button type="submit" class="primary">"Add technician"</button>
                </ActionForm>
                <p class="form-status" role="status">{move || outcome_text(create.value().get(), "Technician added.").map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}</p>
            </section>
            <section class="panel" aria-labelledby="tech-list">
                <h2 id="tech-list">"Roster"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) if rows.is_empty() => view! { <p class="empty">"No technicians yet: add the first one."</p> }.into_any(),
                            Ok(rows) => view! {
                                <table class="ticket-table" id="technicians">
                                    <thead><tr><th>"Name"</th><th>"Skills"</th><th>"Zone"</th><th>"Hours"</th><th>"Time off"</th><th>"Edit"</th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|t| { let edit_id = t.id.clone(); view! {
                                            <tr data-technician=t.name.clone() class:inactive=!t.active>
                                                <td>{t.name.clone()}{(!t.active).then(|| view! { " " <span class="badge">"inactive"</span> })}</td><td>{t.skills.join(", ")}</td>
                                                <td>{t.zone.clone().unwrap_or_else(|| "any".into())}</td><td>{t.hours.clone()}</td>
                                                <td>
                                                    <ActionForm action=off attr:class="inline">
                                                        <input type="hidden" name="technician_id" value=t.id.clone()/>
                                                        <input type="date" name="from" aria-label="From" required=true/>
                                                        <input type="date" name="to" aria-label="To" required=true/>
                                                        <input name="reason" placeholder="reason" aria-label="Reason"/>
                                                        <button type="submit">"Add"</button>
                                                    </ActionForm>
                                                </td>
                                                <td>
                                                    <details class="edit-tech">
                                                        <summary>"Edit"</summary>
                                                        <ActionForm action=edit attr:class="form compact">
                                                            <input type="hidden" name="technician_id" value=edit_id/>
                                                            <label class="field"><span>"Skills"</span><input name="skills" value=t.skills.join(", ") required=true/></label>
                                                            <label class="field"><span>"Zone"</span><input name="zone" value=t.zone.clone().unwrap_or_default()/></label>
                                                            <div class="row">
                                                                <label class="field"><span>"From"</span><input name="start" value=t.start.clone()/></label>
                                                                <label class="field"><span>"To"</span><input name="end" value=t.end.clone()/></label>
                                                            </div>
                                                            <label class="field"><span>"Days (0 = Monday)"</span><input name="days" value=t.days.clone()/></label>
                                                            <label class="field"><span>"Takes new jobs"</span>
                                                                <select name="active"><option value="true" selected=t.active>"yes"</option><option value="false" selected=!t.active>"no"</option></select></label>
                                                            <button type="submit">"Save"</button>
                                                        </ActionForm>
                                                    </details>
                                                </td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
                <p class="form-status" role="status">{move || outcome_text(off.value().get(), "Time off recorded.").map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}</p>
                <p class="form-status" role="status" data-test="edit-status">{move || outcome_text(edit.value().get(), "Technician updated.").map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}
                    <small class="field-error">{move || field_error(edit.value().get(), &["skills", "zone", "working_hours"])}</small></p>
            </section>
        </main>
    }
}

#[component]
pub fn CustomersPage() -> impl IntoView {
    use crate::api::{customers, NewCustomer};
    let query = RwSignal::new(String::new());
    let add = ServerAction::<NewCustomer>::new();
    let list = Resource::new(move || (query.get(), add.version().get()), |(q, _)| customers(q));
    let typed = crate::pages::debounced(move |q: String| query.set(q));
    view! {
        <TopBar title="Customers"/>
        <main class="console">
            <section class="panel" aria-labelledby="new-customer">
                <details>
                    <summary id="new-customer">"New customer"</summary>
                    <ActionForm action=add attr:class="form" attr:id="customer-form">
                        <label class="field"><span>"Name"</span><input name="name" required=true/>
                            <small class="field-error" role="alert">{move || field_error(add.value().get(), &["customer.name"])}</small></label>
                        <label class="field"><span>"Phone"</span><input name="phone" type="tel"/>
                            <small class="field-error" role="alert" data-test="phone-error">{move || field_error(add.value().get(), &["customer.phone"])}</small></label>
                        <label class="field"><span>"E-mail"</span><input name="email" type="email"/>
                            <small class="field-error" role="alert">{move || field_error(add.value().get(), &["customer.email"])}</small></label>
                        <label class="field"><span>"Site address (optional)"</span><input name="address"/></label>
                        <label class="field"><span>"Access notes"</span><input name="access_notes"/></label>
                        <label class="field"><span>"Zone"</span><input name="zone"/>
                            <small class="field-error" role="alert">{move || field_error(add.value().get(), &["site.zone", "site.address", "site.access_notes"])}</small></label>
                        <button type="submit" class="primary">"Add customer"</button>
                    </ActionForm>
                    <p class="form-status" role="status">{move || outcome_text(add.value().get(), "Customer added.").map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}</p>
                </details>
            </section>
            <section class="panel">
                <input type="search" id="customer-search" placeholder="Search name, caller, phone, e-mail" aria-label="Search customers"
                    on:input=move |ev| typed(event_target_value(&ev))
                    on:change=move |ev| query.set(event_target_value(&ev))/>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) if rows.is_empty() => view! { <p class="empty">"No customers match. Add one above, or take a call on the board."</p> }.into_any(),
                            Ok(rows) => view! {
                                <table class="ticket-table" id="customers">
                                    <thead><tr><th>"Customer"</th><th>"Phone / e-mail"</th><th>"Sites"</th><th>"Tickets"</th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|r| {
                                            let c = r.customer;
                                            let reach: Vec<String> = c.phones.iter().map(|p| domain::validate::phone_for_people(p)).chain(c.emails.iter().cloned()).collect();
                                            let href = format!("/console/customers/{}", c.id);
                                            let tickets = match r.tickets { 1 => "1 ticket".to_string(), n => format!("{n} tickets") };
                                            view! {
                                                <tr class="record" data-customer=c.name.clone()>
                                                    <td><a href=href.clone()>{c.name.clone()}</a></td>
                                                    <td>{reach.join(", ")}</td>
                                                    <td>{r.sites.iter().map(|s| s.address.clone()).collect::<Vec<_>>().join("; ")}</td>
                                                    <td><a href=href>{tickets}</a></td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

#[component]
pub fn ChecklistsPage() -> impl IntoView {
    use crate::api::{checklist_templates, PutTemplateItem, RemoveTemplateItem};
    let put = ServerAction::<PutTemplateItem>::new();
    let remove = ServerAction::<RemoveTemplateItem>::new();
    let list = Resource::new(move || (put.version().get(), remove.version().get()), |_| checklist_templates());
    view! {
        <TopBar title="Checklists"/>
        <main class="console">
            <section class="panel" aria-labelledby="new-item">
                <h2 id="new-item">"Add or change an item"</h2>
                <p class="muted">"New tickets copy their trade's checklist (or the general one); open tickets keep theirs."</p>
                <ActionForm action=put attr:id="template-form" attr:class="form compact">
                    <label class="field"><span>"Job type (trade)"</span><input name="job_type" placeholder="hvac" required=true/></label>
                    <label class="field"><span>"Item"</span><input name="label" required=true/></label>
                    <label class="field"><span>"Order"</span><input name="position" value="10" inputmode="numeric"/></label>
                    <label class="field checkbox"><input type="checkbox" name="required" value="on"/><span>"Required before closeout"</span></label>
                    <button type="submit" class="primary">"Save item"</button>
                </ActionForm>
                <p class="form-status" role="status">{move || outcome_text(put.value().get(), "Item saved.").map(|(ok, t)| view! { <span class=if ok { "ok" } else { "bad" }>{t}</span> })}</p>
            </section>
            <section class="panel">
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(rows) => view! {
                                <table class="ticket-table" id="templates">
                                    <thead><tr><th>"Job type"</th><th>"Item"</th><th>"Required"</th><th>"Order"</th><th></th></tr></thead>
                                    <tbody>
                                        {rows.into_iter().map(|t| {
                                            let (item, jt, key) = (t.key.clone(), t.job_type.clone(), t.key.clone());
                                            view! {
                                            <tr data-item=item>
                                                <td>{t.job_type.clone()}</td><td>{t.label.clone()}</td>
                                                <td>{if t.required { "yes" } else { "no" }}</td><td>{t.position}</td>
                                                <td>
                                                    <ActionForm action=remove attr:class="inline">
                                                        <input type="hidden" name="job_type" value=jt/>
                                                        <input type="hidden" name="key" value=key/>
                                                        <button type="submit">"Remove"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}
