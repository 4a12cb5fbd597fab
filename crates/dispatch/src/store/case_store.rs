//! Reading the canonical case (and board rows) from the normalised tables.

use crate::error::ServiceError;
use domain::case::{
    invoice_number, ticket_number, Appointment, Assignment, Attachment, Case, CaseSummary, ChecklistItem, CustomerView,
    Eta, InvoiceDraft, LaborLine, Note, PacketRef, PartLine, Payment, SiteView,
};
use domain::window::TimeWindow;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const MAIN: &str = "SELECT t.id, t.number, t.state, t.priority, t.problem_summary, t.trade, t.requested_start_ms, \
    t.requested_end_ms, t.assigned_tech_id, t.assigned_at_ms, t.eta_ms, t.eta_note, t.eta_set_at_ms, t.eta_late_reason, t.cancel_reason, t.flag, \
    t.message_count, t.last_message_at_ms, t.version, t.created_at_ms, t.updated_at_ms, \
    c.id AS customer_id, c.name AS customer_name, c.preferred_channel AS customer_channel, \
    s.id AS site_id, s.address AS site_address, s.access_notes AS site_access_notes, s.zone AS site_zone, \
    s.lat AS site_lat, s.lon AS site_lon, tech.name AS tech_name, \
    a.id AS appt_id, a.start_ms AS appt_start_ms, a.end_ms AS appt_end_ms, a.technician_id AS appt_tech_id, \
    i.id AS inv_id, i.number AS inv_number, i.lines_json AS inv_lines, i.subtotal_cents AS inv_subtotal, \
    i.tax_rate_bp AS inv_tax_rate, i.tax_cents AS inv_tax, i.total_cents AS inv_total, i.created_at_ms AS inv_created, \
    k.id AS pkt_id, k.blob_key AS pkt_key, k.sha256 AS pkt_sha, k.size AS pkt_size, k.created_at_ms AS pkt_created, \
    p.kind AS pay_kind, p.amount_cents AS pay_amount, p.due_ms AS pay_due, p.recorded_at_ms AS pay_at, \
    cp.id AS person_id, cp.name AS person_name, cp.phone AS person_phone, cp.email AS person_email, \
    (SELECT value FROM customer_contacts cc WHERE cc.customer_id = c.id ORDER BY cc.position LIMIT 1) AS customer_contact \
    FROM tickets t JOIN customers c ON c.id = t.customer_id \
    LEFT JOIN sites s ON s.id = t.site_id \
    LEFT JOIN customer_people cp ON cp.id = t.contact_person_id \
    LEFT JOIN technicians tech ON tech.id = t.assigned_tech_id \
    LEFT JOIN appointments a ON a.ticket_id = t.id AND a.status = 'active' \
    LEFT JOIN invoice_drafts i ON i.ticket_id = t.id \
    LEFT JOIN closeout_packets k ON k.ticket_id = t.id AND k.current = 1 \
    LEFT JOIN payments p ON p.ticket_id = t.id";

/// Only what a board row shows: four joins instead of eight, a third of the columns.
const SUMMARY: &str = "SELECT t.id, t.number, t.state, t.priority, t.problem_summary, t.trade, t.eta_ms, t.version, \
    t.created_at_ms, t.updated_at_ms, c.name AS customer_name, s.address AS site_address, tech.name AS tech_name, \
    a.start_ms AS appt_start_ms, a.end_ms AS appt_end_ms, \
    (SELECT value FROM customer_contacts cc WHERE cc.customer_id = c.id ORDER BY cc.position LIMIT 1) AS customer_contact \
    FROM tickets t JOIN customers c ON c.id = t.customer_id \
    LEFT JOIN sites s ON s.id = t.site_id \
    LEFT JOIN technicians tech ON tech.id = t.assigned_tech_id \
    LEFT JOIN appointments a ON a.ticket_id = t.id AND a.status = 'active'";

fn parse<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, ServiceError> {
    raw.parse().map_err(|_| ServiceError::Internal(format!("stored {what} '{raw}' is not valid")))
}

