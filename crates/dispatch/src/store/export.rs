//! The rows of an export (see `crate::export` and `docs/export-format.md`): which table each
//! file comes from, its fields in order with their types, how a per-customer export narrows
//! it, and the conversion between a row and its JSON line, both ways.
//!
//! Fields are the tables' columns under the same names, with three changes of form: a
//! column holding JSON text (`skills_json`) is written as that JSON itself under the name
//! without `_json` (`skills`); a 0/1 column is a JSON boolean; and the audit events keep their
//! `*_json` columns as strings, byte for byte, because their hashes cover those bytes.

use futures_util::stream::BoxStream;
use serde_json::value::RawValue;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// How a field is written in a line, and bound when a line is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// Whole numbers: times in ms since the Unix epoch, money in cents, counts.
    Int,
    Float,
    /// Stored as 0 or 1.
    Bool,
    /// Stored as JSON text; written as the JSON itself, its text kept exactly.
    Json,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name in the line.
    pub name: &'static str,
    pub column: &'static str,
    pub ty: Ty,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field { name, column: name, ty }
}

const fn json(name: &'static str, column: &'static str) -> Field {
    Field { name, column, ty: Ty::Json }
}

/// How a per-customer export selects a kind's rows (`$1` is the customer's id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfCustomer {
    /// Not part of a per-customer export (the shop's own records).
    Never,
    /// Rows whose `column` is the customer's id.
    Column(&'static str),
    /// Rows of the customer's tickets (by `ticket_id`).
    Tickets,
}

/// One file of an export: `<file>.jsonl`, one line per row of `source`.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub file: &'static str,
    /// The table the rows go back into on import; None for a file derived from others.
    pub table: Option<&'static str>,
    /// The FROM of the export's query.
    pub source: &'static str,
    pub fields: &'static [Field],
    pub order: &'static str,
    pub of_customer: OfCustomer,
    /// Columns an import sets to a fixed SQL value (no password survives an export).
    pub load_with: &'static [(&'static str, &'static str)],
}

use OfCustomer::{Column, Never, Tickets};
use Ty::{Bool, Float, Int, Text};

const fn kind(
    file: &'static str,
    table: &'static str,
    fields: &'static [Field],
    order: &'static str,
    of_customer: OfCustomer,
) -> Kind {
    Kind { file, table: Some(table), source: table, fields, order, of_customer, load_with: &[] }
}

