//! Agent calls held for a person: written when the gate holds a call, decided once.

use crate::error::ServiceError;
use domain::approval::{Approval, ApprovalStatus, QueuedApproval};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

/// A held call as stored, with what approving needs to run it as the agent asked.
pub struct Held {
    pub approval: Approval,
    pub actor_json: String,
    pub request_key: String,
    pub request_hash: String,
}

/// A new held call.
pub struct NewApproval<'a> {
    pub id: &'a str,
    pub ticket_id: &'a str,
    pub action: &'a str,
    pub input_json: &'a str,
    pub rule: &'a str,
    pub reason: &'a str,
    pub actor_json: &'a str,
    pub requested_by: &'a str,
    pub requested_role: &'a str,
    pub request_key: &'a str,
    pub request_hash: &'a str,
    pub now: i64,
}

/// One agent's call by its Idempotency-Key (binds: requested_by, action, request_key).
fn by_request() -> String {
    format!("SELECT {COLUMNS} FROM approvals WHERE requested_by = $1 AND action = $2 AND request_key = $3")
}

const COLUMNS: &str = "id, ticket_id, action, input_json, rule, reason, actor_json, requested_by, requested_role, \
    request_key, request_hash, requested_at_ms, status, decided_by, decided_at_ms, decision_note, result_event_id";

fn held(r: &AnyRow) -> Result<Held, ServiceError> {
    let bad = |what: &str| ServiceError::Internal(format!("approval row: bad {what}"));
    let input: String = r.try_get("input_json")?;
    Ok(Held {
        approval: Approval {
            id: r.try_get("id")?,
            ticket_id: r.try_get("ticket_id")?,
            action: r.try_get("action")?,
            input: serde_json::from_str(&input).map_err(|_| bad("input"))?,
            rule: r.try_get::<String, _>("rule")?.parse().map_err(|_| bad("rule"))?,
            reason: r.try_get("reason")?,
            requested_by: r.try_get("requested_by")?,
            requested_role: r.try_get("requested_role")?,
            requested_at_ms: r.try_get("requested_at_ms")?,
            status: r.try_get::<String, _>("status")?.parse().map_err(|_| bad("status"))?,
            decided_by: r.try_get("decided_by")?,
            decided_at_ms: r.try_get("decided_at_ms")?,
            decision_note: r.try_get("decision_note")?,
            result_event_id: r.try_get("result_event_id")?,
        },
        actor_json: r.try_get("actor_json")?,
        request_key: r.try_get("request_key")?,
        request_hash: r.try_get("request_hash")?,
    })
}

/// Writes the held call, unless the same agent already asked the same with the same key (a
/// retry); the approval that stands either way.
pub async fn hold(tx: &mut crate::db::WriteTx, a: &NewApproval<'_>) -> Result<Held, ServiceError> {
    sqlx::query(
        "INSERT INTO approvals (id, ticket_id, action, input_json, rule, reason, actor_json, requested_by, \
         requested_role, request_key, request_hash, requested_at_ms, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending') \
         ON CONFLICT (requested_by, action, request_key) DO NOTHING",
    )
    .bind(a.id)
    .bind(a.ticket_id)
    .bind(a.action)
    .bind(a.input_json)
    .bind(a.rule)
    .bind(a.reason)
    .bind(a.actor_json)
    .bind(a.requested_by)
    .bind(a.requested_role)
    .bind(a.request_key)
    .bind(a.request_hash)
    .bind(a.now)
    .execute(&mut **tx)
    .await?;
    let row =
        sqlx::query(&by_request()).bind(a.requested_by).bind(a.action).bind(a.request_key).fetch_one(&mut **tx).await?;
    held(&row)
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<Held>, ServiceError> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(held).transpose()
}

/// The same agent's earlier call with this key, if the gate held it.
pub async fn find_request(
    pool: &AnyPool,
    requested_by: &str,
    action: &str,
    request_key: &str,
) -> Result<Option<Held>, ServiceError> {
    let row = sqlx::query(&by_request()).bind(requested_by).bind(action).bind(request_key).fetch_optional(pool).await?;
    row.as_ref().map(held).transpose()
}

/// Records the decision of a pending approval; false when it was no longer pending (another
/// person decided first).
pub async fn decide(
    tx: &mut crate::db::WriteTx,
    id: &str,
    status: ApprovalStatus,
    by: &str,
    note: Option<&str>,
    result_event_id: Option<&str>,
    now: i64,
) -> Result<bool, ServiceError> {
    let r = sqlx::query(
        "UPDATE approvals SET status = $1, decided_by = $2, decided_at_ms = $3, decision_note = $4, \
         result_event_id = $5 WHERE id = $6 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(result_event_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Pending approvals, oldest first, then the latest `decided` decisions, each with its ticket.
pub async fn queue(pool: &AnyPool, decided: i64) -> Result<Vec<QueuedApproval>, ServiceError> {
    let select = format!(
        "SELECT {}, t.number AS ticket_number, t.state AS ticket_state, c.name AS customer_name \
         FROM approvals a JOIN tickets t ON t.id = a.ticket_id JOIN customers c ON c.id = t.customer_id",
        COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
    );
    let mut rows = sqlx::query(&format!("{select} WHERE a.status = 'pending' ORDER BY a.requested_at_ms, a.id"))
        .fetch_all(pool)
        .await?;
    rows.extend(
        sqlx::query(&format!("{select} WHERE a.status <> 'pending' ORDER BY a.decided_at_ms DESC, a.id LIMIT $1"))
            .bind(decided)
            .fetch_all(pool)
            .await?,
    );
    rows.iter()
        .map(|r| {
            Ok(QueuedApproval {
                approval: held(r)?.approval,
                ticket_number: domain::case::ticket_number(r.try_get("ticket_number")?),
                ticket_state: r
                    .try_get::<String, _>("ticket_state")?
                    .parse()
                    .map_err(|_| ServiceError::Internal("approval's ticket: bad state".into()))?,
                customer_name: r.try_get("customer_name")?,
            })
        })
        .collect()
}

/// A ticket's approvals, newest first (for its case summary and page).
pub async fn of_ticket(pool: &AnyPool, ticket_id: &str) -> Result<Vec<Approval>, ServiceError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE ticket_id = $1 ORDER BY requested_at_ms DESC, id DESC LIMIT 20"
    ))
    .bind(ticket_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| held(r).map(|h| h.approval)).collect()
}

/// How many calls wait for a person.
pub async fn pending_count(pool: &AnyPool) -> Result<i64, ServiceError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE status = 'pending'").fetch_one(pool).await?)
}
