//! The operator console: the dispatch board and phone intake.

use crate::api::{board_stamp, load_board, Board, CreateTicket, FormOutcome};
use domain::views::{age, sla_badges};
use domain::{CaseState, CaseSummary, FieldError, Priority};
use leptos::prelude::*;

/// Cards shown per column before "show all" (the counts always cover every ticket).
const PER_COLUMN: usize = 50;
/// How often the board asks whether anything changed.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const POLL_MS: u64 = 2_000;

#[component]
pub fn ConsolePage() -> impl IntoView {
    let create = ServerAction::<CreateTicket>::new();
    // Anything that changed elsewhere (another operator, an agent through the tool API) bumps
    // this, and the board reloads.
    let changed = RwSignal::new(0u64);
    let cases = Resource::new(move || (create.version().get(), changed.get()), |_| load_board());
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
                <h2 id="tickets-title">"Dispatch board"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading the board…"</p> }>
                    {move || Suspend::new(async move {
                        match cases.await {
                            Ok(board) if board.rows.is_empty() => view! { <p class="empty">"No open tickets. Create the first one with the form."</p> }.into_any(),
                            Ok(board) => view! { <BoardView board/> }.into_any(),
                            Err(e) => view! { <p class="bad">{format!("Could not load the board: {e}")}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </main>
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

#[component]
fn BoardView(board: Board) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let priority = RwSignal::new(String::new());
    let technician = RwSignal::new(String::new());
    let trade = RwSignal::new(String::new());
    let state = RwSignal::new(String::new());
    let now = board.now_ms;
    let rows = StoredValue::new(board.rows);
    let mut trades: Vec<String> = rows.with_value(|r| r.iter().filter_map(|c| c.trade.clone()).collect());
    trades.sort();
    trades.dedup();
    let mut techs: Vec<String> = rows.with_value(|r| r.iter().filter_map(|c| c.technician_name.clone()).collect());
    techs.sort();
    techs.dedup();
    let matches = move |c: &CaseSummary| {
        let q = query.get().to_lowercase();
        let text = format!(
            "{} {} {} {} {}",
            c.number,
            c.customer_name,
            c.customer_contact.clone().unwrap_or_default(),
            c.site_address.clone().unwrap_or_default(),
            c.problem_summary.clone().unwrap_or_default()
        )
        .to_lowercase();
        (q.is_empty() || text.contains(&q))
            && (priority.get().is_empty() || c.priority.as_str() == priority.get())
            && (technician.get().is_empty() || c.technician_name.as_deref() == Some(technician.get().as_str()))
            && (trade.get().is_empty() || c.trade.as_deref() == Some(trade.get().as_str()))
            && (state.get().is_empty() || c.state.as_str() == state.get())
    };
    let columns: Vec<CaseState> = CaseState::ALL.into_iter().filter(|s| s.is_open()).collect();
    let total = move || rows.with_value(|r| r.iter().filter(|c| matches(c)).count());
    view! {
        <form class="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <input type="search" placeholder="Search number, customer, address, problem" aria-label="Search"
                prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev)) id="board-search"/>
            <select aria-label="State" on:change=move |ev| state.set(event_target_value(&ev))>
                <option value="">"All states"</option>
                {columns.iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
            </select>
            <select aria-label="Priority" on:change=move |ev| priority.set(event_target_value(&ev))>
                <option value="">"All priorities"</option>
                {Priority::ALL.into_iter().map(|p| view! { <option value=p.as_str()>{p.as_str()}</option> }).collect_view()}
            </select>
            <select aria-label="Technician" on:change=move |ev| technician.set(event_target_value(&ev))>
                <option value="">"All technicians"</option>
                {techs.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
            </select>
            <select aria-label="Trade" on:change=move |ev| trade.set(event_target_value(&ev))>
                <option value="">"All trades"</option>
                {trades.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
            </select>
            <span class="muted" data-test="board-count">{move || format!("{} open", total())}</span>
        </form>
        <div class="board" id="board">
            {columns.into_iter().map(|col| {
                let in_col = move || rows.with_value(|r| r.iter().filter(|c| c.state == col && matches(c)).cloned().collect::<Vec<_>>());
                view! {
                    <section class="column" data-state=col.as_str() aria-label=col.label()>
                        <h3>{col.label()} " " <span class="count">{move || in_col().len()}</span></h3>
                        {move || {
                            let list = in_col();
                            let more = list.len().saturating_sub(PER_COLUMN);
                            view! {
                                {list.into_iter().take(PER_COLUMN).map(|c| view! { <Card c now/> }).collect_view()}
                                {(more > 0).then(|| view! { <p class="muted">{format!("{more} more: narrow the filters")}</p> })}
                            }
                        }}
                    </section>
                }
            }).collect_view()}
        </div>
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
