//! Customer updates: written in the transaction of the action that committed the fact
//! (`domain::updates`), delivered by the worker, each once: recorded on the ticket as an
//! outbound message when sent, retried with backoff when the channel fails, and given up after
//! five attempts, where the office sees it.

use crate::audit::{self, NewEvent};
use crate::context::CallContext;
use crate::error::ServiceError;
use crate::idempotency::IdempotencyKey;
use crate::ids::new_id;
use crate::service::Service;
use crate::store::customer_updates::{self as store, CustomerUpdate};
use crate::store::shop_settings;
use domain::updates::{self, UpdateKind, UpdateSettings};
use domain::{Action, Actor, Case};

/// The key of the update rules among the shop's settings.
pub(crate) const SETTING: &str = "customer_updates";
/// Attempts before an update is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// How long a worker holds the updates it claimed: longer than its slowest pass (20 updates,
/// four at a time, each waiting at most 90 s for its channel), so no other worker sends them too.
const LEASE_MS: i64 = 10 * 60_000;

/// The wait before attempt `n + 1`: 30 s, 1, 2, 4 min.
pub fn backoff_ms(attempts: i64) -> i64 {
    30_000 * (1_i64 << attempts.clamp(1, 4).saturating_sub(1))
}

/// Why an update is skipped when the same kind went out to the customer moments before.
const QUIET_REASON: &str = "the same update went out less than five minutes ago";

impl Service {
    /// The shop's update rules (every kind on, with the default words, until an admin changes them).
    pub async fn update_settings(&self) -> Result<UpdateSettings, ServiceError> {
        self.shop_rules(SETTING).await
    }

