//! The append-only, hash-chained audit trail.
//!
//! Each event belongs to a stream: its ticket, or the shop for events that name no ticket.
//! It stores the hash of the previous event of its stream (`prev_hash`; the same as
//! `ticket_prev_hash` for a ticket's events) and its own `hash` over all of its content, so any
//! edit, deletion or reordering within a stream breaks [`verify`]. An append holds only its
//! stream's head until it commits: actions on different tickets never wait on each other.
//!
//! The global order is `seq`, taken from a sequence while the stream's head is held, so a
//! stream's events are in `seq` order. [`verify`] folds every event, in `seq` order, into a
//! running hash (its [mark](fold_mark)); signed checkpoints seal the mark at their seq, so a
//! deleted, inserted or reordered event anywhere before a checkpoint is found as well.
//!
//! Events written before streams (`stream` NULL) form one global chain, as they always did:
//! each one's `prev_hash` is the event before it, and its mark is its own hash.

use crate::context::CallContext;
use crate::ids::{new_id, now_ms};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Absent from the hashed form of events written before streams, so their hashes hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<&'a str>,
}

/// The stream of events that name no ticket.
pub const SHOP_STREAM: &str = "shop";

/// The stream an event of `ticket_id` belongs to.
pub fn stream_of(ticket_id: Option<&str>) -> &str {
    ticket_id.unwrap_or(SHOP_STREAM)
}

/// The running hash of the global order after an event: an event written before streams
/// already commits to everything before it (its own hash); a stream event is folded into the
/// mark before it.
pub fn fold_mark(prev_mark: &str, event_hash: &str, before_streams: bool) -> String {
    if before_streams {
        return event_hash.to_string();
    }
    let mut h = Sha256::new();
    h.update(prev_mark.as_bytes());
    h.update(b"\n");
    h.update(event_hash.as_bytes());
    hex::encode(h.finalize())
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
///
/// With `answer`, the call's answer is stored under its idempotency key in the same
/// transaction and round trip (on SQLite the COMMIT rides along too).
pub async fn write_and_commit(
    mut tx: crate::db::WriteTx,
    e: Stamped,
    answer: Option<(&crate::idempotency::IdempotencyKey, String)>,
) -> Result<(), sqlx::Error> {
    let record = || crate::idempotency::record_sql(EVENT_PARAMS + 1);
    let fused = tx.fuses_commit();
    // On SQLite the writes deferred to the commit ride in its round trip, after the answer.
    let deferred = if fused { tx.take_deferred() } else { Default::default() };
    let sql: std::borrow::Cow<'static, str> = match (answer.is_some(), fused) {
        (false, false) => INSERT_EVENT.into(),
        (false, true) => format!("{INSERT_EVENT}{}; COMMIT", deferred.sql_from(EVENT_PARAMS + 1)).into(),
        // PostgreSQL takes one statement per query: the answer rides as a data-modifying WITH.
        (true, false) => format!("WITH answer AS ({}) {INSERT_EVENT}", record()).into(),
        (true, true) => format!(
            "{INSERT_EVENT}; {}{}; COMMIT",
            record(),
            deferred.sql_from(EVENT_PARAMS + crate::idempotency::RECORD_PARAMS + 1)
        )
        .into(),
    };
    let q = bind_event(sqlx::query(&sql), &e.0);
    let q = match answer {
        Some((key, response)) => crate::idempotency::bind_record(q, key, response),
        None => q,
    };
    tx.execute_and_commit(deferred.bind(q)).await
}

/// Writes an event exactly as given, bypassing its place in the chains: for tests that play an
/// attacker with write access to the database.
#[cfg(feature = "test-support")]
pub async fn insert_as_is(pool: &sqlx::AnyPool, e: &StoredEvent) -> Result<(), sqlx::Error> {
    bind_event(sqlx::query(INSERT_EVENT), e).execute(pool).await.map(|_| ())
}

