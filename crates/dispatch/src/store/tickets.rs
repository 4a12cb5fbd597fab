//! New tickets: numbering, the row, the lead's completion, and the checklist copied from the
//! job type's template.

use crate::error::ServiceError;
use domain::ValidCreateTicket;
use sqlx::Row;

/// Takes the next ticket number and inserts the ticket in its initial state; returns the number.
pub async fn insert(
    tx: &mut crate::db::WriteTx,
    id: &str,
    v: &ValidCreateTicket,
    customer_id: &str,
    site_id: Option<&str>,
    contact_person_id: Option<&str>,
    now: i64,
) -> Result<i64, ServiceError> {
    // PostgreSQL: a sequence, so new tickets never wait on each other (a rolled-back one leaves
    // a gap); SQLite's single writer makes its counter row free.
    let next = match tx.backend() {
        crate::db::Backend::Postgres => "SELECT nextval('ticket_number_seq') AS value",
        crate::db::Backend::Sqlite => {
            "UPDATE counters SET value = value + 1 WHERE name = 'ticket_number' RETURNING value"
        }
    };
    let number: i64 = sqlx::query(next).fetch_one(&mut **tx).await?.try_get("value")?;
    sqlx::query(
        "INSERT INTO tickets (id, number, state, priority, problem_summary, trade, requested_start_ms, requested_end_ms, \
         customer_id, site_id, contact_person_id, version, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
    )
    .bind(id)
    .bind(number)
    .bind(v.initial_state().as_str())
    .bind(v.priority.as_str())
    .bind(&v.problem_summary)
    .bind(&v.trade)
    .bind(v.requested_window.map(|w| w.start_ms))
    .bind(v.requested_window.map(|w| w.end_ms))
    .bind(customer_id)
    .bind(site_id)
    .bind(contact_person_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(number)
}

/// A lead's missing facts filled in from a completed intake (what it had stays).
pub async fn merge_lead(
    tx: &mut crate::db::WriteTx,
    id: &str,
    v: &ValidCreateTicket,
    site_id: Option<&str>,
) -> Result<(), ServiceError> {
    sqlx::query(
        "UPDATE tickets SET site_id = COALESCE($1, site_id), problem_summary = COALESCE($2, problem_summary), \
         trade = COALESCE($3, trade), priority = $4, requested_start_ms = COALESCE($5, requested_start_ms), \
         requested_end_ms = COALESCE($6, requested_end_ms) WHERE id = $7",
    )
    .bind(site_id)
    .bind(&v.problem_summary)
    .bind(&v.trade)
    .bind(v.priority.as_str())
    .bind(v.requested_window.map(|w| w.start_ms))
    .bind(v.requested_window.map(|w| w.end_ms))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Copies the checklist template of the job type (or `general`) onto the ticket.
pub async fn instantiate_checklist(
    tx: &mut crate::db::WriteTx,
    ticket_id: &str,
    trade: Option<&str>,
) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO checklist_items (ticket_id, item_key, label, required, position) \
         SELECT $1, item_key, label, required, position FROM checklist_templates WHERE job_type = \
         CASE WHEN EXISTS (SELECT 1 FROM checklist_templates WHERE job_type = $2) THEN $2 ELSE 'general' END",
    )
    .bind(ticket_id)
    .bind(trade.unwrap_or("general"))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