/// Every file of an export, parents before the rows that name them (the order of an import).
pub const KINDS: &[Kind] = &[
    kind(
        "customers",
        "customers",
        &[
            f("id", Text),
            f("name", Text),
            f("preferred_channel", Text),
            f("created_at_ms", Int),
            f("updated_at_ms", Int),
        ],
        "id",
        Column("id"),
    ),
    kind(
        "customer_contacts",
        "customer_contacts",
        &[
            f("id", Text),
            f("customer_id", Text),
            f("kind", Text),
            f("value", Text),
            f("position", Int),
            f("created_at_ms", Int),
        ],
        "customer_id, position, id",
        Column("customer_id"),
    ),
    kind(
        "customer_people",
        "customer_people",
        &[
            f("id", Text),
            f("customer_id", Text),
            f("name", Text),
            f("phone", Text),
            f("email", Text),
            f("created_at_ms", Int),
        ],
        "customer_id, created_at_ms, id",
        Column("customer_id"),
    ),
    kind(
        "sites",
        "sites",
        &[
            f("id", Text),
            f("customer_id", Text),
            f("address", Text),
            f("access_notes", Text),
            f("zone", Text),
            f("lat", Float),
            f("lon", Float),
            f("created_at_ms", Int),
        ],
        "id",
        Column("customer_id"),
    ),
    kind(
        "technicians",
        "technicians",
        &[
            f("id", Text),
            f("name", Text),
            f("phone", Text),
            f("email", Text),
            json("skills", "skills_json"),
            f("zone", Text),
            json("working_hours", "working_hours_json"),
            f("active", Bool),
            f("created_at_ms", Int),
        ],
        "id",
        Never,
    ),
    kind(
        "technician_time_off",
        "technician_time_off",
        &[f("id", Text), f("technician_id", Text), f("start_ms", Int), f("end_ms", Int), f("reason", Text)],
        "id",
        Never,
    ),
    Kind {
        file: "accounts",
        table: Some("users"),
        source: "users",
        fields: &[
            f("id", Text),
            f("email", Text),
            f("name", Text),
            f("role", Text),
            f("technician_id", Text),
            f("customer_id", Text),
            f("disabled_at_ms", Int),
            f("created_at_ms", Int),
            f("last_login_at_ms", Int),
        ],
        order: "id",
        of_customer: Column("customer_id"),
        // Not a hash of anything: nobody signs in until an admin sets a new password.
        load_with: &[("password_hash", "'!'")],
    },
    kind(
        "checklist_templates",
        "checklist_templates",
        &[f("job_type", Text), f("item_key", Text), f("label", Text), f("required", Bool), f("position", Int)],
        "job_type, position, item_key",
        Never,
    ),
    kind(
        "shop_settings",
        "shop_settings",
        &[f("key", Text), json("value", "value_json"), f("updated_by", Text), f("updated_at_ms", Int)],
        "key",
        Never,
    ),
    kind(
        "tickets",
        "tickets",
        &[
            f("id", Text),
            f("number", Int),
            f("state", Text),
            f("priority", Text),
            f("flag", Text),
            f("problem_summary", Text),
            f("trade", Text),
            f("requested_start_ms", Int),
            f("requested_end_ms", Int),
            f("customer_id", Text),
            f("site_id", Text),
            f("contact_person_id", Text),
            f("assigned_tech_id", Text),
            f("assigned_at_ms", Int),
            f("eta_ms", Int),
            f("eta_note", Text),
            f("eta_set_at_ms", Int),
            f("eta_late_reason", Text),
            f("cancel_reason", Text),
            f("message_count", Int),
            f("last_message_at_ms", Int),
            f("version", Int),
            f("created_at_ms", Int),
            f("updated_at_ms", Int),
        ],
        "number",
        Column("customer_id"),
    ),
    kind(
        "appointments",
        "appointments",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("technician_id", Text),
            f("start_ms", Int),
            f("end_ms", Int),
            f("status", Text),
            f("created_at_ms", Int),
        ],
        "id",
        Tickets,
    ),
    kind(
        "messages",
        "messages",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("direction", Text),
            f("channel", Text),
            f("sender", Text),
            f("body", Text),
            json("raw", "raw_json"),
            f("provider_message_id", Text),
            f("author", Text),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "checklist_items",
        "checklist_items",
        &[
            f("ticket_id", Text),
            f("item_key", Text),
            f("label", Text),
            f("required", Bool),
            f("position", Int),
            f("done_at_ms", Int),
            f("done_by", Text),
        ],
        "ticket_id, position, item_key",
        Tickets,
    ),
    kind(
        "notes",
        "notes",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("kind", Text),
            f("body", Text),
            f("author", Text),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "attachments",
        "attachments",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("kind", Text),
            f("sha256", Text),
            f("size", Int),
            f("content_type", Text),
            f("filename", Text),
            f("blob_key", Text),
            f("thumb_key", Text),
            f("view_key", Text),
            f("uploaded_by", Text),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "labor_lines",
        "labor_lines",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("technician_id", Text),
            f("description", Text),
            f("minutes", Int),
            f("rate_cents", Int),
            f("amount_cents", Int),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "part_lines",
        "part_lines",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("sku", Text),
            f("description", Text),
            f("quantity", Int),
            f("unit_price_cents", Int),
            f("amount_cents", Int),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "invoice_drafts",
        "invoice_drafts",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("number", Int),
            json("lines", "lines_json"),
            f("subtotal_cents", Int),
            f("tax_rate_bp", Int),
            f("tax_cents", Int),
            f("total_cents", Int),
            f("created_at_ms", Int),
        ],
        "number",
        Tickets,
    ),
    kind(
        "closeout_packets",
        "closeout_packets",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("blob_key", Text),
            f("sha256", Text),
            f("size", Int),
            json("manifest", "manifest_json"),
            f("current", Bool),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "payments",
        "payments",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("kind", Text),
            f("amount_cents", Int),
            f("due_ms", Int),
            f("recorded_by", Text),
            f("recorded_at_ms", Int),
        ],
        "recorded_at_ms, id",
        Tickets,
    ),
    kind(
        "approvals",
        "approvals",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("action", Text),
            json("input", "input_json"),
            f("rule", Text),
            f("reason", Text),
            json("actor", "actor_json"),
            f("requested_by", Text),
            f("requested_role", Text),
            f("request_key", Text),
            f("request_hash", Text),
            f("requested_at_ms", Int),
            f("status", Text),
            f("decided_by", Text),
            f("decided_at_ms", Int),
            f("decision_note", Text),
            f("result_event_id", Text),
        ],
        "requested_at_ms, id",
        Tickets,
    ),
    kind(
        "customer_updates",
        "customer_updates",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("kind", Text),
            f("channel", Text),
            f("to_addr", Text),
            f("body", Text),
            f("status", Text),
            f("reason", Text),
            f("attempts", Int),
            f("next_attempt_at_ms", Int),
            f("claimed_until_ms", Int),
            f("last_error", Text),
            f("case_version", Int),
            f("created_at_ms", Int),
            f("sent_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "inbound_messages",
        "inbound_messages",
        &[
            f("id", Text),
            f("channel", Text),
            f("provider_message_id", Text),
            f("from_addr", Text),
            f("to_addr", Text),
            f("normalized_from", Text),
            f("body", Text),
            json("raw", "raw_json"),
            f("received_at_ms", Int),
            f("disposition", Text),
            f("reason", Text),
            f("ticket_id", Text),
            f("message_id", Text),
            f("created_at_ms", Int),
        ],
        "created_at_ms, id",
        Tickets,
    ),
    kind(
        "conversation_bindings",
        "conversation_bindings",
        &[f("conversation", Text), f("ticket_id", Text), f("channel", Text), f("bound_at_ms", Int)],
        "conversation",
        Tickets,
    ),
    kind(
        "followups",
        "followups",
        &[
            f("id", Text),
            f("ticket_id", Text),
            f("kind", Text),
            f("due_at_ms", Int),
            f("state", Text),
            f("claimed_by", Text),
            f("claimed_until_ms", Int),
            f("next_attempt_ms", Int),
            f("attempts", Int),
            f("last_error", Text),
            f("fired_at_ms", Int),
            f("created_at_ms", Int),
        ],
        "due_at_ms, id",
        Tickets,
    ),
    kind(
        "autonomy_pauses",
        "autonomy_pauses",
        &[f("scope", Text), f("reason", Text), f("paused_by", Text), f("paused_at_ms", Int)],
        "scope",
        Never,
    ),
    kind(
        "audit_events",
        "audit_events",
        &[
            f("seq", Int),
            f("id", Text),
            f("ticket_id", Text),
            f("at_ms", Int),
            f("actor_kind", Text),
            f("actor_id", Text),
            f("actor_role", Text),
            f("source_channel", Text),
            f("correlation_id", Text),
            f("request_id", Text),
            f("action", Text),
            f("before_json", Text),
            f("after_json", Text),
            f("detail_json", Text),
            f("attachments_json", Text),
            f("prev_hash", Text),
            f("ticket_prev_hash", Text),
            f("hash", Text),
            f("stream", Text),
        ],
        "seq",
        Tickets,
    ),
    kind(
        "audit_checkpoints",
        "audit_checkpoints",
        &[f("seq", Int), f("head_hash", Text), f("at_ms", Int), f("public_key", Text), f("signature", Text)],
        "seq",
        Never,
    ),
    Kind {
        file: "audit_keys",
        table: None,
        source: "(SELECT public_key, COUNT(*) AS checkpoints, MIN(seq) AS first_seq, MAX(seq) AS last_seq \
                 FROM audit_checkpoints GROUP BY public_key) k",
        fields: &[f("public_key", Text), f("checkpoints", Int), f("first_seq", Int), f("last_seq", Int)],
        order: "first_seq",
        of_customer: Never,
        load_with: &[],
    },
];

