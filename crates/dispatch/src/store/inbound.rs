//! Inbound messages as channels delivered them, kept raw and normalised, one per provider id.

use crate::error::ServiceError;
use sqlx::{AnyPool, Row};

/// One delivered message and what became of it.
pub struct InboundRecord<'a> {
    pub id: &'a str,
    pub channel: &'a str,
    pub provider_id: &'a str,
    pub from: &'a str,
    pub to: Option<&'a str>,
    pub normalized_from: &'a str,
    pub body: &'a str,
    pub raw_json: &'a str,
    pub received_at_ms: i64,
    pub disposition: &'a str,
    pub reason: Option<&'a str>,
    pub ticket_id: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub now: i64,
}

/// Messages from one sender since `since_ms`.
pub async fn recent_from(pool: &AnyPool, normalized_from: &str, since_ms: i64) -> Result<i64, ServiceError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM inbound_messages WHERE normalized_from = $1 AND created_at_ms > $2")
        .bind(normalized_from)
        .bind(since_ms)
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

/// The most recently active open ticket of the customer with this contact.
pub async fn open_ticket_of_contact(pool: &AnyPool, kind: &str, value: &str) -> Result<Option<String>, ServiceError> {
    Ok(sqlx::query(
        "SELECT t.id FROM customer_contacts cc JOIN tickets t ON t.customer_id = cc.customer_id \
         WHERE cc.kind = $1 AND cc.value = $2 AND t.state NOT IN ('paid_or_ar', 'canceled') \
         ORDER BY t.updated_at_ms DESC LIMIT 1",
    )
    .bind(kind)
    .bind(value)
    .fetch_optional(pool)
    .await?
    .map(|r| r.try_get("id"))
    .transpose()?)
}

/// The ticket and message a delivery already became, if it was seen before.
pub async fn seen(
    pool: &AnyPool,
    channel: &str,
    provider_id: &str,
) -> Result<Option<(Option<String>, Option<String>)>, ServiceError> {
    let row = sqlx::query(
        "SELECT ticket_id, message_id FROM inbound_messages WHERE channel = $1 AND provider_message_id = $2",
    )
    .bind(channel)
    .bind(provider_id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get("ticket_id")?, r.try_get("message_id")?))).transpose()
}

/// Records the delivery; false when the same provider id was recorded first.
pub async fn insert(tx: &mut crate::db::WriteTx, m: &InboundRecord<'_>) -> Result<bool, ServiceError> {
    let inserted = sqlx::query(
        "INSERT INTO inbound_messages (id, channel, provider_message_id, from_addr, to_addr, normalized_from, body, raw_json, \
         received_at_ms, disposition, reason, ticket_id, message_id, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (channel, provider_message_id) DO NOTHING",
    )
    .bind(m.id)
    .bind(m.channel)
    .bind(m.provider_id)
    .bind(m.from)
    .bind(m.to)
    .bind(m.normalized_from)
    .bind(m.body)
    .bind(m.raw_json)
    .bind(m.received_at_ms)
    .bind(m.disposition)
    .bind(m.reason)
    .bind(m.ticket_id)
    .bind(m.message_id)
    .bind(m.now)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Binds a conversation to a ticket (a later ticket of the same conversation takes it over);
/// whether the binding changed.
pub async fn bind_conversation(
    tx: &mut crate::db::WriteTx,
    conversation: &str,
    ticket_id: &str,
    channel: &str,
    now: i64,
) -> Result<bool, ServiceError> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT ticket_id FROM conversation_bindings WHERE conversation = $1")
            .bind(conversation)
            .fetch_optional(&mut **tx)
            .await?;
    if current.as_deref() == Some(ticket_id) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO conversation_bindings (conversation, ticket_id, channel, bound_at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (conversation) DO UPDATE SET ticket_id = excluded.ticket_id, channel = excluded.channel, \
         bound_at_ms = excluded.bound_at_ms",
    )
    .bind(conversation)
    .bind(ticket_id)
    .bind(channel)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// The ticket a conversation is bound to: `(ticket_id, channel, bound_at_ms)`.
pub async fn conversation(pool: &AnyPool, conversation: &str) -> Result<Option<(String, String, i64)>, ServiceError> {
    Ok(sqlx::query_as("SELECT ticket_id, channel, bound_at_ms FROM conversation_bindings WHERE conversation = $1")
        .bind(conversation)
        .fetch_optional(pool)
        .await?)
}
