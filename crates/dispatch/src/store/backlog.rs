//! What is waiting to be done, for the metrics: outboxes by status with the age of the
//! oldest pending item, and the newest signed audit checkpoint.

use sqlx::{AnyPool, Row};

/// One outbox's numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbox {
    pub pending: i64,
    pub dead: i64,
    /// When the oldest pending item fell due (unix ms), if any is pending.
    pub oldest_due_ms: Option<i64>,
}

pub async fn customer_updates(pool: &AnyPool) -> Result<Outbox, sqlx::Error> {
    let r = sqlx::query(
        "SELECT COUNT(*) FILTER (WHERE status = 'pending') AS pending, \
         COUNT(*) FILTER (WHERE status = 'dead') AS dead, \
         MIN(next_attempt_at_ms) FILTER (WHERE status = 'pending') AS oldest FROM customer_updates",
    )
    .fetch_one(pool)
    .await?;
    Ok(Outbox { pending: r.try_get("pending")?, dead: r.try_get("dead")?, oldest_due_ms: r.try_get("oldest")? })
}

pub async fn followups(pool: &AnyPool) -> Result<Outbox, sqlx::Error> {
    let r = sqlx::query(
        "SELECT COUNT(*) FILTER (WHERE state IN ('pending', 'claimed')) AS pending, \
         COUNT(*) FILTER (WHERE state = 'failed') AS dead, \
         MIN(due_at_ms) FILTER (WHERE state IN ('pending', 'claimed')) AS oldest FROM followups",
    )
    .fetch_one(pool)
    .await?;
    Ok(Outbox { pending: r.try_get("pending")?, dead: r.try_get("dead")?, oldest_due_ms: r.try_get("oldest")? })
}

/// When the newest audit checkpoint was signed (unix ms), if any was.
pub async fn last_checkpoint_ms(pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(at_ms) FROM audit_checkpoints").fetch_one(pool).await
}
