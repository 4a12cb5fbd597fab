//! What customers are told: a ticket's updates, the ones that could not be sent, and the
//! shop's words for each kind.

use crate::api::{
    ticket_updates, undelivered_updates, update_rules, CustomerUpdate, FormOutcome, SetUpdateRule, UpdateSettings,
};
use crate::pages::{failure_text, when};
use leptos::prelude::*;

/// One update's line: what, when, where, and how it went.
#[component]
pub fn UpdateLine(u: CustomerUpdate) -> impl IntoView {
    let outcome = match u.status.as_str() {
        "sent" => format!("sent {}", u.sent_at_ms.map(when).unwrap_or_default()),
        "pending" if u.attempts > 0 => format!(
            "not sent yet: {} (attempt {} failed; next try {})",
            u.last_error.clone().unwrap_or_default(),
            u.attempts,
            when(u.next_attempt_at_ms)
        ),
        "pending" => "waiting to be sent".into(),
        "dead" => {
            format!("could not be sent after {} attempts: {}", u.attempts, u.last_error.clone().unwrap_or_default())
        }
        _ => format!("not sent: {}", u.reason.clone().unwrap_or_default()),
    };
    view! {
        <li class=format!("update {}", u.status) data-test="customer-update" data-kind=u.kind.clone() data-status=u.status.clone()>
            <strong>{u.label()}</strong>
            " " <small class="muted">{when(u.created_at_ms)} " · " {u.channel.clone().unwrap_or_default()} " " {u.to.clone().unwrap_or_default()}</small>
            <p>{u.body.clone()}</p>
            <small>{outcome}</small>
        </li>
    }
}

/// The ticket page's list of what the customer was (or will be) told.
#[component]
pub fn TicketUpdates(ticket_id: String, version: i64) -> impl IntoView {
    let list = Resource::new(move || (ticket_id.clone(), version), |(id, _)| ticket_updates(id));
    view! {
        <h2>"Customer updates"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(u) if u.is_empty() => view! { <p class="empty">"Nothing sent to the customer yet."</p> }.into_any(),
                    Ok(u) => view! { <ol class="updates">{u.into_iter().map(|u| view! { <UpdateLine u/> }).collect_view()}</ol> }.into_any(),
                    Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Updates the worker gave up on: the office calls or texts these customers itself.
#[component]
pub fn Undelivered() -> impl IntoView {
    let list = Resource::new(|| (), |_| undelivered_updates());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(u) if u.is_empty() => view! { <p class="empty" data-test="no-undelivered">"Every update reached its customer or is on its way."</p> }.into_any(),
                    Ok(u) => view! {
                        <ol class="updates">
                            {u.into_iter().map(|u| {
                                let href = format!("/console/tickets/{}", u.ticket_id);
                                view! { <li><a href=href>"Open the ticket"</a><ol><UpdateLine u/></ol></li> }
                            }).collect_view()}
                        </ol>
                    }.into_any(),
                    Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Each kind of update: on or off, and its words (admins save).
#[component]
pub fn UpdateRules() -> impl IntoView {
    let save = ServerAction::<SetUpdateRule>::new();
    let rules = Resource::new(move || save.version().get(), |_| update_rules());
    view! {
        <p class="muted">"Placeholders: " {domain::updates::PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")}</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(s) => view! { <RuleForms s save/> }.into_any(),
                    Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
        <p class="form-status" role="status">
            {move || match save.value().get() {
                Some(Ok(FormOutcome::Done(_))) => view! { <span class="ok">"Saved."</span> }.into_any(),
                other => failure_text(other).map(|t| view! { <span class="bad">{t}</span> }).into_any(),
            }}
        </p>
    }
}

#[component]
fn RuleForms(s: UpdateSettings, save: ServerAction<SetUpdateRule>) -> impl IntoView {
    domain::updates::UpdateKind::ALL
        .into_iter()
        .map(|kind| {
            let rule = s.rule(kind);
            view! {
                <ActionForm action=save attr:class="form update-rule" attr:data-kind=kind.as_str()>
                    <input type="hidden" name="kind" value=kind.as_str()/>
                    <label class="check"><input type="checkbox" name="enabled" value="on" checked=rule.enabled/>
                        " " {kind.label()}</label>
                    <textarea name="template" rows="2" maxlength="600" required=true>{rule.template.clone()}</textarea>
                    <button type="submit">"Save"</button>
                </ActionForm>
            }
        })
        .collect_view()
}
