//! The append-only, hash-chained audit trail.
//!
//! Each event stores the hash of the previous event globally (`prev_hash`) and of the previous
//! event of its ticket (`ticket_prev_hash`), and its own `hash` over all of its content, so
//! any edit, deletion or reordering breaks [`verify`].

use crate::context::CallContext;
use crate::ids::{new_id, now_ms};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// What an action changed, before it is stamped and chained.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub ticket_id: Option<String>,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// What the action produced beyond the case (proposed slots, a packet manifest).
    pub detail: Option<serde_json::Value>,
    /// `[{"id", "sha256", "size", "content_type"}]` of attachments the action touched.
    pub attachments: Vec<serde_json::Value>,
}

impl NewEvent {
    /// An event in a ticket's chain that changes nothing in the case (replay applies no
    /// fields): a link opened, a follow-up fired.
    pub fn ticket_note(ticket_id: &str, action: &str, detail: serde_json::Value) -> NewEvent {
        NewEvent {
            ticket_id: Some(ticket_id.to_string()),
            action: action.into(),
            before: Some(serde_json::json!({})),
            after: Some(serde_json::json!({})),
            detail: Some(detail),
            attachments: vec![],
        }
    }
}

/// The hashed content of an event, in a fixed field order.
#[derive(Serialize)]
struct Hashed<'a> {
    id: &'a str,
    seq: i64,
    ticket_id: Option<&'a str>,
    at_ms: i64,
    actor_kind: &'a str,
    actor_id: &'a str,
    actor_role: &'a str,
    source_channel: &'a str,
    correlation_id: Option<&'a str>,
    request_id: Option<&'a str>,
    action: &'a str,
    before_json: Option<&'a str>,
    after_json: Option<&'a str>,
    detail_json: Option<&'a str>,
    attachments_json: &'a str,
    prev_hash: &'a str,
    ticket_prev_hash: Option<&'a str>,
}

fn hash_of(h: &Hashed<'_>) -> String {
    let json = serde_json::to_vec(h).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Who an event is attributed to, as stored.
#[derive(Debug, Clone)]
pub struct Who<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub role: &'a str,
    pub channel: &'a str,
    pub correlation_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> Who<'a> {
    pub fn from_ctx(ctx: &'a CallContext) -> Self {
        Who {
            kind: ctx.actor.kind.as_str(),
            id: &ctx.actor.id,
            role: ctx.actor.role.as_str(),
            channel: ctx.channel.as_str(),
            correlation_id: ctx.correlation_id.as_deref(),
            request_id: ctx.request_id.as_deref(),
        }
    }
}

/// Appends one event inside the caller's transaction and returns its id.
pub async fn append(tx: &mut crate::db::WriteTx, ctx: &CallContext, ev: NewEvent) -> Result<String, sqlx::Error> {
    append_as(tx, &Who::from_ctx(ctx), ev).await
}

/// [`append`] for callers without a [`CallContext`] (refused calls of unknown callers).
pub async fn append_as(tx: &mut crate::db::WriteTx, who: &Who<'_>, ev: NewEvent) -> Result<String, sqlx::Error> {
    let e = stamp(tx, who, ev).await?;
    bind_event(sqlx::query(INSERT_EVENT), &e).execute(&mut **tx).await?;
    Ok(e.id)
}

/// An event stamped and chained in the caller's transaction (its place in both chains is
/// taken), to be written by [`write_and_commit`] as the transaction's last statement.
pub struct Stamped(StoredEvent);

