//! Server functions of the technician's page: each one line into the same service the tool
//! API calls, each answering with the job's view (never the office's case).

use crate::api::FormOutcome;
use domain::job_view::JobView;
use domain::window::TimeWindow;
use domain::CaseState;
#[cfg(feature = "ssr")]
use domain::{Action, FieldError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a step on a job answers: the job after it, or what to fix.
pub type JobResult = Result<FormOutcome<JobView>, ServerFnError>;

/// A job as the technician's list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechJob {
    pub id: String,
    pub number: String,
    pub state: CaseState,
    /// The state in the technician's words ("Booked", "On the way", "On site", ...).
    pub word: String,
    /// "Today", "Tomorrow", a date, or "Not scheduled" (in the shop's time zone).
    pub day: String,
    pub appointment: Option<TimeWindow>,
    pub eta_ms: Option<i64>,
    pub problem: Option<String>,
    pub address: Option<String>,
    pub access_notes: Option<String>,
    pub customer_name: String,
    pub phone: Option<String>,
    pub checklist_done: usize,
    pub checklist_total: usize,
}

/// A job page as the technician opens it: the job, and once it is closed out, the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechJobPage {
    pub job: JobView,
    pub next: Option<TechJob>,
}

#[cfg(feature = "ssr")]
use crate::api::ssr;

#[cfg(feature = "ssr")]
fn job_of(r: Result<dispatch::Outcome, dispatch::ServiceError>) -> JobResult {
    ssr::outcome(r.map(|o| JobView::of(&o.case)))
}

#[cfg(feature = "ssr")]
fn invalid(field: &str, code: &str, message: &str) -> JobResult {
    Ok(FormOutcome::Invalid {
        message: "Please correct the highlighted fields.".into(),
        fields: vec![FieldError::new(field, code, message)],
    })
}

/// Declares the technician's steps (the roles of `jobs.read`) as their first statement. A plain
/// form post whose session has ended goes to the sign-in page, which then brings the technician
/// back to the job, where the page says the step was not saved (a page with scripts keeps the
/// step on the phone instead and sends it after signing in).
#[cfg(feature = "ssr")]
fn allow_on_job(ticket_id: &str) -> Result<(), ServerFnError> {
    let allowed = ssr::allow(Action::JobsRead);
    if allowed.is_err() && ssr::current_actor().is_none() && ssr::plain_form_post() {
        let back = format!("/tech/jobs/{}?refused=signed_out", ssr::path_segment(ticket_id));
        ssr::see_other(&format!("/login?next={}", ssr::path_segment(&back)));
    }
    allowed
}

/// The call context of a technician's step. With the idempotency key the phone chose when the
/// technician acted (every step the page queues carries one), the same step sent again after a
/// lost answer, a reload or a day offline applies once: the service's idempotency store
/// answers the repeat with the first answer.
#[cfg(feature = "ssr")]
fn keyed_context(
    action: Action,
    key: &Option<String>,
    input: &impl Serialize,
) -> Result<Result<dispatch::CallContext, JobResult>, ServerFnError> {
    let mut ctx = ssr::context(action)?;
    let Some(key) = key.as_deref().map(str::trim).filter(|k| !k.is_empty()) else { return Ok(Ok(ctx)) };
    if key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Ok(Err(invalid("idempotency_key", "invalid", "letters, digits and dashes, at most 64")));
    }
    let body = serde_json::to_value(input).map_err(|e| ServerFnError::new(e.to_string()))?;
    ctx.idempotency = Some(dispatch::idempotency::IdempotencyKey {
        scope: ctx.actor.id.clone(),
        tool: action.name().to_string(),
        key: key.to_ascii_lowercase(),
        request_hash: dispatch::idempotency::request_hash(&body),
    });
    Ok(Ok(ctx))
}