macro_rules! insert_event_sql {
    () => {
        "INSERT INTO audit_events (id, seq, ticket_id, at_ms, actor_kind, actor_id, actor_role, source_channel, \
         correlation_id, request_id, action, before_json, after_json, detail_json, attachments_json, prev_hash, \
         ticket_prev_hash, hash, stream) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         $17, $18, $19)"
    };
}
const INSERT_EVENT: &str = insert_event_sql!();
/// How many parameters [`INSERT_EVENT`] binds.
const EVENT_PARAMS: usize = 19;

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
        .bind(&e.stream)
}

/// SQLite: the statement that takes the next place in the event's stream and globally, with
/// the ticket id as `$ticket_param`: one row of `seq, head_hash` (the stream's last hash, or
/// `genesis`). SQLite has one writer at a time, so the highest seq plus one is free; the
/// trigger on insert moves the stream's `head_hash`.
pub(crate) fn take_place_sqlite(ticket_param: usize) -> String {
    format!(
        "INSERT INTO audit_streams (stream, seq, head_hash) VALUES (COALESCE(${ticket_param}, '{SHOP_STREAM}'), \
         (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events), 'genesis') \
         ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq RETURNING seq, head_hash"
    )
}

/// PostgreSQL: takes the stream's head row, and the seq only once it holds it (a waiting
/// UPDATE evaluates its SET again on the row it finally locks), so a stream's events are in
/// seq order. The sequence itself never waits.
const TAKE_PLACE_POSTGRES: &str = "UPDATE audit_streams SET seq = nextval('audit_seq') \
     WHERE stream = COALESCE($1, 'shop') RETURNING seq, head_hash";
/// PostgreSQL, a stream's first event (a new ticket). Two first events of one stream at once:
/// the second waits for the first and then takes the row like [`TAKE_PLACE_POSTGRES`].
const START_STREAM_POSTGRES: &str = "INSERT INTO audit_streams (stream, seq, head_hash) \
     VALUES (COALESCE($1, 'shop'), nextval('audit_seq'), 'genesis') \
     ON CONFLICT (stream) DO UPDATE SET seq = nextval('audit_seq') RETURNING seq, head_hash";

/// Takes the next place in the event's stream and globally, and hashes the event.
async fn stamp(tx: &mut crate::db::WriteTx, who: &Who<'_>, ev: NewEvent) -> Result<StoredEvent, sqlx::Error> {
    let head = match tx.backend() {
        crate::db::Backend::Sqlite => {
            static TAKE_PLACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let sql = TAKE_PLACE.get_or_init(|| take_place_sqlite(1));
            sqlx::query(sql).bind(&ev.ticket_id).fetch_one(&mut **tx).await?
        }
        crate::db::Backend::Postgres => {
            match sqlx::query(TAKE_PLACE_POSTGRES).bind(&ev.ticket_id).fetch_optional(&mut **tx).await? {
                Some(head) => head,
                None => sqlx::query(START_STREAM_POSTGRES).bind(&ev.ticket_id).fetch_one(&mut **tx).await?,
            }
        }
    };
    stamp_at(&head, who, ev)
}

/// [`stamp_for_commit`] with the row of [`take_place_sqlite`] already read (in the same round
/// trip as the action's last write).
pub fn stamp_with_head(head: &sqlx::any::AnyRow, ctx: &CallContext, ev: NewEvent) -> Result<Stamped, sqlx::Error> {
    Ok(Stamped(stamp_at(head, &Who::from_ctx(ctx), ev)?))
}

fn stamp_at(head: &sqlx::any::AnyRow, who: &Who<'_>, ev: NewEvent) -> Result<StoredEvent, sqlx::Error> {
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("head_hash")?;
    let ticket_prev_hash = (ev.ticket_id.is_some() && prev_hash != GENESIS).then(|| prev_hash.clone());
    let stream = stream_of(ev.ticket_id.as_deref()).to_string();
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
        stream: Some(stream),
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
    /// The ticket id or [`SHOP_STREAM`]; None for events written before streams.
    pub stream: Option<String>,
}

