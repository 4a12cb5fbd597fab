//! Follow-up timers: planned once per (ticket, kind, due time), claimed with a lease, fired or
//! given up exactly once by the claim's holder.

use crate::db::Backend;
use crate::error::ServiceError;
use crate::ids::new_id;
use sqlx::{AnyPool, Row};
use std::collections::HashSet;

/// A timer as claimed (its kind as stored).
pub struct ClaimedTimer {
    pub id: String,
    pub ticket_id: String,
    pub kind: String,
    pub due_at_ms: i64,
    pub attempts: i64,
}

/// Tickets whose state can still call for a timer.
pub async fn open_tickets(pool: &AnyPool) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM tickets WHERE state IN ('lead', 'intake', 'scheduled', 'dispatched', 'onsite', 'work_performed')",
    )
    .fetch_all(pool)
    .await?)
}

/// Every timer ever written, as (ticket, kind, due).
pub async fn known(pool: &AnyPool) -> Result<HashSet<(String, String, i64)>, ServiceError> {
    Ok(sqlx::query_as("SELECT ticket_id, kind, due_at_ms FROM followups").fetch_all(pool).await?.into_iter().collect())
}

/// Writes the timer unless the same one exists (another worker may have written it
/// meanwhile); whether it was new.
pub async fn plan(
    tx: &mut crate::db::WriteTx,
    ticket_id: &str,
    kind: &str,
    due_at_ms: i64,
    now: i64,
) -> Result<bool, ServiceError> {
    let done = sqlx::query(
        "INSERT INTO followups (id, ticket_id, kind, due_at_ms, state, attempts, created_at_ms) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5) ON CONFLICT (ticket_id, kind, due_at_ms) DO NOTHING",
    )
    .bind(new_id("fup"))
    .bind(ticket_id)
    .bind(kind)
    .bind(due_at_ms)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether anyone has written to the customer on this ticket.
pub async fn has_outbound(pool: &AnyPool, ticket_id: &str) -> Result<bool, ServiceError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE ticket_id = $1 AND direction = 'outbound'")
        .bind(ticket_id)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// Claims up to `batch` due timers (or ones whose claim ran out) for `worker` until
/// `lease_until`; on PostgreSQL concurrent workers skip each other's rows.
pub async fn claim(
    tx: &mut crate::db::WriteTx,
    backend: Backend,
    worker: &str,
    now: i64,
    lease_until: i64,
    batch: i64,
) -> Result<Vec<ClaimedTimer>, ServiceError> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE followups SET state = 'claimed', claimed_by = $1, claimed_until_ms = $2 \
         WHERE id IN (SELECT id FROM followups WHERE (state = 'pending' AND COALESCE(next_attempt_ms, due_at_ms) <= $3) \
            OR (state = 'claimed' AND claimed_until_ms < $3) ORDER BY due_at_ms LIMIT $4{lock}) \
         RETURNING id, ticket_id, kind, due_at_ms, attempts"
    );
    let rows = sqlx::query(&sql).bind(worker).bind(lease_until).bind(now).bind(batch).fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedTimer {
                id: r.try_get("id")?,
                ticket_id: r.try_get("ticket_id")?,
                kind: r.try_get("kind")?,
                due_at_ms: r.try_get("due_at_ms")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// The timer no longer applies.
pub async fn drop_claimed(pool: &AnyPool, id: &str) -> Result<(), ServiceError> {
    sqlx::query("UPDATE followups SET state = 'dropped', claimed_until_ms = NULL WHERE id = $1 AND state = 'claimed'")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks the timer fired if `worker` still holds its claim.
pub async fn mark_fired(tx: &mut crate::db::WriteTx, id: &str, worker: &str, now: i64) -> Result<bool, ServiceError> {
    let marked = sqlx::query(
        "UPDATE followups SET state = 'fired', fired_at_ms = $1, claimed_until_ms = NULL \
         WHERE id = $2 AND state = 'claimed' AND claimed_by = $3",
    )
    .bind(now)
    .bind(id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Gives the timer up if `worker` still holds its claim.
pub async fn mark_failed(
    tx: &mut crate::db::WriteTx,
    id: &str,
    worker: &str,
    attempts: i64,
    error: &str,
) -> Result<bool, ServiceError> {
    let marked = sqlx::query(
        "UPDATE followups SET state = 'failed', attempts = $1, last_error = $2, claimed_until_ms = NULL \
         WHERE id = $3 AND state = 'claimed' AND claimed_by = $4",
    )
    .bind(attempts)
    .bind(error)
    .bind(id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// Puts the timer back for another attempt at `next_attempt_ms`.
pub async fn retry_later(
    tx: &mut crate::db::WriteTx,
    id: &str,
    worker: &str,
    attempts: i64,
    error: &str,
    next_attempt_ms: i64,
) -> Result<(), ServiceError> {
    sqlx::query(
        "UPDATE followups SET state = 'pending', attempts = $1, last_error = $2, next_attempt_ms = $3, claimed_until_ms = NULL \
         WHERE id = $4 AND state = 'claimed' AND claimed_by = $5",
    )
    .bind(attempts)
    .bind(error)
    .bind(next_attempt_ms)
    .bind(id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Puts the timer back, unchanged in attempts, until `next_attempt_ms` (its agent is paused).
pub async fn hold(
    tx: &mut crate::db::WriteTx,
    id: &str,
    worker: &str,
    next_attempt_ms: i64,
) -> Result<bool, ServiceError> {
    let r = sqlx::query(
        "UPDATE followups SET state = 'pending', next_attempt_ms = $1, claimed_until_ms = NULL \
         WHERE id = $2 AND state = 'claimed' AND claimed_by = $3",
    )
    .bind(next_attempt_ms)
    .bind(id)
    .bind(worker)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}
