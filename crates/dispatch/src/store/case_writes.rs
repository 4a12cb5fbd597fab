//! What an action can write to its case, typed: ticket fields set by the compare-and-swap, and
//! new rows staged to run with it (on SQLite in the same round trip). Writes whose answer the
//! action needs before it decides (a counter, a row that must have changed) run at once.

use crate::error::ServiceError;
use crate::store::case_store::serde_name;
use crate::store::case_tx::{Bind, CaseTx, SetValue};
use domain::case::{AttachmentKind, NoteKind, PaymentKind};
use domain::commands::Direction;
use domain::window::TimeWindow;
use domain::{Priority, SourceChannel};

/// A message on the case's thread.
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub direction: Direction,
    pub channel: SourceChannel,
    pub sender: Option<&'a str>,
    pub text: &'a str,
    pub author: &'a str,
}

/// An attachment's row (its blobs are already stored).
pub struct NewAttachment<'a> {
    pub id: &'a str,
    pub kind: AttachmentKind,
    pub sha256: &'a str,
    pub size: i64,
    pub content_type: &'a str,
    pub filename: Option<&'a str>,
    pub blob_key: &'a str,
    pub thumb_key: Option<&'a str>,
    pub view_key: Option<&'a str>,
    pub uploaded_by: &'a str,
}

/// A labor line.
pub struct NewLabor<'a> {
    pub id: &'a str,
    pub technician_id: Option<&'a str>,
    pub description: &'a str,
    pub minutes: i64,
    pub rate_cents: i64,
    pub amount_cents: i64,
}

/// A part line.
pub struct NewPart<'a> {
    pub id: &'a str,
    pub sku: Option<&'a str>,
    pub description: &'a str,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
}

/// An invoice draft's lines and totals.
pub struct InvoiceTotals<'a> {
    pub lines_json: &'a str,
    pub subtotal_cents: i64,
    pub tax_rate_bp: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
}

fn text(v: Option<&str>) -> Bind {
    Bind::Text(v.map(str::to_string))
}

impl CaseTx {
    pub fn set_priority(&mut self, priority: Priority) {
        self.set("priority", SetValue::Text(Some(priority.as_str().to_string())));
    }

    pub fn set_flag(&mut self, flag: Option<domain::case::TicketFlag>) {
        self.set("flag", SetValue::Text(flag.map(|f| f.as_str().to_string())));
    }

    pub fn set_cancel_reason(&mut self, reason: &str) {
        self.set("cancel_reason", SetValue::Text(Some(reason.to_string())));
    }

    pub fn set_eta(&mut self, eta_ms: i64, note: Option<String>, late_reason: Option<String>) {
        self.set("eta_ms", SetValue::Int(Some(eta_ms)));
        self.set("eta_note", SetValue::Text(note));
        self.set("eta_late_reason", SetValue::Text(late_reason));
        self.set("eta_set_at_ms", SetValue::Int(Some(self.now)));
    }

    /// No arrival time (the job moved to another window).
    pub fn clear_eta(&mut self) {
        self.set("eta_ms", SetValue::Int(None));
        self.set("eta_note", SetValue::Text(None));
        self.set("eta_late_reason", SetValue::Text(None));
        self.set("eta_set_at_ms", SetValue::Int(None));
    }

    /// The technician on the ticket (and on its active appointment, when given).
    pub fn assign(&mut self, technician_id: &str, appointment_id: Option<&str>) {
        self.set("assigned_tech_id", SetValue::Text(Some(technician_id.to_string())));
        self.set("assigned_at_ms", SetValue::Int(Some(self.now)));
        if let Some(appointment) = appointment_id {
            self.stage(
                "UPDATE appointments SET technician_id = $1 WHERE id = $2",
                vec![technician_id.into(), appointment.into()],
            );
        }
    }

