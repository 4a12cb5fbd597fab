//! Inbound normalisation: every delivered message is stored raw and normalised, deduplicated
//! by the provider's id, gated against spam and abuse, and then attached to the sender's open
//! ticket or turned into a new lead — through the same actions agents use.

use crate::error::ServiceError;
use crate::idempotency::{self, IdempotencyKey, Stored};
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use crate::store::inbound;
use domain::commands::{AddMessage, Direction, Inbound, TimeInput};
use domain::validate::{Email, Phone};
use domain::{Action, Case, CreateTicket, NewCustomer};
use serde::Serialize;

/// Longest message accepted; longer ones are quarantined for a person to look at.
pub const MAX_INBOUND_CHARS: usize = 8_000;
/// More than this many messages from one sender in ten minutes is quarantined.
pub const MAX_PER_SENDER_10_MIN: i64 = 20;

#[derive(Debug, Clone, Serialize)]
pub struct InboundResult {
    pub ticket_id: Option<String>,
    pub message_id: Option<String>,
    /// `attached`, `created`, `duplicate` or `quarantined`.
    pub disposition: &'static str,
    pub reason: Option<String>,
    #[serde(skip)]
    pub case: Option<Case>,
}

fn received_ms(t: &TimeInput) -> Result<i64, ServiceError> {
    let ms = match t {
        TimeInput::UnixMs(ms) => Some(*ms),
        TimeInput::Rfc3339(s) => s.parse::<jiff::Timestamp>().ok().map(|ts| ts.as_millisecond()),
    };
    ms.filter(|ms| domain::window::instant("received_at", *ms).is_ok()).ok_or_else(|| {
        ServiceError::invalid("received_at", "invalid_time", "unix milliseconds or RFC 3339, between 2000 and 2200")
    })
}

/// The sender as a contact we can match: `("phone", "+1…")` or `("email", "…")`.
fn contact_of(from: &str) -> Option<(&'static str, String)> {
    if let Ok(p) = Phone::parse("from", from.trim_start_matches("tel:").trim_start_matches("whatsapp:")) {
        return Some(("phone", p.as_str().to_string()));
    }
    Email::parse("from", from.trim_start_matches("mailto:")).ok().map(|e| ("email", e.as_str().to_lowercase()))
}

impl Service {
    #[tracing::instrument(name = "inbound", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn inbound(&self, ctx: &CallContext, input: &Inbound) -> Result<InboundResult, ServiceError> {
        self.authorize(ctx, Action::InboundDeliver)?;
        let mut errors = vec![];
        let provider_id =
            domain::validate::required_text("provider_message_id", Some(&input.provider_message_id), 200, &mut errors);
        let from = domain::validate::required_text("from", Some(&input.from), 320, &mut errors);
        domain::validate::optional_text("to", input.to.as_deref(), 320, &mut errors);
        domain::validate::optional_text("conversation", input.conversation.as_deref(), 300, &mut errors);
        if !errors.is_empty() {
            return Err(domain::DomainError::Invalid(errors).into());
        }
        let (provider_id, from) = (provider_id.unwrap_or_default(), from.unwrap_or_default());
        let received = received_ms(&input.received_at)?;
        let channel = input.channel.as_str();

        if let Some(first) = self.inbound_seen(channel, &provider_id).await? {
            return Ok(first);
        }
        let contact = contact_of(&from);
        let text = input.text.trim().to_string();
        let normalized_from = contact.as_ref().map(|(_, v)| v.clone()).unwrap_or_else(|| from.to_lowercase());
        let recent = inbound::recent_from(self.db.pool(), &normalized_from, now_ms() - 10 * 60_000).await?;
        let quarantine = if text.is_empty() {
            Some("empty message")
        } else if text.chars().count() > MAX_INBOUND_CHARS {
            Some("message too long")
        } else if self.settings.inbound_blocklist.iter().any(|b| b == &normalized_from || b.eq_ignore_ascii_case(&from))
        {
            Some("sender is blocked")
        } else if recent >= MAX_PER_SENDER_10_MIN {
            Some("too many messages from this sender")
        } else if contact.is_none() {
            Some("sender has no phone number or e-mail to reach them")
        } else {
            None
        };
        let row = InboundRow {
            channel,
            provider_id: &provider_id,
            from: &from,
            normalized_from: &normalized_from,
            input,
            received,
        };
        if let Some(reason) = quarantine {
            tracing::warn!(channel, reason, "inbound message quarantined");
            return self.store_inbound(ctx, &row, "quarantined", Some(reason), None, None, None).await;
        }
        let Some((kind, value)) = contact else { return Err(ServiceError::Internal("contact vanished".into())) };

