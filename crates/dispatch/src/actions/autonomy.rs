//! `autonomy.pause` and `autonomy.resume`: people stop the agents (all of them, one role, or
//! those on one ticket) and let them go again. Every agent call is held to the pauses in
//! force before it runs (see `Service::execute`); reads stay open, and the case summary says
//! the agents are paused.

use crate::audit::{self, NewEvent};
use crate::context::CallContext;
use crate::error::ServiceError;
use crate::ids::now_ms;
use crate::service::Service;
use crate::store::autonomy as store;
use domain::autonomy::{AutonomyChange, Pause, PauseScope};
use domain::{Action, Role};

impl Service {
    /// Pauses the scope. Pausing what is already paused keeps the first pause and its reason.
    pub async fn pause_agents(&self, ctx: &CallContext, input: &AutonomyChange) -> Result<Pause, ServiceError> {
        self.authorize(ctx, Action::AutonomyPause)?;
        let (scope, reason) = input.validate()?;
        let mut tx = self.db.begin_write().await?;
        let ticket = self.scope_ticket(&mut tx, ctx, &scope).await?;
        let pause = Pause { scope, reason, paused_by: ctx.actor.id.clone(), paused_at_ms: now_ms() };
        let new =
            store::pause_scope(&mut tx, &pause.scope, pause.reason.as_deref(), &pause.paused_by, pause.paused_at_ms)
                .await?;
        if new {
            let detail = serde_json::json!({"scope": pause.scope, "reason": pause.reason});
            audit::append(&mut tx, ctx, event(ticket.as_deref(), "autonomy.pause", detail)).await?;
        }
        tx.commit().await?;
        if new {
            tracing::info!(scope = %pause.scope.key(), by = %ctx.actor.id, "agents paused");
            return Ok(pause);
        }
        // Already paused: the first pause stands, with its reason.
        let first = store::first_of(self.db.pool(), std::slice::from_ref(&pause.scope)).await?;
        first.ok_or_else(|| ServiceError::Internal("a pause was lifted as it was made again".into()))
    }

    /// Lifts the pause of the scope; `INVALID_REQUEST` (`not_paused`) when there is none.
    pub async fn resume_agents(&self, ctx: &CallContext, input: &AutonomyChange) -> Result<Pause, ServiceError> {
        self.authorize(ctx, Action::AutonomyResume)?;
        let (scope, _) = input.validate()?;
        let mut tx = self.db.begin_write().await?;
        let ticket = self.scope_ticket(&mut tx, ctx, &scope).await?;
        let lifted = store::resume_scope(&mut tx, &scope)
            .await?
            .ok_or_else(|| ServiceError::invalid("scope", "not_paused", &format!("no pause of {scope} is in force")))?;
        let detail =
            serde_json::json!({"scope": scope, "paused_by": lifted.paused_by, "paused_at_ms": lifted.paused_at_ms});
        audit::append(&mut tx, ctx, event(ticket.as_deref(), "autonomy.resume", detail)).await?;
        tx.commit().await?;
        tracing::info!(scope = %scope.key(), by = %ctx.actor.id, "agents resumed");
        Ok(lifted)
    }

    /// Every pause in force (staff).
    pub async fn pauses(&self, ctx: &CallContext) -> Result<Vec<Pause>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        store::all(self.db.pool()).await
    }

    /// The pause that holds back `role` on `ticket` (for people: any pause of every agent or
    /// of the ticket), if one is in force.
    pub async fn pause_over(&self, role: Role, ticket: Option<&str>) -> Result<Option<Pause>, ServiceError> {
        let scopes = PauseScope::covering(role.is_agent().then_some(role), ticket);
        store::first_of(self.db.pool(), &scopes).await
    }

    /// Refuses an agent's call that a pause covers, audited; inbound deliveries are recorded
    /// whatever is paused (they are the customer's words, not the agent's).
    pub(crate) async fn hold_if_paused(
        &self,
        ctx: &CallContext,
        action: Action,
        ticket: Option<&str>,
    ) -> Result<(), ServiceError> {
        if !ctx.actor.role.is_agent() || action == Action::InboundDeliver {
            return Ok(());
        }
        let Some(pause) = self.pause_over(ctx.actor.role, ticket).await? else { return Ok(()) };
        tracing::warn!(actor = %ctx.actor.id, %action, scope = %pause.scope.key(), "agent call held: paused");
        let detail =
            serde_json::json!({"action": action, "ticket_id": ticket, "scope": pause.scope, "reason": pause.reason});
        // On the ticket's trail when the pause is the ticket's (it exists); a broader pause may
        // hold a call naming any id, so that event goes on the shop's trail.
        let on_ticket = matches!(pause.scope, PauseScope::Ticket { .. }).then_some(ticket).flatten();
        let mut tx = self.db.begin_write().await?;
        audit::append(&mut tx, ctx, event(on_ticket, "autonomy.held", detail)).await?;
        tx.commit().await?;
        Err(ServiceError::AutonomyPaused { scope: pause.scope.to_string(), reason: pause.reason })
    }

    /// The ticket a ticket scope names, checked to exist; None for the broader scopes.
    async fn scope_ticket(
        &self,
        tx: &mut crate::db::WriteTx,
        ctx: &CallContext,
        scope: &PauseScope,
    ) -> Result<Option<String>, ServiceError> {
        let PauseScope::Ticket { ticket_id } = scope else { return Ok(None) };
        let case = crate::case_store::load_case(tx, ticket_id).await?;
        self.check_scope(ctx, &case)?;
        Ok(Some(case.id))
    }
}

/// An event on the ticket's trail when there is one, else on the shop's.
fn event(ticket: Option<&str>, action: &str, detail: serde_json::Value) -> NewEvent {
    match ticket {
        Some(t) => NewEvent::ticket_note(t, action, detail),
        None => NewEvent { action: action.into(), detail: Some(detail), ..Default::default() },
    }
}
