//! What the console shows beside the case: its message thread and its audit timeline.

use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use domain::views::{field_changes, MessageEntry, TimelineEntry};
use domain::{Action, Role};

/// Staff read the whole history of a case (`board.read`); technicians and customers do not.
impl Service {
    /// Every audit event of a case, oldest first, with the fields each one changed.
    pub async fn timeline(&self, ctx: &CallContext, ticket_id: &str) -> Result<Vec<TimelineEntry>, ServiceError> {
        self.authorize(ctx, Action::BoardRead)?;
        let case = self.case(ctx, ticket_id).await?;
        let events = crate::audit::events_for_ticket(self.db.pool(), &case.id).await?;
        let parse = |s: &Option<String>| s.as_deref().and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default();
        Ok(events
            .into_iter()
            .map(|e| {
                let by_agent = e.actor_role.parse::<Role>().is_ok_and(Role::is_agent);
                TimelineEntry {
                    seq: e.seq,
                    at_ms: e.at_ms,
                    changes: field_changes(&parse(&e.before_json), &parse(&e.after_json)),
                    detail: e.detail_json,
                    by_agent,
                    actor_kind: e.actor_kind,
                    actor_id: e.actor_id,
                    actor_role: e.actor_role,
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
