//! The service handle shared by every front end, and the shape every action follows:
//! authorise -> open (lock + load + compare version) -> decide -> write -> finish (state move,
//! audit event with the field diff, commit) -> canonical case.

use crate::audit::{self, NewEvent};
use crate::blob::BlobStore;
use crate::case_store::load_case;
pub use crate::context::CallContext;
use crate::db::Db;
use crate::error::ServiceError;
use crate::settings::ShopSettings;
pub(crate) use crate::store::case_tx::CaseTx;
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

/// Login attempts per client address by default (`RD_SIGN_INS_PER_MINUTE`): a person mistyping
/// never hits this; a password-guessing script is slowed to one argon2 check every few seconds.
pub const LOGINS_PER_MINUTE: u32 = 20;
pub const LOGIN_BURST: u32 = 10;

#[derive(Clone)]
pub struct Service {
    pub(crate) db: Db,
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// What the environment says (read once at start): the profile's defaults and the
    /// environment-only settings. The profile in force is [`Service::shop`].
    pub(crate) settings: Arc<ShopSettings>,
    /// This instance's copy of the shop's profile in force (see `shop`).
    pub(crate) shop: Arc<crate::shop::ShopCache>,
    /// Login attempts per client address (in memory, per instance), before any password check.
    pub(crate) login_limit: Arc<crate::ratelimit::RateLimiter>,
    /// Signs audit checkpoints and checks them; kept outside the database (see `audit_key`).
    pub(crate) audit_keys: Option<Arc<crate::audit_seal::AuditKeys>>,
    /// Image decodes running at once (one per core): with the decoder's memory cap, this
    /// bounds the memory of all image work, whatever arrives.
    pub(crate) image_work: Arc<tokio::sync::Semaphore>,
    /// Portal messages per customer or link visitor (in memory, per instance); each ticket's
    /// own limit is counted in the database, so it holds across instances.
    pub(crate) portal_message_limit: Arc<crate::ratelimit::RateLimiter>,
    /// Where uploads are received before they are stored: a folder this server owns (under its
    /// data folder), so what a killed process leaves there is found and swept.
    pub(crate) spool_dir: Arc<std::path::PathBuf>,
    /// Told of every action a door ran, with its outcome (the metrics).
    pub(crate) observer: Option<ActionObserver>,
    /// API tokens read in the last second (see `tokens::TOKEN_FRESH`).
    pub(crate) tokens: Arc<crate::tokens::TokenCache>,
    /// This instance's copies of the shop's rule documents (see `shop_rules`).
    pub(crate) rules: Arc<crate::shop_rules::RulesCache>,
}

/// Called with each action's name, the caller's role and the outcome: `ok`, or the error code.
pub type ActionObserver = Arc<dyn Fn(&str, Role, &str) + Send + Sync>;

