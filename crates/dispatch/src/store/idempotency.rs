//! Idempotent tool calls. The key is claimed inside the action's transaction and the response
//! stored before commit, so an action and its stored answer commit together or not at all;
//! a concurrent duplicate waits on the key's row and then finds the answer.

use crate::error::ServiceError;
use crate::ids::now_ms;
use sha2::{Digest, Sha256};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Whose key: the API token id.
    pub scope: String,
    pub tool: String,
    pub key: String,
    /// SHA-256 of the canonical JSON body (keys sorted, no whitespace).
    pub request_hash: String,
}

/// SHA-256 of `body` in canonical form, so formatting and key order do not matter.
pub fn request_hash(body: &serde_json::Value) -> String {
    // serde_json's map keeps keys sorted, so re-serialising gives one canonical text.
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The same request succeeded before: its response.
    Replay(serde_json::Value),
    /// The key was used for a different request.
    Mismatch,
    /// Claimed by a call still running (only visible outside its transaction).
    InProgress,
}

pub async fn lookup(pool: &sqlx::AnyPool, k: &IdempotencyKey) -> Result<Option<Stored>, ServiceError> {
    let row = sqlx::query(
        "SELECT request_hash, response_json FROM idempotency_keys WHERE scope = $1 AND tool = $2 AND idem_key = $3",
    )
    .bind(&k.scope)
    .bind(&k.tool)
    .bind(&k.key)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let hash: String = row.try_get("request_hash")?;
    if hash != k.request_hash {
        return Ok(Some(Stored::Mismatch));
    }
    let response: Option<String> = row.try_get("response_json")?;
    Ok(Some(match response {
        Some(r) => Stored::Replay(serde_json::from_str(&r).map_err(|e| ServiceError::Internal(e.to_string()))?),
        None => Stored::InProgress,
    }))
}

/// The claim, its five parameters numbered from `$first` (above 1 when it is one statement of
/// a fused round trip on SQLite): it gives one row, with the column `claimed`, only when this
/// call claimed the key.
pub(crate) fn claim_sql(first: usize) -> String {
    format!(
        "INSERT INTO idempotency_keys (scope, tool, idem_key, request_hash, created_at_ms) VALUES (${}, ${}, ${}, ${}, ${}) \
         ON CONFLICT (scope, tool, idem_key) DO NOTHING RETURNING 1 AS claimed",
        first,
        first + 1,
        first + 2,
        first + 3,
        first + 4
    )
}

/// Binds [`claim_sql`]'s parameters.
pub(crate) fn bind_claim<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    k: &IdempotencyKey,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(k.scope.clone()).bind(k.tool.clone()).bind(k.key.clone()).bind(k.request_hash.clone()).bind(now_ms())
}

/// Whether a row of a fused round trip is [`claim_sql`]'s.
pub(crate) fn is_claim_row(row: &sqlx::any::AnyRow) -> bool {
    row.try_get::<i64, _>("claimed").is_ok()
}

/// How many parameters [`record_sql`] binds.
pub(crate) const RECORD_PARAMS: usize = 4;

/// The stored answer, its four parameters numbered from `$first` (above 1 when it rides with
/// the audit event).
pub(crate) fn record_sql(first: usize) -> String {
    format!(
        "UPDATE idempotency_keys SET response_json = ${} WHERE scope = ${} AND tool = ${} AND idem_key = ${}",
        first,
        first + 1,
        first + 2,
        first + 3
    )
}

/// Binds [`record_sql`]'s parameters.
pub(crate) fn bind_record<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    k: &'q IdempotencyKey,
    response: String,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(response).bind(&k.scope).bind(&k.tool).bind(&k.key)
}

/// Claims the key in `tx`. On PostgreSQL a concurrent claim of the same key waits here until
/// the first transaction ends; then it finds the row and the call reports `AlreadyProcessed`.
pub async fn claim(tx: &mut crate::db::WriteTx, k: &IdempotencyKey) -> Result<(), ServiceError> {
    if try_claim(tx, k).await? {
        Ok(())
    } else {
        Err(ServiceError::AlreadyProcessed)
    }
}

/// [`claim`]: true when this call claimed the key.
pub(crate) async fn try_claim(tx: &mut crate::db::WriteTx, k: &IdempotencyKey) -> Result<bool, ServiceError> {
    let sql = claim_sql(1);
    // Run to its end (not stopped at the returned row), as the statement it replaced was.
    Ok(bind_claim(sqlx::query(&sql), k).execute(&mut **tx).await?.rows_affected() == 1)
}

pub async fn record(
    tx: &mut crate::db::WriteTx,
    k: &IdempotencyKey,
    response: &serde_json::Value,
) -> Result<(), ServiceError> {
    let sql = record_sql(1);
    bind_record(sqlx::query(&sql), k, response.to_string()).execute(&mut **tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_ignore_formatting_and_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": {"y": 2, "x": [1, 2]}}"#).expect("json");
        let b: serde_json::Value = serde_json::from_str(r#"{"a":{"x":[1,2],"y":2},"b":1}"#).expect("json");
        let c: serde_json::Value = serde_json::from_str(r#"{"a":{"x":[2,1],"y":2},"b":1}"#).expect("json");
        assert_eq!(super::request_hash(&a), super::request_hash(&b));
        assert_ne!(super::request_hash(&a), super::request_hash(&c));
    }
}
