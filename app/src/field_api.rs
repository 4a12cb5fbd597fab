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

/// The signed-in technician's open jobs, soonest first, grouped by day.
#[server(endpoint = "tech_jobs")]
pub async fn tech_jobs() -> Result<Vec<TechJob>, ServerFnError> {
    ssr::allow(Action::JobsRead)?;
    let service = ssr::service()?;
    let mut views = service.jobs(&ssr::context(Action::JobsRead)?).await.map_err(ssr::error)?;
    views.sort_by_key(|j| (j.appointment.map_or(i64::MAX, |w| w.start_ms), j.number.clone()));
    let now = dispatch::ids::now_ms();
    let shop = service.shop().await;
    Ok(views
        .into_iter()
        .map(|j| TechJob {
            day: j.appointment.map_or_else(|| "Not scheduled".into(), |w| shop.day_label(w.start_ms, now)),
            checklist_done: j.checklist.iter().filter(|i| i.done).count(),
            checklist_total: j.checklist.len(),
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

/// `closeout.add_note`: a note, or the work summary the closeout needs.
#[server(endpoint = "tech_note")]
pub async fn tech_note(ticket_id: String, kind: String, text: String) -> JobResult {
    let kind = match kind.as_str() {
        "work_summary" => domain::case::NoteKind::WorkSummary,
        _ => domain::case::NoteKind::Note,
    };
    let input = domain::commands::AddNote { ticket_id, kind, text };
    job_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::CloseoutAddNote)?, domain::ActionInput::CloseoutAddNote(input))
            .await,
    )
}

/// `closeout.checklist_complete` for one item.
#[server(endpoint = "tech_check")]
pub async fn tech_check(ticket_id: String, key: String) -> JobResult {
    checklist(ticket_id, vec![key], false).await
}

/// Submits the closeout (work_performed -> closeout_ready) once every piece of evidence is
/// there; otherwise the answer lists exactly what is missing.
#[server(endpoint = "tech_submit")]
pub async fn tech_submit(ticket_id: String) -> JobResult {
    checklist(ticket_id, vec![], true).await
}

/// `closeout.checklist_complete`: ticks `items`, and with `finalize` submits the closeout.
#[cfg(feature = "ssr")]
async fn checklist(ticket_id: String, items: Vec<String>, finalize: bool) -> JobResult {
    let input = domain::commands::ChecklistComplete { ticket_id, items, finalize, expected_version: None };
    let input = domain::ActionInput::CloseoutChecklistComplete(input);
    job_of(ssr::service()?.execute_case(&ssr::context(input.action())?, input).await)
}

/// Labor time, in minutes, at the shop's rate.
#[server(endpoint = "tech_labor")]
pub async fn tech_labor(ticket_id: String, minutes: String, description: String) -> JobResult {
    ssr::allow(Action::JobsRead)?;
    let Ok(minutes) = minutes.trim().parse::<i64>() else {
        return invalid("minutes", "invalid", "whole minutes, e.g. 45");
    };
    let input = domain::commands::RecordLabor { ticket_id, minutes, description, rate_cents: None };
    job_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::JobRecordLabor)?, domain::ActionInput::JobRecordLabor(input))
            .await,
    )
}

/// A part used, with its unit price as written on the box ("12.50").
#[server(endpoint = "tech_part")]
pub async fn tech_part(ticket_id: String, description: String, quantity: String, unit_price: String) -> JobResult {
    ssr::allow(Action::JobsRead)?;
    let Ok(quantity) = quantity.trim().parse::<i64>() else {
        return invalid("quantity", "invalid", "a whole number, e.g. 2");
    };
    let price = match domain::money::Money::parse("unit_price", &unit_price) {
        Ok(p) => p,
        Err(e) => {
            return Ok(FormOutcome::Invalid {
                message: "Please correct the highlighted fields.".into(),
                fields: vec![e],
            })
        }
    };
    let input =
        domain::commands::RecordPart { ticket_id, sku: None, description, quantity, unit_price_cents: price.cents() };
    job_of(
        ssr::service()?
            .execute_case(&ssr::context(Action::JobRecordPart)?, domain::ActionInput::JobRecordPart(input))
            .await,
    )
}

/// Check-in or work done (`job.check_in`, `job.complete_work`), by the technician.
#[server(endpoint = "tech_step")]
pub async fn tech_step(ticket_id: String, step: String, version: String) -> JobResult {
    ssr::allow(Action::JobsRead)?;
    let input = domain::commands::TicketRef { ticket_id, expected_version: version.trim().parse().ok() };
    let input = match step.as_str() {
        "check_in" => domain::ActionInput::JobCheckIn(input),
        "complete_work" => domain::ActionInput::JobCompleteWork(input),
        _ => return invalid("step", "unknown_step", "check_in or complete_work"),
    };
    job_of(ssr::service()?.execute_case(&ssr::context(input.action())?, input).await)
}