fn summary(r: &AnyRow) -> Result<CaseSummary, ServiceError> {
    let appt_start: Option<i64> = r.try_get("appt_start_ms")?;
    let appt_end: Option<i64> = r.try_get("appt_end_ms")?;
    Ok(CaseSummary {
        id: r.try_get("id")?,
        number: ticket_number(r.try_get("number")?),
        state: parse("state", &r.try_get::<String, _>("state")?)?,
        priority: parse("priority", &r.try_get::<String, _>("priority")?)?,
        problem_summary: r.try_get("problem_summary")?,
        trade: r.try_get("trade")?,
        customer_name: r.try_get("customer_name")?,
        customer_contact: r.try_get("customer_contact")?,
        site_address: r.try_get("site_address")?,
        technician_name: r.try_get("tech_name")?,
        appointment: appt_start.zip(appt_end).map(|(start_ms, end_ms)| TimeWindow { start_ms, end_ms }),
        eta_ms: r.try_get("eta_ms")?,
        version: r.try_get("version")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

/// Board rows, most recently changed first. `state` and `technician_id` narrow the list.
pub async fn summaries(
    conn: &mut AnyConnection,
    state: Option<&str>,
    open_only: bool,
    technician_id: Option<&str>,
    customer_id: Option<&str>,
    limit: i64,
) -> Result<Vec<CaseSummary>, ServiceError> {
    let mut sql = format!("{SUMMARY} WHERE 1 = 1");
    let mut binds: Vec<&str> = vec![];
    if let Some(s) = state {
        binds.push(s);
        sql.push_str(&format!(" AND t.state = ${}", binds.len()));
    }
    if let Some(t) = technician_id {
        binds.push(t);
        sql.push_str(&format!(" AND t.assigned_tech_id = ${}", binds.len()));
    }
    if let Some(c) = customer_id {
        binds.push(c);
        sql.push_str(&format!(" AND t.customer_id = ${}", binds.len()));
    }
    if open_only {
        sql.push_str(" AND t.state NOT IN ('paid_or_ar', 'canceled')");
    }
    sql.push_str(&format!(" ORDER BY t.updated_at_ms DESC, t.number DESC LIMIT {}", limit.clamp(1, 5_000)));
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(&mut *conn).await?.iter().map(summary).collect()
}

/// The canonical case, or `TICKET_NOT_FOUND`.
pub async fn load_case(conn: &mut AnyConnection, id: &str) -> Result<Case, ServiceError> {
    load_case_with(conn, id, None).await
}

/// The case after an action that changed none of its collections: the ticket row is read
/// again, the collections are taken from `unchanged` (one query instead of two).
pub async fn reload_case_row(conn: &mut AnyConnection, unchanged: &Case) -> Result<Case, ServiceError> {
    load_case_with(conn, &unchanged.id, Some(unchanged)).await
}

async fn load_case_with(
    conn: &mut AnyConnection,
    id: &str,
    collections_from: Option<&Case>,
) -> Result<Case, ServiceError> {
    let is_pg = conn.backend_name() == "PostgreSQL";
    let sql = case_by_id(is_pg, collections_from.is_none());
    let r = sqlx::query(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ServiceError::TicketNotFound(id.to_string()))?;
    case_from_row(&r, collections_from)
}

/// The query of one case with the ticket id as `$1`: with its collections, or only the
/// ticket row and what it joins (the collections then come from the case before).
pub(crate) fn case_by_id(pg: bool, collections: bool) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all =
        SQL.get_or_init(|| (0..4).map(|i| format!("{} WHERE t.id = $1", case_select(i >= 2, i % 2 == 1))).collect());
    &all[usize::from(pg) * 2 + usize::from(collections)]
}

/// [`case_by_id`] without its WHERE clause, for callers that number their own parameters.
pub(crate) fn case_select(pg: bool, collections: bool) -> &'static str {
    match (collections, pg) {
        (false, _) => MAIN,
        (true, false) => with_children_sqlite(),
        (true, true) => with_children_postgres(),
    }
}

/// The case from a row of [`case_by_id`]; `collections_from` supplies the collections when
/// the row does not carry them.
pub(crate) fn case_from_row(r: &AnyRow, collections_from: Option<&Case>) -> Result<Case, ServiceError> {
    let customer_id: String = r.try_get("customer_id")?;

    let children = match collections_from {
        Some(c) => Children {
            phones: c.customer.phones.clone(),
            emails: c.customer.emails.clone(),
            checklist: c.checklist.clone(),
            notes: c.notes.clone(),
            attachments: c.attachments.clone(),
            labor: c.labor.clone(),
            parts: c.parts.clone(),
        },
        None => parse_children(r.try_get::<Option<String>, _>("children")?.as_deref())?,
    };
    let (phones, emails) = (children.phones, children.emails);
    let (checklist, notes, attachments, labor, parts) =
        (children.checklist, children.notes, children.attachments, children.labor, children.parts);

    let site = r
        .try_get::<Option<String>, _>("site_id")?
        .map(|sid| -> Result<_, ServiceError> {
            Ok(SiteView {
                id: sid,
                address: r.try_get("site_address")?,
                access_notes: r.try_get("site_access_notes")?,
                zone: r.try_get("site_zone")?,
                lat: r.try_get("site_lat")?,
                lon: r.try_get("site_lon")?,
            })
        })
        .transpose()?;
    let appointment = r
        .try_get::<Option<String>, _>("appt_id")?
        .map(|aid| -> Result<_, ServiceError> {
            Ok(Appointment {
                id: aid,
                start_ms: r.try_get("appt_start_ms")?,
                end_ms: r.try_get("appt_end_ms")?,
                technician_id: r.try_get("appt_tech_id")?,
            })
        })
        .transpose()?;
    let assignment = r
        .try_get::<Option<String>, _>("assigned_tech_id")?
        .map(|tid| -> Result<_, ServiceError> {
            Ok(Assignment {
                technician_id: tid,
                technician_name: r.try_get::<Option<String>, _>("tech_name")?.unwrap_or_default(),
                assigned_at_ms: r.try_get::<Option<i64>, _>("assigned_at_ms")?.unwrap_or_default(),
            })
        })
        .transpose()?;
    let eta = r
        .try_get::<Option<i64>, _>("eta_ms")?
        .map(|eta_ms| -> Result<_, ServiceError> {
            Ok(Eta {
                eta_ms,
                note: r.try_get("eta_note")?,
                set_at_ms: r.try_get::<Option<i64>, _>("eta_set_at_ms")?.unwrap_or_default(),
                late_reason: r.try_get("eta_late_reason")?,
            })
        })
        .transpose()?;
    let invoice = r
        .try_get::<Option<String>, _>("inv_id")?
        .map(|iid| -> Result<_, ServiceError> {
            Ok(InvoiceDraft {
                id: iid,
                number: invoice_number(r.try_get("inv_number")?),
                lines: serde_json::from_str(&r.try_get::<String, _>("inv_lines")?)
                    .map_err(|e| ServiceError::Internal(format!("stored invoice lines: {e}")))?,
                subtotal_cents: r.try_get("inv_subtotal")?,
                tax_rate_bp: r.try_get("inv_tax_rate")?,
                tax_cents: r.try_get("inv_tax")?,
                total_cents: r.try_get("inv_total")?,
                created_at_ms: r.try_get("inv_created")?,
            })
        })
        .transpose()?;
    let packet = r
        .try_get::<Option<String>, _>("pkt_id")?
        .map(|pid| -> Result<_, ServiceError> {
            Ok(PacketRef {
                id: pid,
                blob_key: r.try_get("pkt_key")?,
                sha256: r.try_get("pkt_sha")?,
                size: r.try_get("pkt_size")?,
                created_at_ms: r.try_get("pkt_created")?,
            })
        })
        .transpose()?;
    let payment = r
        .try_get::<Option<String>, _>("pay_kind")?
        .map(|kind| -> Result<_, ServiceError> {
            Ok(Payment {
                kind: parse_serde("payment kind", &kind)?,
                amount_cents: r.try_get("pay_amount")?,
                due_ms: r.try_get("pay_due")?,
                recorded_at_ms: r.try_get("pay_at")?,
            })
        })
        .transpose()?;
    let req_start: Option<i64> = r.try_get("requested_start_ms")?;
    let req_end: Option<i64> = r.try_get("requested_end_ms")?;
    let channel: Option<String> = r.try_get("customer_channel")?;

    Ok(Case {
        id: r.try_get("id")?,
        number: ticket_number(r.try_get("number")?),
        state: parse("state", &r.try_get::<String, _>("state")?)?,
        priority: parse("priority", &r.try_get::<String, _>("priority")?)?,
        problem_summary: r.try_get("problem_summary")?,
        trade: r.try_get("trade")?,
        requested_window: req_start.zip(req_end).map(|(start_ms, end_ms)| TimeWindow { start_ms, end_ms }),
        customer: CustomerView {
            id: customer_id,
            name: r.try_get("customer_name")?,
            phones,
            emails,
            preferred_channel: channel.and_then(|c| c.parse().ok()),
        },
        contact: r
            .try_get::<Option<String>, _>("person_id")?
            .map(|id| -> Result<_, ServiceError> {
                Ok(domain::ContactPerson {
                    id,
                    name: r.try_get("person_name")?,
                    phone: r.try_get("person_phone")?,
                    email: r.try_get("person_email")?,
                })
            })
            .transpose()?,
        site,
        appointment,
        assignment,
        eta,
        checklist,
        notes,
        attachments,
        labor,
        parts,
        invoice,
        packet,
        payment,
        cancel_reason: r.try_get("cancel_reason")?,
        flag: r.try_get::<Option<String>, _>("flag")?.and_then(|f| f.parse().ok()),
        message_count: r.try_get("message_count")?,
        last_message_at_ms: r.try_get("last_message_at_ms")?,
        version: r.try_get("version")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

#[derive(Default)]
struct Children {
    phones: Vec<String>,
    emails: Vec<String>,
    checklist: Vec<ChecklistItem>,
    notes: Vec<Note>,
    attachments: Vec<Attachment>,
    labor: Vec<LaborLine>,
    parts: Vec<PartLine>,
}

#[derive(serde::Deserialize)]
struct ChecklistRow {
    key: String,
    label: String,
    required: i64,
    done_at_ms: Option<i64>,
    done_by: Option<String>,
}

#[derive(serde::Deserialize)]
struct ContactRow {
    kind: String,
    value: String,
}

fn with_children_sqlite() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| with_children(false))
}

fn with_children_postgres() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| with_children(true))
}

