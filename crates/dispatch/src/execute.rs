//! The one entry point of every change: `Service::execute` runs an action of the table with
//! its typed input, and `Service::call` does the same for a JSON body (the tool API). Both
//! check the caller's role against the table first, then run the action's one service function
//! under the call's idempotency key (see `Service::run_keyed`).

use crate::error::ServiceError;
use crate::idempotency::{self, IdempotencyKey, Stored};
use crate::service::{CallContext, Outcome, Service};
use domain::{Action, ActionInput, Audience};
use serde_json::{json, Value};
use std::time::Duration;

/// What an action answers.
#[derive(Debug, Clone)]
pub enum Done {
    /// A change to one case: the case after commit, its audit event and the action's data.
    Case(Box<Outcome>),
    /// The stored answer of the first call with the same Idempotency-Key.
    Replayed(Value),
    /// Anything else (a link, an account, a technician, an inbound disposition).
    Data(Value),
}

impl Done {
    /// The tool API's success body for this answer.
    pub fn body(&self, request_id: &str) -> Value {
        match self {
            Done::Case(o) => o.envelope(Some(request_id)),
            Done::Replayed(v) => v.clone(),
            Done::Data(v) => {
                let mut v = v.clone();
                if let Some(map) = v.as_object_mut() {
                    map.insert("request_id".into(), json!(request_id));
                }
                v
            }
        }
    }

    /// The case the action left, if it was a case action.
    pub fn into_outcome(self) -> Result<Outcome, ServiceError> {
        match self {
            Done::Case(o) => Ok(*o),
            other => Err(ServiceError::Internal(format!("expected a case answer, got {other:?}"))),
        }
    }
}

/// How long a repeated call waits for the first call with its key to finish.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(30);
const IN_PROGRESS_POLL: Duration = Duration::from_millis(100);

impl Service {
    /// Refuses a role the action table does not give `action` (`TOOL_NOT_ALLOWED`). Doors that
    /// must refuse before reading a body (uploads) call it first; `execute` always does.
    pub fn permit(&self, ctx: &CallContext, action: Action) -> Result<(), ServiceError> {
        if action.allowed_for(ctx.actor.role) {
            Ok(())
        } else {
            tracing::warn!(actor = %ctx.actor.id, role = %ctx.actor.role, %action, "action not allowed");
            Err(ServiceError::NotAllowed { role: ctx.actor.role, action })
        }
    }

    /// The tool API's door: an action named by the table, its `Idempotency-Key` (required for
    /// the tools, ignored for calls that dedupe themselves) and its raw JSON body.
    #[tracing::instrument(name = "call", skip_all, fields(%action, actor = %ctx.actor.id))]
    pub async fn call(
        &self,
        ctx: CallContext,
        action: Action,
        key: Option<&str>,
        body: &[u8],
    ) -> Result<Done, ServiceError> {
        let role = ctx.actor.role;
        let result = self.call_unobserved(ctx, action, key, body).await;
        self.observe(action, role, &result);
        result
    }

    async fn call_unobserved(
        &self,
        mut ctx: CallContext,
        action: Action,
        key: Option<&str>,
        body: &[u8],
    ) -> Result<Done, ServiceError> {
        self.permit(&ctx, action)?;
        let keyed = action.audience() == Audience::Tools;
        let key = match key {
            Some(k) if keyed && !is_uuid(k) => {
                return Err(ServiceError::invalid(
                    "Idempotency-Key",
                    "invalid_uuid",
                    "a UUID such as 3f0e8c4e-6a1b-4b8e-9d57-2f1c9a6e0b11",
                ))
            }
            None if keyed => return Err(ServiceError::MissingIdempotencyKey),
            k => k.filter(|_| keyed),
        };
        let json: Value = serde_json::from_slice(body).map_err(|e| ServiceError::InvalidJson(e.to_string()))?;
        if let Some(key) = key {
            ctx.idempotency = Some(IdempotencyKey {
                scope: ctx.actor.id.clone(),
                tool: action.name().to_string(),
                key: key.to_ascii_lowercase(),
                request_hash: idempotency::request_hash(&json),
            });
        }
        let service = self.clone();
        run_to_end(async move {
            let input = match action.parse_input(json) {
                Some(Ok(input)) => input,
                Some(Err(e)) => return Err(input_error(&e)),
                None => return Err(ServiceError::Internal(format!("{action} has no input"))),
            };
            service.run_keyed(&ctx, input).await
        })
        .await
    }

