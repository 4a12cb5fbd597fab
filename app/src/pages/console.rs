//! The operator console: the dispatch board and phone intake.

use crate::api::{
    board_stamp, load_board, Board, BoardColumn, BoardFilter, ConsoleAgentsAll, CreateTicket, FormOutcome,
};
use domain::views::{age, sla_badges};
use domain::{CaseState, CaseSummary, FieldError, Priority};
use leptos::prelude::*;

/// How often the board asks whether anything changed.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const POLL_MS: u64 = 2_000;

#[component]
pub fn ConsolePage() -> impl IntoView {
    let create = ServerAction::<CreateTicket>::new();
    // Anything that changed elsewhere (another operator, an agent through the tool API) bumps
    // this, and the board reloads.
    let changed = RwSignal::new(0u64);
    let filter = RwSignal::new(BoardFilter::default());
    let agents = ServerAction::<ConsoleAgentsAll>::new();
    let cases = Resource::new(
        move || (create.version().get() + agents.version().get(), changed.get(), filter.get()),
        |(_, _, f)| load_board(f),
    );
    poll_for_changes(cases, changed);
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

    // The drawer stays open while the office answers a refusal (a question, a field to fix)
    // and closes when the ticket is created.
    let drawer_open = move || matches!(outcome.get(), Some(Ok(FormOutcome::Invalid { .. })) | Some(Err(_)));

    view! {
        <crate::pages::session::TopBar title="Operator console"/>
        <main class="console board-page">
            <details class="drawer" id="new-ticket" prop:open=drawer_open>
                <summary class="primary" data-test="new-ticket">"+ New ticket"</summary>
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
                                    {Priority::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
                                </select>
                            </label>
                        </div>
                        // Before the question, so Enter in a field never answers it.
                        <button type="submit" class="primary" disabled=move || create.pending().get()>
                            {move || if create.pending().get() { "Creating…" } else { "Create ticket" }}
                        </button>
                        <KnownContactQuestion errors=field_errors/>
                    </ActionForm>
                    <p class="form-status" role="status" aria-live="polite">
                        {move || match outcome.get() {
                            Some(Ok(FormOutcome::Invalid { message, .. })) => view! { <span class="bad">{message}</span> }.into_any(),
                            Some(Err(e)) => view! { <span class="bad">{format!("Could not create the ticket: {e}")}</span> }.into_any(),
                            _ => ().into_any(),
                        }}
                    </p>
                </section>
            </details>
            <p class="form-status created" role="status" aria-live="polite">
                {move || match outcome.get() {
                    Some(Ok(FormOutcome::Done(case))) => {
                        let href = format!("/console/tickets/{}", case.id);
                        view! { <span class="ok" data-test="created">"Created " <a href=href>{case.number}</a> " (" {case.state.label()} ")"</span> }.into_any()
                    }
                    _ => ().into_any(),
                }}
            </p>
            <section class="panel tickets" aria-labelledby="tickets-title">
                <h2 id="tickets-title">"Dispatch board"</h2>
                <Filters filter cases/>
                <Transition fallback=|| view! { <p class="muted">"Loading the board…"</p> }>
                    {move || Suspend::new(async move {
                        match cases.await {
                            Ok(board) if board.total == 0 && filter.with_untracked(|f| *f == BoardFilter::default()) => view! { <p class="empty">"No open tickets. Take the first call with " <strong>"+ New ticket"</strong> "."</p> }.into_any(),
                            Ok(board) => view! { <AgentsBar paused=board.paused.clone() action=agents/> <BoardView board/> }.into_any(),
                            Err(e) => view! { <p class="bad">{format!("Could not load the board: {e}")}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
    }
}

/// Whether the agents are at work, and the switch for all of them; role and ticket pauses are
/// listed (a ticket's is lifted on its page).
#[component]
fn AgentsBar(paused: Vec<domain::autonomy::Pause>, action: ServerAction<ConsoleAgentsAll>) -> impl IntoView {
    use domain::autonomy::PauseScope;
    let all = paused.iter().find(|p| p.scope == PauseScope::All).cloned();
    let others: Vec<String> = paused
        .iter()
        .filter(|p| p.scope != PauseScope::All)
        .map(|p| format!("{}{}", p.scope, p.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()))
        .collect();
    let is_paused = all.is_some();
    let switch = if is_paused { "resume" } else { "pause" };
    view! {
        <div class=if is_paused { "agents-bar paused" } else { "agents-bar" } data-test="agents-bar">
            {match all {
                Some(p) => view! {
                    <strong data-test="agents-all-paused">"All agents are paused"</strong>
                    <span class="muted">{p.reason.clone().map(|r| format!("— {r}")).unwrap_or_default()}</span>
                }.into_any(),
                None => view! { <span class="muted">"Agents are working."</span> }.into_any(),
            }}
            {(!others.is_empty()).then(|| view! { <span class="muted">"Paused: " {others.join("; ")}</span> })}
            <ActionForm action=action attr:class="inline">
                <input type="hidden" name="switch" value=switch/>
                <input type="hidden" name="reason" value="paused from the board"/>
                <button type="submit" class="secondary" data-test=format!("agents-{switch}-all")>
                    {if is_paused { "Resume all agents" } else { "Pause all agents" }}
                </button>
            </ActionForm>
        </div>
    }
}

/// In the browser: asks every few seconds whether any ticket changed, and bumps `changed`
/// when it did. The question is one small query; the board reloads only on a change.
fn poll_for_changes(board: Resource<Result<Board, ServerFnError>>, changed: RwSignal<u64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let last = StoredValue::new(None::<String>);
        let tick = move || {
            leptos::task::spawn_local(async move {
                let Ok(stamp) = board_stamp().await else { return };
                let known = last.get_value().or_else(|| board.get_untracked().and_then(|b| b.ok()).map(|b| b.stamp));
                if known.as_deref().is_some_and(|k| k != stamp) {
                    changed.update(|n| *n += 1);
                }
                last.set_value(Some(stamp));
            });
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_millis(POLL_MS)) {
            on_cleanup(move || handle.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (board, changed, board_stamp);
}

/// Search and filters; each change asks the server for the narrowed board. Typing searches as
/// it goes, once the typist pauses.
#[component]
fn Filters(filter: RwSignal<BoardFilter>, cases: Resource<Result<Board, ServerFnError>>) -> impl IntoView {
    // Filled from each loaded board in the browser (an effect, so server and browser render
    // the same first frame).
    let opts = RwSignal::new((Vec::<String>::new(), Vec::<String>::new(), None::<(usize, usize)>));
    Effect::new(move |_| {
        if let Some(Ok(b)) = cases.get() {
            let open = b.columns.iter().filter(|c| c.state.is_open()).map(|c| c.count).sum();
            opts.set((b.technicians, b.trades, Some((open, b.total - open))));
        }
    });
    let options = move || opts.get();
    let typed = crate::pages::debounced(move |q: String| filter.update(|f| f.query = q));
    view! {
        <form class="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <input type="search" placeholder="Search number, customer, caller, phone, address, problem" aria-label="Search" id="board-search"
                on:input=move |ev| typed(event_target_value(&ev))
                on:change=move |ev| filter.update(|f| f.query = event_target_value(&ev))/>
            <select aria-label="State" on:change=move |ev| filter.update(|f| f.state = event_target_value(&ev))>
                <option value="">"All states"</option>
                {CaseState::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
            </select>
            <select aria-label="Priority" on:change=move |ev| filter.update(|f| f.priority = event_target_value(&ev))>
                <option value="">"All priorities"</option>
                {Priority::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.label()}</option> }).collect_view()}
            </select>
            <select aria-label="Technician" on:change=move |ev| filter.update(|f| f.technician = event_target_value(&ev))>
                <option value="">"All technicians"</option>
                {move || options().0.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
            </select>
            <select aria-label="Trade" on:change=move |ev| filter.update(|f| f.trade = event_target_value(&ev))>
                <option value="">"All trades"</option>
                {move || options().1.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
            </select>
            <label class="switch">
                <input type="checkbox" id="include-closed" data-test="include-closed"
                    on:change=move |ev| filter.update(|f| f.include_closed = event_target_checked(&ev))/>
                <span>"Include paid and canceled"</span>
            </label>
            <span class="muted" data-test="board-count">{move || options().2.map(|(open, closed)| {
                if closed > 0 { format!("{open} open, {closed} closed") } else { format!("{open} open") }
            })}</span>
        </form>
    }
}

#[component]
fn BoardView(board: Board) -> impl IntoView {
    let now = board.now_ms;
    let (open, closed): (Vec<BoardColumn>, Vec<BoardColumn>) =
        board.columns.into_iter().partition(|c| c.state.is_open());
    let column = move |col: BoardColumn| {
        let more = col.count.saturating_sub(col.cards.len());
        view! {
            <section class="column" data-state=col.state.as_str() aria-label=col.state.label()>
                <h3>{col.state.label()} " " <span class="count">{col.count}</span></h3>
                {col.cards.into_iter().map(|c| view! { <Card c now/> }).collect_view()}
                {(more > 0).then(|| view! { <p class="muted">{format!("{more} more: narrow the filters")}</p> })}
            </section>
        }
    };
    view! {
        <div class="board" id="board">
            {open.into_iter().map(column).collect_view()}
        </div>
        {(!closed.is_empty()).then(|| view! {
            <h3 class="closed-title">"Closed"</h3>
            <div class="board closed" id="closed-board">
                {closed.into_iter().map(column).collect_view()}
            </div>
        })}
    }
}

#[component]
fn Card(c: CaseSummary, now: i64) -> impl IntoView {
    let badges = sla_badges(&c, now);
    view! {
        <a class=format!("card prio-{}", c.priority.as_str()) href=format!("/console/tickets/{}", c.id) data-ticket=c.number.clone()>
            <span class="card-head">
                <strong class="mono">{c.number.clone()}</strong>
                <span class=format!("badge prio-{}", c.priority.as_str())>{c.priority.as_str()}</span>
            </span>
            <span class="card-customer">{c.customer_name.clone()}</span>
            <small class="muted">{c.site_address.clone().unwrap_or_default()}</small>
            <small>{c.trade.clone().unwrap_or_default()} {c.technician_name.clone().map(|t| format!(" · {t}"))}</small>
            <small class="muted">{age(now - c.created_at_ms)} " old"</small>
            {badges.into_iter().map(|b| view! { <span class="badge sla">{b}</span> }).collect_view()}
        </a>
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

/// When the phone or e-mail is already another name's: who is calling? Each answer submits the
/// form again as typed, with the answer.
#[component]
fn KnownContactQuestion(errors: Signal<Vec<FieldError>>) -> impl IntoView {
    use domain::KnownContact;
    move || {
        errors.get().into_iter().find(|e| e.field == "customer.known_contact").map(|e| {
            let choices = KnownContact::ALL.map(|k| {
                let label = match k {
                    KnownContact::SamePerson => "The same person (file it under the customer on record)",
                    KnownContact::AnotherContact => "Another contact at that customer",
                    KnownContact::NewCustomer => "A new customer who shares this number",
                };
                view! {
                    <button type="submit" class="secondary" name="known_contact" value=k.as_str()
                        data-test=format!("known-contact-{}", k.as_str())>{label}</button>
                }
            });
            view! {
                <fieldset class="question" data-test="known-contact" role="group" aria-labelledby="known-contact-title">
                    <legend id="known-contact-title">{e.message} ". Who is calling?"</legend>
                    {choices.into_iter().collect_view()}
                </fieldset>
            }
        })
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