/// Tables an export leaves out, and why (a test holds every table to [`KINDS`] or this list).
pub const LEFT_OUT_TABLES: &[(&str, &str)] = &[
    ("counters", "derived from the tickets' and invoices' numbers"),
    ("state_transitions", "part of the schema"),
    ("audit_streams", "each stream's head, derived from its last audit event"),
    ("login_throttle", "short-lived sign-in throttling"),
    ("sessions", "sign-in sessions end with a move"),
    ("portal_links", "secrets (hashes) of customer links; send new links"),
    ("api_tokens", "secrets (hashes) of agent tokens; create new tokens"),
    ("idempotency_keys", "stored answers to retried calls, kept for a day"),
    ("uploads", "files uploaded but never attached"),
];

/// Columns of exported tables an export leaves out, and why.
pub const LEFT_OUT_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "password_hash", "a secret"),
    ("users", "session_epoch", "sessions end with a move"),
    ("technicians", "version", "a lock counter for concurrent bookings"),
];

pub fn by_file(file: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.file == file)
}

/// The query of `kind`'s rows; per customer with the customer's id as `$1`. None when the kind
/// is not part of a per-customer export.
pub fn select_sql(kind: &Kind, per_customer: bool) -> Option<String> {
    let columns: Vec<&str> = kind.fields.iter().map(|f| f.column).collect();
    let filter = match (per_customer, kind.of_customer) {
        (false, _) => String::new(),
        (true, Never) => return None,
        (true, Column(c)) => format!(" WHERE {c} = $1"),
        (true, Tickets) => " WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_id = $1)".to_string(),
    };
    Some(format!("SELECT {} FROM {}{filter} ORDER BY {}", columns.join(", "), kind.source, kind.order))
}