/// The `prev_hash` of a stream's first event.
pub const GENESIS: &str = "genesis";

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
            stream: self.stream.as_deref(),
        })
    }
}

const EVENT_COLUMNS: &str = "id, seq, ticket_id, at_ms, actor_kind, actor_id, actor_role, source_channel, \
    correlation_id, request_id, action, before_json, after_json, detail_json, attachments_json, prev_hash, ticket_prev_hash, hash, stream";

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
        stream: r.try_get("stream")?,
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

/// The result of checking the whole trail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    pub events: u64,
    pub problems: Vec<String>,
    /// The [mark](fold_mark) after the event at each seq asked for, where there is one.
    pub marks: BTreeMap<i64, String>,
    /// Every event's seq, ascending.
    pub seqs: Vec<i64>,
}

impl Verification {
    /// How many events come after `seq`.
    pub fn events_after(&self, seq: i64) -> u64 {
        (self.seqs.len() - self.seqs.partition_point(|s| *s <= seq)) as u64
    }
}

/// Re-hashes every event in order and checks every stream's chain and head.
pub async fn verify(pool: &sqlx::AnyPool) -> Result<Verification, sqlx::Error> {
    verify_with_marks(pool, &BTreeSet::new()).await
}

/// [`verify`], also giving the marks after the events at `mark_at` (the checkpoints' seqs).
pub async fn verify_with_marks(pool: &sqlx::AnyPool, mark_at: &BTreeSet<i64>) -> Result<Verification, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq")).fetch_all(pool).await?;
    let mut check = Walk { mark: GENESIS.to_string(), ..Walk::default() };
    for r in &rows {
        check.step(stored(r)?, mark_at);
    }
    let stored_heads: Vec<(String, String)> =
        sqlx::query_as("SELECT stream, head_hash FROM audit_streams ORDER BY stream").fetch_all(pool).await?;
    check.finish(&stored_heads);
    Ok(check.v)
}

/// One pass over the events in seq order.
#[derive(Default)]
struct Walk {
    v: Verification,
    /// The old global chain: the last event written before streams, and the seq expected next.
    legacy_prev: Option<String>,
    legacy_next_seq: i64,
    streams_started: bool,
    /// Each ticket's last event, of either kind.
    last_by_ticket: HashMap<String, String>,
    /// Each stream's last stream event.
    heads: HashMap<String, String>,
    /// The running hash after the last event walked (`genesis` before the first).
    mark: String,
}