        let key = |tool: &str| IdempotencyKey {
            scope: "inbound".into(),
            tool: tool.into(),
            key: format!("{channel}:{provider_id}"),
            request_hash: idempotency::request_hash(&serde_json::to_value(input).unwrap_or_default()),
        };
        let open_ticket = inbound::open_ticket_of_contact(self.db.pool(), kind, &value).await?;
        let (ticket_id, disposition) = match open_ticket {
            Some(id) => (id, "attached"),
            None => {
                let mut create_ctx = CallContext { channel: input.channel, ..ctx.clone() };
                create_ctx.idempotency = Some(key("inbound.create"));
                let customer = NewCustomer {
                    name: Some(from.clone()),
                    phone: (kind == "phone").then(|| value.clone()),
                    email: (kind == "email").then(|| value.clone()),
                    preferred_channel: Some(input.channel),
                    // A message from a known address is that customer's.
                    known_contact: Some(domain::KnownContact::SamePerson),
                };
                let create = CreateTicket {
                    customer,
                    problem_summary: Some(text.chars().take(domain::command::MAX_SUMMARY).collect()),
                    ..Default::default()
                };
                let id = match self.create_ticket(&create_ctx, &create).await {
                    Ok(o) => o.case.id,
                    Err(ServiceError::AlreadyProcessed) => self.answered_ticket(&key("inbound.create")).await?,
                    Err(e) => return Err(e),
                };
                (id, "created")
            }
        };
        let mut msg_ctx = CallContext { channel: input.channel, ..ctx.clone() };
        msg_ctx.idempotency = Some(key("inbound.message"));
        let message = AddMessage {
            ticket_id: ticket_id.clone(),
            direction: Direction::Inbound,
            channel: Some(input.channel),
            sender: Some(from.clone()),
            text: text.clone(),
        };
        let (case, message_id) = match self.add_message(&msg_ctx, &message).await {
            Ok(o) => (Some(o.case), o.data["message_id"].as_str().map(str::to_string)),
            Err(ServiceError::AlreadyProcessed) => (None, None),
            Err(e) => return Err(e),
        };
        self.store_inbound(ctx, &row, disposition, None, Some(&ticket_id), message_id.as_deref(), case).await
    }

    /// The ticket an already-answered creation made.
    async fn answered_ticket(&self, key: &IdempotencyKey) -> Result<String, ServiceError> {
        for _ in 0..100 {
            if let Some(Stored::Replay(v)) = idempotency::lookup(self.db.pool(), key).await? {
                if let Some(id) = v["case"]["id"].as_str() {
                    return Ok(id.to_string());
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(ServiceError::Conflict("the same inbound message is being processed".into()))
    }

    async fn inbound_seen(&self, channel: &str, provider_id: &str) -> Result<Option<InboundResult>, ServiceError> {
        Ok(inbound::seen(self.db.pool(), channel, provider_id).await?.map(|(ticket_id, message_id)| InboundResult {
            ticket_id,
            message_id,
            disposition: "duplicate",
            reason: None,
            case: None,
        }))
    }

    /// The ticket a conversation is bound to, for agents and staff.
    pub async fn conversation_ticket(
        &self,
        ctx: &CallContext,
        conversation: &str,
    ) -> Result<serde_json::Value, ServiceError> {
        self.require_agent_or_staff(ctx, "conversations")?;
        match inbound::conversation(self.db.pool(), conversation).await? {
            Some((ticket_id, channel, bound_at_ms)) => {
                Ok(serde_json::json!({"ticket_id": ticket_id, "channel": channel, "bound_at_ms": bound_at_ms}))
            }
            // "ticket for conversation … not found": the same 404 as an unknown ticket.
            None => Err(ServiceError::TicketNotFound(format!("for conversation {conversation}"))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_inbound(
        &self,
        ctx: &CallContext,
        row: &InboundRow<'_>,
        disposition: &'static str,
        reason: Option<&str>,
        ticket_id: Option<&str>,
        message_id: Option<&str>,
        case: Option<Case>,
    ) -> Result<InboundResult, ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let id = new_id("inb");
        let raw_json = row.input.raw.to_string();
        let record = inbound::InboundRecord {
            id: &id,
            channel: row.channel,
            provider_id: row.provider_id,
            from: row.from,
            to: row.input.to.as_deref(),
            normalized_from: row.normalized_from,
            body: &row.input.text,
            raw_json: &raw_json,
            received_at_ms: row.received,
            disposition,
            reason,
            ticket_id,
            message_id,
            now: now_ms(),
        };
        let inserted = inbound::insert(&mut tx, &record).await?;
        if let (true, Some(conversation), Some(ticket)) = (inserted, row.input.conversation.as_deref(), ticket_id) {
            let conversation = conversation.trim();
            if !conversation.is_empty()
                && inbound::bind_conversation(&mut tx, conversation, ticket, row.channel, now_ms()).await?
            {
                let detail = serde_json::json!({"conversation": conversation, "channel": row.channel});
                crate::audit::append(
                    &mut tx,
                    ctx,
                    crate::audit::NewEvent::ticket_note(ticket, "conversation.bound", detail),
                )
                .await?;
            }
        }
        tx.commit().await?;
        if !inserted {
            // A concurrent delivery of the same message got there first.
            return Ok(self.inbound_seen(row.channel, row.provider_id).await?.unwrap_or(InboundResult {
                ticket_id: None,
                message_id: None,
                disposition: "duplicate",
                reason: None,
                case: None,
            }));
        }
        Ok(InboundResult {
            ticket_id: ticket_id.map(str::to_string),
            message_id: message_id.map(str::to_string),
            disposition,
            reason: reason.map(str::to_string),
            case,
        })
    }
}

struct InboundRow<'a> {
    channel: &'a str,
    provider_id: &'a str,
    from: &'a str,
    normalized_from: &'a str,
    input: &'a Inbound,
    received: i64,
}