/// Runs a technician's step through the service. A queued step (one with a key) that the
/// server refuses for a reason of the job's (reassigned, canceled, changed meanwhile) goes
/// into the ticket's trail too, so the office sees what the technician could not do. The
/// refusal then says why in the technician's words, from the job as it now stands (both the
/// page and the phone's outbox show the answer's message as it comes).
#[cfg(feature = "ssr")]
async fn run_step(
    ctx: &dispatch::CallContext,
    ticket_id: &str,
    input: domain::ActionInput,
) -> Result<dispatch::Outcome, dispatch::ServiceError> {
    let action = input.action();
    let service = ssr::service().map_err(|e| dispatch::ServiceError::Internal(e.to_string()))?;
    let done = service.execute_case(ctx, input).await;
    if let (Some(key), Err(e)) = (&ctx.idempotency, &done) {
        if refused_for_the_job(e) {
            if let Err(err) = service.record_field_refusal(ctx, ticket_id, action, e, &key.key).await {
                tracing::error!(error = %err, "could not record a refused field step in the trail");
            }
        }
    }
    match done {
        Err(e) => Err(in_the_technicians_words(&service, ctx, ticket_id, e).await),
        ok => ok,
    }
}

/// A refusal for the job's sake, said from the job as the technician may now see it; any other
/// refusal as it was.
#[cfg(feature = "ssr")]
async fn in_the_technicians_words(
    service: &dispatch::Service,
    ctx: &dispatch::CallContext,
    ticket_id: &str,
    e: dispatch::ServiceError,
) -> dispatch::ServiceError {
    let code = e.code();
    if !domain::job_view::said_from_the_job(code) {
        return e;
    }
    let now = match service.job(ctx, ticket_id).await {
        Ok(job) => Some(job),
        Err(dispatch::ServiceError::TicketNotFound(_)) => None,
        // Unreadable just now: the refusal as the service said it.
        Err(_) => return e,
    };
    match domain::job_view::step_refused_because(code, now.as_ref()) {
        Some(words) => dispatch::ServiceError::Conflict(words),
        None => e,
    }
}

/// Refusals that come from the job, not from what was typed or from load.
#[cfg(feature = "ssr")]
fn refused_for_the_job(e: &dispatch::ServiceError) -> bool {
    use dispatch::ServiceError as E;
    !matches!(
        e,
        E::Domain(domain::DomainError::Invalid(_))
            | E::Internal(_)
            | E::Busy { .. }
            | E::RateLimited { .. }
            | E::AlreadyProcessed
            | E::IdempotencyMismatch
    )
}

/// The signed-in technician's open jobs, soonest first, grouped by day.
#[server(endpoint = "tech_jobs")]
pub async fn tech_jobs() -> Result<Vec<TechJob>, ServerFnError> {
    ssr::allow(Action::JobsRead)?;
    let service = ssr::service()?;
    open_jobs(&service, &ssr::context(Action::JobsRead)?).await
}

/// One of the technician's jobs; after its closeout, with the next job to go to.
#[server(endpoint = "tech_job")]
pub async fn tech_job_view(ticket_id: String) -> Result<TechJobPage, ServerFnError> {
    ssr::allow(Action::JobsRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::JobsRead)?;
    let job = service.job(&ctx, &ticket_id).await.map_err(ssr::error)?;
    let done = !matches!(
        job.state,
        CaseState::Scheduled | CaseState::Dispatched | CaseState::Onsite | CaseState::WorkPerformed
    );
    let next = if done {
        let ahead = |j: &TechJob| {
            j.id != job.id
                && matches!(
                    j.state,
                    CaseState::Scheduled | CaseState::Dispatched | CaseState::Onsite | CaseState::WorkPerformed
                )
        };
        open_jobs(&service, &ctx).await?.into_iter().find(ahead)
    } else {
        None
    };
    Ok(TechJobPage { job, next })
}

#[cfg(feature = "ssr")]
async fn open_jobs(service: &dispatch::Service, ctx: &dispatch::CallContext) -> Result<Vec<TechJob>, ServerFnError> {
    let mut views = service.jobs(ctx).await.map_err(ssr::error)?;
    views.sort_by_key(|j| (j.appointment.map_or(i64::MAX, |w| w.start_ms), j.number.clone()));
    let now = dispatch::ids::now_ms();
    let shop = service.shop().await;
    Ok(views
        .into_iter()
        .map(|j| TechJob {
            day: j.appointment.map_or_else(|| "Not scheduled".into(), |w| shop.day_label(w.start_ms, now)),
            checklist_done: j.checklist.iter().filter(|i| i.done).count(),
            checklist_total: j.checklist.len(),
            word: j.field_word().to_string(),
            id: j.id,
            number: j.number,
            state: j.state,
            appointment: j.appointment,
            eta_ms: j.eta_ms,
            problem: j.problem_summary,
            address: j.site.as_ref().map(|site| site.address.clone()),
            access_notes: j.site.and_then(|site| site.access_notes),
            customer_name: j.customer.name,
            phone: j.customer.phones.into_iter().next(),
        })
        .collect())
}

