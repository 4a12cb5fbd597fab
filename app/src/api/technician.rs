//! The technician's page: their own jobs.

use super::*;

/// The technician's own jobs (the service narrows the list to them).
#[server(endpoint = "my_jobs")]
pub async fn my_jobs() -> Result<Vec<CaseSummary>, ServerFnError> {
    let filter = dispatch::tickets::CaseFilter { open_only: true, limit: Some(200), ..Default::default() };
    ssr::service()?.cases(&ssr::context()?, &filter).await.map_err(ssr::error)
}

/// One case, if the caller may see it (another technician's job reads as not found).
#[server(endpoint = "job_case")]
pub async fn job_case(ticket_id: String) -> Result<Case, ServerFnError> {
    ssr::service()?.case(&ssr::context()?, &ticket_id).await.map_err(ssr::error)
}