/// The case and every collection of it in one round trip: the child rows come back as one
/// JSON array of `[part, row]` pairs, in display order. The dialects differ only in the
/// names of the JSON functions.
fn with_children(pg: bool) -> String {
    let obj = if pg { "json_build_object" } else { "json_object" };
    let union = format!(
        "SELECT 0 AS part, position AS ord, item_key AS tie, {obj}('key', item_key, 'label', label, 'required', required, \
             'done_at_ms', done_at_ms, 'done_by', done_by) AS doc FROM checklist_items WHERE ticket_id = t.id \
         UNION ALL SELECT 1, created_at_ms, id, {obj}('id', id, 'kind', kind, 'text', body, 'author', author, \
             'created_at_ms', created_at_ms) FROM notes WHERE ticket_id = t.id \
         UNION ALL SELECT 2, created_at_ms, id, {obj}('id', id, 'kind', kind, 'sha256', sha256, 'size', size, \
             'content_type', content_type, 'filename', filename, 'blob_key', blob_key, 'thumb_key', thumb_key, 'view_key', view_key, 'uploaded_by', uploaded_by, \
             'created_at_ms', created_at_ms) FROM attachments WHERE ticket_id = t.id \
         UNION ALL SELECT 3, created_at_ms, id, {obj}('id', id, 'technician_id', technician_id, 'description', description, \
             'minutes', minutes, 'rate_cents', rate_cents, 'amount_cents', amount_cents) FROM labor_lines WHERE ticket_id = t.id \
         UNION ALL SELECT 4, created_at_ms, id, {obj}('id', id, 'sku', sku, 'description', description, 'quantity', quantity, \
             'unit_price_cents', unit_price_cents, 'amount_cents', amount_cents) FROM part_lines WHERE ticket_id = t.id \
         UNION ALL SELECT 5, position, value, {obj}('kind', kind, 'value', value) FROM customer_contacts WHERE customer_id = c.id"
    );
    let children = if pg {
        format!("(SELECT json_agg(json_build_array(part, doc) ORDER BY part, ord, tie)::text FROM ({union}) x)")
    } else {
        format!("(SELECT json_group_array(json_array(part, json(doc))) FROM ({union} ORDER BY 1, 2, 3))")
    };
    with_column(MAIN, &format!("{children} AS children"))
}