impl Stamped {
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

/// Takes the event's place in the chains and computes its hash; nothing else may append in
/// this transaction before [`write_and_commit`].
pub async fn stamp_for_commit(
    tx: &mut crate::db::WriteTx,
    ctx: &CallContext,
    ev: NewEvent,
) -> Result<Stamped, sqlx::Error> {
    Ok(Stamped(stamp(tx, &Who::from_ctx(ctx), ev).await?))
}

/// Writes a stamped event and commits (one round trip on SQLite).
pub async fn write_and_commit(tx: crate::db::WriteTx, e: Stamped) -> Result<(), sqlx::Error> {
    let sql = if tx.fuses_commit() { INSERT_EVENT_THEN_COMMIT } else { INSERT_EVENT };
    tx.execute_and_commit(bind_event(sqlx::query(sql), &e.0)).await
}

macro_rules! insert_event_sql {
    () => {
        "INSERT INTO audit_events (id, seq, ticket_id, at_ms, actor_kind, actor_id, actor_role, source_channel, \
         correlation_id, request_id, action, before_json, after_json, detail_json, attachments_json, prev_hash, \
         ticket_prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    };
}
const INSERT_EVENT: &str = insert_event_sql!();
const INSERT_EVENT_THEN_COMMIT: &str = concat!(insert_event_sql!(), "; COMMIT");

fn bind_event<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    e: &'q StoredEvent,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&e.id)
        .bind(e.seq)
        .bind(&e.ticket_id)
        .bind(e.at_ms)
        .bind(&e.actor_kind)
        .bind(&e.actor_id)
        .bind(&e.actor_role)
        .bind(&e.source_channel)
        .bind(&e.correlation_id)
        .bind(&e.request_id)
        .bind(&e.action)
        .bind(&e.before_json)
        .bind(&e.after_json)
        .bind(&e.detail_json)
        .bind(&e.attachments_json)
        .bind(&e.prev_hash)
        .bind(&e.ticket_prev_hash)
        .bind(&e.hash)
}

/// The statement that takes the next place in the global chain, with the ticket id as
/// `$ticket_param`: one row of `seq, head_hash, ticket_prev_hash`. Taking the head row's lock
/// first serialises appenders, so the chain never forks; the trigger on insert moves
/// `head_hash`.
pub(crate) fn take_head_sql(ticket_param: usize) -> String {
    format!(
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, head_hash, \
         (SELECT hash FROM audit_events WHERE ticket_id = ${ticket_param} ORDER BY seq DESC LIMIT 1) AS ticket_prev_hash"
    )
}

/// Takes the next place in the global chain and the ticket's, and hashes the event.
async fn stamp(tx: &mut crate::db::WriteTx, who: &Who<'_>, ev: NewEvent) -> Result<StoredEvent, sqlx::Error> {
    static TAKE_HEAD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let head = sqlx::query(TAKE_HEAD.get_or_init(|| take_head_sql(1))).bind(&ev.ticket_id).fetch_one(&mut **tx).await?;
    stamp_at(&head, who, ev)
}

/// [`stamp_for_commit`] with the row of [`take_head_sql`] already read (in the same round
/// trip as the action's last write).
pub fn stamp_with_head(head: &sqlx::any::AnyRow, ctx: &CallContext, ev: NewEvent) -> Result<Stamped, sqlx::Error> {
    Ok(Stamped(stamp_at(head, &Who::from_ctx(ctx), ev)?))
}

fn stamp_at(head: &sqlx::any::AnyRow, who: &Who<'_>, ev: NewEvent) -> Result<StoredEvent, sqlx::Error> {
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("head_hash")?;
    let ticket_prev_hash: Option<String> =
        if ev.ticket_id.is_some() { head.try_get("ticket_prev_hash")? } else { None };
    let mut e = StoredEvent {
        id: new_id("evt"),
        seq,
        ticket_id: ev.ticket_id,
        at_ms: now_ms(),
        actor_kind: who.kind.to_string(),
        actor_id: who.id.to_string(),
        actor_role: who.role.to_string(),
        source_channel: who.channel.to_string(),
        correlation_id: who.correlation_id.map(str::to_string),
        request_id: who.request_id.map(str::to_string),
        action: ev.action,
        before_json: ev.before.as_ref().map(|v| v.to_string()),
        after_json: ev.after.as_ref().map(|v| v.to_string()),
        detail_json: ev.detail.as_ref().map(|v| v.to_string()),
        attachments_json: serde_json::Value::Array(ev.attachments).to_string(),
        prev_hash,
        ticket_prev_hash,
        hash: String::new(),
    };
    e.hash = e.computed_hash();
    Ok(e)
}

/// One stored event, as read back for timelines and verification.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub seq: i64,
    pub ticket_id: Option<String>,
    pub at_ms: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub source_channel: String,
    pub correlation_id: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub detail_json: Option<String>,
    pub attachments_json: String,
    pub prev_hash: String,
    pub ticket_prev_hash: Option<String>,
    pub hash: String,
}

impl StoredEvent {
    /// The hash over everything but the hash itself, in the fixed field order of [`Hashed`].
    pub fn computed_hash(&self) -> String {
        hash_of(&Hashed {
            id: &self.id,
            seq: self.seq,
            ticket_id: self.ticket_id.as_deref(),
            at_ms: self.at_ms,
            actor_kind: &self.actor_kind,
            actor_id: &self.actor_id,
            actor_role: &self.actor_role,
            source_channel: &self.source_channel,
            correlation_id: self.correlation_id.as_deref(),
            request_id: self.request_id.as_deref(),
            action: &self.action,
            before_json: self.before_json.as_deref(),
            after_json: self.after_json.as_deref(),
            detail_json: self.detail_json.as_deref(),
            attachments_json: &self.attachments_json,
            prev_hash: &self.prev_hash,
            ticket_prev_hash: self.ticket_prev_hash.as_deref(),
        })
    }
}

