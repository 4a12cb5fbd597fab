//! Intake actions: `ticket.create`, `ticket.add_message`, `ticket.set_priority`, `ticket.cancel`,
//! and the lists the surfaces read.

use crate::audit::{self, NewEvent};
use crate::case_store::{load_case, summaries};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Outcome, Service};
use crate::store::case_writes::NewMessage;
use crate::store::{customers, tickets};
use domain::commands::{AddMessage, CancelTicket, Direction, SetPriority};
use domain::{Action, CaseState, CaseSummary, CreateTicket, Role, ValidCreateTicket};

/// Portal messages one customer or link visitor may send: a burst, then this many a minute.
pub const PORTAL_MESSAGE_BURST: u32 = 5;
pub const PORTAL_MESSAGES_PER_MINUTE: u32 = 6;
/// Customer messages one ticket takes in ten minutes, however many people write.
pub const PORTAL_MESSAGES_PER_TICKET_10_MIN: i64 = 30;

/// Filters for the dispatch board and lists.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub open_only: bool,
    pub limit: Option<i64>,
}

impl Service {
    /// `ticket.create`: a new case, or — with `lead_ticket_id` — the completion of a lead.
    #[tracing::instrument(name = "ticket.create", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn create_ticket(&self, ctx: &CallContext, input: &CreateTicket) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketCreate)?;
        let valid = input.validate()?;
        if let Some(lead) = &input.lead_ticket_id {
            return self.complete_lead(ctx, lead, &valid).await;
        }
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;
        self.claim(&mut tx, ctx).await?;
        let (customer_id, old_customer, person) = self.intake_customer(&mut tx, &valid, now).await?;
        let site_id = customers::upsert_site(&mut tx, &customer_id, old_customer.is_some(), &valid, now).await?;
        let id = new_id("tkt");
        tickets::insert(&mut tx, &id, &valid, &customer_id, site_id.as_deref(), person.as_deref(), now).await?;
        tickets::instantiate_checklist(&mut tx, &id, valid.trade.as_deref()).await?;

