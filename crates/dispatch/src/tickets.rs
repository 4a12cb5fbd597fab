//! Tickets: creation, canonical reads, and audited state moves.

use crate::audit::{self, NewEvent};
use crate::error::ServiceError;
use crate::ids::{new_id, now_ms};
use crate::service::{CallContext, Service};
use domain::case::ticket_number;
use domain::{Case, CaseState, CreateTicket, CustomerView, SiteView, Tool};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

const CASE_SELECT: &str = "SELECT t.id, t.number, t.state, t.priority, t.problem_summary, t.trade, t.version, \
    t.created_at_ms, t.updated_at_ms, c.id AS customer_id, c.name AS customer_name, c.phone AS customer_phone, \
    c.email AS customer_email, c.preferred_channel AS customer_channel, s.id AS site_id, s.address AS site_address, \
    s.access_notes AS site_access_notes \
    FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN sites s ON s.id = t.site_id";

fn case_from_row(r: &AnyRow) -> Result<Case, ServiceError> {
    let state: String = r.try_get("state")?;
    let priority: String = r.try_get("priority")?;
    let channel: Option<String> = r.try_get("customer_channel")?;
    let site_id: Option<String> = r.try_get("site_id")?;
    let site = match site_id {
        Some(id) => Some(SiteView { id, address: r.try_get("site_address")?, access_notes: r.try_get("site_access_notes")? }),
        None => None,
    };
    Ok(Case {
        id: r.try_get("id")?,
        number: ticket_number(r.try_get("number")?),
        state: state.parse().map_err(|e| ServiceError::Internal(format!("{e}")))?,
        priority: priority.parse().map_err(|()| ServiceError::Internal(format!("bad priority {priority}")))?,
        problem_summary: r.try_get("problem_summary")?,
        trade: r.try_get("trade")?,
        customer: CustomerView {
            id: r.try_get("customer_id")?,
            name: r.try_get("customer_name")?,
            phone: r.try_get("customer_phone")?,
            email: r.try_get("customer_email")?,
            preferred_channel: channel.and_then(|c| c.parse().ok()),
        },
        site,
        version: r.try_get("version")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

async fn load_case(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Case, ServiceError> {
    let row = sqlx::query(&format!("{CASE_SELECT} WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| ServiceError::TicketNotFound(id.to_string()))?;
    case_from_row(&row)
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Filters for the dispatch board and lists.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub open_only: bool,
    pub limit: Option<i64>,
}

impl Service {
    /// `ticket.create`.
    #[tracing::instrument(name = "ticket.create", skip_all, fields(actor = %ctx.actor.id))]
    pub async fn create_ticket(&self, ctx: &CallContext, input: &CreateTicket) -> Result<(Case, String), ServiceError> {
        self.authorize_tool(ctx, Tool::TicketCreate)?;
        let valid = input.validate()?;
        let now = now_ms();
        let mut tx = self.db.begin_write().await?;

        let customer_id = match find_customer(&mut tx, valid.phone.as_ref().map(|p| p.as_str()), valid.email.as_ref().map(|e| e.as_str())).await? {
            Some(id) => id,
            None => {
                let id = new_id("cus");
                sqlx::query(
                    "INSERT INTO customers (id, name, phone, email, preferred_channel, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&id)
                .bind(&valid.customer_name)
                .bind(valid.phone.as_ref().map(|p| p.as_str()))
                .bind(valid.email.as_ref().map(|e| e.as_str()))
                .bind(valid.preferred_channel.map(|c| c.as_str()))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                id
            }
        };

        let site_id = match &valid.address {
            None => None,
            Some(address) => {
                let existing: Option<String> = sqlx::query("SELECT id FROM sites WHERE customer_id = $1 AND address = $2")
                    .bind(&customer_id)
                    .bind(address)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("id"))
                    .transpose()?;
                match existing {
                    Some(id) => Some(id),
                    None => {
                        let id = new_id("sit");
                        sqlx::query(
                            "INSERT INTO sites (id, customer_id, address, access_notes, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(&id)
                        .bind(&customer_id)
                        .bind(address)
                        .bind(&valid.access_notes)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        Some(id)
                    }
                }
            }
        };

        let number: i64 = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'ticket_number' RETURNING value")
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
        let id = new_id("tkt");
        sqlx::query(
            "INSERT INTO tickets (id, number, state, priority, problem_summary, trade, customer_id, site_id, version, \
             created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
        )
        .bind(&id)
        .bind(number)
        .bind(valid.initial_state().as_str())
        .bind(valid.priority.as_str())
        .bind(&valid.problem_summary)
        .bind(&valid.trade)
        .bind(&customer_id)
        .bind(&site_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let case = load_case(&mut tx, &id).await?;
        let event = audit::append(
            &mut tx,
            ctx,
            NewEvent { ticket_id: Some(id.clone()), action: Tool::TicketCreate.name().into(), before: None, after: Some(to_json(&case)), attachments: vec![] },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(ticket = %case.number, state = %case.state, "ticket created");
        Ok((case, event))
    }

    /// The canonical case.
    pub async fn case(&self, ctx: &CallContext, id: &str) -> Result<Case, ServiceError> {
        self.authorize_read_any(ctx)?;
        let mut conn = self.db.pool().acquire().await?;
        load_case(&mut conn, id).await
    }

    /// Cases for lists and the board, most recently changed first.
    pub async fn cases(&self, ctx: &CallContext, filter: &CaseFilter) -> Result<Vec<Case>, ServiceError> {
        self.authorize_read_any(ctx)?;
        let mut sql = format!("{CASE_SELECT} WHERE 1 = 1");
        if filter.state.is_some() {
            sql.push_str(" AND t.state = $1");
        }
        if filter.open_only {
            sql.push_str(" AND t.state NOT IN ('paid_or_ar', 'canceled')");
        }
        sql.push_str(" ORDER BY t.updated_at_ms DESC, t.number DESC");
        sql.push_str(&format!(" LIMIT {}", filter.limit.unwrap_or(500).clamp(1, 5_000)));
        let mut q = sqlx::query(&sql);
        if let Some(st) = filter.state {
            q = q.bind(st.as_str());
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        rows.iter().map(case_from_row).collect()
    }

    /// Moves a case to `to` if the move is legal and the case is still at `expected_version`.
    /// The building block of the lifecycle actions; it audits the move with `action`.
    pub async fn transition(
        &self,
        ctx: &CallContext,
        id: &str,
        expected_version: i64,
        to: CaseState,
        action: &str,
    ) -> Result<(Case, String), ServiceError> {
        let mut tx = self.db.begin_write().await?;
        let before = load_case(&mut tx, id).await?;
        if before.version != expected_version {
            return Err(ServiceError::Conflict);
        }
        if !before.state.can_transition_to(to) {
            return Err(ServiceError::transition(before.state, to));
        }
        let updated = sqlx::query(
            "UPDATE tickets SET state = $1, version = version + 1, updated_at_ms = $2 WHERE id = $3 AND version = $4",
        )
        .bind(to.as_str())
        .bind(now_ms())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(ServiceError::Conflict);
        }
        let after = load_case(&mut tx, id).await?;
        let event = audit::append(
            &mut tx,
            ctx,
            NewEvent {
                ticket_id: Some(id.to_string()),
                action: action.to_string(),
                before: Some(serde_json::json!({"state": before.state, "version": before.version})),
                after: Some(serde_json::json!({"state": after.state, "version": after.version})),
                attachments: vec![],
            },
        )
        .await?;
        tx.commit().await?;
        Ok((after, event))
    }

    /// Counts per state, for the board header.
    pub async fn state_counts(&self, ctx: &CallContext) -> Result<Vec<(CaseState, i64)>, ServiceError> {
        self.authorize_read_any(ctx)?;
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state").fetch_all(self.db.pool()).await?;
        let mut counts = vec![];
        for r in rows {
            let st: String = r.try_get("state")?;
            if let Ok(st) = st.parse() {
                counts.push((st, r.try_get("n")?));
            }
        }
        counts.sort();
        Ok(counts)
    }
}

async fn find_customer(
    tx: &mut Transaction<'static, Any>,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    // A known phone or e-mail is the same household: reuse it rather than duplicate.
    for (column, value) in [("phone", phone), ("email", email)] {
        if let Some(v) = value {
            let row = sqlx::query(&format!("SELECT id FROM customers WHERE {column} = $1 ORDER BY created_at_ms LIMIT 1"))
                .bind(v)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(r) = row {
                return Ok(Some(r.try_get("id")?));
            }
        }
    }
    Ok(None)
}