    /// The shop's update rules, for the office.
    pub async fn update_rules(&self, ctx: &CallContext) -> Result<UpdateSettings, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        self.update_settings().await
    }

    /// `customer_updates.set` (admin): which updates go out, in which words. Audited with the
    /// rules it replaced.
    pub async fn set_update_settings(
        &self,
        ctx: &CallContext,
        settings: &UpdateSettings,
    ) -> Result<UpdateSettings, ServiceError> {
        self.authorize(ctx, Action::CustomerUpdatesSet)?;
        settings.validate()?;
        self.put_shop_rules(ctx, Action::CustomerUpdatesSet, SETTING, settings).await?;
        Ok(settings.clone())
    }

    /// Writes the updates a committed change calls for, in the action's own transaction: they
    /// exist exactly when the change does.
    pub(crate) async fn queue_updates(
        &self,
        tx: &mut crate::db::WriteTx,
        before: &Case,
        after: &Case,
    ) -> Result<(), ServiceError> {
        let kinds = updates::due(before, after);
        if kinds.is_empty() {
            return Ok(());
        }
        // The copy the door brought up to date before the transaction; else read on the
        // action's own connection (a second one from the pool while this transaction holds one
        // would starve the pool under load).
        let settings: UpdateSettings = match self.shop_rules_held(SETTING) {
            Some(held) => held,
            None => crate::shop_rules::parse_or_default(SETTING, shop_settings::get_in(tx, SETTING).await?),
        };
        let now = crate::ids::now_ms();
        let to = updates::recipient(after);
        let facts = self.update_facts(after);
        for kind in kinds {
            let rule = settings.rule(kind);
            if !rule.enabled {
                continue;
            }
            let body = updates::render(&rule.template, &facts);
            let body = match kind {
                UpdateKind::OnTheWay | UpdateKind::EtaChanged => {
                    let technician = facts.iter().find(|(n, _)| *n == "technician").map(|(_, v)| v.as_str());
                    let late = after.eta.as_ref().and_then(|e| e.late_reason.as_deref());
                    updates::with_late_reason(body, technician.unwrap_or("your technician"), late)
                }
                _ => body,
            };
            let (status, reason) = match &to {
                None => ("skipped", Some("the customer has no phone number or e-mail")),
                Some(_) => ("pending", None),
            };
            let id = new_id("upd");
            store::queue_with_commit(
                tx,
                &store::NewUpdate {
                    id: &id,
                    ticket_id: &after.id,
                    kind: kind.as_str(),
                    channel: to.as_ref().map(|(c, _)| c.as_str()),
                    to: to.as_ref().map(|(_, a)| a.as_str()),
                    body: &body,
                    status,
                    reason,
                    case_version: after.version,
                    now,
                },
                kind.quiet_ms(),
                QUIET_REASON,
            );
            tracing::info!(ticket = %after.number, kind = kind.as_str(), status, "customer update queued (skipped if the same went out lately)");
        }
        Ok(())
    }

    /// `portal.send_link`: a `ticket_link` update to the customer through their channel; the
    /// worker makes the link when it sends it, as for every update that carries one. Refused,
    /// with nothing queued, when the customer has no phone or e-mail, the shop turned these
    /// off, or one went out less than five minutes ago.
    #[tracing::instrument(name = "portal.send_link", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn send_portal_link(
        &self,
        ctx: &CallContext,
        input: &domain::commands::TicketRef,
    ) -> Result<CustomerUpdate, ServiceError> {
        self.authorize(ctx, Action::PortalSendLink)?;
        self.shop().await;
        let kind = UpdateKind::TicketLink;
        let mut tx = self.db.begin_write().await?;
        let case = crate::case_store::load_case(&mut tx, input.ticket_id.trim()).await?;
        self.check_scope(ctx, &case)?;
        let settings: UpdateSettings =
            crate::shop_rules::parse_or_default(SETTING, shop_settings::get_in(&mut tx, SETTING).await?);
        let rule = settings.rule(kind);
        if !rule.enabled {
            return Err(ServiceError::Conflict(
                "the shop turned off sending links to the ticket page (Settings, customer updates)".into(),
            ));
        }
        let Some((channel, to)) = updates::recipient(&case) else {
            return Err(ServiceError::invalid(
                "ticket_id",
                "no_contact",
                "the customer has no phone number or e-mail to send the link to",
            ));
        };
        let now = crate::ids::now_ms();
        if store::last_of_kind(&mut tx, &case.id, kind.as_str()).await?.is_some_and(|at| now - at < kind.quiet_ms()) {
            return Err(ServiceError::Conflict("a link went to the customer less than five minutes ago".into()));
        }
        let body = updates::render(&rule.template, &self.update_facts(&case));
        let id = new_id("upd");
        store::insert(
            &mut tx,
            &store::NewUpdate {
                id: &id,
                ticket_id: &case.id,
                kind: kind.as_str(),
                channel: Some(channel.as_str()),
                to: Some(&to),
                body: &body,
                status: "pending",
                reason: None,
                case_version: case.version,
                now,
            },
        )
        .await?;
        let detail = serde_json::json!({"update_id": id, "channel": channel.as_str(), "to": to});
        audit::append(&mut tx, ctx, NewEvent::ticket_note(&case.id, Action::PortalSendLink.name(), detail)).await?;
        tx.commit().await?;
        tracing::info!(ticket = %case.number, "ticket link queued for the customer");
        store::get(self.db.pool(), &id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("customer update {id} vanished after its commit")))
    }

    /// What the templates' placeholders say about this case, in the shop's words, zone and
    /// currency (the copy of the profile the action brought up to date before it began).
    fn update_facts(&self, c: &Case) -> Vec<(&'static str, String)> {
        let shop = self.shop_now();
        let first = |name: &str| name.split_whitespace().next().unwrap_or_default().to_string();
        // A customer known only by their number is greeted without it.
        let customer = Some(first(&c.customer.name))
            .filter(|n| !n.is_empty() && !n.starts_with('+') && !n.chars().any(|ch| ch.is_ascii_digit() || ch == '@'))
            .unwrap_or_else(|| "there".into());
        let technician = c.assignment.as_ref().map(|a| first(&a.technician_name));
        let eta = c.eta.as_ref().map(|e| {
            let zoned = jiff::Timestamp::from_millisecond(e.eta_ms).map(|t| t.to_zoned(shop.timezone.clone()));
            zoned.map(|z| z.strftime("%H:%M").to_string()).unwrap_or_default()
        });
        vec![
            ("customer", customer),
            ("shop", shop.profile.business_name.clone()),
            ("shop_phone", shop.profile.phone.clone()),
            ("window", c.appointment.as_ref().map(|a| shop.window_label(a.start_ms, a.end_ms)).unwrap_or_default()),
            ("with_technician", technician.clone().map(|t| format!(" with {t}")).unwrap_or_default()),
            ("technician", technician.unwrap_or_else(|| "your technician".into())),
            ("eta", eta.unwrap_or_default()),
            ("invoice", c.invoice.as_ref().map(|i| i.number.clone()).unwrap_or_default()),
            ("total", c.invoice.as_ref().map(|i| shop.money(i.total_cents)).unwrap_or_default()),
        ]
    }

    /// A ticket's updates, newest first (staff).
    pub async fn customer_updates_of(
        &self,
        ctx: &CallContext,
        ticket_id: &str,
    ) -> Result<Vec<CustomerUpdate>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        store::of_ticket(self.db.pool(), ticket_id).await
    }

    /// Updates given up after every attempt failed, newest first (staff).
    pub async fn undelivered_updates(&self, ctx: &CallContext) -> Result<Vec<CustomerUpdate>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        store::dead(self.db.pool(), 50).await
    }

    /// Claims the updates due now, for one worker pass.
    pub async fn claim_updates(&self, now: i64, limit: i64) -> Result<Vec<CustomerUpdate>, ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let claimed = store::claim_due(&mut tx, self.db.backend(), now, now + LEASE_MS, limit).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// The words that go out: the stored text, with a portal link made (once) where it asks
    /// for one; kept, so every attempt sends the same words.
    pub async fn update_text(&self, u: &CustomerUpdate, public_url: &str) -> Result<String, ServiceError> {
        if !u.body.contains("{portal_link}") {
            return Ok(u.body.clone());
        }
        let ctx = CallContext::new(Actor::system("updates"));
        let link = self
            .create_portal_link(&ctx, &domain::commands::CreateLink { ticket_id: u.ticket_id.clone(), ttl_hours: None })
            .await?;
        let text = u.body.replace("{portal_link}", &format!("{}{}", public_url.trim_end_matches('/'), link.path));
        let mut tx = self.db.begin_write().await?;
        store::set_body(&mut tx, &u.id, &text).await?;
        tx.commit().await?;
        Ok(text)
    }

    /// One update, for the gateway that delivers it (agents' and operators' tokens).
    pub async fn customer_update(&self, ctx: &CallContext, id: &str) -> Result<CustomerUpdate, ServiceError> {
        self.require_agent_or_staff(ctx, "customer updates")?;
        store::get(self.db.pool(), id.trim())
            .await?
            .ok_or_else(|| ServiceError::invalid("update_id", "not_found", &format!("no customer update {id}")))
    }

    /// A sent update: on the ticket's thread as an outbound message (once, keyed by the
    /// update), then settled, audited.
    pub async fn update_sent(&self, u: &CustomerUpdate, text: &str, now: i64) -> Result<bool, ServiceError> {
        let channel = u.channel.as_deref().and_then(|c| c.parse().ok());
        let mut ctx = CallContext::new(Actor::system("updates"));
        ctx.channel = channel.unwrap_or_default();
        ctx.idempotency = Some(IdempotencyKey {
            scope: "updates".into(),
            tool: Action::TicketAddMessage.name().into(),
            key: u.id.clone(),
            request_hash: String::new(),
        });
        let message = domain::commands::AddMessage {
            ticket_id: u.ticket_id.clone(),
            direction: domain::commands::Direction::Outbound,
            channel,
            sender: Some("real-dispatch".into()),
            text: text.to_string(),
        };
        // Another writer on the same ticket (an agent, another worker) can win the case's
        // version first; the key makes trying again safe.
        let mut tries = 0;
        loop {
            match self.add_message(&ctx, &message).await {
                Ok(_) | Err(ServiceError::AlreadyProcessed) => break,
                Err(ServiceError::Conflict(_)) if tries < 4 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * tries)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let mut tx = self.db.begin_write().await?;
        let settled = store::settle(&mut tx, &u.id, "sent", u.attempts + 1, now, None, Some(now)).await?;
        if settled {
            let detail = serde_json::json!({"update_id": u.id, "kind": u.kind, "channel": u.channel, "to": u.to});
            audit::append(&mut tx, &ctx, NewEvent::ticket_note(&u.ticket_id, "update.sent", detail)).await?;
        }
        tx.commit().await?;
        Ok(settled)
    }

    /// A failed attempt: retried after a backoff, or given up (`dead`, audited) after the last.
    pub async fn update_failed(&self, u: &CustomerUpdate, error: &str, now: i64) -> Result<bool, ServiceError> {
        let attempts = u.attempts + 1;
        let dead = attempts >= MAX_ATTEMPTS;
        let error: String = error.chars().take(500).collect();
        let mut tx = self.db.begin_write().await?;
        let status = if dead { "dead" } else { "pending" };
        let settled =
            store::settle(&mut tx, &u.id, status, attempts, now + backoff_ms(attempts), Some(&error), None).await?;
        if settled && dead {
            let ctx = CallContext::new(Actor::system("updates"));
            let detail = serde_json::json!({"update_id": u.id, "kind": u.kind, "attempts": attempts, "error": error});
            audit::append(&mut tx, &ctx, NewEvent::ticket_note(&u.ticket_id, "update.dead", detail)).await?;
        }
        tx.commit().await?;
        if dead {
            tracing::warn!(update = %u.id, ticket = %u.ticket_id, "customer update given up after {attempts} attempts");
        }
        Ok(settled)
    }
}