        let case = load_case(&mut tx, &id).await?;
        let after = serde_json::to_value(&case).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let changes = domain::diff::diff(&serde_json::Value::Null, &after);
        let missing: Vec<&str> = valid.missing_for_intake();
        let data = serde_json::json!({ "missing_for_intake": missing });
        let event = NewEvent {
            ticket_id: Some(id.clone()),
            action: Action::TicketCreate.name().into(),
            before: Some(serde_json::Value::Object(changes.before)),
            after: Some(serde_json::Value::Object(changes.after)),
            detail: None,
            attachments: vec![],
        };
        tracing::info!(ticket = %case.number, state = %case.state, "ticket created");
        match old_customer {
            // A known customer's other cases get events of their own after this one.
            Some(old) => {
                let event_id = audit::append(&mut tx, ctx, event).await?;
                self.propagate_customer_change(&mut tx, ctx, &old, &case.id).await?;
                self.commit(tx, ctx, Outcome { case, event_id, data }).await
            }
            None => {
                let event = audit::stamp_for_commit(&mut tx, ctx, event).await?;
                self.commit_stamped(tx, ctx, Outcome { case, event_id: event.id().to_string(), data }, event).await
            }
        }
    }

    /// Whose ticket a new intake is: a new customer, or the one who already has the caller's
    /// phone or e-mail. A caller of another name on a known contact is asked about
    /// (`CONTACT_NAME_DIFFERS`) rather than silently filed under the customer on file. Returns
    /// the customer, how a reused one looked before, and the person who called when it is not
    /// the customer on file.
    async fn intake_customer(
        &self,
        tx: &mut crate::db::WriteTx,
        valid: &ValidCreateTicket,
        now: i64,
    ) -> Result<(String, Option<domain::CustomerView>, Option<String>), ServiceError> {
        use domain::KnownContact;
        let Some((holder, contact)) = customers::contact_holder(tx, valid).await? else {
            return Ok((customers::create_customer(tx, valid, now).await?, None, None));
        };
        let old = crate::case_store::load_customer(tx, &holder).await?;
        let people = customers::people_of(tx, &holder).await?;
        let known_person = people.iter().find(|p| domain::command::same_name(&p.name, &valid.customer_name));
        let same = domain::command::same_name(&old.name, &valid.customer_name) || named_by_contact(&old);
        let choice = match valid.known_contact {
            Some(choice) => choice,
            None if same => KnownContact::SamePerson,
            None if known_person.is_some() => KnownContact::AnotherContact,
            None => {
                let contact = domain::validate::Phone::parse("phone", &contact)
                    .map(|p| domain::validate::phone_for_people(p.as_str()))
                    .unwrap_or(contact);
                return Err(ServiceError::ContactNameDiffers { customer_id: holder, customer_name: old.name, contact });
            }
        };
        match choice {
            KnownContact::SamePerson => {
                customers::add_contacts(tx, &holder, valid, now).await?;
                Ok((holder, Some(old), None))
            }
            KnownContact::AnotherContact => {
                customers::add_contacts(tx, &holder, valid, now).await?;
                let person = match known_person {
                    Some(p) => p.id.clone(),
                    None => customers::add_person(tx, &holder, valid, now).await?,
                };
                Ok((holder, Some(old), Some(person)))
            }
            KnownContact::NewCustomer => {
                // The shared phone or e-mail stays the first customer's (messages from it are
                // theirs); the new customer reaches this person through the contact record.
                let id = customers::create_customer(tx, valid, now).await?;
                let person = customers::add_person(tx, &id, valid, now).await?;
                Ok((id, None, Some(person)))
            }
        }
    }

    async fn complete_lead(
        &self,
        ctx: &CallContext,
        lead_id: &str,
        valid: &ValidCreateTicket,
    ) -> Result<Outcome, ServiceError> {
        let mut o = self.open(ctx, lead_id, None).await?;
        Self::require_state(&o.before, Action::TicketCreate)?;
        let customer_id = o.before.customer.id.clone();
        customers::add_contacts(&mut o.tx, &customer_id, valid, o.now).await?;
        // A lead opened by a message knows its sender only by number or address: the name
        // intake learns replaces it (a real name stays; the office changes it on purpose).
        if named_by_contact(&o.before.customer) && valid.customer_name != o.before.customer.name {
            customers::rename(&mut o.tx, &customer_id, &valid.customer_name, o.now).await?;
        }
        self.propagate_customer_change(&mut o.tx, ctx, &o.before.customer, &o.before.id).await?;
        let site_id = customers::upsert_site(&mut o.tx, &customer_id, true, valid, o.now).await?;
        tickets::merge_lead(&mut o.tx, &o.before.id, valid, site_id.as_deref()).await?;
        let merged = load_case(&mut o.tx, &o.before.id).await?;
        if merged.checklist.is_empty() {
            tickets::instantiate_checklist(&mut o.tx, &o.before.id, merged.trade.as_deref()).await?;
        }
        let mut missing = vec![];
        if merged.site.is_none() {
            missing.push("site.address");
        }
        if merged.problem_summary.is_none() {
            missing.push("problem_summary");
        }
        let to = missing.is_empty().then_some(CaseState::Intake);
        o.collections_changed = true;
        self.finish(ctx, o, Action::TicketCreate, to, serde_json::json!({ "missing_for_intake": missing }), vec![])
            .await
    }

    /// `ticket.add_message`: any state; the thread is the case's memory across channels.
    #[tracing::instrument(name = "ticket.add_message", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn add_message(&self, ctx: &CallContext, input: &AddMessage) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketAddMessage)?;
        let customer = ctx.actor.role == Role::Customer;
        if customer && (input.direction != Direction::Inbound || input.channel.is_some_and(|c| c != ctx.channel)) {
            return Err(ServiceError::Forbidden("customers write to the office only, from where they are".into()));
        }
        let text = input.validate()?;
        if customer {
            self.throttle_portal_message(ctx, &input.ticket_id).await?;
        }
        let mut o = self.open(ctx, &input.ticket_id, None).await?;
        let id = new_id("msg");
        let channel = input.channel.unwrap_or(ctx.channel);
        let sender = input.sender.as_deref().map(str::trim).or(customer.then_some(ctx.actor.name.as_str()));
        o.add_message(&NewMessage {
            id: &id,
            direction: input.direction,
            channel,
            sender,
            text: &text,
            author: &ctx.actor.id,
        });
        self.finish(ctx, o, Action::TicketAddMessage, None, serde_json::json!({ "message_id": id }), vec![]).await
    }

    /// A customer's messages are held to a person's pace, like inbound messages: a burst, then
    /// a few a minute per customer or link, and at most a few dozen per ticket in ten minutes
    /// whoever writes them. A refused message changes nothing.
    async fn throttle_portal_message(&self, ctx: &CallContext, ticket_id: &str) -> Result<(), ServiceError> {
        if let Err(wait) = self.portal_message_limit.check(&ctx.actor.id) {
            tracing::warn!(actor = %ctx.actor.id, "portal messages rate limited");
            return Err(ServiceError::RateLimited {
                what: "you have sent several messages in a row; the office has them",
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let since = now_ms() - 10 * 60_000;
        let recent = crate::store::messages::customer_messages_since(
            self.db.pool(),
            ticket_id.trim(),
            ctx.channel.as_str(),
            since,
        )
        .await?;
        if recent >= PORTAL_MESSAGES_PER_TICKET_10_MIN {
            tracing::warn!(ticket = %ticket_id, recent, "portal messages on one ticket rate limited");
            return Err(ServiceError::RateLimited {
                what: "this ticket has received many messages in the last few minutes; the office has them",
                retry_after_secs: 60,
            });
        }
        Ok(())
    }

    /// `ticket.set_priority`.
    #[tracing::instrument(name = "ticket.set_priority", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn set_priority(&self, ctx: &CallContext, input: &SetPriority) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketSetPriority)?;
        let mut errors = vec![];
        domain::validate::optional_text("reason", input.reason.as_deref(), domain::commands::MAX_REASON, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::TicketSetPriority)?;
        o.set_priority(input.priority);
        let data = serde_json::json!({ "reason": input.reason });
        self.finish(ctx, o, Action::TicketSetPriority, None, data, vec![]).await
    }

    /// `ticket.cancel` (operator): possible until a technician is on site.
    #[tracing::instrument(name = "ticket.cancel", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn cancel_ticket(&self, ctx: &CallContext, input: &CancelTicket) -> Result<Outcome, ServiceError> {
        self.authorize(ctx, Action::TicketCancel)?;
        let reason = input.validate()?;
        let mut o = self.open(ctx, &input.ticket_id, input.expected_version).await?;
        Self::require_state(&o.before, Action::TicketCancel)?;
        o.set_cancel_reason(&reason);
        o.cancel_appointments();
        self.finish(ctx, o, Action::TicketCancel, Some(CaseState::Canceled), serde_json::json!({}), vec![]).await
    }

    /// Board rows for the caller: everything for staff and agents, own jobs for technicians,
    /// own tickets for customers.
    pub async fn cases(&self, ctx: &CallContext, filter: &CaseFilter) -> Result<Vec<CaseSummary>, ServiceError> {
        let (tech, customer) = match ctx.actor.role {
            Role::Technician => (Some(ctx.actor.technician_id.clone().unwrap_or_default()), None),
            Role::Customer => (None, Some(ctx.actor.customer_id.clone().unwrap_or_default())),
            _ => (None, None),
        };
        let mut conn = self.db.pool().acquire().await?;
        let mut rows = summaries(
            &mut conn,
            filter.state.map(CaseState::as_str),
            filter.open_only,
            tech.as_deref(),
            customer.as_deref(),
            filter.limit.unwrap_or(500),
        )
        .await?;
        if let Some(only) = &ctx.actor.ticket_scope {
            rows.retain(|r| &r.id == only);
        }
        Ok(rows)
    }
}

