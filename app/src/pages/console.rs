//! The operator console: the ticket list and phone intake.

use crate::api::{list_cases, CreateTicket, FormOutcome};
use domain::{CaseSummary, FieldError, Priority};
use leptos::prelude::*;

#[component]
pub fn ConsolePage() -> impl IntoView {
    let create = ServerAction::<CreateTicket>::new();
    // Re-fetch the list whenever a ticket was created.
    let cases = Resource::new(move || create.version().get(), |_| list_cases());
    let outcome = create.value();
    // A created ticket clears the form for the next call; a refused one keeps what was typed.
    let form_ref = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(FormOutcome::Done(_))) = outcome.get() {
            if let Some(form) = form_ref.get() {
                form.reset();
            }
        }
    });
    let field_errors = Signal::derive(move || match outcome.get() {
        Some(Ok(FormOutcome::Invalid { fields, .. })) => fields,
        _ => vec![],
    });

    view! {
        <crate::pages::session::TopBar title="Operator console"/>
        <main class="console">
            <section class="panel intake" aria-labelledby="intake-title">
                <h2 id="intake-title">"New ticket"</h2>
                <ActionForm action=create node_ref=form_ref attr:id="new-ticket-form" attr:class="form">
                    <Field label="Customer name" name="customer_name" errors=field_errors error_key="customer.name" required=true/>
                    <Field label="Phone" name="phone" errors=field_errors error_key="customer.phone" kind="tel"/>
                    <Field label="E-mail" name="email" errors=field_errors error_key="customer.email" kind="email"/>
                    <Field label="Site address" name="address" errors=field_errors error_key="site.address"/>
                    <label class="field">
                        <span>"Problem"</span>
                        <textarea name="problem_summary" rows="3" placeholder="What is wrong, in the customer's words"></textarea>
                        <FieldErrorText errors=field_errors key="problem_summary"/>
                    </label>
                    <div class="row">
                        <Field label="Trade" name="trade" errors=field_errors error_key="trade" placeholder="hvac, plumbing, electrical…"/>
                        <label class="field">
                            <span>"Priority"</span>
                            <select name="priority">
                                {Priority::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.as_str()}</option> }).collect_view()}
                            </select>
                        </label>
                    </div>
                    <button type="submit" class="primary" disabled=move || create.pending().get()>
                        {move || if create.pending().get() { "Creating…" } else { "Create ticket" }}
                    </button>
                </ActionForm>
                <p class="form-status" role="status" aria-live="polite">
                    {move || match outcome.get() {
                        Some(Ok(FormOutcome::Done(case))) => {
                            view! { <span class="ok" data-test="created">"Created " {case.number} " (" {case.state.label()} ")"</span> }.into_any()
                        }
                        Some(Ok(FormOutcome::Invalid { message, .. })) => view! { <span class="bad">{message}</span> }.into_any(),
                        Some(Err(e)) => view! { <span class="bad">{format!("Could not create the ticket: {e}")}</span> }.into_any(),
                        None => ().into_any(),
                    }}
                </p>
            </section>
            <section class="panel tickets" aria-labelledby="tickets-title">
                <h2 id="tickets-title">"Tickets"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading tickets…"</p> }>
                    {move || Suspend::new(async move {
                        match cases.await {
                            Ok(list) if list.is_empty() => view! { <p class="empty">"No tickets yet. Create the first one with the form."</p> }.into_any(),
                            Ok(list) => view! { <TicketTable cases=list/> }.into_any(),
                            Err(e) => view! { <p class="bad">{format!("Could not load tickets: {e}")}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

#[component]
fn TicketTable(cases: Vec<CaseSummary>) -> impl IntoView {
    view! {
        <table class="ticket-table" id="ticket-table">
            <thead>
                <tr><th>"Ticket"</th><th>"State"</th><th>"Priority"</th><th>"Customer"</th><th>"Site"</th><th>"Trade"</th><th>"Problem"</th></tr>
            </thead>
            <tbody>
                {cases.into_iter().map(|c| view! {
                    <tr data-ticket=c.number.clone()>
                        <td class="mono">{c.number.clone()}</td>
                        <td><span class=format!("badge state-{}", c.state.as_str())>{c.state.label()}</span></td>
                        <td><span class=format!("badge prio-{}", c.priority.as_str())>{c.priority.as_str()}</span></td>
                        <td>{c.customer_name.clone()}<br/><small class="muted">{c.customer_contact.clone().unwrap_or_default()}</small></td>
                        <td>{c.site_address.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{c.trade.clone().unwrap_or_else(|| "—".into())}</td>
                        <td class="problem">{c.problem_summary.clone().unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn Field(
    label: &'static str,
    name: &'static str,
    errors: Signal<Vec<FieldError>>,
    error_key: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = false)] required: bool,
    #[prop(default = "")] placeholder: &'static str,
) -> impl IntoView {
    let invalid = move || errors.get().iter().any(|e| e.field == error_key);
    view! {
        <label class="field">
            <span>{label}</span>
            <input type=kind name=name required=required placeholder=placeholder
                aria-invalid=move || if invalid() { "true" } else { "false" }/>
            <FieldErrorText errors=errors key=error_key/>
        </label>
    }
}

#[component]
fn FieldErrorText(errors: Signal<Vec<FieldError>>, key: &'static str) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .find(|e| e.field == key)
            .map(|e| view! { <small class="field-error" data-field=key>{e.message}</small> })
    }
}
