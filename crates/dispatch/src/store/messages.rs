//! A case's message thread, as the summaries and the portal read it.

use crate::error::ServiceError;
use serde::Serialize;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub at_ms: i64,
    pub direction: String,
    pub channel: String,
    pub sender: Option<String>,
    pub text: String,
}

/// The newest `limit` messages of the ticket, newest first.
pub async fn newest(pool: &AnyPool, ticket_id: &str, limit: i64) -> Result<Vec<MessageView>, ServiceError> {
    let rows = sqlx::query(
        "SELECT created_at_ms, direction, channel, sender, body FROM messages WHERE ticket_id = $1 \
         ORDER BY created_at_ms DESC, id DESC LIMIT $2",
    )
    .bind(ticket_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(MessageView {
                at_ms: r.try_get("created_at_ms")?,
                direction: r.try_get("direction")?,
                channel: r.try_get("channel")?,
                sender: r.try_get("sender")?,
                text: r.try_get("body")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// Messages written on the ticket by customers (inbound, from `channel`) since `since_ms`.
pub async fn customer_messages_since(
    pool: &AnyPool,
    ticket_id: &str,
    channel: &str,
    since_ms: i64,
) -> Result<i64, ServiceError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE ticket_id = $1 AND direction = 'inbound' AND channel = $2 \
         AND created_at_ms >= $3",
    )
    .bind(ticket_id)
    .bind(channel)
    .bind(since_ms)
    .fetch_one(pool)
    .await?;
    Ok(n)
}

/// The ticket an attachment belongs to.
pub async fn attachment_ticket(pool: &AnyPool, attachment_id: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT ticket_id FROM attachments WHERE id = $1")
        .bind(attachment_id)
        .fetch_optional(pool)
        .await?)
}
