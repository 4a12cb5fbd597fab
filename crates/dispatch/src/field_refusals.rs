//! A change a technician made offline and the server refused when it arrived (the job was
//! reassigned or canceled meanwhile, or it changed under them): the refusal changes nothing in
//! the case, but it goes into the ticket's trail, so the office sees what the technician
//! could not do, by whom and why, beside the technician's own page saying so.

use crate::audit::{self, NewEvent, Who};
use crate::case_store::load_case;
use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use domain::Action;

impl Service {
    /// Records `field.refused` in the trail of `ticket_id` (if it exists: a refusal for an
    /// unknown ticket has no trail to go into). `key` is the action's idempotency key, so the
    /// technician's phone and the trail name the same attempt.
    pub async fn record_field_refusal(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
        action: Action,
        refusal: &ServiceError,
        key: &str,
    ) -> Result<(), ServiceError> {
        let mut conn = self.db.pool().acquire().await?;
        let ticket_id = match load_case(&mut conn, ticket_id.trim()).await {
            Ok(case) => case.id,
            Err(ServiceError::TicketNotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        drop(conn);
        let detail = serde_json::json!({
            "refused_action": action.name(),
            "code": refusal.code().as_str(),
            "reason": refusal.public_message(),
            "idempotency_key": key,
        });
        let mut tx = self.db.begin_write().await?;
        audit::append_as(&mut tx, &Who::from_ctx(ctx), NewEvent::ticket_note(&ticket_id, "field.refused", detail))
            .await?;
        tx.commit().await?;
        tracing::info!(ticket = %ticket_id, %action, code = refusal.code().as_str(), "queued field action refused");
        Ok(())
    }
}
