//! The service handle shared by every front end, and the shape every action follows:
//! authorise -> open (lock + load + compare version) -> decide -> write -> finish (state move,
//! audit event with the field diff, commit) -> canonical case.

use crate::audit::{self, NewEvent};
use crate::blob::BlobStore;
use crate::case_store::{case_by_id, case_from_row, case_select, load_case};
pub use crate::context::CallContext;
use crate::db::Db;
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::settings::ShopSettings;
use domain::action::StateRule;
use domain::{Action, Case, CaseState, Role};
use std::sync::Arc;

/// What every action returns: the case after commit, the audit event, and action data.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub case: Case,
    pub event_id: String,
    pub data: serde_json::Value,
}

/// The tool API's success body (design §3); its schema is published in /openapi.json.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SuccessBody {
    pub request_id: String,
    /// The whole case after the action committed.
    pub case: Case,
    /// Audit events the action wrote.
    pub events: Vec<String>,
    /// What the action produced beyond the case (proposed slots, ids, totals).
    pub data: serde_json::Value,
}

impl Outcome {
    pub fn envelope(&self, request_id: Option<&str>) -> serde_json::Value {
        let body = SuccessBody {
            request_id: request_id.unwrap_or("-").to_string(),
            case: self.case.clone(),
            events: vec![self.event_id.clone()],
            data: self.data.clone(),
        };
        serde_json::to_value(body).unwrap_or(serde_json::Value::Null)
    }
}

/// Login attempts per client address: a person mistyping never hits this; a password-guessing
/// script is slowed to one argon2 check every few seconds.
pub const LOGINS_PER_MINUTE: u32 = 20;
pub const LOGIN_BURST: u32 = 10;

#[derive(Clone)]
pub struct Service {
    pub(crate) db: Db,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) settings: Arc<ShopSettings>,
    /// Login attempts per client address (in memory, per instance), before any password check.
    pub(crate) login_limit: Arc<crate::ratelimit::RateLimiter>,
}

/// An action in progress: the write transaction and the case as it was.
pub(crate) struct Open {
    pub tx: crate::db::WriteTx,
    pub before: Case,
    pub now: i64,
    /// Set by actions that add to the case's collections (notes, photos, checklist, lines,
    /// contacts); the others let `finish` re-read only the ticket row.
    pub collections_changed: bool,
    /// Ticket columns the action sets; written by the compare-and-swap update in
    /// [`Service::finish`], saving a statement per action.
    pub ticket_sets: Vec<(&'static str, SetValue)>,
    /// Writes the action adds (new rows whose failure can only be an internal error), run by
    /// [`Service::finish`]: on SQLite in the same round trip as the compare-and-swap.
    pub staged: Vec<(std::borrow::Cow<'static, str>, Vec<Bind>)>,
}

/// A value bound to a staged statement.
pub(crate) enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(Some(v.to_string()))
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(Some(v))
    }
}

impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Self {
        Bind::Text(v)
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(Some(v))
    }
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Self {
        Bind::Int(v)
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(v) => q.bind(v.as_deref()),
            Bind::Int(v) => q.bind(*v),
        };
    }
    q
}

/// A value for one ticket column in [`Open::ticket_sets`].
pub(crate) enum SetValue {
    Text(Option<String>),
    Int(Option<i64>),
    /// A fixed SQL expression over the row (`message_count + 1`).
    Expr(&'static str),
}

impl Open {
    pub fn set(&mut self, column: &'static str, value: SetValue) {
        self.ticket_sets.push((column, value));
    }

    /// Adds a write to the action, numbered `$1..$n` for its `n` binds (see [`Open::staged`]).
    pub fn stage(&mut self, sql: impl Into<std::borrow::Cow<'static, str>>, binds: Vec<Bind>) {
        let sql = sql.into();
        debug_assert!(sql.contains(&format!("${}", binds.len())), "{sql}");
        self.staged.push((sql, binds));
    }
}

impl Service {
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>) -> Self {
        Service::with_settings(db, blobs, ShopSettings::default())
    }