impl Service {
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>) -> Self {
        Service::with_settings(db, blobs, ShopSettings::default())
    }

    pub fn with_settings(db: Db, blobs: Arc<dyn BlobStore>, settings: ShopSettings) -> Self {
        let sign_ins = settings.sign_ins_per_minute;
        Service {
            db,
            blobs,
            shop: Arc::new(crate::shop::ShopCache::new(&settings, crate::shop::REFRESH)),
            settings: Arc::new(settings),
            login_limit: Arc::new(crate::ratelimit::RateLimiter::new(sign_ins, LOGIN_BURST.min(sign_ins))),
            audit_keys: None,
            image_work: Arc::new(tokio::sync::Semaphore::new(crate::photo_copies::workers())),
            portal_message_limit: Arc::new(crate::ratelimit::RateLimiter::new(
                crate::tickets::PORTAL_MESSAGES_PER_MINUTE,
                crate::tickets::PORTAL_MESSAGE_BURST,
            )),
            spool_dir: Arc::new(std::env::temp_dir().join("real-dispatch-spool")),
            observer: None,
            tokens: Arc::default(),
            rules: Arc::default(),
        }
    }

    /// Receives uploads in `dir` (created on first use).
    pub fn with_spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.spool_dir = Arc::new(dir.into());
        self
    }

    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// This service, telling `observer` of every action the doors run.
    pub fn observed(mut self, observer: ActionObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub(crate) fn observe<T>(&self, action: Action, role: Role, result: &Result<T, ServiceError>) {
        if let Some(observer) = &self.observer {
            let outcome = match result {
                Ok(_) => "ok",
                Err(e) => e.code().as_str(),
            };
            observer(action.name(), role, outcome);
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The environment's settings; the shop's profile in force is [`Service::shop`].
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
    ) -> Result<CaseTx, ServiceError> {
        // The shop's profile and the customer-update rules brought up to date before the
        // transaction: what the action reads of them inside (`shop_now`, `shop_rules_held`)
        // needs no second connection.
        self.shop().await;
        self.refresh_rules(crate::customer_updates::SETTING).await?;
        let open = CaseTx::begin(&self.db, ticket_id.trim(), ctx.idempotency.as_ref()).await?;
        self.check_scope(ctx, &open.before)?;
        if expected_version.is_some_and(|v| v != open.before.version) {
            return Err(ServiceError::stale());
        }
        Ok(open)
    }

    /// Moves the state if asked (legality checked here and again by the database), writes the
    /// audit event with the diff of the canonical case, commits, and returns the new case.
    ///
    /// Not an `async fn` of its own: it hands back [`Service::finish_with`]'s future, so an
    /// action's future does not nest one more (debug builds poll it on a test's stack).
    pub(crate) fn finish<'a>(
        &'a self,
        ctx: &'a CallContext,
        open: CaseTx,
        action: Action,
        to: Option<CaseState>,
        data: serde_json::Value,
        attachments: Vec<serde_json::Value>,
    ) -> impl std::future::Future<Output = Result<Outcome, ServiceError>> + Send + 'a {
        self.finish_with(ctx, open, action, to, move |_| data, attachments)
    }

    /// [`Service::finish`] for an action whose answer names what its writes made (a number
    /// the database gave): `data` is made from the case after them.
    pub(crate) async fn finish_with(
        &self,
        ctx: &CallContext,
        mut open: CaseTx,
        action: Action,
        to: Option<CaseState>,
        data: impl FnOnce(&Case) -> serde_json::Value,
        attachments: Vec<serde_json::Value>,
    ) -> Result<Outcome, ServiceError> {
        if let Some(to) = to {
            if !open.before.state.can_transition_to(to) {
                return Err(ServiceError::transition(open.before.state, to));
            }
        }
        let (after, head) = open.swap(to).await?;
        let data = data(&after);
        // What the customer is told of this change is written with it, or not at all.
        self.queue_updates(&mut open.tx, &open.before, &after).await?;
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
    /// the last write and rides with the stored answer and COMMIT on SQLite.
    pub(crate) async fn commit_stamped(
        &self,
        tx: crate::db::WriteTx,
        ctx: &CallContext,
        outcome: Outcome,
        event: audit::Stamped,
    ) -> Result<Outcome, ServiceError> {
        let answer = ctx.idempotency.as_ref().map(|k| (k, outcome.envelope(ctx.request_id.as_deref()).to_string()));
        audit::write_and_commit(tx, event, answer).await?;
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

    /// The canonical case: for staff and agents only (`case.read`). Technicians get their
    /// job's view ([`Service::job`]), customers their ticket's ([`Service::portal_ticket`]).
    pub async fn case(&self, ctx: &CallContext, id: &str) -> Result<Case, ServiceError> {
        self.authorize(ctx, Action::CaseRead)?;
        self.visible_case(ctx, id).await
    }

    /// The case if the caller may reach it (their job, their ticket, or any for staff), for
    /// the service's own checks and views: never handed to a door as it is.
    pub(crate) async fn visible_case(&self, ctx: &CallContext, id: &str) -> Result<Case, ServiceError> {
        let mut conn = self.db.pool().acquire().await?;
        let case = load_case(&mut conn, id.trim()).await?;
        self.check_scope(ctx, &case)?;
        Ok(case)
    }
}