/// A query of the case ([`MAIN`] and what is built on it) with one more column.
pub(crate) fn with_column(case_query: &str, column: &str) -> String {
    let (select, from) = case_query.split_once(" FROM tickets t ").unwrap_or((case_query, ""));
    format!("{select}, {column} FROM tickets t {from}")
}

/// The `children` column of [`with_children`]: `[[part, row], ...]` (NULL when empty on
/// PostgreSQL).
fn parse_children(raw: Option<&str>) -> Result<Children, ServiceError> {
    let mut c = Children::default();
    let Some(raw) = raw else { return Ok(c) };
    let bad = |e: serde_json::Error| ServiceError::Internal(format!("stored case row: {e}"));
    let rows: Vec<(i64, serde_json::Value)> = serde_json::from_str(raw).map_err(bad)?;
    for (part, doc) in rows {
        match part {
            0 => {
                let row: ChecklistRow = serde_json::from_value(doc).map_err(bad)?;
                c.checklist.push(ChecklistItem {
                    key: row.key,
                    label: row.label,
                    required: row.required != 0,
                    done: row.done_at_ms.is_some(),
                    done_at_ms: row.done_at_ms,
                    done_by: row.done_by,
                });
            }
            1 => c.notes.push(serde_json::from_value(doc).map_err(bad)?),
            2 => c.attachments.push(serde_json::from_value(doc).map_err(bad)?),
            3 => c.labor.push(serde_json::from_value(doc).map_err(bad)?),
            4 => c.parts.push(serde_json::from_value(doc).map_err(bad)?),
            _ => {
                let row: ContactRow = serde_json::from_value(doc).map_err(bad)?;
                if row.kind == "phone" {
                    c.phones.push(row.value);
                } else {
                    c.emails.push(row.value);
                }
            }
        }
    }
    Ok(c)
}

