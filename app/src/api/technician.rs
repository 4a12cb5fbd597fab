//! The technician's page: their own jobs, each as the job's view (never the office's case).

use super::*;
use domain::job_view::JobView;

/// One of the caller's jobs (another technician's job reads as not found).
#[server(endpoint = "job_case")]
pub async fn job_case(ticket_id: String) -> Result<JobView, ServerFnError> {
    ssr::service()?.job(&ssr::context(Action::JobsRead)?, &ticket_id).await.map_err(ssr::error)
}