    pub fn with_settings(db: Db, blobs: Arc<dyn BlobStore>, settings: ShopSettings) -> Self {
        Service {
            db,
            blobs,
            settings: Arc::new(settings),
            login_limit: Arc::new(crate::ratelimit::RateLimiter::new(LOGINS_PER_MINUTE, LOGIN_BURST)),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    pub fn settings(&self) -> &ShopSettings {
        &self.settings
    }

    /// The one authorization check: the action table's roles for the action. What the caller
    /// may reach within it (their own jobs, their own tickets) is [`Service::check_scope`].
    pub(crate) fn authorize(&self, ctx: &CallContext, action: Action) -> Result<(), ServiceError> {
        if action.allowed_for(ctx.actor.role) {
            Ok(())
        } else {
            tracing::warn!(actor = %ctx.actor.id, role = %ctx.actor.role, %action, "permission denied");
            Err(ServiceError::Forbidden(format!("role {} may not use {action}", ctx.actor.role)))
        }
    }

    /// Technicians reach only jobs assigned to them, customers only their own tickets. The
    /// answer for someone else's ticket is the same as for a missing one, so ids cannot be probed.
    pub(crate) fn check_scope(&self, ctx: &CallContext, case: &Case) -> Result<(), ServiceError> {
        let allowed = match ctx.actor.role {
            Role::Technician => {
                ctx.actor.technician_id.is_some()
                    && case.assignment.as_ref().map(|a| &a.technician_id) == ctx.actor.technician_id.as_ref()
            }
            Role::Customer => ctx.actor.customer_id.as_deref() == Some(case.customer.id.as_str()),
            _ => true,
        } && ctx.actor.ticket_scope.as_ref().is_none_or(|t| *t == case.id);
        if allowed {
            Ok(())
        } else {
            tracing::warn!(actor = %ctx.actor.id, ticket = %case.id, "out-of-scope ticket access");
            Err(ServiceError::TicketNotFound(case.id.clone()))
        }
    }

    /// Begins the write, loads the case, and checks scope and `expected_version`. The version
    /// itself is compared and bumped in [`Service::finish`].
    pub(crate) async fn open(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
        expected_version: Option<i64>,
    ) -> Result<Open, ServiceError> {
        let id = ticket_id.trim();
        let pg = self.db.backend() == crate::db::Backend::Postgres;
        let (mut tx, row) = self.db.begin_write_reading(case_by_id(pg, true), id).await?;
        let row = row.ok_or_else(|| ServiceError::TicketNotFound(id.to_string()))?;
        let before = case_from_row(&row, None)?;
        self.claim(&mut tx, ctx).await?;
        self.check_scope(ctx, &before)?;
        if expected_version.is_some_and(|v| v != before.version) {
            return Err(ServiceError::stale());
        }
        let now = now_ms().max(before.updated_at_ms);
        Ok(Open { tx, before, now, collections_changed: false, ticket_sets: vec![], staged: vec![] })
    }

    /// Moves the state if asked (legality checked here and again by the database), writes the
    /// audit event with the diff of the canonical case, commits, and returns the new case.
    pub(crate) async fn finish(
        &self,
        ctx: &CallContext,
        mut open: Open,
        action: Action,
        to: Option<CaseState>,
        data: serde_json::Value,
        attachments: Vec<serde_json::Value>,
    ) -> Result<Outcome, ServiceError> {
        if let Some(to) = to {
            if !open.before.state.can_transition_to(to) {
                return Err(ServiceError::transition(open.before.state, to));
            }
        }
        // Compare-and-swap: commits only if nobody changed the case since it was read. On
        // PostgreSQL a concurrent writer of the same ticket waits here and then fails.
        let mut sql =
            String::from("UPDATE tickets SET version = version + 1, updated_at_ms = $1, state = COALESCE($2, state)");
        let mut n = 2;
        for (column, value) in &open.ticket_sets {
            match value {
                SetValue::Expr(e) => sql.push_str(&format!(", {column} = {e}")),
                _ => {
                    n += 1;
                    sql.push_str(&format!(", {column} = ${n}"));
                }
            }
        }
        sql.push_str(&format!(" WHERE id = ${} AND version = ${}", n + 1, n + 2));
        // On SQLite the staged writes follow, then the audit chain's head is taken and the case
        // read back, all in the same round trip (by the same id parameter).
        let fused = self.db.backend() == crate::db::Backend::Sqlite;
        if fused {
            let mut used = n + 2;
            for (staged, binds) in &open.staged {
                sql.push_str("; ");
                sql.push_str(&crate::db::renumber_params(staged, used));
                used += binds.len();
            }
            sql.push_str(&format!(
                "; {}; {} WHERE t.id = ${}",
                audit::take_head_sql(n + 1),
                case_select(false, open.collections_changed),
                n + 1
            ));
        } else {
            for (staged, binds) in &open.staged {
                bind_all(sqlx::query(staged.as_ref()), binds).execute(&mut *open.tx).await?;
            }
        }
        let mut q = sqlx::query(&sql).bind(open.now).bind(to.map(CaseState::as_str));
        for (_, value) in &open.ticket_sets {
            q = match value {
                SetValue::Text(v) => q.bind(v.clone()),
                SetValue::Int(v) => q.bind(*v),
                SetValue::Expr(_) => q,
            };
        }
        let mut q = q.bind(&open.before.id).bind(open.before.version);
        if fused {
            for (_, binds) in &open.staged {
                q = bind_all(q, binds);
            }
        }
        let kept = if open.collections_changed { None } else { Some(&open.before) };
        let (after, head) = if fused {
            // The version read back tells whether the update took: SQLite's write lock is held
            // since the case was read, so only this update can have moved it.
            // fetch_optional would stop at the update's empty result; fetch_all reads on.
            let mut rows = q.fetch_all(&mut *open.tx).await?.into_iter();
            let (Some(head), Some(row)) = (rows.next(), rows.next()) else { return Err(ServiceError::stale()) };
            let after = case_from_row(&row, kept)?;
            if after.version != open.before.version + 1 {
                return Err(ServiceError::stale());
            }
            (after, Some(head))
        } else {
            if q.execute(&mut *open.tx).await?.rows_affected() != 1 {
                return Err(ServiceError::stale());
            }
            let after = match kept {
                Some(before) => crate::case_store::reload_case_row(&mut open.tx, before).await?,
                None => load_case(&mut open.tx, &open.before.id).await?,
            };
            (after, None)
        };
        let before_json = serde_json::to_value(&open.before).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let after_json = serde_json::to_value(&after).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let changes = domain::diff::diff(&before_json, &after_json);
        let detail = if data.is_null() || data == serde_json::json!({}) { None } else { Some(data.clone()) };
        let event = NewEvent {
            ticket_id: Some(after.id.clone()),
            action: action.name().to_string(),
            before: Some(serde_json::Value::Object(changes.before)),
            after: Some(serde_json::Value::Object(changes.after)),
            detail,
            attachments,
        };
        let event = match &head {
            Some(head) => audit::stamp_with_head(head, ctx, event)?,
            None => audit::stamp_for_commit(&mut open.tx, ctx, event).await?,
        };
        let number = after.number.clone();
        let state = after.state;
        let version = after.version;
        let outcome = Outcome { case: after, event_id: event.id().to_string(), data };
        let outcome = self.commit_stamped(open.tx, ctx, outcome, event).await?;
        tracing::info!(ticket = %number, %action, %state, version, "committed");
        Ok(outcome)
    }

    /// Claims the call's idempotency key, if it has one, inside the action's transaction.
    pub(crate) async fn claim(&self, tx: &mut crate::db::WriteTx, ctx: &CallContext) -> Result<(), ServiceError> {
        match &ctx.idempotency {
            Some(k) => crate::idempotency::claim(tx, k).await,
            None => Ok(()),
        }
    }

    /// Stores the answer under the idempotency key and commits, together.
    pub(crate) async fn commit(
        &self,
        mut tx: crate::db::WriteTx,
        ctx: &CallContext,
        outcome: Outcome,
    ) -> Result<Outcome, ServiceError> {
        self.record_answer(&mut tx, ctx, &outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// [`Service::commit`] for an action whose event is stamped but not written: the event is
    /// the last write, and rides with COMMIT on SQLite.
    pub(crate) async fn commit_stamped(
        &self,
        mut tx: crate::db::WriteTx,
        ctx: &CallContext,
        outcome: Outcome,
        event: audit::Stamped,
    ) -> Result<Outcome, ServiceError> {
        self.record_answer(&mut tx, ctx, &outcome).await?;
        audit::write_and_commit(tx, event).await?;
        Ok(outcome)
    }

    /// Stores the answer under the call's idempotency key, if it has one.
    async fn record_answer(
        &self,
        tx: &mut crate::db::WriteTx,
        ctx: &CallContext,
        outcome: &Outcome,
    ) -> Result<(), ServiceError> {
        if let Some(k) = &ctx.idempotency {
            crate::idempotency::record(tx, k, &outcome.envelope(ctx.request_id.as_deref())).await?;
        }
        Ok(())
    }

    /// Refuses an action outside the states the action table gives it: as an illegal move for
    /// an action that always moves the case, else as not possible in this state.
    pub(crate) fn require_state(case: &Case, action: Action) -> Result<(), ServiceError> {
        if action.legal_in(case.state) {
            return Ok(());
        }
        Err(match action.state_rule() {
            StateRule::Moves { to } => ServiceError::transition(case.state, to),
            StateRule::Within | StateRule::Any => ServiceError::Domain(domain::DomainError::NotInState {
                action: action.name().to_string(),
                state: case.state,
                allowed: action.spec().from.to_vec(),
            }),
        })
    }

    /// Records a refused call as a security event (its own transaction: the call itself wrote
    /// nothing).
    pub async fn record_denial(
        &self,
        who: &crate::audit::Who<'_>,
        detail: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let ev =
            crate::audit::NewEvent { action: "security.denied".into(), detail: Some(detail), ..Default::default() };
        crate::audit::append_as(&mut tx, who, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The canonical case, for any door.
    pub async fn case(&self, ctx: &CallContext, id: &str) -> Result<Case, ServiceError> {
        let mut conn = self.db.pool().acquire().await?;
        let case = load_case(&mut conn, id.trim()).await?;
        self.check_scope(ctx, &case)?;
        Ok(case)
    }
}
