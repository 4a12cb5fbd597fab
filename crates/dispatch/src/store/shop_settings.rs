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

/// Every saved key under `prefix` (`shop.`), with who saved it and when: one small read.
pub async fn saved_under(pool: &AnyPool, prefix: &str) -> Result<Vec<crate::settings::SavedSetting>, ServiceError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT key, value_json, updated_by, updated_at_ms FROM shop_settings WHERE key LIKE $1")
        // The prefixes in use hold no LIKE wildcard (`%`, `_`).
        .bind(format!("{prefix}%"))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let key: String = r.try_get("key")?;
            let raw: String = r.try_get("value_json")?;
            let value =
                serde_json::from_str(&raw).map_err(|e| ServiceError::Internal(format!("setting {key}: {e}")))?;
            Ok(crate::settings::SavedSetting {
                key,
                value,
                updated_by: r.try_get("updated_by")?,
                updated_at_ms: r.try_get("updated_at_ms")?,
            })
        })
        .collect()
}