impl Service {
    /// A customer's details are part of every one of their cases. When an action changes
    /// them, each other case of that customer gets an event with the change, so every case's
    /// history stays complete (and replays exactly) without bumping their versions.
    async fn propagate_customer_change(
        &self,
        tx: &mut crate::db::WriteTx,
        ctx: &CallContext,
        old: &domain::CustomerView,
        via_ticket: &str,
    ) -> Result<(), ServiceError> {
        let new = crate::case_store::load_customer(tx, &old.id).await?;
        let others = customers::other_tickets(tx, &old.id, via_ticket).await?;
        audit::record_in_cases(
            tx,
            ctx,
            "customer.update",
            &others,
            serde_json::json!({ "customer": old }),
            serde_json::json!({ "customer": new }),
            Some(serde_json::json!({ "via_ticket": via_ticket })),
        )
        .await?;
        Ok(())
    }
}

/// Whether a customer's name is only one of their contacts (how an inbound message names a
/// sender it does not know).
fn named_by_contact(c: &domain::CustomerView) -> bool {
    let name = c.name.trim();
    c.phones.iter().chain(&c.emails).any(|contact| contact.eq_ignore_ascii_case(name))
        || domain::validate::Phone::parse("name", name).is_ok_and(|p| c.phones.iter().any(|x| x == p.as_str()))
}