    /// Runs one action of the table with its typed input (the web app's door).
    pub async fn execute(&self, ctx: &CallContext, input: ActionInput) -> Result<Done, ServiceError> {
        let action = input.action();
        let result = async {
            self.permit(ctx, action)?;
            let (service, ctx) = (self.clone(), ctx.clone());
            run_to_end(async move { service.run_keyed(&ctx, input).await }).await
        }
        .await;
        self.observe(action, ctx.actor.role, &result);
        result
    }

    /// [`Service::execute`] for a case action: the case after commit.
    pub async fn execute_case(&self, ctx: &CallContext, input: ActionInput) -> Result<Outcome, ServiceError> {
        match self.execute(ctx, input).await? {
            Done::Replayed(v) => serde_json::from_value::<crate::service::SuccessBody>(v)
                .map(|b| Outcome {
                    case: b.case,
                    event_id: b.events.into_iter().next().unwrap_or_default(),
                    data: b.data,
                })
                .map_err(|e| ServiceError::Internal(e.to_string())),
            done => done.into_outcome(),
        }
    }

    /// Runs the action under the call's idempotency key: a retry of a call that committed gets
    /// that call's answer, whatever the case says now, and a key used for another request is
    /// refused without changing anything.
    ///
    /// An agent's key is looked up first: a pause or a gate may hold its call, and holding
    /// writes (the held call, its event), which a retry of a committed call must not do. For
    /// everyone else nothing is written before the action's transaction claims the key, so the
    /// lookup waits until it can matter: when the claim finds the key taken, or when the call
    /// is refused (a retry may be refused by what its first call changed, or by the clock). A
    /// call that goes through, the common case, makes no trip to read its key.
    async fn run_keyed(&self, ctx: &CallContext, input: ActionInput) -> Result<Done, ServiceError> {
        if ctx.idempotency.is_some() && ctx.actor.role.is_agent() {
            if let Some(answer) = self.stored_answer(ctx).await? {
                return Ok(answer);
            }
        }
        match self.run(ctx, input).await {
            Err(refused) if ctx.idempotency.is_some() => match self.stored_answer(ctx).await {
                Ok(Some(answer)) => Ok(answer),
                Err(ServiceError::IdempotencyMismatch) => Err(ServiceError::IdempotencyMismatch),
                // A duplicate that raced the first call, which has not committed after all.
                Ok(None) if matches!(refused, ServiceError::AlreadyProcessed) => Err(in_progress()),
                Err(e) if matches!(refused, ServiceError::AlreadyProcessed) => Err(e),
                // Nothing stored, or the key could not be read: the refusal stands.
                Ok(None) | Err(_) => Err(refused),
            },
            done => done,
        }
    }

    async fn run(&self, ctx: &CallContext, input: ActionInput) -> Result<Done, ServiceError> {
        // The shop's profile as of now, read before any transaction opens: what the action
        // then reads of it (inside its transaction too) is current within a second.
        self.shop().await;
        // A call a person approved has been through both already.
        if ctx.approved_by.is_none() {
            self.hold_if_paused(ctx, input.action(), input.ticket_id()).await?;
            self.hold_if_gated(ctx, &input).await?;
        }
        self.dispatch(ctx, input).await
    }

