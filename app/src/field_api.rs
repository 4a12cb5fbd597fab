//! Server functions of the technician's page: each one line into the same service the tool
//! API calls (check-in and work completion are `console_job_step`, shared with the console).

use crate::api::ActionResult;
#[cfg(feature = "ssr")]
use crate::api::FormOutcome;
use domain::window::TimeWindow;
use domain::CaseState;
#[cfg(feature = "ssr")]
use domain::FieldError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

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
fn case_of(r: Result<dispatch::Outcome, dispatch::ServiceError>) -> ActionResult {
    ssr::outcome(r.map(|o| o.case))
}

#[cfg(feature = "ssr")]
fn invalid(field: &str, code: &str, message: &str) -> ActionResult {
    Ok(FormOutcome::Invalid {
        message: "Please correct the highlighted fields.".into(),
        fields: vec![FieldError::new(field, code, message)],
    })
}

/// The signed-in technician's open jobs, soonest first, grouped by day.
#[server(endpoint = "tech_jobs")]
pub async fn tech_jobs() -> Result<Vec<TechJob>, ServerFnError> {
    let service = ssr::service()?;
    let ctx = ssr::context()?;
    let filter = dispatch::tickets::CaseFilter { open_only: true, limit: Some(200), ..Default::default() };
    let mut summaries = service.cases(&ctx, &filter).await.map_err(ssr::error)?;
    summaries.sort_by_key(|s| (s.appointment.map_or(i64::MAX, |w| w.start_ms), s.number.clone()));
    let now = dispatch::ids::now_ms();
    let mut jobs = Vec::with_capacity(summaries.len());
    for s in summaries {
        let c = service.case(&ctx, &s.id).await.map_err(ssr::error)?;
        jobs.push(TechJob {
            day: s
                .appointment
                .map_or_else(|| "Not scheduled".into(), |w| service.settings().day_label(w.start_ms, now)),
            id: c.id,
            number: c.number,
            state: c.state,
            appointment: s.appointment,
            eta_ms: c.eta.as_ref().map(|e| e.eta_ms),
            problem: c.problem_summary,
            address: c.site.as_ref().map(|site| site.address.clone()),
            access_notes: c.site.and_then(|site| site.access_notes),
            customer_name: c.customer.name,
            phone: c.customer.phones.into_iter().next(),
            checklist_done: c.checklist.iter().filter(|i| i.done).count(),
            checklist_total: c.checklist.len(),
        });
    }
    Ok(jobs)
}

/// `closeout.add_note`: a note, or the work summary the closeout needs.
#[server(endpoint = "tech_note")]
pub async fn tech_note(ticket_id: String, kind: String, text: String) -> ActionResult {
    let kind = match kind.as_str() {
        "work_summary" => domain::case::NoteKind::WorkSummary,
        _ => domain::case::NoteKind::Note,
    };
    let input = domain::commands::AddNote { ticket_id, kind, text };
    case_of(ssr::service()?.add_note(&ssr::context()?, &input).await)
}

/// `closeout.checklist_complete` for one item.
#[server(endpoint = "tech_check")]
pub async fn tech_check(ticket_id: String, key: String) -> ActionResult {
    let input =
        domain::commands::ChecklistComplete { ticket_id, items: vec![key], finalize: false, expected_version: None };
    case_of(ssr::service()?.checklist_complete(&ssr::context()?, &input).await)
}

/// Submits the closeout (work_performed -> closeout_ready) once every piece of evidence is
/// there; otherwise the answer lists exactly what is missing.
#[server(endpoint = "tech_submit")]
pub async fn tech_submit(ticket_id: String) -> ActionResult {
    let input =
        domain::commands::ChecklistComplete { ticket_id, items: vec![], finalize: true, expected_version: None };
    case_of(ssr::service()?.checklist_complete(&ssr::context()?, &input).await)
}

/// Labor time, in minutes, at the shop's rate.
#[server(endpoint = "tech_labor")]
pub async fn tech_labor(ticket_id: String, minutes: String, description: String) -> ActionResult {
    let Ok(minutes) = minutes.trim().parse::<i64>() else {
        return invalid("minutes", "invalid", "whole minutes, e.g. 45");
    };
    let input = domain::commands::RecordLabor { ticket_id, minutes, description, rate_cents: None };
    case_of(ssr::service()?.record_labor(&ssr::context()?, &input).await)
}

/// A part used, with its unit price as written on the box ("12.50").
#[server(endpoint = "tech_part")]
pub async fn tech_part(ticket_id: String, description: String, quantity: String, unit_price: String) -> ActionResult {
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
    case_of(ssr::service()?.record_part(&ssr::context()?, &input).await)
}