impl Walk {
    fn step(&mut self, e: StoredEvent, mark_at: &BTreeSet<i64>) {
        let problems = &mut self.v.problems;
        let at = format!("event {} (seq {})", e.id, e.seq);
        match e.stream.as_deref() {
            None => {
                if self.streams_started {
                    problems.push(format!("{at}: written without a stream after stream events began (inserted?)"));
                }
                let expected_seq = if self.legacy_prev.is_some() { self.legacy_next_seq } else { 1 };
                if e.seq != expected_seq {
                    problems
                        .push(format!("{at}: sequence {} where {expected_seq} was expected (missing event?)", e.seq));
                }
                self.legacy_next_seq = e.seq + 1;
                if e.prev_hash != self.legacy_prev.as_deref().unwrap_or(GENESIS) {
                    problems.push(format!("{at}: global chain broken"));
                }
                let expected_ticket_prev = e.ticket_id.as_ref().and_then(|t| self.last_by_ticket.get(t));
                if e.ticket_prev_hash.as_ref() != expected_ticket_prev {
                    problems.push(format!("{at}: ticket chain broken"));
                }
                self.legacy_prev = Some(e.hash.clone());
            }
            Some(stream) => {
                self.streams_started = true;
                if stream != stream_of(e.ticket_id.as_deref()) {
                    problems.push(format!("{at}: filed in stream {stream}, not its own (moved?)"));
                }
                // A stream starts where the old chain left it: a ticket at its last event, the
                // shop's stream at the last event of all.
                let expected = self.heads.get(stream).cloned().unwrap_or_else(|| match &e.ticket_id {
                    Some(t) => self.last_by_ticket.get(t).cloned().unwrap_or_else(|| GENESIS.into()),
                    None => self.legacy_prev.clone().unwrap_or_else(|| GENESIS.into()),
                });
                let expected_ticket_prev = (e.ticket_id.is_some() && expected != GENESIS).then_some(&expected);
                if e.prev_hash != expected || e.ticket_prev_hash.as_ref() != expected_ticket_prev {
                    problems.push(format!(
                        "{at}: the chain of {stream} is broken (an event before it is missing or moved)"
                    ));
                }
                self.heads.insert(stream.to_string(), e.hash.clone());
            }
        }
        if e.computed_hash() != e.hash {
            problems.push(format!("{at}: content does not match its hash (edited?)"));
        }
        if let Some(t) = &e.ticket_id {
            self.last_by_ticket.insert(t.clone(), e.hash.clone());
        }
        self.mark = fold_mark(&self.mark, &e.hash, e.stream.is_none());
        if mark_at.contains(&e.seq) {
            self.v.marks.insert(e.seq, self.mark.clone());
        }
        self.v.seqs.push(e.seq);
        self.v.events += 1;
    }

    /// Every stream's stored head must be its last event: an event deleted from the end of a
    /// stream shows here.
    fn finish(&mut self, stored_heads: &[(String, String)]) {
        let mut expected: HashMap<&str, &str> = self.heads.iter().map(|(s, h)| (s.as_str(), h.as_str())).collect();
        // Streams seeded from the old chain and not written since.
        for (stream, _) in stored_heads {
            if expected.contains_key(stream.as_str()) {
                continue;
            }
            let seeded = if stream == SHOP_STREAM {
                self.legacy_prev.as_deref()
            } else {
                self.last_by_ticket.get(stream).map(String::as_str)
            };
            if let Some(h) = seeded {
                expected.insert(stream, h);
            }
        }
        let stored: HashMap<&str, &str> = stored_heads.iter().map(|(s, h)| (s.as_str(), h.as_str())).collect();
        for (stream, head) in &expected {
            match stored.get(stream) {
                Some(h) if h == head => {}
                Some(_) => self
                    .v
                    .problems
                    .push(format!("the head of {stream} does not match its last event (an event at its end deleted?)")),
                None => self.v.problems.push(format!("the head of {stream} is missing")),
            }
        }
        for stream in stored.keys().filter(|s| !expected.contains_key(*s)) {
            self.v.problems.push(format!("the head of {stream} names a stream with no events (all deleted?)"));
        }
    }
}

/// After events were loaded as they are (an import): each stream's head is its last event, and
/// the shop's stream goes on from the last event written before streams.
pub async fn rebuild_streams(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM audit_streams").execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO audit_streams (stream, seq, head_hash) SELECT e.ticket_id, e.seq, e.hash FROM audit_events e \
         WHERE e.ticket_id IS NOT NULL AND e.seq = (SELECT MAX(x.seq) FROM audit_events x WHERE x.ticket_id = e.ticket_id)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO audit_streams (stream, seq, head_hash) SELECT '{SHOP_STREAM}', seq, hash FROM audit_events \
         WHERE stream = '{SHOP_STREAM}' OR stream IS NULL ORDER BY seq DESC LIMIT 1"
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
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
    // Streams in one order for every writer, so two actions that both touch several of them
    // never hold one each while waiting for the other's.
    let mut tickets = tickets.to_vec();
    tickets.sort_unstable();
    for id in &tickets {
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