/// What a plain form post (the page had no client yet, or none at all) is answered with: back
/// to the same job page, which says what happened. The outcome travels as a word of a fixed
/// list (`done=note`, `refused=closeout`), never as text a link could forge.
#[cfg(feature = "ssr")]
fn back_to_job(ticket_id: &str, done: &str, refused: &str, r: JobResult) -> JobResult {
    if ssr::plain_form_post() {
        let outcome = match &r {
            Ok(FormOutcome::Done(_)) => format!("done={done}"),
            Ok(FormOutcome::Invalid { fields, .. }) if !fields.is_empty() => "refused=invalid".into(),
            Ok(FormOutcome::Invalid { .. }) => format!("refused={refused}"),
            Err(_) => "refused=error".into(),
        };
        ssr::see_other(&format!("/tech/jobs/{}?{outcome}", ssr::path_segment(ticket_id)));
    }
    r
}

/// `closeout.add_note`: a note, or the work summary the closeout needs.
#[server(endpoint = "tech_note")]
pub async fn tech_note(ticket_id: String, kind: String, text: String, idempotency_key: Option<String>) -> JobResult {
    allow_on_job(&ticket_id)?;
    let kind = match kind.as_str() {
        "work_summary" => domain::case::NoteKind::WorkSummary,
        _ => domain::case::NoteKind::Note,
    };
    let input = domain::commands::AddNote { ticket_id: ticket_id.clone(), kind, text };
    let ctx = match keyed_context(Action::CloseoutAddNote, &idempotency_key, &input)? {
        Ok(ctx) => ctx,
        Err(refused) => return back_to_job(&ticket_id, "", "", refused),
    };
    let done = run_step(&ctx, &ticket_id, domain::ActionInput::CloseoutAddNote(input)).await;
    back_to_job(&ticket_id, "note", "changed", job_of(done))
}

/// `closeout.checklist_complete` for one item: ticks it, or with `mark` = `not_done` unticks
/// it (ticked by mistake).
#[server(endpoint = "tech_check")]
pub async fn tech_check(ticket_id: String, key: String, mark: String, idempotency_key: Option<String>) -> JobResult {
    allow_on_job(&ticket_id)?;
    let (items, untick) = if mark == "not_done" { (vec![], vec![key]) } else { (vec![key], vec![]) };
    let done = checklist(ticket_id.clone(), items, untick, false, idempotency_key).await;
    back_to_job(&ticket_id, "checklist", "changed", done)
}

/// Submits the closeout (work_performed -> closeout_ready) once every piece of evidence is
/// there; otherwise the answer lists what is missing, by the names on the page.
#[server(endpoint = "tech_submit")]
pub async fn tech_submit(ticket_id: String, idempotency_key: Option<String>) -> JobResult {
    allow_on_job(&ticket_id)?;
    let done = checklist(ticket_id.clone(), vec![], vec![], true, idempotency_key).await;
    back_to_job(&ticket_id, "closeout", "closeout", done)
}

/// `closeout.checklist_complete`: ticks `items`, unticks `untick`, and with `finalize`
/// submits the closeout.
#[cfg(feature = "ssr")]
async fn checklist(
    ticket_id: String,
    items: Vec<String>,
    untick: Vec<String>,
    finalize: bool,
    idempotency_key: Option<String>,
) -> JobResult {
    let input = domain::commands::ChecklistComplete {
        ticket_id: ticket_id.clone(),
        items,
        untick,
        finalize,
        expected_version: None,
    };
    let ctx = match keyed_context(Action::CloseoutChecklistComplete, &idempotency_key, &input)? {
        Ok(ctx) => ctx,
        Err(refused) => return refused,
    };
    let input = domain::ActionInput::CloseoutChecklistComplete(input);
    let service = ssr::service()?;
    match run_step(&ctx, &ticket_id, input).await {
        Err(dispatch::ServiceError::CloseoutIncomplete { missing }) => {
            // The service names what is missing by its keys; the technician reads the labels.
            let words = match service.job(&ctx, &ticket_id).await {
                Ok(job) => job.missing_in_words(&missing),
                Err(_) => missing,
            };
            Ok(FormOutcome::Invalid { message: domain::job_view::still_needed_sentence(&words), fields: vec![] })
        }
        other => job_of(other),
    }
}

