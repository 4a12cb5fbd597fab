//! The approval gate: agent calls the shop's rules hold for a person (`domain::approval`),
//! the office's queue, and `approval.approve` / `approval.reject`. An approved call runs once,
//! as the agent asked, under the agent's own Idempotency-Key: a second approval and the
//! agent's retry both get the one answer.

use crate::audit::{self, NewEvent};
use crate::context::CallContext;
use crate::error::ServiceError;
use crate::execute::Done;
use crate::idempotency::{self, IdempotencyKey};
use crate::ids::{new_id, now_ms};
use crate::service::Service;
use crate::store::approvals as store;
use domain::approval::{Approval, ApprovalDecision, ApprovalStatus, GatePolicy, QueuedApproval, SetFlag};
use domain::{Action, ActionInput, Actor};

/// The key of the gate's rules among the shop's settings.
const GATE_SETTING: &str = "approval_gate";
/// How many decided approvals the office's queue shows under the pending ones.
const RECENT_DECISIONS: i64 = 20;

impl Service {
    /// The shop's gate rules (the defaults until an admin changes them).
    pub async fn gate_policy(&self) -> Result<GatePolicy, ServiceError> {
        self.shop_rules(GATE_SETTING).await
    }

    /// The shop's gate rules, for the office.
    pub async fn approval_rules(&self, ctx: &CallContext) -> Result<GatePolicy, ServiceError> {
        self.authorize(ctx, Action::ApprovalsRead)?;
        self.gate_policy().await
    }

    /// `approval_gate.set` (admin): which agent calls wait for a person. Audited with the
    /// rules it replaced.
    pub async fn set_gate_policy(&self, ctx: &CallContext, policy: &GatePolicy) -> Result<GatePolicy, ServiceError> {
        self.authorize(ctx, Action::ApprovalGateSet)?;
        policy.validate()?;
        self.put_shop_rules(ctx, Action::ApprovalGateSet, GATE_SETTING, policy).await?;
        Ok(policy.clone())
    }

    /// Holds an agent's call that the shop's rules give to a person: the call is written to
    /// the queue (once per Idempotency-Key), audited, and answered `202 APPROVAL_REQUIRED`.
    pub(crate) async fn hold_if_gated(&self, ctx: &CallContext, input: &ActionInput) -> Result<(), ServiceError> {
        if !ctx.actor.role.is_agent() || ctx.approved_by.is_some() {
            return Ok(());
        }
        let Some(ticket_id) = input.ticket_id() else { return Ok(()) };
        let action = input.action();
        // A retry of a call already held: the same approval, whatever the rules say now.
        if let Some(key) = &ctx.idempotency {
            if let Some(h) = store::find_request(self.db.pool(), &ctx.actor.id, action.name(), &key.key).await? {
                return Err(held_answer(&h.approval));
            }
        }
        let policy = self.gate_policy().await?;
        // Most agent calls (their messages above all) cannot be held: no case is read for them.
        if !domain::approval::may_gate(&policy, input) {
            return Ok(());
        }
        let case = {
            let mut conn = self.db.pool().acquire().await?;
            crate::case_store::load_case(&mut conn, ticket_id).await?
        };
        self.check_scope(ctx, &case)?;
        let Some(gated) =
            domain::approval::gate(&policy, input, &case, self.shop().await.profile.tax_rate_bp, now_ms())
        else {
            return Ok(());
        };
        let input_json = input_json(input)?;
        let actor_json = serde_json::to_string(&ctx.actor).map_err(|e| ServiceError::Internal(e.to_string()))?;
        // Tool calls always carry a key; a call without one is held under a key of its own.
        let (request_key, request_hash) = match &ctx.idempotency {
            Some(k) => (k.key.clone(), k.request_hash.clone()),
            None => (new_id("req"), String::new()),
        };
        let id = new_id("apr");
        let mut tx = self.db.begin_write().await?;
        let h = store::hold(
            &mut tx,
            &store::NewApproval {
                id: &id,
                ticket_id: &case.id,
                action: action.name(),
                input_json: &input_json,
                rule: gated.rule.as_str(),
                reason: &gated.reason,
                actor_json: &actor_json,
                requested_by: &ctx.actor.id,
                requested_role: ctx.actor.role.as_str(),
                request_key: &request_key,
                request_hash: &request_hash,
                now: now_ms(),
            },
        )
        .await?;
        if h.approval.id == id {
            let detail = serde_json::json!({
                "approval_id": id, "action": action, "rule": gated.rule, "reason": gated.reason,
            });
            audit::append(&mut tx, ctx, NewEvent::ticket_note(&case.id, "approval.requested", detail)).await?;
        }
        tx.commit().await?;
        tracing::info!(approval = %h.approval.id, %action, ticket = %case.id, rule = gated.rule.as_str(), "agent call held for a person");
        Err(held_answer(&h.approval))
    }