async fn contacts(conn: &mut AnyConnection, customer_id: &str) -> Result<(Vec<String>, Vec<String>), ServiceError> {
    let rows = sqlx::query("SELECT kind, value FROM customer_contacts WHERE customer_id = $1 ORDER BY position")
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?;
    let (mut phones, mut emails) = (vec![], vec![]);
    for c in &rows {
        let kind: String = c.try_get("kind")?;
        let value: String = c.try_get("value")?;
        if kind == "phone" {
            phones.push(value);
        } else {
            emails.push(value);
        }
    }
    Ok((phones, emails))
}

/// The customer as cases embed it.
pub async fn load_customer(conn: &mut AnyConnection, customer_id: &str) -> Result<CustomerView, ServiceError> {
    let r = sqlx::query("SELECT name, preferred_channel FROM customers WHERE id = $1")
        .bind(customer_id)
        .fetch_one(&mut *conn)
        .await?;
    let (phones, emails) = contacts(conn, customer_id).await?;
    let channel: Option<String> = r.try_get("preferred_channel")?;
    Ok(CustomerView {
        id: customer_id.to_string(),
        name: r.try_get("name")?,
        phones,
        emails,
        preferred_channel: channel.and_then(|c| c.parse().ok()),
    })
}

/// Enum values stored as their serde names.
fn parse_serde<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T, ServiceError> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| ServiceError::Internal(format!("stored {what} '{raw}' is not valid")))
}

