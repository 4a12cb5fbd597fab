//! What the console shows beside the case: its message thread and its audit timeline.

use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use domain::timeline::{narrate, role_label, EventFacts};
use domain::views::{MessageEntry, TimelineEntry};
use domain::{Action, Role};

/// Staff read the whole history of a case (`board.read`); technicians and customers do not.
impl Service {
    /// Every audit event of a case, oldest first, in words: who did what, with the changed
    /// fields readable (times in the shop's zone, money in its currency; no ids).
    pub async fn timeline(&self, ctx: &CallContext, ticket_id: &str) -> Result<Vec<TimelineEntry>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        let case = self.case(ctx, ticket_id).await?;
        let shop = self.shop().await;
        let events = crate::audit::events_for_ticket(self.db.pool(), &case.id).await?;
        let mut names = std::collections::HashMap::new();
        for e in &events {
            if e.actor_kind != "system" && !names.contains_key(&e.actor_id) {
                let name = crate::store::actor_names::name_of(self.db.pool(), &e.actor_id).await?;
                names.insert(e.actor_id.clone(), name.unwrap_or_default());
            }
        }
        let parse = |s: &Option<String>| -> serde_json::Value {
            s.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
        };
        Ok(events
            .into_iter()
            .map(|e| {
                let role = e.actor_role.parse::<Role>().ok();
                let (before, after, detail) = (parse(&e.before_json), parse(&e.after_json), parse(&e.detail_json));
                let name = names.get(&e.actor_id).map(String::as_str).unwrap_or_default();
                // Automatic steps (timers, the update sender) speak for the shop itself.
                let role = role.filter(|_| e.actor_kind != "system");
                let facts = EventFacts {
                    action: &e.action,
                    actor_name: name,
                    role,
                    before: &before,
                    after: &after,
                    detail: &detail,
                };
                let said = narrate(&facts, &*shop);
                TimelineEntry {
                    seq: e.seq,
                    at_ms: e.at_ms,
                    sentence: said.sentence,
                    facts: said.facts,
                    raw: said.raw,
                    agent: role.filter(|r| r.is_agent()).map(|r| role_label(r).to_string()),
                    channel: e.source_channel,
                    action: e.action,
                }
            })
            .collect())
    }

    /// The whole message thread of a case, oldest first (at most the last 500).
    pub async fn messages(&self, ctx: &CallContext, ticket_id: &str) -> Result<Vec<MessageEntry>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        let rows = self.recent_messages(ctx, ticket_id, 500).await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// The conversation between the customer and the office, for anyone who may read the case
    /// (the portal included): internal messages are left out.
    pub async fn conversation(&self, ctx: &CallContext, ticket_id: &str) -> Result<Vec<MessageEntry>, ServiceError> {
        if !Action::PortalRead.allowed_for(ctx.actor.role) {
            self.authorize(ctx, Action::CaseRead)?;
        }
        let rows = self.recent_messages(ctx, ticket_id, 200).await?;
        Ok(customer_thread(rows))
    }

    /// [`Service::conversation`] of a case the caller already reached (no second case read).
    pub(crate) async fn conversation_of(&self, case: &domain::Case) -> Result<Vec<MessageEntry>, ServiceError> {
        Ok(customer_thread(self.thread(&case.id, 200).await?))
    }
}

/// What the customer and the office said to each other, oldest first: internal notes left out.
fn customer_thread(rows: Vec<crate::summary::MessageView>) -> Vec<MessageEntry> {
    rows.into_iter().filter(|m| m.direction != "internal").map(entry).collect()
}

fn entry(m: crate::summary::MessageView) -> MessageEntry {
    MessageEntry { at_ms: m.at_ms, direction: m.direction, channel: m.channel, sender: m.sender, text: m.text }
}

impl Service {
    /// A cheap fingerprint of every ticket's state: it changes whenever any ticket changes
    /// (versions only grow; creation adds a row), so a board can poll it and reload on change.
    pub async fn board_stamp(&self, ctx: &CallContext) -> Result<String, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        crate::case_store::board_stamp(self.db.pool()).await
    }
}

/// The board as the console shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoardData {
    pub columns: Vec<domain::views::BoardColumn>,
    /// Names of technicians with open jobs, and trades of open tickets (for the filters).
    pub technicians: Vec<String>,
    pub trades: Vec<String>,
}

impl Service {
    pub async fn board(
        &self,
        ctx: &CallContext,
        filter: &domain::views::BoardFilter,
        per_column: i64,
    ) -> Result<BoardData, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        let mut conn = self.db.pool().acquire().await?;
        let columns = crate::case_store::board(&mut conn, filter, per_column).await?;
        let (technicians, trades) = crate::case_store::board_facets(&mut conn).await?;
        Ok(BoardData { columns, technicians, trades })
    }
}