/// The rows of a query from [`select_sql`], streamed.
pub fn rows<'c>(
    conn: &'c mut AnyConnection,
    sql: &'c str,
    customer: Option<&'c str>,
) -> BoxStream<'c, Result<AnyRow, sqlx::Error>> {
    let mut q = sqlx::query(sql);
    if let Some(c) = customer {
        q = q.bind(c);
    }
    q.fetch(conn)
}

/// One row as its JSON line (without the line break), fields in the kind's order.
pub fn line(kind: &Kind, row: &AnyRow) -> Result<String, sqlx::Error> {
    let mut out = String::with_capacity(256);
    out.push('{');
    for (i, field) in kind.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(field.name));
        out.push(':');
        match field.ty {
            Text => match row.try_get::<Option<String>, _>(i)? {
                Some(s) => out.push_str(&json_string(&s)),
                None => out.push_str("null"),
            },
            Int => push_or_null(&mut out, row.try_get::<Option<i64>, _>(i)?),
            Float => match row.try_get::<Option<f64>, _>(i)? {
                Some(x) if x.is_finite() => out
                    .push_str(&serde_json::Number::from_f64(x).map(|n| n.to_string()).unwrap_or_else(|| "null".into())),
                _ => out.push_str("null"),
            },
            Bool => push_or_null(&mut out, row.try_get::<Option<i64>, _>(i)?.map(|v| v != 0)),
            Ty::Json => match row.try_get::<Option<String>, _>(i)? {
                Some(text) => out.push_str(&embedded_json(kind, field, &text)?),
                None => out.push_str("null"),
            },
        }
    }
    out.push('}');
    Ok(out)
}

