//! The office's approval queue: what agents asked for that the shop's rules give to a person,
//! with the case it is about; approve (it runs once, as asked) or reject with a reason. Admins
//! also set the rules here.

use crate::api::{
    approval_queue, approval_rules, Approval, DecideApproval, FormOutcome, GatePolicy, QueuedApproval, SetApprovalRules,
};
use crate::pages::session::TopBar;
use crate::pages::{failure_text, when};
use domain::approval::ApprovalStatus;
use leptos::prelude::*;

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let decide = ServerAction::<DecideApproval>::new();
    let rules_set = ServerAction::<SetApprovalRules>::new();
    let queue = Resource::new(move || decide.version().get(), |_| approval_queue());
    let rules = Resource::new(move || rules_set.version().get(), |_| approval_rules());
    view! {
        <TopBar title="Approvals"/>
        <main class="approvals-page">
            <p class="form-status" role="status" aria-live="polite" data-test="approval-status">
                {move || match decide.value().get() {
                    Some(Ok(FormOutcome::Done(a))) => view! { <span class="ok">{decided_text(&a)}</span> }.into_any(),
                    other => failure_text(other).map(|t| view! { <span class="bad">{t}</span> }).into_any(),
                }}
            </p>
            <section class="panel" aria-labelledby="waiting">
                <h2 id="waiting">"Waiting for a person"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match queue.await {
                            Ok(items) => {
                                let (pending, decided): (Vec<_>, Vec<_>) =
                                    items.into_iter().partition(|q| q.approval.status == ApprovalStatus::Pending);
                                view! {
                                    {if pending.is_empty() {
                                        view! { <p class="empty" data-test="no-approvals">"Nothing waits for you: agents' calls are going through."</p> }.into_any()
                                    } else {
                                        view! { <ul class="approvals">
                                            {pending.into_iter().map(|q| view! { <QueuedCard q decide/> }).collect_view()}
                                        </ul> }.into_any()
                                    }}
                                    <h2>"Recently decided"</h2>
                                    {if decided.is_empty() { view! { <p class="empty">"None yet."</p> }.into_any() } else {
                                        view! { <ul class="approvals decided">
                                            {decided.into_iter().map(|q| view! { <QueuedCard q decide/> }).collect_view()}
                                        </ul> }.into_any()
                                    }}
                                }.into_any()
                            }
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
            <section class="panel" aria-labelledby="undelivered">
                <h2 id="undelivered">"Customer updates that could not be sent"</h2>
                <crate::pages::updates::Undelivered/>
            </section>
            <p class="muted">"The words of customer updates are on the " <a href="/console/settings">"Settings"</a> " page."</p>
            <section class="panel" aria-labelledby="rules">
                <h2 id="rules">"What waits for a person"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match rules.await {
                            Ok(p) => view! { <RulesForm p action=rules_set/> }.into_any(),
                            Err(e) => view! { <p class="bad">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
                <p class="form-status" role="status">
                    {move || match rules_set.value().get() {
                        Some(Ok(FormOutcome::Done(_))) => view! { <span class="ok">"Rules saved."</span> }.into_any(),
                        other => failure_text(other).map(|t| view! { <span class="bad">{t}</span> }).into_any(),
                    }}
                </p>
            </section>
        </main>
    }
}

#[component]
fn QueuedCard(q: QueuedApproval, decide: ServerAction<DecideApproval>) -> impl IntoView {
    let href = format!("/console/tickets/{}", q.approval.ticket_id);
    view! {
        <li class="approval-item">
            <p>
                <a href=href data-test="approval-ticket">{q.ticket_number}</a>
                " · " {q.customer_name} " · " <span class=format!("badge state-{}", q.ticket_state.as_str())>{q.ticket_state.label()}</span>
            </p>
            <ApprovalCard a=q.approval decide/>
        </li>
    }
}

/// One held call: what the agent asked, why it waits, and (while pending) the decision forms.
#[component]
pub fn ApprovalCard(a: Approval, decide: ServerAction<DecideApproval>) -> impl IntoView {
    let pending = a.status == ApprovalStatus::Pending;
    let (approve_id, reject_id) = (a.id.clone(), a.id.clone());
    view! {
        <div class=format!("approval {}", a.status) data-test="approval" data-approval=a.id.clone() data-status=a.status.as_str()>
            <p><strong data-test="approval-proposal">{proposal(&a)}</strong></p>
            <p class="muted">
                "Asked by the " {agent_name(&a.requested_role)} " · " {when(a.requested_at_ms)} " · " {a.reason.clone()}
            </p>
            {(!pending).then(|| view! { <p data-test="approval-outcome">{decided_text(&a)}</p> })}
            {pending.then(move || view! {
                <div class="approval-actions">
                    <ActionForm action=decide attr:class="inline">
                        <input type="hidden" name="approval_id" value=approve_id/>
                        <input type="hidden" name="decision" value="approve"/>
                        <input type="hidden" name="note" value=""/>
                        <button type="submit" class="primary" data-test="approve">"Approve"</button>
                    </ActionForm>
                    <ActionForm action=decide attr:class="inline">
                        <input type="hidden" name="approval_id" value=reject_id/>
                        <input type="hidden" name="decision" value="reject"/>
                        <label class="field inline"><span class="visually-hidden">"Why not"</span>
                            <input name="note" placeholder="Why not (the agent is told)" required=true data-test="reject-note"/></label>
                        <button type="submit" data-test="reject">"Reject"</button>
                    </ActionForm>
                </div>
            })}
        </div>
    }
}

#[component]
fn RulesForm(p: GatePolicy, action: ServerAction<SetApprovalRules>) -> impl IntoView {
    let dollars = p.invoice_above_cents.map(|c| format!("{}.{:02}", c / 100, c % 100)).unwrap_or_default();
    let minutes = p.reschedule_within_minutes.map(|m| m.to_string()).unwrap_or_default();
    view! {
        <ActionForm action attr:class="form" attr:id="approval-rules">
            <label class="check"><input type="checkbox" name="cancel" value="on" checked=p.cancel/>
                " An agent cancels a ticket"</label>
            <label class="field"><span>"An invoice above (dollars; blank: never)"</span>
                <input name="invoice_above" inputmode="decimal" value=dollars/></label>
            <label class="field"><span>"An agent moves an appointment starting within (minutes; blank: never)"</span>
                <input name="reschedule_within_minutes" inputmode="numeric" value=minutes/></label>
            <label class="check"><input type="checkbox" name="flagged_tickets" value="on" checked=p.flagged_tickets/>
                " Anything an agent does on a ticket marked VIP or complaint"</label>
            <button type="submit">"Save rules (admins)"</button>
        </ActionForm>
    }
}

/// What the agent asked for, in the office's words.
fn proposal(a: &Approval) -> String {
    let i = &a.input;
    let text = |k: &str| i.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let ms = |k: &str| i.get(k).and_then(|v| v.as_i64());
    match a.action.as_str() {
        "ticket.cancel" => format!("Cancel the ticket: “{}”", text("reason")),
        "schedule.confirm" | "ticket.book" => match (ms("start_ms"), ms("end_ms")) {
            (Some(s), Some(e)) => format!("Move the appointment to {} – {}", when(s), when(e)),
            _ => "Move the appointment".into(),
        },
        "ticket.set_priority" => format!("Set the priority to {}", text("priority")),
        "dispatch.set_eta" => ms("eta_ms")
            .map(|e| format!("Tell the customer the technician arrives around {}", when(e)))
            .unwrap_or_else(|| "Set the arrival time".into()),
        "dispatch.assign_tech" => format!("Assign technician {}", text("technician_id")),
        "billing.generate_invoice_draft" => "Make the invoice draft".into(),
        "billing.compile_closeout_packet" => "Send the closeout packet with the invoice".into(),
        other => {
            let mut rest = i.clone();
            if let Some(m) = rest.as_object_mut() {
                m.remove("ticket_id");
                m.remove("expected_version");
                m.retain(|_, v| !v.is_null());
            }
            format!("{other} {rest}")
        }
    }
}

fn agent_name(role: &str) -> String {
    format!("{} agent", role.trim_end_matches("_agent").replace('_', " "))
}

fn decided_text(a: &Approval) -> String {
    let note = a.decision_note.clone().unwrap_or_default();
    match a.status {
        ApprovalStatus::Pending => "Waiting for a person.".into(),
        ApprovalStatus::Approved => {
            format!("Approved and done{}.", if note.is_empty() { String::new() } else { format!(": {note}") })
        }
        ApprovalStatus::Rejected => format!("Rejected: {note}"),
        ApprovalStatus::Failed => format!("Approved, but it could not be done: {note}"),
    }
}