    /// One arm per row of the action table: the compiler refuses a row without its function.
    async fn dispatch(&self, ctx: &CallContext, input: ActionInput) -> Result<Done, ServiceError> {
        use ActionInput as A;
        let data =
            |v: Result<Value, serde_json::Error>| v.map(Done::Data).map_err(|e| ServiceError::Internal(e.to_string()));
        Ok(match input {
            A::TicketCreate(i) => Done::Case(Box::new(self.create_ticket(ctx, &i).await?)),
            A::TicketAddMessage(i) => Done::Case(Box::new(self.add_message(ctx, &i).await?)),
            A::TicketSetPriority(i) => Done::Case(Box::new(self.set_priority(ctx, &i).await?)),
            A::ScheduleProposeSlots(i) => Done::Case(Box::new(self.propose_slots(ctx, &i).await?)),
            A::ScheduleConfirm(i) => Done::Case(Box::new(self.confirm_slot(ctx, &i).await?)),
            A::DispatchAssignTech(i) => Done::Case(Box::new(self.assign_tech(ctx, &i).await?)),
            A::TicketBook(i) => Done::Case(Box::new(self.book(ctx, &i).await?)),
            A::DispatchSetEta(i) => Done::Case(Box::new(self.set_eta(ctx, &i).await?)),
            A::CloseoutAddPhoto(i) => Done::Case(Box::new(self.add_photo(ctx, &i).await?)),
            A::CloseoutAddNote(i) => Done::Case(Box::new(self.add_note(ctx, &i).await?)),
            A::CloseoutChecklistComplete(i) => Done::Case(Box::new(self.checklist_complete(ctx, &i).await?)),
            A::BillingGenerateInvoiceDraft(i) => Done::Case(Box::new(self.generate_invoice_draft(ctx, &i).await?)),
            A::BillingCompileCloseoutPacket(i) => Done::Case(Box::new(self.compile_closeout_packet(ctx, &i).await?)),
            A::JobCheckIn(i) => Done::Case(Box::new(self.check_in(ctx, &i).await?)),
            A::JobCompleteWork(i) => Done::Case(Box::new(self.complete_work(ctx, &i).await?)),
            A::JobRecordLabor(i) => Done::Case(Box::new(self.record_labor(ctx, &i).await?)),
            A::JobRecordPart(i) => Done::Case(Box::new(self.record_part(ctx, &i).await?)),
            A::TicketCancel(i) => Done::Case(Box::new(self.cancel_ticket(ctx, &i).await?)),
            A::TicketSetFlag(i) => Done::Case(Box::new(self.set_flag(ctx, &i).await?)),
            A::ApprovalApprove(i) => Done::Data(json!({ "approval": self.approve(ctx, &i).await? })),
            A::ApprovalReject(i) => Done::Data(json!({ "approval": self.reject(ctx, &i).await? })),
            A::CustomerUpdatesSet(i) => Done::Data(json!({ "updates": self.set_update_settings(ctx, &i).await? })),
            A::ApprovalGateSet(i) => Done::Data(json!({ "rules": self.set_gate_policy(ctx, &i).await? })),
            A::ShopSettingsSet(i) => Done::Data(json!({ "settings": self.set_shop_settings(ctx, &i).await? })),
            A::BillingEditInvoiceDraft(i) => Done::Case(Box::new(self.edit_invoice_draft(ctx, &i).await?)),
            A::BillingRecordPayment(i) => Done::Case(Box::new(self.record_payment(ctx, &i).await?)),
            A::PortalCreateLink(i) => Done::Data(json!({ "link": self.create_portal_link(ctx, &i).await? })),
            A::PortalSendLink(i) => Done::Data(json!({ "update": self.send_portal_link(ctx, &i).await? })),
            A::PortalRevokeLink(i) => {
                self.revoke_portal_link(ctx, &i).await?;
                Done::Data(json!({ "revoked": i.link_id }))
            }
            A::AutonomyPause(i) => Done::Data(json!({ "pause": self.pause_agents(ctx, &i).await? })),
            A::AutonomyResume(i) => Done::Data(json!({ "resumed": self.resume_agents(ctx, &i).await? })),
            A::InboundDeliver(i) => {
                let r = self.inbound(ctx, &i).await?;
                Done::Data(json!({
                    "ticket_id": r.ticket_id,
                    "message_id": r.message_id,
                    "disposition": r.disposition,
                    "reason": r.reason,
                    "case": r.case,
                }))
            }
            A::CustomerCreate(i) => {
                data(serde_json::to_value(self.create_customer(ctx, &i.customer, i.site.as_ref()).await?))?
            }
            A::CustomerUpdate(i) => data(serde_json::to_value(self.update_customer(ctx, &i).await?))?,
            A::SiteCreate(i) => data(serde_json::to_value(self.create_site(ctx, &i).await?))?,
            A::SiteUpdate(i) => data(serde_json::to_value(self.update_site(ctx, &i).await?))?,
            A::TemplatePutItem(i) => data(serde_json::to_value(self.put_template_item(ctx, &i).await?))?,
            A::TemplateRemoveItem(i) => {
                self.remove_template_item(ctx, &i.job_type, &i.key).await?;
                Done::Data(json!({}))
            }
            A::TechnicianCreate(i) => data(serde_json::to_value(self.create_technician(ctx, &i).await?))?,
            A::TechnicianUpdate(i) => data(serde_json::to_value(self.update_technician(ctx, &i).await?))?,
            A::TechnicianAddTimeOff(i) => {
                let id = self.add_time_off(ctx, &i.technician_id, i.start_ms, i.end_ms, i.reason.as_deref()).await?;
                Done::Data(json!({ "time_off_id": id }))
            }
            A::AccountCreate(i) => data(serde_json::to_value(self.create_user(ctx, &i).await?))?,
            A::AccountSetDisabled(i) => {
                data(serde_json::to_value(self.set_user_disabled(ctx, &i.user_id, i.disabled).await?))?
            }
            A::AccountResetPassword(i) => {
                self.reset_password(ctx, &i.user_id, &i.password).await?;
                Done::Data(json!({}))
            }
        })
    }

