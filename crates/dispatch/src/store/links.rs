//! Portal links: stored by the hash of their secret, expiring, revocable.

use crate::error::ServiceError;
use sqlx::{AnyPool, Row};

/// A link as stored.
pub struct StoredLink {
    pub ticket_id: String,
    pub secret_hash: String,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

/// Who a link stands for: its ticket's customer.
pub struct LinkHolder {
    pub ticket_id: String,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub expires_at_ms: i64,
    pub revoked: bool,
}

pub struct NewLink<'a> {
    pub id: &'a str,
    pub ticket_id: &'a str,
    pub secret_hash: &'a str,
    pub created_by: &'a str,
    pub now: i64,
    pub expires_at_ms: i64,
}

pub async fn insert(tx: &mut crate::db::WriteTx, l: &NewLink<'_>) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO portal_links (id, ticket_id, secret_hash, created_by, created_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(l.id)
    .bind(l.ticket_id)
    .bind(l.secret_hash)
    .bind(l.created_by)
    .bind(l.now)
    .bind(l.expires_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes an active link; its ticket, or None when no active link has this id.
pub async fn revoke(tx: &mut crate::db::WriteTx, id: &str, now: i64) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar(
        "UPDATE portal_links SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL RETURNING ticket_id",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<StoredLink>, ServiceError> {
    let row =
        sqlx::query("SELECT ticket_id, secret_hash, expires_at_ms, revoked_at_ms FROM portal_links WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(StoredLink {
        ticket_id: r.try_get("ticket_id")?,
        secret_hash: r.try_get("secret_hash")?,
        expires_at_ms: r.try_get("expires_at_ms")?,
        revoked: r.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
    }))
}

pub async fn touch(tx: &mut crate::db::WriteTx, id: &str, now: i64) -> Result<(), ServiceError> {
    sqlx::query("UPDATE portal_links SET last_used_at_ms = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn holder(pool: &AnyPool, id: &str) -> Result<Option<LinkHolder>, ServiceError> {
    let row = sqlx::query(
        "SELECT l.ticket_id, l.expires_at_ms, l.revoked_at_ms, t.customer_id, c.name FROM portal_links l \
         JOIN tickets t ON t.id = l.ticket_id JOIN customers c ON c.id = t.customer_id WHERE l.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(LinkHolder {
        ticket_id: r.try_get("ticket_id")?,
        customer_id: r.try_get("customer_id")?,
        customer_name: r.try_get("name")?,
        expires_at_ms: r.try_get("expires_at_ms")?,
        revoked: r.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
    }))
}