    /// A new active appointment in place of the old one.
    pub fn book(&mut self, appointment_id: &str, technician_id: Option<&str>, window: TimeWindow) {
        let ticket = self.before.id.clone();
        self.stage(
            "UPDATE appointments SET status = 'superseded' WHERE ticket_id = $1 AND status = 'active'",
            vec![ticket.as_str().into()],
        );
        let binds = vec![
            appointment_id.into(),
            ticket.into(),
            text(technician_id),
            window.start_ms.into(),
            window.end_ms.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO appointments (id, ticket_id, technician_id, start_ms, end_ms, status, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6)",
            binds,
        );
    }

    /// A canceled job frees its technician's time.
    pub fn cancel_appointments(&mut self) {
        let ticket = self.before.id.clone();
        self.stage(
            "UPDATE appointments SET status = 'canceled' WHERE ticket_id = $1 AND status = 'active'",
            vec![ticket.into()],
        );
    }

    pub fn add_message(&mut self, m: &NewMessage<'_>) {
        let binds = vec![
            m.id.into(),
            self.before.id.as_str().into(),
            m.direction.as_str().into(),
            m.channel.as_str().into(),
            text(m.sender),
            m.text.into(),
            m.author.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO messages (id, ticket_id, direction, channel, sender, body, author, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            binds,
        );
        self.set("message_count", SetValue::Expr("message_count + 1"));
        self.set("last_message_at_ms", SetValue::Int(Some(self.now)));
    }

    pub fn add_note(&mut self, id: &str, kind: NoteKind, body: &str, author: &str) {
        let binds = vec![
            id.into(),
            self.before.id.as_str().into(),
            serde_name(&kind).into(),
            body.into(),
            author.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO notes (id, ticket_id, kind, body, author, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            binds,
        );
        self.collections_changed = true;
    }

    pub fn add_attachment(&mut self, a: &NewAttachment<'_>) {
        let binds = vec![
            a.id.into(),
            self.before.id.as_str().into(),
            serde_name(&a.kind).into(),
            a.sha256.into(),
            a.size.into(),
            a.content_type.into(),
            text(a.filename),
            a.blob_key.into(),
            text(a.thumb_key),
            text(a.view_key),
            a.uploaded_by.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO attachments (id, ticket_id, kind, sha256, size, content_type, filename, blob_key, thumb_key, \
             view_key, uploaded_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            binds,
        );
        self.collections_changed = true;
    }

    /// Marks the caller's upload used; false when it is unknown, someone else's or used.
    pub async fn use_upload(&mut self, upload_id: &str, owner_id: &str) -> Result<bool, ServiceError> {
        let used =
            sqlx::query("UPDATE uploads SET used_at_ms = $1 WHERE id = $2 AND owner_id = $3 AND used_at_ms IS NULL")
                .bind(self.now)
                .bind(upload_id)
                .bind(owner_id)
                .execute(&mut *self.tx)
                .await?;
        Ok(used.rows_affected() == 1)
    }

    /// Ticks checklist items in one statement (items already done keep who and when).
    pub fn tick_checklist(&mut self, keys: &[String], by: &str) {
        if keys.is_empty() {
            return;
        }
        let params: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "UPDATE checklist_items SET done_at_ms = $1, done_by = $2 WHERE ticket_id = $3 AND done_at_ms IS NULL \
             AND item_key IN ({})",
            params.join(", ")
        );
        let mut binds = vec![self.now.into(), by.into(), self.before.id.as_str().into()];
        binds.extend(keys.iter().map(|k| Bind::from(k.as_str())));
        self.stage(sql, binds);
        self.collections_changed = true;
    }

    /// Marks items not done again (ticked by mistake); the audit event shows each one's
    /// before and after, as for a tick.
    pub fn untick_checklist(&mut self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let params: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE checklist_items SET done_at_ms = NULL, done_by = NULL WHERE ticket_id = $1 \
             AND done_at_ms IS NOT NULL AND item_key IN ({})",
            params.join(", ")
        );
        let mut binds = vec![Bind::from(self.before.id.as_str())];
        binds.extend(keys.iter().map(|k| Bind::from(k.as_str())));
        self.stage(sql, binds);
        self.collections_changed = true;
    }

    pub fn add_labor(&mut self, l: &NewLabor<'_>) {
        let binds = vec![
            l.id.into(),
            self.before.id.as_str().into(),
            text(l.technician_id),
            l.description.into(),
            l.minutes.into(),
            l.rate_cents.into(),
            l.amount_cents.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO labor_lines (id, ticket_id, technician_id, description, minutes, rate_cents, amount_cents, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            binds,
        );
        self.collections_changed = true;
    }

    pub fn add_part(&mut self, p: &NewPart<'_>) {
        let binds = vec![
            p.id.into(),
            self.before.id.as_str().into(),
            text(p.sku),
            p.description.into(),
            p.quantity.into(),
            p.unit_price_cents.into(),
            p.amount_cents.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO part_lines (id, ticket_id, sku, description, quantity, unit_price_cents, amount_cents, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            binds,
        );
        self.collections_changed = true;
    }

    /// The invoice draft, numbered by the counter as it is written. Invoice numbers are
    /// gap-free, so the counter's row is held until the commit: taking the number in the
    /// draft's own write, after the ticket's swap, keeps that hold (which other tickets'
    /// drafts wait on) to the last few statements of the action.
    pub fn add_invoice_draft(&mut self, id: &str, t: &InvoiceTotals<'_>) {
        let binds = vec![
            id.into(),
            self.before.id.as_str().into(),
            t.lines_json.into(),
            t.subtotal_cents.into(),
            t.tax_rate_bp.into(),
            t.tax_cents.into(),
            t.total_cents.into(),
            self.now.into(),
        ];
        // The draft's row, with its number read from the counter row the statement names.
        macro_rules! draft_from {
            () => {
                "INSERT INTO invoice_drafts (id, ticket_id, number, lines_json, subtotal_cents, tax_rate_bp, tax_cents, \
                 total_cents, created_at_ms) SELECT $1, $2, value, $3, $4, $5, $6, $7, $8 FROM "
            };
        }
        match self.backend() {
            // One statement: the counter's update rides as a data-modifying WITH.
            crate::db::Backend::Postgres => self.stage(
                concat!(
                    "WITH n AS (UPDATE counters SET value = value + 1 WHERE name = 'invoice_number' RETURNING value) ",
                    draft_from!(),
                    "n"
                ),
                binds,
            ),
            // The writer is alone: the draft reads the counter it has just moved.
            crate::db::Backend::Sqlite => {
                self.stage("UPDATE counters SET value = value + 1 WHERE name = 'invoice_number'", vec![]);
                self.stage(concat!(draft_from!(), "counters WHERE name = 'invoice_number'"), binds);
            }
        }
    }

    pub fn replace_invoice_lines(&mut self, invoice_id: &str, t: &InvoiceTotals<'_>) {
        let binds = vec![
            t.lines_json.into(),
            t.subtotal_cents.into(),
            t.tax_rate_bp.into(),
            t.tax_cents.into(),
            t.total_cents.into(),
            invoice_id.into(),
        ];
        self.stage(
            "UPDATE invoice_drafts SET lines_json = $1, subtotal_cents = $2, tax_rate_bp = $3, tax_cents = $4, total_cents = $5 \
             WHERE id = $6",
            binds,
        );
        self.collections_changed = true;
    }

    pub fn add_payment(&mut self, id: &str, kind: PaymentKind, amount_cents: i64, due_ms: Option<i64>, by: &str) {
        let binds = vec![
            id.into(),
            self.before.id.as_str().into(),
            serde_name(&kind).into(),
            amount_cents.into(),
            due_ms.into(),
            by.into(),
            self.now.into(),
        ];
        self.stage(
            "INSERT INTO payments (id, ticket_id, kind, amount_cents, due_ms, recorded_by, recorded_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            binds,
        );
    }
}
