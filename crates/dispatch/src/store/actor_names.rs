//! The names of the people and tokens the audit trail records by id, for timelines.

use crate::error::ServiceError;
use sqlx::AnyPool;

/// The account's or the API token's name of an actor id, if it has one.
pub async fn name_of(pool: &AnyPool, id: &str) -> Result<Option<String>, ServiceError> {
    let user: Option<String> =
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1").bind(id).fetch_optional(pool).await?;
    if user.is_some() {
        return Ok(user);
    }
    Ok(sqlx::query_scalar("SELECT name FROM api_tokens WHERE id = $1").bind(id).fetch_optional(pool).await?)
}