fn push_or_null<T: std::fmt::Display>(out: &mut String, v: Option<T>) {
    match v {
        Some(v) => out.push_str(&v.to_string()),
        None => out.push_str("null"),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Stored JSON text as it is, so an import stores the same bytes; re-written on one line in
/// the unlikely case it spans several.
fn embedded_json(kind: &Kind, field: &Field, text: &str) -> Result<String, sqlx::Error> {
    let bad = |e: serde_json::Error| {
        sqlx::Error::Protocol(format!("{}.{} holds text that is not JSON: {e}", kind.file, field.name))
    };
    if text.contains(['\n', '\r']) {
        let v: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
        return Ok(v.to_string());
    }
    let raw = RawValue::from_string(text.to_string()).map_err(bad)?;
    Ok(raw.get().to_string())
}

/// A value ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
}

/// Fields added after exports already existed: an older export has none, and reads as null.
const ADDED_LATER: &[&str] = &["eta_late_reason"];

/// The cells of one line of `kind`, in its fields' order: every field must be there with its
/// type (null where the column may be empty), and nothing else.
pub fn cells(kind: &Kind, line: &str) -> Result<Vec<Cell>, String> {
    let map: HashMap<String, Box<RawValue>> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    if let Some(unknown) = map.keys().find(|k| !kind.fields.iter().any(|f| f.name == k.as_str())) {
        return Err(format!("unknown field {unknown}"));
    }
    kind.fields
        .iter()
        .map(|field| {
            let text = match map.get(field.name) {
                Some(raw) => raw.get(),
                None if ADDED_LATER.contains(&field.name) => "null",
                None => return Err(format!("field {} is missing", field.name)),
            };
            let wrong = |want: &str| format!("field {} must be {want}", field.name);
            Ok(match field.ty {
                Text => {
                    Cell::Text(serde_json::from_str::<Option<String>>(text).map_err(|_| wrong("a string or null"))?)
                }
                Int => {
                    Cell::Int(serde_json::from_str::<Option<i64>>(text).map_err(|_| wrong("a whole number or null"))?)
                }
                Float => Cell::Float(serde_json::from_str::<Option<f64>>(text).map_err(|_| wrong("a number or null"))?),
                Bool => Cell::Int(
                    serde_json::from_str::<Option<bool>>(text)
                        .map_err(|_| wrong("true, false or null"))?
                        .map(i64::from),
                ),
                Ty::Json => Cell::Text((text != "null").then(|| text.to_string())),
            })
        })
        .collect()
}

/// Rows per INSERT when an export is loaded.
pub const LOAD_BATCH: usize = 100;

/// Inserts rows of `kind` (each the [`cells`] of a line) in one statement.
pub async fn insert(conn: &mut AnyConnection, kind: &Kind, rows: &[Vec<Cell>]) -> Result<u64, sqlx::Error> {
    let Some(table) = kind.table else { return Ok(0) };
    if rows.is_empty() {
        return Ok(0);
    }
    let mut columns: Vec<&str> = kind.fields.iter().map(|f| f.column).collect();
    columns.extend(kind.load_with.iter().map(|(c, _)| *c));
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            sql.push_str(", ");
        }
        let mut values: Vec<String> = row
            .iter()
            .map(|_| {
                n += 1;
                format!("${n}")
            })
            .collect();
        values.extend(kind.load_with.iter().map(|(_, v)| (*v).to_string()));
        sql.push_str(&format!("({})", values.join(", ")));
    }
    let mut q = sqlx::query(&sql);
    for row in rows {
        for cell in row {
            q = match cell {
                Cell::Text(v) => q.bind(v.clone()),
                Cell::Int(v) => q.bind(*v),
                Cell::Float(v) => q.bind(*v),
            };
        }
    }
    Ok(q.execute(&mut *conn).await?.rows_affected())
}

/// The trigger that lets a ticket start only as a lead or in intake: an export holds tickets
/// in every state, so it is off while one is loaded (in the loading transaction only).
const NEW_TICKET_TRIGGER: &str = "tickets_initial_state";

/// Prepares an empty, migrated database, inside the loading transaction, to take an export's
/// rows: the checklist templates the migrations seeded make way for the export's, and the
/// new-ticket trigger is off. Returns what [`end_load`] needs to put it back.
pub async fn begin_load(conn: &mut AnyConnection, postgres: bool) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("DELETE FROM checklist_templates").execute(&mut *conn).await?;
    if postgres {
        sqlx::query(&format!("ALTER TABLE tickets DISABLE TRIGGER {NEW_TICKET_TRIGGER}")).execute(&mut *conn).await?;
        return Ok(None);
    }
    // SQLite cannot switch a trigger off; its definition is kept and it is made again (DDL is
    // transactional there, so a failed load leaves it as it was).
    let sql: Option<String> = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1")
        .bind(NEW_TICKET_TRIGGER)
        .fetch_optional(&mut *conn)
        .await?;
    sqlx::query(&format!("DROP TRIGGER IF EXISTS {NEW_TICKET_TRIGGER}")).execute(&mut *conn).await?;
    Ok(sql)
}

/// Puts back what [`begin_load`] took away, and derives what an export does not carry: the
/// ticket and invoice counters and the audit chain's head.
pub async fn end_load(conn: &mut AnyConnection, postgres: bool, trigger: Option<String>) -> Result<(), sqlx::Error> {
    if postgres {
        sqlx::query(&format!("ALTER TABLE tickets ENABLE TRIGGER {NEW_TICKET_TRIGGER}")).execute(&mut *conn).await?;
    } else if let Some(sql) = trigger {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }
    sqlx::query(
        "UPDATE counters SET value = (SELECT COALESCE(MAX(number), 0) FROM tickets) WHERE name = 'ticket_number'",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE counters SET value = (SELECT COALESCE(MAX(number), 0) FROM invoice_drafts) WHERE name = 'invoice_number'",
    )
    .execute(&mut *conn)
    .await?;
    crate::store::audit::rebuild_streams(conn).await?;
    if postgres {
        crate::store::backup::restart_sequences(conn).await?;
    }
    Ok(())
}

