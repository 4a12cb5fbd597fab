//! The customer-update outbox: written inside the action's transaction, claimed with a lease
//! by the worker, and settled once (sent, retried later, or given up).

use crate::db::Backend;
use crate::error::ServiceError;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

pub use domain::updates::CustomerUpdate;

const COLUMNS: &str = "id, ticket_id, kind, channel, to_addr, body, status, reason, attempts, next_attempt_at_ms, \
    last_error, created_at_ms, sent_at_ms";

fn update(r: &AnyRow) -> Result<CustomerUpdate, ServiceError> {
    Ok(CustomerUpdate {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        kind: r.try_get("kind")?,
        channel: r.try_get("channel")?,
        to: r.try_get("to_addr")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        attempts: r.try_get::<i64, _>("attempts")?,
        next_attempt_at_ms: r.try_get("next_attempt_at_ms")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at_ms")?,
        sent_at_ms: r.try_get("sent_at_ms")?,
    })
}

/// A new update, as the action's transaction writes it.
pub struct NewUpdate<'a> {
    pub id: &'a str,
    pub ticket_id: &'a str,
    pub kind: &'a str,
    pub channel: Option<&'a str>,
    pub to: Option<&'a str>,
    pub body: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub case_version: i64,
    pub now: i64,
}

pub async fn insert(tx: &mut crate::db::WriteTx, u: &NewUpdate<'_>) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO customer_updates (id, ticket_id, kind, channel, to_addr, body, status, reason, attempts, \
         next_attempt_at_ms, case_version, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $9)",
    )
    .bind(u.id)
    .bind(u.ticket_id)
    .bind(u.kind)
    .bind(u.channel)
    .bind(u.to)
    .bind(u.body)
    .bind(u.status)
    .bind(u.reason)
    .bind(u.now)
    .bind(u.case_version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues `u` with the commit of `tx` (see [`crate::db::WriteTx::defer`]), skipped if the same
/// kind went out (or is going out) on the ticket less than `quiet_ms` ago: the check runs in
/// the write itself, so queueing costs the transaction no round trip of its own. `u.status`
/// and `u.reason` are what it gets otherwise (a `skipped` update stays skipped for its reason).
pub fn queue_with_commit(tx: &mut crate::db::WriteTx, u: &NewUpdate<'_>, quiet_ms: i64, quiet_reason: &str) {
    use crate::db::Bind;
    tx.defer(
        "INSERT INTO customer_updates (id, ticket_id, kind, channel, to_addr, body, status, reason, attempts, \
         next_attempt_at_ms, case_version, created_at_ms) \
         SELECT $1, $2, $3, $4, $5, $6, CASE WHEN $7 = 'pending' AND recent.found = 1 THEN 'skipped' ELSE $7 END, \
         CASE WHEN $7 = 'pending' AND recent.found = 1 THEN $8 ELSE $9 END, 0, $10, $11, $10 \
         FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM customer_updates WHERE ticket_id = $2 AND kind = $3 \
         AND status IN ('pending', 'sent') AND created_at_ms > $12) THEN 1 ELSE 0 END AS found) AS recent",
        vec![
            Bind::from(u.id),
            Bind::from(u.ticket_id),
            Bind::from(u.kind),
            Bind::from(u.channel.map(str::to_string)),
            Bind::from(u.to.map(str::to_string)),
            Bind::from(u.body),
            Bind::from(u.status),
            Bind::from(quiet_reason),
            Bind::from(u.reason.map(str::to_string)),
            Bind::from(u.now),
            Bind::from(u.case_version),
            Bind::from(u.now - quiet_ms),
        ],
    );
}

/// When the same kind last went out (or is going out) on the ticket.
pub async fn last_of_kind(
    tx: &mut crate::db::WriteTx,
    ticket_id: &str,
    kind: &str,
) -> Result<Option<i64>, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(created_at_ms) FROM customer_updates WHERE ticket_id = $1 AND kind = $2 AND status IN ('pending', 'sent')",
    )
    .bind(ticket_id)
    .bind(kind)
    .fetch_one(&mut **tx)
    .await?)
}

/// Claims up to `limit` due updates for a lease ending at `lease_until`; only the claimer
/// settles them (a crashed worker's claims come due again when their lease ends).
pub async fn claim_due(
    tx: &mut crate::db::WriteTx,
    backend: Backend,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<CustomerUpdate>, ServiceError> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE customer_updates SET claimed_until_ms = $1 WHERE id IN (SELECT id FROM customer_updates \
         WHERE status = 'pending' AND next_attempt_at_ms <= $2 AND (claimed_until_ms IS NULL OR claimed_until_ms < $2) \
         ORDER BY next_attempt_at_ms, id LIMIT $3{lock}) RETURNING {COLUMNS}"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(update).collect()
}

/// Settles a claimed update: sent, retried at `next_ms`, or dead; false when the claim was lost.
pub async fn settle(
    tx: &mut crate::db::WriteTx,
    id: &str,
    status: &str,
    attempts: i64,
    next_ms: i64,
    error: Option<&str>,
    sent_at: Option<i64>,
) -> Result<bool, ServiceError> {
    let r = sqlx::query(
        "UPDATE customer_updates SET status = $1, attempts = $2, next_attempt_at_ms = $3, last_error = $4, \
         sent_at_ms = $5, claimed_until_ms = NULL WHERE id = $6 AND status = 'pending'",
    )
    .bind(status)
    .bind(attempts)
    .bind(next_ms)
    .bind(error)
    .bind(sent_at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A ticket's updates, newest first.
pub async fn of_ticket(pool: &AnyPool, ticket_id: &str) -> Result<Vec<CustomerUpdate>, ServiceError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customer_updates WHERE ticket_id = $1 ORDER BY created_at_ms DESC, id DESC LIMIT 50"
    ))
    .bind(ticket_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(update).collect()
}

/// Updates the worker gave up on, newest first (the office's to-do).
pub async fn dead(pool: &AnyPool, limit: i64) -> Result<Vec<CustomerUpdate>, ServiceError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customer_updates WHERE status = 'dead' ORDER BY created_at_ms DESC, id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(update).collect()
}

/// One update by id.
pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<CustomerUpdate>, ServiceError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customer_updates WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(update).transpose()
}

/// Keeps the words as they go out (with the portal link made for them), so a retry sends the
/// same words and the same link.
pub async fn set_body(tx: &mut crate::db::WriteTx, id: &str, body: &str) -> Result<(), ServiceError> {
    sqlx::query("UPDATE customer_updates SET body = $1 WHERE id = $2 AND status = 'pending'")
        .bind(body)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