const EVENT_COLUMNS: &str = "id, seq, ticket_id, at_ms, actor_kind, actor_id, actor_role, source_channel, \
    correlation_id, request_id, action, before_json, after_json, detail_json, attachments_json, prev_hash, ticket_prev_hash, hash";

fn stored(r: &sqlx::any::AnyRow) -> Result<StoredEvent, sqlx::Error> {
    Ok(StoredEvent {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        ticket_id: r.try_get("ticket_id")?,
        at_ms: r.try_get("at_ms")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        actor_role: r.try_get("actor_role")?,
        source_channel: r.try_get("source_channel")?,
        correlation_id: r.try_get("correlation_id")?,
        request_id: r.try_get("request_id")?,
        action: r.try_get("action")?,
        before_json: r.try_get("before_json")?,
        after_json: r.try_get("after_json")?,
        detail_json: r.try_get("detail_json")?,
        attachments_json: r.try_get("attachments_json")?,
        prev_hash: r.try_get("prev_hash")?,
        ticket_prev_hash: r.try_get("ticket_prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

pub async fn all_events(pool: &sqlx::AnyPool) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq")).fetch_all(pool).await?;
    rows.iter().map(stored).collect()
}

pub async fn events_for_ticket(pool: &sqlx::AnyPool, ticket_id: &str) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE ticket_id = $1 ORDER BY seq"))
        .bind(ticket_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored).collect()
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub events: u64,
    pub problems: Vec<String>,
}

/// Re-hashes every event in order and checks both chains and the head.
pub async fn verify(pool: &sqlx::AnyPool) -> Result<Verification, sqlx::Error> {
    use std::collections::HashMap;
    let rows = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq")).fetch_all(pool).await?;
    let mut problems = vec![];
    let mut prev = "genesis".to_string();
    let mut expected_seq = 1;
    let mut last_by_ticket: HashMap<String, String> = HashMap::new();
    for r in &rows {
        let e = stored(r)?;
        if e.seq != expected_seq {
            problems
                .push(format!("event {}: sequence {} where {expected_seq} was expected (missing event?)", e.id, e.seq));
        }
        expected_seq = e.seq + 1;
        if e.prev_hash != prev {
            problems.push(format!("event {} (seq {}): global chain broken", e.id, e.seq));
        }
        let expected_ticket_prev = e.ticket_id.as_ref().and_then(|t| last_by_ticket.get(t).cloned());
        if e.ticket_prev_hash != expected_ticket_prev {
            problems.push(format!("event {} (seq {}): ticket chain broken", e.id, e.seq));
        }
        let recomputed = e.computed_hash();
        if recomputed != e.hash {
            problems.push(format!("event {} (seq {}): content does not match its hash (edited?)", e.id, e.seq));
        }
        if let Some(t) = &e.ticket_id {
            last_by_ticket.insert(t.clone(), e.hash.clone());
        }
        prev = e.hash;
    }
    let head = sqlx::query("SELECT seq, head_hash FROM audit_head WHERE id = 1").fetch_one(pool).await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("head_hash")?;
    if head_hash != prev || head_seq != expected_seq - 1 {
        problems.push(format!("chain head (seq {head_seq}) does not match the last event (seq {})", expected_seq - 1));
    }
    Ok(Verification { events: rows.len() as u64, problems })
}

/// One event per case with the field changes between `before` and `after` (none when
/// nothing changed). Cases embed their customer and site, so a change to either is recorded
/// in every case that names it, without bumping the cases' versions.
pub async fn record_in_cases(
    tx: &mut crate::db::WriteTx,
    ctx: &CallContext,
    action: &str,
    tickets: &[String],
    before: serde_json::Value,
    after: serde_json::Value,
    detail: Option<serde_json::Value>,
) -> Result<(), crate::error::ServiceError> {
    let changes = domain::diff::diff(&before, &after);
    if changes.is_empty() {
        return Ok(());
    }
    for id in tickets {
        append(
            tx,
            ctx,
            NewEvent {
                ticket_id: Some(id.clone()),
                action: action.into(),
                before: Some(serde_json::Value::Object(changes.before.clone())),
                after: Some(serde_json::Value::Object(changes.after.clone())),
                detail: detail.clone(),
                attachments: vec![],
            },
        )
        .await?;
    }
    Ok(())
}