/// The serde name of a unit enum value (`AttachmentKind::After` -> `after`).
pub fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The dispatch board: per open state, the number of tickets matching `filter` and the
/// `per_column` most recently changed of them. Filtering, counting and the per-column cut
/// happen in the database, so the cost follows the page, not the number of tickets.
pub async fn board(
    conn: &mut AnyConnection,
    filter: &domain::views::BoardFilter,
    per_column: i64,
) -> Result<Vec<domain::views::BoardColumn>, ServiceError> {
    let mut binds: Vec<String> = vec![];
    let mut bind = |v: String| {
        binds.push(v);
        format!("${}", binds.len())
    };
    let mut cond =
        String::from(if filter.include_closed { "1 = 1" } else { "t.state NOT IN ('paid_or_ar', 'canceled')" });
    let q = filter.query.trim();
    if let Some(n) = domain::views::ticket_number_query(q) {
        cond.push_str(&format!(" AND t.number = {n}"));
    } else if !q.is_empty() {
        let p = bind(format!("%{}%", q.to_lowercase()));
        cond.push_str(&format!(
            " AND (LOWER(c.name) LIKE {p} OR LOWER(COALESCE(s.address, '')) LIKE {p} \
             OR LOWER(COALESCE(t.problem_summary, '')) LIKE {p} \
             OR EXISTS (SELECT 1 FROM customer_contacts cc2 WHERE cc2.customer_id = c.id AND LOWER(cc2.value) LIKE {p}) \
             OR EXISTS (SELECT 1 FROM customer_people cp2 WHERE cp2.id = t.contact_person_id AND LOWER(cp2.name) LIKE {p}))"
        ));
    }
    for (value, column) in [
        (&filter.state, "t.state"),
        (&filter.priority, "t.priority"),
        (&filter.technician, "tech.name"),
        (&filter.trade, "t.trade"),
    ] {
        if !value.trim().is_empty() {
            let p = bind(value.trim().to_string());
            cond.push_str(&format!(" AND {column} = {p}"));
        }
    }
    let from = "FROM tickets t JOIN customers c ON c.id = t.customer_id LEFT JOIN sites s ON s.id = t.site_id \
                LEFT JOIN technicians tech ON tech.id = t.assigned_tech_id";
    let counts_sql = format!("SELECT t.state AS state, COUNT(*) AS n {from} WHERE {cond} GROUP BY t.state");
    let mut counts = sqlx::query(&counts_sql);
    for b in &binds {
        counts = counts.bind(b);
    }
    let counts: Vec<(String, i64)> = counts
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let cards_sql = format!(
        "{SUMMARY} WHERE t.id IN (SELECT id FROM (SELECT t.id AS id, ROW_NUMBER() OVER (PARTITION BY t.state \
         ORDER BY t.updated_at_ms DESC, t.number DESC) AS rn {from} WHERE {cond}) ranked WHERE rn <= {}) \
         ORDER BY t.updated_at_ms DESC, t.number DESC",
        per_column.clamp(1, 500)
    );
    let mut cards = sqlx::query(&cards_sql);
    for b in &binds {
        cards = cards.bind(b);
    }
    let cards: Vec<CaseSummary> = cards.fetch_all(&mut *conn).await?.iter().map(summary).collect::<Result<_, _>>()?;
    Ok(domain::CaseState::ALL
        .into_iter()
        .filter(|s| s.is_open() || filter.include_closed)
        .map(|state| domain::views::BoardColumn {
            state,
            count: counts.iter().find(|(s, _)| s == state.as_str()).map(|(_, n)| *n as usize).unwrap_or(0),
            cards: cards.iter().filter(|c| c.state == state).cloned().collect(),
        })
        .collect())
}

/// Changes whenever any ticket changes: ticket count, sum of versions, latest update.
pub async fn board_stamp(pool: &sqlx::AnyPool) -> Result<String, ServiceError> {
    let (n, sum, max): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(version), 0) AS BIGINT), CAST(COALESCE(MAX(updated_at_ms), 0) AS BIGINT) FROM tickets",
    )
    .fetch_one(pool)
    .await?;
    Ok(format!("{n}.{sum}.{max}"))
}

/// Names of technicians with open jobs, and trades of open tickets (the board's filters).
pub async fn board_facets(conn: &mut AnyConnection) -> Result<(Vec<String>, Vec<String>), ServiceError> {
    let technicians: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tech.name FROM tickets t JOIN technicians tech ON tech.id = t.assigned_tech_id \
         WHERE t.state NOT IN ('paid_or_ar', 'canceled') ORDER BY tech.name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let trades: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT trade FROM tickets WHERE trade IS NOT NULL AND state NOT IN ('paid_or_ar', 'canceled') ORDER BY trade",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((technicians, trades))
}

/// Every ticket, oldest first.
pub async fn all_ticket_ids(conn: &mut AnyConnection) -> Result<Vec<String>, ServiceError> {
    Ok(sqlx::query_scalar("SELECT id FROM tickets ORDER BY number").fetch_all(conn).await?)
}

/// Whether the database holds no tickets and no accounts (the demo seeds only such a one).
pub async fn is_empty(pool: &sqlx::AnyPool) -> Result<bool, ServiceError> {
    let n: i64 = sqlx::query("SELECT (SELECT COUNT(*) FROM tickets) + (SELECT COUNT(*) FROM users) AS n")
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    Ok(n == 0)
}
