//! The ticket page of the console: the canonical case, its messages and audit timeline, and
//! only the actions that are legal in its state (from the shared lifecycle table).

use crate::api::{
    load_ticket, ConsoleAgents, ConsoleBook, ConsoleCancel, ConsoleCustomerLink, ConsoleJobStep, ConsoleMessage,
    ConsolePropose, ConsoleSendLink, ConsoleSetEta, ConsoleSetFlag, ConsoleSetPriority, DecideApproval, FormOutcome,
    TicketDetail,
};
use crate::pages::approvals::ApprovalCard;
use crate::pages::billing::{Billing, BillingActions};
use crate::pages::photos::{PhotoUploads, Photos};
use crate::pages::session::TopBar;
use crate::pages::{day_label, day_time, failure_text, field_error, short_day, time_of_day, when, window_text};
use domain::currency::Currency;
use domain::money::Money;
use domain::views::TimelineEntry;
use domain::{Action, Case, CaseState, Priority};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TicketPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let priority = ServerAction::<ConsoleSetPriority>::new();
    let propose = ServerAction::<ConsolePropose>::new();
    let book = ServerAction::<ConsoleBook>::new();
    let eta = ServerAction::<ConsoleSetEta>::new();
    let message = ServerAction::<ConsoleMessage>::new();
    let cancel = ServerAction::<ConsoleCancel>::new();
    let step = ServerAction::<ConsoleJobStep>::new();
    let agents = ServerAction::<ConsoleAgents>::new();
    let flag = ServerAction::<ConsoleSetFlag>::new();
    let decide = ServerAction::<DecideApproval>::new();
    let photos = PhotoUploads::new();
    let billing = BillingActions::new();
    // Grows with every finished action, whichever it was: the page reloads on any change.
    let versions = move || {
        priority.version().get()
            + book.version().get()
            + eta.version().get()
            + message.version().get()
            + cancel.version().get()
            + step.version().get()
            + agents.version().get()
            + flag.version().get()
            + decide.version().get()
            + propose.version().get()
            + photos.done.get() as usize
            + billing.version()
    };
    let detail = Resource::new(move || (id(), versions()), |(id, _)| load_ticket(id));
    let actions =
        Actions { priority, propose, book, eta, message, cancel, step, agents, flag, decide, photos, billing };
    view! {
        <TopBar title="Ticket"/>
        <main class="ticket-page">
            // A div: the link bar holds forms, which a <p> cannot (the parser would close it).
            <div class="ticket-nav"><a href="/console">"← Dispatch board"</a> <CustomerLinkBar ticket_id=id()/></div>
            <ActionStatus actions/>
            <Transition fallback=|| view! { <p class="muted">"Loading the ticket…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(d) => view! { <Detail d actions/> }.into_any(),
                        Err(e) => view! { <p class="bad" data-test="ticket-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    priority: ServerAction<ConsoleSetPriority>,
    propose: ServerAction<ConsolePropose>,
    book: ServerAction<ConsoleBook>,
    eta: ServerAction<ConsoleSetEta>,
    message: ServerAction<ConsoleMessage>,
    cancel: ServerAction<ConsoleCancel>,
    step: ServerAction<ConsoleJobStep>,
    agents: ServerAction<ConsoleAgents>,
    flag: ServerAction<ConsoleSetFlag>,
    decide: ServerAction<DecideApproval>,
    photos: PhotoUploads,
    billing: BillingActions,
}

/// The outcome of the last action, whichever it was.
#[component]
fn ActionStatus(actions: Actions) -> impl IntoView {
    let a = actions;
    let problem = move || {
        failure_text(a.priority.value().get())
            .or_else(|| failure_text(a.book.value().get()))
            .or_else(|| failure_text(a.eta.value().get()))
            .or_else(|| failure_text(a.message.value().get()))
            .or_else(|| failure_text(a.cancel.value().get()))
            .or_else(|| failure_text(a.step.value().get()))
            .or_else(|| failure_text(a.agents.value().get()))
            .or_else(|| failure_text(a.flag.value().get()))
            .or_else(|| failure_text(a.decide.value().get()))
            .or_else(|| a.billing.problem())
    };
    view! { <p class="form-status bad" role="status" aria-live="polite" data-test="action-error">{problem}</p> }
}

#[component]
fn Detail(d: TicketDetail, actions: Actions) -> impl IntoView {
    let c = d.case.clone();
    view! {
        <header class="ticket-head">
            <h1 data-test="ticket-number">{c.number.clone()}</h1>
            <span class=format!("badge state-{}", c.state.as_str()) data-test="ticket-state">{c.state.label()}</span>
            <span class=format!("badge prio-{}", c.priority.as_str()) data-test="ticket-priority">{priority_label(c.priority)}</span>
            <AgentSwitch id=c.id.clone() paused=d.paused.clone() action=actions.agents/>
            <FlagSwitch c=c.clone() action=actions.flag/>
        </header>
        {(!d.approvals.is_empty()).then(|| view! {
            <section class="panel approvals-here" aria-label="Agent requests" data-test="ticket-approvals">
                <h2>"Agent requests"</h2>
                <ul class="approvals">
                    {d.approvals.clone().into_iter().map(|a| view! { <li><ApprovalCard a decide=actions.decide/></li> }).collect_view()}
                </ul>
            </section>
        }.into_any())}
        <div class="ticket-grid">
            <section class="panel" aria-label="Case">
                <Facts c=c.clone() currency=d.currency/>
            </section>
            <section class="panel" aria-label="Actions">
                <h2>"Actions"</h2>
                {view! { <ActionForms c=c.clone() actions/> }.into_any()}
            </section>
            <section class="panel" aria-label="Billing" id="billing">
                {view! { <Billing c=c.clone() b=actions.billing currency=d.currency/> }.into_any()}
            </section>
            <section class="panel" aria-label="Photos">
                // Erased, so the page's view type stays within the compiler's depth limit.
                {view! { <Photos ticket_id=c.id.clone() photos=c.attachments.iter().map(domain::job_view::JobPhoto::of).collect() up=actions.photos can_add=Action::CloseoutAddPhoto.legal_in(c.state)/> }.into_any()}
            </section>
            <section class="panel" aria-label="Customer updates" id="updates">
                {view! { <crate::pages::updates::TicketUpdates ticket_id=c.id.clone() version=c.version/> }.into_any()}
            </section>
            <section class="panel" aria-label="Messages">
                <h2>"Messages"</h2>
                {if d.messages.is_empty() { view! { <p class="empty">"No messages yet."</p> }.into_any() } else {
                    view! { <ol class="thread">
                        {d.messages.into_iter().map(|m| view! {
                            <li class=format!("msg {}", m.direction)>
                                <small class="muted">{when(m.at_ms)} " · " {m.channel.clone()} " · " {m.direction.clone()} " " {m.sender.clone().unwrap_or_default()}</small>
                                <p>{m.text.clone()}</p>
                            </li>
                        }).collect_view()}
                    </ol> }.into_any()
                }}
            </section>
            <section class="panel timeline" aria-label="Timeline" id="timeline">
                {view! { <Timeline entries=d.timeline/> }.into_any()}
            </section>
        </div>
    }
}

/// Events shown before the rest fold away: a long job stays one screen.
const RECENT_EVENTS: usize = 12;

/// The case's history in sentences, newest first, a line each, grouped by day; the changed
/// fields of each behind its own disclosure.
#[component]
fn Timeline(entries: Vec<TimelineEntry>) -> impl IntoView {
    let total = entries.len();
    let mut newest_first = entries;
    newest_first.reverse();
    let older = if total > RECENT_EVENTS { newest_first.split_off(RECENT_EVENTS) } else { vec![] };
    let list = |items: Vec<TimelineEntry>| {
        let mut day = String::new();
        items
            .into_iter()
            .map(|e| {
                let this_day = day_label(e.at_ms);
                let heading = (this_day != day).then(|| {
                    day = this_day.clone();
                    view! { <li class="tl-day">{this_day}</li> }
                });
                view! { {heading} <TimelineLine e/> }
            })
            .collect_view()
    };
    view! {
        <h2>"Timeline"</h2>
        <ol class="tl" data-test="timeline">{list(newest_first)}</ol>
        {(!older.is_empty()).then(|| view! {
            <details class="tl-older">
                <summary>{format!("{} earlier events", older.len())}</summary>
                <ol class="tl">{list(older)}</ol>
            </details>
        })}
    }
}

#[component]
fn TimelineLine(e: TimelineEntry) -> impl IntoView {
    let facts = e.facts.join(" · ");
    view! {
        <li class="tl-event" data-action=e.action.clone()>
            <time class="tl-time">{time_of_day(e.at_ms)}</time>
            <span class="tl-sentence" data-test="tl-sentence">{e.sentence.clone()}</span>
            {e.agent.clone().map(|role| view! { <span class="badge agent" title="Taken by an AI agent">{role}</span> })}
            {(!facts.is_empty()).then(|| view! { <span class="tl-facts">{facts}</span> })}
            <details class="tl-raw">
                <summary>"Details"</summary>
                <ul>
                    {e.raw.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}
                    <li class="muted">{format!("{} · via {} · event {}", e.action, e.channel, e.seq)}</li>
                </ul>
            </details>
        </li>
    }
}

fn priority_label(p: Priority) -> &'static str {
    match p {
        Priority::Standard => "Standard",
        Priority::Urgent => "Urgent",
        Priority::Emergency => "Emergency",
    }
}

/// "Invoice INV-000001 · $157.25 · Paid 30 Nov": where the invoice stands.
pub fn invoice_line(c: &Case, currency: Currency) -> Option<String> {
    let inv = c.invoice.as_ref()?;
    let standing = invoice_standing(c);
    Some(format!("Invoice {} · {} · {standing}", inv.number, currency.format(Money(inv.total_cents))))
}

/// "Draft", "Sent 30 Nov", "Paid 30 Nov", "On account, due 31 Dec".
pub fn invoice_standing(c: &Case) -> String {
    match (&c.payment, &c.packet) {
        (Some(p), _) if p.kind == domain::case::PaymentKind::Paid => format!("Paid {}", short_day(p.recorded_at_ms)),
        (Some(p), _) => match p.due_ms {
            Some(due) => format!("On account, due {}", short_day(due)),
            None => "On account".to_string(),
        },
        (None, Some(packet)) => format!("Sent {}", short_day(packet.created_at_ms)),
        (None, None) => "Draft".to_string(),
    }
}

/// The ticket's mark (VIP, complaint), which makes every agent step on it wait for a person.
#[component]
fn FlagSwitch(c: Case, action: ServerAction<ConsoleSetFlag>) -> impl IntoView {
    let current = c.flag.map(|f| f.as_str()).unwrap_or("none");
    view! {
        {c.flag.map(|f| view! {
            <span class="badge flagged" data-test="ticket-flag" title="Agents' steps on this ticket wait for a person">{f.label()}</span>
        })}
        <ActionForm action attr:class="inline">
            <input type="hidden" name="ticket_id" value=c.id.clone()/>
            <input type="hidden" name="version" value=c.version.to_string()/>
            <label><span class="visually-hidden">"Mark"</span>
                <select name="flag" data-test="flag-select">
                    <option value="none" selected=current == "none">"No mark"</option>
                    <option value="vip" selected=current == "vip">"VIP"</option>
                    <option value="complaint" selected=current == "complaint">"Complaint"</option>
                </select>
            </label>
            <button type="submit" class="secondary" data-test="flag-set">"Mark"</button>
        </ActionForm>
    }
}

/// Whether the agents may act on this ticket, and the one click that changes it. A pause of
/// every agent is lifted from the board, not here.
#[component]
fn AgentSwitch(
    id: String,
    paused: Option<domain::autonomy::Pause>,
    action: ServerAction<ConsoleAgents>,
) -> impl IntoView {
    use domain::autonomy::PauseScope;
    match paused {
        Some(p) => {
            let here = matches!(p.scope, PauseScope::Ticket { .. });
            let title = p.reason.clone().unwrap_or_else(|| format!("paused by {}", p.paused_by));
            view! {
                <span class="badge paused" data-test="agents-paused" title=title>
                    {if here { "Agents paused".to_string() } else { format!("Agents paused ({})", p.scope) }}
                </span>
                {here.then(|| view! {
                    <ActionForm action=action attr:class="inline">
                        <input type="hidden" name="ticket_id" value=id.clone()/>
                        <input type="hidden" name="switch" value="resume"/>
                        <input type="hidden" name="reason" value=""/>
                        <button type="submit" data-test="agents-resume">"Resume agents"</button>
                    </ActionForm>
                })}
            }
            .into_any()
        }
        None => view! {
            <ActionForm action=action attr:class="inline">
                <input type="hidden" name="ticket_id" value=id/>
                <input type="hidden" name="switch" value="pause"/>
                <input type="hidden" name="reason" value="taken over from the ticket page"/>
                <button type="submit" class="secondary" data-test="agents-pause"
                    title="Agents stop acting on this ticket until you resume them">"Pause agents"</button>
            </ActionForm>
        }
        .into_any(),
    }
}

#[component]
fn Facts(c: Case, currency: Currency) -> impl IntoView {
    let phones: Vec<String> = c.customer.phones.iter().map(|p| domain::validate::phone_for_people(p)).collect();
    view! {
        <dl class="facts">
            <dt>"Customer"</dt><dd>{c.customer.name.clone()}</dd>
            {(!phones.is_empty()).then(|| view! { <dt>"Phone"</dt><dd data-test="customer-phone">{phones.join(", ")}</dd> })}
            {(!c.customer.emails.is_empty()).then(|| view! { <dt>"E-mail"</dt><dd>{c.customer.emails.join(", ")}</dd> })}
            {c.contact.clone().map(|p| {
                let reach: Vec<String> = p.phone.iter().map(|x| domain::validate::phone_for_people(x)).chain(p.email.clone()).collect();
                view! { <dt>"Caller"</dt><dd data-test="contact">{p.name} {(!reach.is_empty()).then(|| format!(" \u{b7} {}", reach.join(", ")))}</dd> }
            })}
            <dt>"Site"</dt><dd>{c.site.as_ref().map(|s| s.address.clone()).unwrap_or_else(|| "—".into())}
                {c.site.as_ref().and_then(|s| s.access_notes.clone()).map(|n| view! { <br/><small>{n}</small> })}</dd>
            <dt>"Problem"</dt><dd>{c.problem_summary.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Trade"</dt><dd>{c.trade.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Appointment"</dt><dd data-test="appointment">{c.appointment.as_ref().map(|a| format!("{} – {}", when(a.start_ms), when(a.end_ms))).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Technician"</dt><dd data-test="technician">{c.assignment.as_ref().map(|a| a.technician_name.clone()).unwrap_or_else(|| "—".into())}</dd>
            <dt>"ETA"</dt><dd data-test="eta">{c.eta.as_ref().map(|e| when(e.eta_ms)).unwrap_or_else(|| "—".into())}
                {c.eta.as_ref().and_then(|e| e.late_reason.clone()).map(|r| view! { <br/><small class="bad" data-test="eta-late">"Running late: " {r}</small> })}</dd>
            <dt>"Checklist"</dt><dd>{format!("{} of {} done", c.checklist.iter().filter(|i| i.done).count(), c.checklist.len())}</dd>
            <dt>"Photos"</dt><dd>{c.attachments.len()}</dd>
            <dt>"Labor / parts"</dt><dd>{c.labor.len()} " / " {c.parts.len()}</dd>
            <dt>"Invoice"</dt><dd data-test="invoice-line">{invoice_line(&c, currency).unwrap_or_else(|| "—".into())}</dd>
        </dl>
    }
}

#[component]
fn ActionForms(c: Case, actions: Actions) -> impl IntoView {
    let legal = |a: Action| a.legal_in(c.state);
    let id = StoredValue::new(c.id.clone());
    let version = StoredValue::new(c.version.to_string());
    let reschedule = c.state == CaseState::Scheduled;
    let a = actions;
    let slots = move || match a.propose.value().get() {
        Some(Ok(FormOutcome::Done(slots))) => Some(slots),
        _ => None,
    };
    let propose_error = move || failure_text(a.propose.value().get());
    view! {
        {legal(Action::ScheduleProposeSlots).then(|| view! {
            <ActionForm action=a.propose attr:class="form compact" attr:id="propose-form">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <label class="field"><span>"Job length (minutes)"</span><input name="duration_minutes" value="120" inputmode="numeric"/>
                    <small class="field-error" role="alert">{move || field_error(a.propose.value().get(), &["duration_minutes"])}</small></label>
                <label class="field"><span>"Search the next (days)"</span><input name="days" value="7" inputmode="numeric"/></label>
                <button type="submit" class="primary">{if reschedule { "Find new slots" } else { "Propose slots" }}</button>
            </ActionForm>
            <p class="bad">{propose_error}</p>
            {move || slots().map(|list| {
                if list.is_empty() {
                    view! { <p class="empty" data-test="no-slots">"No free technician with the skill in that range."</p> }.into_any()
                } else {
                    view! { <ol class="slots" id="slots">
                        {list.into_iter().enumerate().map(|(n, s)| {
                            let label = slot_label(&s);
                            let why = s.reasons.join(" \u{b7} ");
                            view! {
                                <li class:best=n == 0>
                                    <ActionForm action=a.book attr:class="inline">
                                        <input type="hidden" name="ticket_id" value=id.get_value()/>
                                        <input type="hidden" name="start_ms" value=s.start_ms.to_string()/>
                                        <input type="hidden" name="end_ms" value=s.end_ms.to_string()/>
                                        <input type="hidden" name="technician_id" value=s.technician_id.clone()/>
                                        <input type="hidden" name="reschedule" value=reschedule.to_string()/>
                                        <button type="submit" data-test="book" aria-describedby=format!("why-{n}")>{format!("Book {label}")}</button>
                                    </ActionForm>
                                    {(n == 0).then(|| view! { <span class="badge">"Best fit"</span> })}
                                    <small class="muted" id=format!("why-{n}") data-test="slot-why">{why}</small>
                                </li>
                            }
                        }).collect_view()}
                    </ol> }.into_any()
                }
            })}
        })}
        {legal(Action::DispatchSetEta).then(|| view! {
            <ActionForm action=a.eta attr:class="form compact" attr:id="eta-form">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <label class="field"><span>"Arrival time (shop time)"</span><input name="time" type="time" data-test="eta-time"/>
                    <small class="field-error" role="alert" data-test="eta-error">{move || field_error(a.eta.value().get(), &["eta_ms", "minutes", "time"])}</small></label>
                <label class="field"><span>"Running late because (only for a time after the booked window)"</span><input name="late_reason" data-test="eta-late-reason"/>
                    <small class="field-error" role="alert">{move || field_error(a.eta.value().get(), &["late_reason"])}</small></label>
                <label class="field"><span>"Note"</span><input name="note"/></label>
                // First in the form, so Enter in a field sets the typed time, not a shortcut.
                <button type="submit" class="primary" data-test="eta-set">"Set ETA"</button>
                <span class="eta-shortcuts" role="group" aria-label="Or from now">
                    {[15, 30, 60].map(|m| view! {
                        <button type="submit" class="secondary" name="minutes" value=m.to_string() data-test=format!("eta-plus-{m}")>{format!("now + {m} min")}</button>
                    }).collect_view()}
                </span>
                <p class="form-status bad" role="alert" data-test="eta-refusal">{move || match a.eta.value().get() {
                    Some(Ok(FormOutcome::Invalid { message, fields })) if fields.is_empty() => Some(message),
                    _ => None,
                }}</p>
            </ActionForm>
        })}
        {(c.state == CaseState::Dispatched || c.state == CaseState::Onsite).then(|| {
            let (step, label) = if c.state == CaseState::Dispatched { ("check_in", "Check in on site") } else { ("complete_work", "Work done") };
            view! {
                <ActionForm action=a.step attr:class="inline">
                    <input type="hidden" name="ticket_id" value=id.get_value()/>
                    <input type="hidden" name="step" value=step/>
                    <input type="hidden" name="version" value=version.get_value()/>
                    <button type="submit">{label}</button>
                </ActionForm>
            }
        })}
        {legal(Action::TicketSetPriority).then(|| view! {
            <ActionForm action=a.priority attr:class="inline" attr:id="priority-form">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <input type="hidden" name="version" value=version.get_value()/>
                <select name="priority" aria-label="Priority">
                    {Priority::ALL.into_iter().map(|p| view! { <option value=p.as_str() selected=p == c.priority>{priority_label(p)}</option> }).collect_view()}
                </select>
                <button type="submit">"Set priority"</button>
            </ActionForm>
        })}
        {c.state.is_open().then(|| view! {
            <ActionForm action=a.message attr:class="form compact" attr:id="message-form">
                <input type="hidden" name="ticket_id" value=id.get_value()/>
                <label class="field"><span>"Message"</span><textarea name="text" rows="2" required=true></textarea>
                    <small class="field-error" role="alert">{move || field_error(a.message.value().get(), &["text"])}</small></label>
                <select name="direction" aria-label="Kind">
                    <option value="internal">"internal note"</option>
                    <option value="outbound">"to the customer"</option>
                    <option value="inbound">"from the customer (by phone)"</option>
                </select>
                <button type="submit">"Add message"</button>
            </ActionForm>
        })}
        {c.state.can_transition_to(CaseState::Canceled).then(|| view! {
            <details class="danger">
                <summary>"Cancel the ticket"</summary>
                <ActionForm action=a.cancel attr:class="form compact">
                    <input type="hidden" name="ticket_id" value=id.get_value()/>
                    <input type="hidden" name="version" value=version.get_value()/>
                    <label class="field"><span>"Reason"</span><input name="reason" required=true/>
                        <small class="field-error" role="alert">{move || field_error(a.cancel.value().get(), &["reason"])}</small></label>
                    <button type="submit">"Cancel ticket"</button>
                </ActionForm>
            </details>
        })}
    }
}

/// `Tue 1 Dec, 09:30–11:00 · Dana W. (north, 2 jobs)`: when, who, and what that day holds.
fn slot_label(s: &domain::slots::Slot) -> String {
    let jobs = match s.jobs_that_day {
        0 => "free that day".to_string(),
        1 => "1 job".to_string(),
        n => format!("{n} jobs"),
    };
    let about = match &s.zone {
        Some(zone) => format!("{zone}, {jobs}"),
        None => jobs,
    };
    format!("{} \u{b7} {} ({about})", window_text(s.start_ms, s.end_ms), short_name(&s.technician_name))
}

/// `Dana Whitfield` -> `Dana W.`; a one-word name stays whole.
fn short_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    match (words.next(), words.last()) {
        (Some(first), Some(last)) => format!("{first} {}.", last.chars().next().unwrap_or_default()),
        (Some(first), None) => first.to_string(),
        _ => name.to_string(),
    }
}

/// "Send customer link": a new link to the customer's page for this ticket, shown once to copy
/// into a text or an e-mail.
#[component]
fn CustomerLinkBar(ticket_id: String) -> impl IntoView {
    let make = ServerAction::<ConsoleCustomerLink>::new();
    let send = ServerAction::<ConsoleSendLink>::new();
    let copied = RwSignal::new(None::<bool>);
    let (send_id, make_id) = (ticket_id.clone(), ticket_id);
    let link = move || match make.value().get() {
        Some(Ok(FormOutcome::Done(l))) => Some(l),
        _ => None,
    };
    view! {
        <div class="customer-link">
            <ActionForm action=send attr:class="inline" attr:id="send-link-form">
                <input type="hidden" name="ticket_id" value=send_id/>
                <button type="submit" class="secondary" data-test="send-link"
                    title="A text or e-mail through the customer's channel, with a new link">"Send customer link"</button>
            </ActionForm>
            <ActionForm action=make attr:class="inline" attr:id="customer-link-form">
                <input type="hidden" name="ticket_id" value=make_id/>
                <button type="submit" class="secondary" data-test="customer-link">"Copy a link"</button>
            </ActionForm>
            <span class="ok" data-test="send-link-status">{move || match send.value().get() {
                Some(Ok(FormOutcome::Done(text))) => Some(text),
                _ => None,
            }}</span>
            <span class="bad" data-test="send-link-refusal">{move || failure_text(send.value().get())}</span>
            {move || link().map(|l| {
                let url = format!("{}{}", page_origin(), l.path);
                view! {
                    <input readonly class="link-url" data-test="customer-link-url" aria-label="Customer link" value=url
                        on:focus=|ev| select_all(&ev)/>
                    <button type="button" class="secondary" data-test="customer-link-copy"
                        on:click=move |_| copied.set(Some(copy_link_field()))>
                        {move || match copied.get() { Some(true) => "Copied", Some(false) => "Press Ctrl+C to copy", None => "Copy" }}
                    </button>
                    <small class="muted">"Works until " {day_time(l.expires_at_ms)} ". Anyone with it sees this ticket; send it to the customer only."</small>
                }
            })}
            <span class="bad">{move || failure_text(make.value().get())}</span>
        </div>
    }
}

/// This page's `scheme://host`, in the browser (links are made only there).
fn page_origin() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        return w.location().origin().unwrap_or_default();
    }
    String::new()
}

fn select_all(ev: &leptos::ev::FocusEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
            input.select();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// Copies the link field's text: selects it and asks the browser to copy the selection, which
/// works on a shop's plain-http address too (the clipboard API needs https). False when the
/// browser refused; the text stays selected to copy by hand.
fn copy_link_field() -> bool {
    #[cfg(feature = "hydrate")]
    {
        use js_sys::{Function, Reflect};
        use wasm_bindgen::{JsCast, JsValue};
        let run = || -> Option<bool> {
            let document = web_sys::window()?.document()?;
            let input: web_sys::HtmlInputElement =
                document.query_selector("[data-test=customer-link-url]").ok()??.dyn_into().ok()?;
            input.select();
            let exec: Function = Reflect::get(&document, &JsValue::from_str("execCommand")).ok()?.dyn_into().ok()?;
            exec.call1(&document, &JsValue::from_str("copy")).ok()?.as_bool()
        };
        run().unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    false
}
