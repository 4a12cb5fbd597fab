//! The shop's settings kept in the database, one JSON document per key; a key never written
//! reads as the caller's default.

use crate::error::ServiceError;
use sqlx::AnyPool;

/// The stored document of `key`, if the shop ever set it.
pub async fn get(pool: &AnyPool, key: &str) -> Result<Option<serde_json::Value>, ServiceError> {
    let raw: Option<String> = sqlx::query_scalar("SELECT value_json FROM shop_settings WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    raw.map(|r| serde_json::from_str(&r).map_err(|e| ServiceError::Internal(format!("setting {key}: {e}")))).transpose()
}

/// The stored document of `key` inside a write (the value it replaces, for the audit trail).
pub async fn get_in(tx: &mut crate::db::WriteTx, key: &str) -> Result<Option<serde_json::Value>, ServiceError> {
    let raw: Option<String> = sqlx::query_scalar("SELECT value_json FROM shop_settings WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    raw.map(|r| serde_json::from_str(&r).map_err(|e| ServiceError::Internal(format!("setting {key}: {e}")))).transpose()
}

pub async fn put(
    tx: &mut crate::db::WriteTx,
    key: &str,
    value: &serde_json::Value,
    by: &str,
    now: i64,
) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO shop_settings (key, value_json, updated_by, updated_at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_by = excluded.updated_by, \
         updated_at_ms = excluded.updated_at_ms",
    )
    .bind(key)
    .bind(value.to_string())
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