/// The columns of `table` as the database has them (for the test that holds [`KINDS`] to the
/// schema).
pub async fn columns_of(conn: &mut AnyConnection, table: &str, postgres: bool) -> Result<Vec<String>, sqlx::Error> {
    if postgres {
        sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await
    } else {
        sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(&mut *conn)
            .await
    }
}

/// The newest audit event (seq, hash); (0, "") for none.
pub async fn audit_head(conn: &mut AnyConnection) -> Result<(i64, String), sqlx::Error> {
    let row =
        sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *conn).await?;
    head(row)
}

/// The newest audit event of the customer's tickets (seq, hash); (0, "") for none.
pub async fn audit_head_of_customer(conn: &mut AnyConnection, customer_id: &str) -> Result<(i64, String), sqlx::Error> {
    let row = sqlx::query(
        "SELECT seq, hash FROM audit_events WHERE ticket_id IN (SELECT id FROM tickets WHERE customer_id = $1) \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await?;
    head(row)
}

fn head(row: Option<AnyRow>) -> Result<(i64, String), sqlx::Error> {
    match row {
        Some(r) => Ok((r.try_get("seq")?, r.try_get("hash")?)),
        None => Ok((0, String::new())),
    }
}

/// The rows of a table.
pub async fn count(conn: &mut AnyConnection, table: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *conn).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The newest migration the database has.
pub async fn schema_version(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_once_and_loads_into_its_table() {
        let mut files: Vec<&str> = KINDS.iter().map(|k| k.file).collect();
        files.sort();
        files.dedup();
        assert_eq!(files.len(), KINDS.len());
        for k in KINDS {
            let mut names: Vec<&str> = k.fields.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), k.fields.len(), "{}", k.file);
        }
    }

    #[test]
    fn the_documentation_describes_every_file_and_field() {
        let doc = include_str!("../../../../docs/export-format.md");
        for k in KINDS {
            let head = format!("### `{}.jsonl`", k.file);
            let at = doc.find(&head).unwrap_or_else(|| panic!("{} is not in docs/export-format.md", k.file));
            let section = &doc[at + head.len()..];
            let section = &section[..section.find("\n### ").unwrap_or(section.len())];
            for f in k.fields {
                assert!(section.contains(&format!("| `{}` |", f.name)), "{}.{} is not documented", k.file, f.name);
            }
            let full_only = section.lines().next().unwrap_or_default().contains("(full only)");
            assert_eq!(full_only, k.of_customer == Never, "{}: marked full only or not, as it is", k.file);
        }
    }

    #[test]
    fn a_per_customer_query_narrows_to_the_customer() {
        let tickets = by_file("tickets").expect("tickets");
        assert!(select_sql(tickets, true).expect("sql").contains("WHERE customer_id = $1"));
        let notes = by_file("notes").expect("notes");
        assert!(select_sql(notes, true)
            .expect("sql")
            .contains("ticket_id IN (SELECT id FROM tickets WHERE customer_id = $1)"));
        assert_eq!(select_sql(by_file("technicians").expect("techs"), true), None);
        assert!(!select_sql(notes, false).expect("sql").contains("WHERE"));
    }

    #[test]
    fn a_line_loads_back_into_its_cells() {
        let techs = by_file("technicians").expect("techs");
        let line = r#"{"id":"tec_1","name":"Sam","phone":null,"email":null,"skills":["hvac"],"zone":"north","working_hours":[[],[[480,1020]]],"active":true,"created_at_ms":5}"#;
        let got = cells(techs, line).expect("cells");
        assert_eq!(got[4], Cell::Text(Some(r#"["hvac"]"#.into())));
        assert_eq!(got[6], Cell::Text(Some("[[],[[480,1020]]]".into())), "JSON text exactly as written");
        assert_eq!(got[7], Cell::Int(Some(1)));
        assert!(cells(techs, &line.replace("\"zone\"", "\"area\"")).is_err_and(|e| e.contains("area")));
        assert!(cells(techs, &line.replace(",\"created_at_ms\":5", "")).is_err_and(|e| e.contains("created_at_ms")));
        assert!(cells(techs, &line.replace("\"created_at_ms\":5", "\"created_at_ms\":\"5\"")).is_err());
    }
}