/// Labor time, in minutes, at the shop's rate.
#[server(endpoint = "tech_labor")]
pub async fn tech_labor(
    ticket_id: String,
    minutes: String,
    description: String,
    idempotency_key: Option<String>,
) -> JobResult {
    allow_on_job(&ticket_id)?;
    let Ok(minutes) = minutes.trim().parse::<i64>() else {
        return back_to_job(&ticket_id, "", "", invalid("minutes", "invalid", "whole minutes, e.g. 45"));
    };
    let input = domain::commands::RecordLabor { ticket_id: ticket_id.clone(), minutes, description, rate_cents: None };
    let ctx = match keyed_context(Action::JobRecordLabor, &idempotency_key, &input)? {
        Ok(ctx) => ctx,
        Err(refused) => return back_to_job(&ticket_id, "", "", refused),
    };
    let done = run_step(&ctx, &ticket_id, domain::ActionInput::JobRecordLabor(input)).await;
    back_to_job(&ticket_id, "labor", "changed", job_of(done))
}

/// A part used, with its unit price as written on the box ("12.50").
#[server(endpoint = "tech_part")]
pub async fn tech_part(
    ticket_id: String,
    description: String,
    quantity: String,
    unit_price: String,
    idempotency_key: Option<String>,
) -> JobResult {
    allow_on_job(&ticket_id)?;
    let Ok(quantity) = quantity.trim().parse::<i64>() else {
        return back_to_job(&ticket_id, "", "", invalid("quantity", "invalid", "a whole number, e.g. 2"));
    };
    let price = match domain::money::Money::parse("unit_price", &unit_price) {
        Ok(p) => p,
        Err(e) => {
            let refused =
                Ok(FormOutcome::Invalid { message: "Please correct the highlighted fields.".into(), fields: vec![e] });
            return back_to_job(&ticket_id, "", "", refused);
        }
    };
    let input = domain::commands::RecordPart {
        ticket_id: ticket_id.clone(),
        sku: None,
        description,
        quantity,
        unit_price_cents: price.cents(),
    };
    let ctx = match keyed_context(Action::JobRecordPart, &idempotency_key, &input)? {
        Ok(ctx) => ctx,
        Err(refused) => return back_to_job(&ticket_id, "", "", refused),
    };
    let done = run_step(&ctx, &ticket_id, domain::ActionInput::JobRecordPart(input)).await;
    back_to_job(&ticket_id, "part", "changed", job_of(done))
}

/// Check-in or work done (`job.check_in`, `job.complete_work`), by the technician.
#[server(endpoint = "tech_step")]
pub async fn tech_step(ticket_id: String, step: String, version: String, idempotency_key: Option<String>) -> JobResult {
    allow_on_job(&ticket_id)?;
    let input =
        domain::commands::TicketRef { ticket_id: ticket_id.clone(), expected_version: version.trim().parse().ok() };
    let action = match step.as_str() {
        "check_in" => Action::JobCheckIn,
        "complete_work" => Action::JobCompleteWork,
        _ => return back_to_job(&ticket_id, "", "", invalid("step", "unknown_step", "check_in or complete_work")),
    };
    let ctx = match keyed_context(action, &idempotency_key, &input)? {
        Ok(ctx) => ctx,
        Err(refused) => return back_to_job(&ticket_id, "", "", refused),
    };
    let input = match action {
        Action::JobCheckIn => domain::ActionInput::JobCheckIn(input),
        _ => domain::ActionInput::JobCompleteWork(input),
    };
    let done = run_step(&ctx, &ticket_id, input).await;
    back_to_job(&ticket_id, &step, "changed", job_of(done))
}