    /// The answer a call's key already holds: the stored response, a mismatch, or (after
    /// waiting for a call still in progress) nothing.
    async fn stored_answer(&self, ctx: &CallContext) -> Result<Option<Done>, ServiceError> {
        let Some(key) = &ctx.idempotency else { return Ok(None) };
        let deadline = tokio::time::Instant::now() + IN_PROGRESS_WAIT;
        loop {
            match idempotency::lookup(self.db.pool(), key).await? {
                None => return Ok(None),
                Some(Stored::Replay(v)) => {
                    tracing::info!(key = %key.key, "idempotent replay");
                    return Ok(Some(Done::Replayed(v)));
                }
                Some(Stored::Mismatch) => return Err(ServiceError::IdempotencyMismatch),
                Some(Stored::InProgress) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(IN_PROGRESS_POLL).await
                }
                Some(Stored::InProgress) => return Err(in_progress()),
            }
        }
    }
}

/// Runs `work` on a task of its own and waits for its answer.
///
/// A request's future is dropped at its next await when its client gives up (a timeout, a
/// closed tab, a phone losing signal). Work handed over here is not: it goes on to its commit
/// or rollback, so an action is either applied (and its idempotency key answers a retry) or
/// not at all, never cut between its statements. The task's future also lives on the heap,
/// not on the stack of whatever awaits it: the action futures are large, and nested in each
/// other they overflowed a thread's stack.
///
/// Work already on such a task (a request the server runs to its end, see [`runs_to_end`]) is
/// only moved to the heap: a second task would cost a hand-off between threads and gain
/// nothing.
pub async fn run_to_end<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, ServiceError>> + Send + 'static,
) -> Result<T, ServiceError> {
    use tracing::Instrument;
    if RUNS_TO_END.try_with(|_| ()).is_ok() {
        return Box::pin(work).await;
    }
    match tokio::spawn(work.instrument(tracing::Span::current())).await {
        Ok(answer) => answer,
        // A bug keeps its panic: the door's panic handler answers it as before.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(ServiceError::Internal(format!("the action's task ended early: {e}"))),
    }
}

tokio::task_local! {
    /// Set on a task whose future is never dropped before it ends.
    static RUNS_TO_END: ();
}

/// Runs `work`, which the caller has put on a task of its own and awaits to its end whatever
/// happens to whoever waits for it, so that [`run_to_end`] within it needs no task of its own.
pub async fn runs_to_end<F: std::future::Future>(work: F) -> F::Output {
    RUNS_TO_END.scope((), work).await
}

fn in_progress() -> ServiceError {
    ServiceError::Conflict("a request with this Idempotency-Key is still in progress".into())
}

/// A body that does not match the action's input: `INVALID_REQUEST` naming the field serde
/// complained about.
fn input_error(e: &serde_json::Error) -> ServiceError {
    let message = e.to_string();
    let field = message.split('`').nth(1).filter(|_| message.contains("field")).unwrap_or("body").to_string();
    ServiceError::Domain(domain::DomainError::Invalid(vec![domain::FieldError::new(
        &field,
        "invalid",
        message.clone(),
    )]))
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}
