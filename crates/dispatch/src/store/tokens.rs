//! API tokens, stored by the hash of their secret.

use crate::error::ServiceError;
use domain::Role;
use sqlx::{AnyPool, Row};

/// A token as stored.
#[derive(Clone)]
pub struct StoredToken {
    pub name: String,
    pub role: Role,
    pub secret_hash: String,
    pub revoked: bool,
    /// The token's own budget of calls per minute (`None`: the shop's; 0: unlimited).
    pub calls_per_minute: Option<u32>,
    pub last_used_at_ms: Option<i64>,
}

pub async fn insert(
    pool: &AnyPool,
    id: &str,
    name: &str,
    role: Role,
    secret_hash: &str,
    calls_per_minute: Option<u32>,
    now: i64,
) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO api_tokens (id, name, role, secret_hash, calls_per_minute, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(name)
    .bind(role.as_str())
    .bind(secret_hash)
    .bind(calls_per_minute.map(i64::from))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn get(pool: &AnyPool, id: &str) -> Result<Option<StoredToken>, ServiceError> {
    let row =
        sqlx::query("SELECT name, role, secret_hash, revoked_at_ms, calls_per_minute, last_used_at_ms FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(StoredToken {
        name: r.try_get("name")?,
        role: r.try_get::<String, _>("role")?.parse().map_err(ServiceError::Internal)?,
        secret_hash: r.try_get("secret_hash")?,
        revoked: r.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some(),
        calls_per_minute: r.try_get::<Option<i64>, _>("calls_per_minute")?.and_then(|n| u32::try_from(n).ok()),
        last_used_at_ms: r.try_get("last_used_at_ms")?,
    }))
}

pub async fn touch(pool: &AnyPool, id: &str, now: i64) -> Result<(), ServiceError> {
    sqlx::query("UPDATE api_tokens SET last_used_at_ms = $1 WHERE id = $2").bind(now).bind(id).execute(pool).await?;
    Ok(())
}

/// Revokes an active token; false when there was none.
pub async fn revoke(pool: &AnyPool, id: &str, now: i64) -> Result<bool, ServiceError> {
    let r = sqlx::query("UPDATE api_tokens SET revoked_at_ms = $1 WHERE id = $2 AND revoked_at_ms IS NULL")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() == 1)
}