    /// `approval.approve`: runs the held call once, as the agent asked; the approval records
    /// who approved and the event the call wrote. A call the ticket no longer allows is
    /// recorded as failed, with why.
    ///
    /// Boxed, with its type named: approving runs an action through `execute`, which runs
    /// approvals, and the compiler needs the cycle cut to see the future is `Send`.
    pub fn approve<'a>(
        &'a self,
        ctx: &'a CallContext,
        input: &'a ApprovalDecision,
    ) -> futures_util::future::BoxFuture<'a, Result<Approval, ServiceError>> {
        let span = tracing::info_span!("approval.approve", actor = %ctx.actor.id);
        Box::pin(tracing::Instrument::instrument(self.approve_inner(ctx, input), span))
    }

    async fn approve_inner(&self, ctx: &CallContext, input: &ApprovalDecision) -> Result<Approval, ServiceError> {
        self.authorize(ctx, Action::ApprovalApprove)?;
        let note = input.validate(false)?;
        let h = self.held(&input.approval_id).await?;
        match h.approval.status {
            ApprovalStatus::Pending => {}
            ApprovalStatus::Approved | ApprovalStatus::Failed => return Ok(h.approval),
            ApprovalStatus::Rejected => {
                return Err(ServiceError::Conflict(format!("approval {} was already rejected", h.approval.id)))
            }
        }
        let action: Action = h
            .approval
            .action
            .parse()
            .map_err(|_| ServiceError::Internal(format!("held call of unknown action {}", h.approval.action)))?;
        let call = match action.parse_input(h.approval.input.clone()) {
            Some(Ok(call)) => call,
            _ => return Err(ServiceError::Internal(format!("held call {} unreadable", h.approval.id))),
        };
        let agent: Actor =
            serde_json::from_str(&h.actor_json).map_err(|e| ServiceError::Internal(format!("held actor: {e}")))?;
        let agent_ctx = CallContext {
            correlation_id: Some(h.approval.id.clone()),
            request_id: ctx.request_id.clone(),
            idempotency: Some(IdempotencyKey {
                scope: agent.id.clone(),
                tool: action.name().to_string(),
                key: h.request_key.clone(),
                request_hash: if h.request_hash.is_empty() {
                    idempotency::request_hash(&h.approval.input)
                } else {
                    h.request_hash.clone()
                },
            }),
            approved_by: Some(ctx.actor.id.clone()),
            ..CallContext::new(agent)
        };
        // On a task of its own: the call runs to its end whatever happens to this request,
        // and its action does not nest inside this one's (each has its own stack).
        let service = self.clone();
        let ran = tokio::spawn(async move { service.execute(&agent_ctx, call).await })
            .await
            .unwrap_or_else(|e| Err(ServiceError::Internal(format!("approved call stopped: {e}"))));
        let (status, event, why) = match &ran {
            Ok(done) => (ApprovalStatus::Approved, event_of(done), note.clone()),
            Err(e) => (ApprovalStatus::Failed, None, Some(e.public_message())),
        };
        let mut tx = self.db.begin_write().await?;
        let decided =
            store::decide(&mut tx, &h.approval.id, status, &ctx.actor.id, why.as_deref(), event.as_deref(), now_ms())
                .await?;
        if decided {
            let detail = serde_json::json!({
                "approval_id": h.approval.id, "action": h.approval.action, "agent": h.approval.requested_by,
                "event_id": event, "note": why, "error": ran.as_ref().err().map(|e| e.code()),
            });
            let name = if status == ApprovalStatus::Approved { "approval.approved" } else { "approval.failed" };
            audit::append(&mut tx, ctx, NewEvent::ticket_note(&h.approval.ticket_id, name, detail)).await?;
        }
        tx.commit().await?;
        tracing::info!(approval = %h.approval.id, %status, "held call decided");
        Ok(self.held(&h.approval.id).await?.approval)
    }

    /// `approval.reject`: the held call never runs; the reason is recorded for the agent.
    #[tracing::instrument(name = "approval.reject", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn reject(&self, ctx: &CallContext, input: &ApprovalDecision) -> Result<Approval, ServiceError> {
        self.authorize(ctx, Action::ApprovalReject)?;
        let note = input.validate(true)?;
        let h = self.held(&input.approval_id).await?;
        let mut tx = self.db.begin_write().await?;
        let decided = store::decide(
            &mut tx,
            &h.approval.id,
            ApprovalStatus::Rejected,
            &ctx.actor.id,
            note.as_deref(),
            None,
            now_ms(),
        )
        .await?;
        if !decided {
            return Err(ServiceError::Conflict(format!(
                "approval {} was already decided ({})",
                h.approval.id, h.approval.status
            )));
        }
        let detail = serde_json::json!({
            "approval_id": h.approval.id, "action": h.approval.action, "agent": h.approval.requested_by, "note": note,
        });
        audit::append(&mut tx, ctx, NewEvent::ticket_note(&h.approval.ticket_id, "approval.rejected", detail)).await?;
        tx.commit().await?;
        Ok(self.held(&h.approval.id).await?.approval)
    }

    /// The office's queue: calls waiting for a person, oldest first, then recent decisions.
    pub async fn approvals(&self, ctx: &CallContext) -> Result<Vec<QueuedApproval>, ServiceError> {
        self.authorize(ctx, Action::ApprovalsRead)?;
        store::queue(self.db.pool(), RECENT_DECISIONS).await
    }

    /// How many calls wait for a person (the console's badge).
    pub async fn pending_approvals(&self, ctx: &CallContext) -> Result<i64, ServiceError> {
        self.authorize(ctx, Action::ApprovalsRead)?;
        store::pending_count(self.db.pool()).await
    }

    /// A ticket's held calls, newest first (its page).
    pub async fn approvals_of(&self, ctx: &CallContext, ticket_id: &str) -> Result<Vec<Approval>, ServiceError> {
        self.authorize(ctx, Action::ApprovalsRead)?;
        store::of_ticket(self.db.pool(), ticket_id).await
    }

    /// A ticket's held calls, newest first, for its case summary (whose reader is checked there).
    pub(crate) async fn ticket_approvals(&self, ticket_id: &str) -> Result<Vec<Approval>, ServiceError> {
        store::of_ticket(self.db.pool(), ticket_id).await
    }

    /// `ticket.set_flag`: mark or unmark a ticket VIP or complaint.
    #[tracing::instrument(name = "ticket.set_flag", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn set_flag(&self, ctx: &CallContext, input: &SetFlag) -> Result<crate::service::Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketSetFlag)?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::TicketSetFlag)?;
        o.set_flag(input.flag);
        self.finish(ctx, o, Action::TicketSetFlag, None, serde_json::json!({}), vec![]).await
    }

    async fn held(&self, id: &str) -> Result<store::Held, ServiceError> {
        store::get(self.db.pool(), id.trim()).await?.ok_or_else(|| {
            ServiceError::invalid("approval_id", "not_found", &format!("no approval {id}; it may have been mistyped"))
        })
    }
}

/// What a held call is answered: pending (202) until a person decides; once rejected, why.
fn held_answer(a: &Approval) -> ServiceError {
    match a.status {
        ApprovalStatus::Rejected => ServiceError::Conflict(format!(
            "a person rejected this call (approval {}): {}",
            a.id,
            a.decision_note.as_deref().unwrap_or("no reason given")
        )),
        status => {
            ServiceError::ApprovalRequired { approval_id: a.id.clone(), rule: a.rule, reason: a.reason.clone(), status }
        }
    }
}

/// The first audit event of an action's answer.
fn event_of(done: &Done) -> Option<String> {
    match done {
        Done::Case(o) => Some(o.event_id.clone()),
        Done::Replayed(v) => v.pointer("/events/0").and_then(|e| e.as_str()).map(str::to_string),
        Done::Data(_) => None,
    }
}

/// The call's input as the agent sent it (every input is serialisable: the table's types).
fn input_json(input: &ActionInput) -> Result<String, ServiceError> {
    input.to_json().map(|v| v.to_string()).map_err(|e| ServiceError::Internal(e.to_string()))
}
