//! Typed inputs of every action beyond `ticket.create`, with validation. Inputs name the ticket
//! and may carry `expected_version`: when present, the action fails with `CONFLICT` unless the
//! case is still at that version (the caller acted on what it saw, or not at all).

use crate::actor::SourceChannel;
use crate::case::{AttachmentKind, NoteKind, PaymentKind};
use crate::error::{DomainError, FieldError};
use crate::money::Money;
use crate::priority::Priority;
use crate::validate::{optional_text, required_text};
use crate::window::{TimeWindow, DAY_MS, HOUR_MS, MINUTE_MS};
use serde::{Deserialize, Serialize};

pub const MAX_MESSAGE: usize = 8_000;
pub const MAX_NOTE: usize = 8_000;
pub const MAX_REASON: usize = 500;

fn check(errors: Vec<FieldError>) -> Result<(), DomainError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

fn require_ticket(errors: &mut Vec<FieldError>, id: &str) {
    if id.trim().is_empty() || id.len() > 64 {
        errors.push(FieldError::new("ticket_id", "required", "the id of the ticket (tkt_...)"));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer.
    Outbound,
    /// Between staff and agents only.
    Internal,
}

impl Direction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Internal => "internal",
        }
    }
}

/// `ticket.add_message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMessage {
    pub ticket_id: String,
    pub direction: Direction,
    /// Defaults to the call's source channel.
    #[serde(default)]
    pub channel: Option<SourceChannel>,
    /// Who wrote it, as the channel knows them (phone number, e-mail, agent name).
    #[serde(default)]
    pub sender: Option<String>,
    pub text: String,
}

impl AddMessage {
    pub fn validate(&self) -> Result<String, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        let text = required_text("text", Some(&self.text), MAX_MESSAGE, &mut errors);
        optional_text("sender", self.sender.as_deref(), 200, &mut errors);
        check(errors)?;
        Ok(text.unwrap_or_default())
    }
}

/// `ticket.set_priority`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPriority {
    pub ticket_id: String,
    pub priority: Priority,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// `schedule.propose_slots`: candidate appointments, computed, not booked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeSlots {
    pub ticket_id: String,
    /// Search from (default: now); unix ms.
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Search until (default: 7 days after `from_ms`, at most 31 days).
    #[serde(default)]
    pub to_ms: Option<i64>,
    /// Job length (default 120 minutes).
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// How many slots (default 5, at most 20).
    #[serde(default)]
    pub max_slots: Option<usize>,
}

pub struct ValidProposeSlots {
    pub range: TimeWindow,
    pub duration_ms: i64,
    pub max_slots: usize,
}

impl ProposeSlots {
    pub fn validate(&self, now_ms: i64) -> Result<ValidProposeSlots, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        let from = self.from_ms.unwrap_or(now_ms).max(now_ms);
        if from > now_ms.saturating_add(366 * DAY_MS) {
            errors.push(FieldError::new("from_ms", "out_of_range", "at most a year ahead"));
        }
        let to = self.to_ms.unwrap_or(from.saturating_add(7 * DAY_MS));
        let range = TimeWindow::parse("to_ms", from, to, 31 * DAY_MS).map_err(|e| errors.push(e)).ok();
        let minutes = self.duration_minutes.unwrap_or(120);
        if !(15..=12 * 60).contains(&minutes) {
            errors.push(FieldError::new("duration_minutes", "out_of_range", "between 15 and 720 minutes"));
        }
        let max_slots = self.max_slots.unwrap_or(5);
        if !(1..=20).contains(&max_slots) {
            errors.push(FieldError::new("max_slots", "out_of_range", "between 1 and 20"));
        }
        check(errors)?;
        let range = range.ok_or_else(|| DomainError::Invalid(vec![]))?;
        Ok(ValidProposeSlots { range, duration_ms: minutes * MINUTE_MS, max_slots })
    }
}

/// `schedule.confirm`: books an appointment (intake -> scheduled, or a reschedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSlot {
    pub ticket_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The technician the slot was proposed with; held for the booking.
    #[serde(default)]
    pub technician_id: Option<String>,
    /// Required to move an existing appointment: without it, a second confirm is a conflict.
    #[serde(default)]
    pub reschedule: bool,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

impl ConfirmSlot {
    pub fn validate(&self, now_ms: i64) -> Result<TimeWindow, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        let w = TimeWindow::parse("end_ms", self.start_ms, self.end_ms, 12 * HOUR_MS).map_err(|e| errors.push(e)).ok();
        if self.start_ms < now_ms - 15 * MINUTE_MS {
            errors.push(FieldError::new("start_ms", "in_the_past", "the appointment must start in the future"));
        }
        check(errors)?;
        w.ok_or_else(|| DomainError::Invalid(vec![]))
    }
}

/// `dispatch.assign_tech`: scheduled -> dispatched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTech {
    pub ticket_id: String,
    pub technician_id: String,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// `dispatch.set_eta`: the arrival time as an instant (unix milliseconds). It must fall in the
/// booked window; one after the window needs `late_reason` ("running late"), which the
/// customer is told; one before it is refused (`ETA_OUTSIDE_WINDOW`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEta {
    pub ticket_id: String,
    pub eta_ms: i64,
    #[serde(default)]
    pub note: Option<String>,
    /// Why the technician is running late: required for an ETA after the booked window.
    #[serde(default)]
    pub late_reason: Option<String>,
}

/// A valid [`SetEta`]'s trimmed texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtaTexts {
    pub note: Option<String>,
    pub late_reason: Option<String>,
}

impl SetEta {
    pub fn validate(&self, now_ms: i64) -> Result<EtaTexts, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if self.eta_ms < now_ms - HOUR_MS || self.eta_ms > now_ms + 14 * DAY_MS {
            errors.push(FieldError::new(
                "eta_ms",
                "out_of_range",
                "an arrival time between an hour ago and 14 days ahead",
            ));
        }
        let note = optional_text("note", self.note.as_deref(), MAX_REASON, &mut errors);
        let late_reason = optional_text("late_reason", self.late_reason.as_deref(), MAX_REASON, &mut errors);
        check(errors)?;
        Ok(EtaTexts { note, late_reason })
    }
}

/// `closeout.add_photo`: exactly one of `content_base64` (≤ 10 MiB decoded) or `upload_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPhoto {
    pub ticket_id: String,
    pub kind: AttachmentKind,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub content_base64: Option<String>,
    #[serde(default)]
    pub upload_id: Option<String>,
}

/// `closeout.add_note`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNote {
    pub ticket_id: String,
    #[serde(default = "default_note_kind")]
    pub kind: NoteKind,
    pub text: String,
}

fn default_note_kind() -> NoteKind {
    NoteKind::Note
}

impl AddNote {
    pub fn validate(&self) -> Result<String, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        let text = required_text("text", Some(&self.text), MAX_NOTE, &mut errors);
        check(errors)?;
        Ok(text.unwrap_or_default())
    }
}

/// `closeout.checklist_complete`: marks checklist items done (or, named in `untick`, not done
/// after all), and with `finalize` submits the closeout (work_performed -> closeout_ready) once
/// every evidence gate is met.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistComplete {
    pub ticket_id: String,
    #[serde(default)]
    pub items: Vec<String>,
    /// Items ticked by mistake: marked not done again.
    #[serde(default)]
    pub untick: Vec<String>,
    #[serde(default)]
    pub finalize: bool,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

impl ChecklistComplete {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if self.items.is_empty() && self.untick.is_empty() && !self.finalize {
            errors.push(FieldError::new("items", "required", "name the checklist items done, or set finalize"));
        }
        if self.items.len() + self.untick.len() > 100 {
            errors.push(FieldError::new("items", "too_many", "at most 100 items per call"));
        }
        if self.untick.iter().any(|k| self.items.contains(k)) {
            errors.push(FieldError::new("untick", "conflict", "an item cannot be ticked and unticked in one call"));
        }
        check(errors)
    }
}

/// `billing.generate_invoice_draft` and `billing.compile_closeout_packet`: the ticket alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRef {
    pub ticket_id: String,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// One line of an edited invoice draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineInput {
    pub description: String,
    /// Free text shown beside the line (`1.50 h`, `2`); defaults to `1`.
    #[serde(default)]
    pub quantity: Option<String>,
    /// The line's amount in cents; negative for a discount or credit.
    pub amount_cents: i64,
}

/// `billing.edit_invoice_draft` (operator action): replaces the draft's lines and, if given,
/// its tax rate, before the invoice goes out with the closeout packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditInvoiceDraft {
    pub ticket_id: String,
    pub lines: Vec<InvoiceLineInput>,
    /// Basis points (825 = 8.25 %); omitted keeps the draft's rate.
    #[serde(default)]
    pub tax_rate_bp: Option<i64>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

pub const MAX_INVOICE_LINES: usize = 100;
pub const MAX_TAX_RATE_BP: i64 = 5_000;

impl EditInvoiceDraft {
    /// The cleaned lines, or every problem with the input at once.
    pub fn validate(&self) -> Result<Vec<crate::case::InvoiceLine>, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if self.lines.is_empty() || self.lines.len() > MAX_INVOICE_LINES {
            errors.push(FieldError::new("lines", "out_of_range", format!("1 to {MAX_INVOICE_LINES} lines")));
        }
        if let Some(bp) = self.tax_rate_bp {
            if !(0..=MAX_TAX_RATE_BP).contains(&bp) {
                errors.push(FieldError::new("tax_rate_bp", "out_of_range", "0 to 5000 basis points (0 to 50 %)"));
            }
        }
        let mut lines = vec![];
        for (i, l) in self.lines.iter().enumerate() {
            let description = required_text(&format!("lines[{i}].description"), Some(&l.description), 200, &mut errors);
            let quantity = optional_text(&format!("lines[{i}].quantity"), l.quantity.as_deref(), 24, &mut errors);
            if !(-crate::money::MAX_CENTS..=crate::money::MAX_CENTS).contains(&l.amount_cents) {
                errors.push(FieldError::new(
                    &format!("lines[{i}].amount_cents"),
                    "out_of_range",
                    format!("between -{0} and {0} cents", crate::money::MAX_CENTS),
                ));
            }
            lines.push(crate::case::InvoiceLine {
                description: description.unwrap_or_default(),
                quantity: quantity.unwrap_or_else(|| "1".into()),
                amount_cents: l.amount_cents,
            });
        }
        check(errors)?;
        Ok(lines)
    }
}

/// `job.check_in`, `job.complete_work` (technician actions).
pub type JobRef = TicketRef;

/// `ticket.cancel` (operator action).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelTicket {
    pub ticket_id: String,
    pub reason: String,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

impl CancelTicket {
    pub fn validate(&self) -> Result<String, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        let reason = required_text("reason", Some(&self.reason), MAX_REASON, &mut errors);
        check(errors)?;
        Ok(reason.unwrap_or_default())
    }
}

/// `billing.record_payment` (operator action): invoice_ready -> paid_or_ar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPayment {
    pub ticket_id: String,
    pub kind: PaymentKind,
    /// Defaults to the invoice total.
    #[serde(default)]
    pub amount_cents: Option<i64>,
    /// Required for accounts receivable.
    #[serde(default)]
    pub due_ms: Option<i64>,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

impl RecordPayment {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if let Some(a) = self.amount_cents {
            if let Err(e) = Money::from_input("amount_cents", a) {
                errors.push(e);
            }
        }
        if let Some(due) = self.due_ms {
            if let Err(e) = crate::window::instant("due_ms", due) {
                errors.push(e);
            }
        }
        match (self.kind, self.due_ms) {
            (PaymentKind::Ar, None) => {
                errors.push(FieldError::new("due_ms", "required", "accounts receivable needs a due date"))
            }
            (PaymentKind::Paid, Some(_)) => {
                errors.push(FieldError::new("due_ms", "not_allowed", "a paid invoice has no due date"))
            }
            _ => {}
        }
        check(errors)
    }
}

/// `job.record_labor` (technician or operator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordLabor {
    pub ticket_id: String,
    pub minutes: i64,
    pub description: String,
    /// Defaults to the shop's labor rate.
    #[serde(default)]
    pub rate_cents: Option<i64>,
}

impl RecordLabor {
    pub fn validate(&self) -> Result<String, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if !(1..=24 * 60).contains(&self.minutes) {
            errors.push(FieldError::new("minutes", "out_of_range", "between 1 and 1440 minutes"));
        }
        if let Some(r) = self.rate_cents {
            if let Err(e) = Money::from_input("rate_cents", r) {
                errors.push(e);
            }
        }
        let d = required_text("description", Some(&self.description), 500, &mut errors);
        check(errors)?;
        Ok(d.unwrap_or_default())
    }
}

/// `job.record_part` (technician or operator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPart {
    pub ticket_id: String,
    #[serde(default)]
    pub sku: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

impl RecordPart {
    pub fn validate(&self) -> Result<String, DomainError> {
        let mut errors = vec![];
        require_ticket(&mut errors, &self.ticket_id);
        if !(1..=10_000).contains(&self.quantity) {
            errors.push(FieldError::new("quantity", "out_of_range", "between 1 and 10000"));
        }
        if let Err(e) = Money::from_input("unit_price_cents", self.unit_price_cents) {
            errors.push(e);
        }
        optional_text("sku", self.sku.as_deref(), 64, &mut errors);
        let d = required_text("description", Some(&self.description), 500, &mut errors);
        check(errors)?;
        Ok(d.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_edits_name_every_bad_field_and_survive_extreme_numbers() {
        let line = |d: &str, a: i64| InvoiceLineInput { description: d.into(), quantity: None, amount_cents: a };
        let edit = |lines, tax| EditInvoiceDraft {
            ticket_id: "tkt_1".into(),
            lines,
            tax_rate_bp: tax,
            expected_version: None,
        };
        let Err(DomainError::Invalid(errors)) =
            edit(vec![line("", i64::MIN), line("ok", i64::MAX)], Some(-1)).validate()
        else {
            panic!("refused")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tax_rate_bp", "lines[0].description", "lines[0].amount_cents", "lines[1].amount_cents"]);
        let lines = edit(vec![line(" Service call ", 5_000), line("Discount", -500)], None).validate().expect("valid");
        assert_eq!((lines[0].description.as_str(), lines[0].quantity.as_str()), ("Service call", "1"));
        assert_eq!(lines[1].amount_cents, -500);
    }

    #[test]
    fn payments_need_a_due_date_only_for_ar() {
        let p = |kind, due| RecordPayment {
            ticket_id: "tkt_1".into(),
            kind,
            amount_cents: None,
            due_ms: due,
            expected_version: None,
        };
        assert!(p(PaymentKind::Paid, None).validate().is_ok());
        let due = 20_030 * DAY_MS;
        assert!(p(PaymentKind::Ar, Some(due)).validate().is_ok());
        assert!(p(PaymentKind::Ar, None).validate().is_err());
        assert!(p(PaymentKind::Paid, Some(due)).validate().is_err());
        for nonsense in [i64::MIN, -1, 5, i64::MAX] {
            assert!(p(PaymentKind::Ar, Some(nonsense)).validate().is_err(), "{nonsense}");
        }
    }

    #[test]
    fn slots_query_defaults_and_bounds() {
        let now = 20_000 * DAY_MS; // 2024-10-04
        let q = ProposeSlots { ticket_id: "tkt_1".into(), ..Default::default() };
        let v = q.validate(now).expect("valid");
        assert_eq!(
            (v.range.start_ms, v.range.end_ms, v.duration_ms, v.max_slots),
            (now, now + 7 * DAY_MS, 120 * MINUTE_MS, 5)
        );
        let q = ProposeSlots {
            ticket_id: "tkt_1".into(),
            to_ms: Some(now + 40 * DAY_MS),
            max_slots: Some(0),
            ..Default::default()
        };
        let DomainError::Invalid(errs) = q.validate(now).err().expect("invalid") else { panic!() };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["to_ms", "max_slots"]);
    }

    #[test]
    fn extreme_times_are_errors_not_overflows() {
        let now = 20_000 * DAY_MS; // 2024-10-04
        let q = ProposeSlots { ticket_id: "tkt_1".into(), from_ms: Some(i64::MAX - 1), ..Default::default() };
        assert!(q.validate(now).is_err());
        let q = ProposeSlots { ticket_id: "tkt_1".into(), to_ms: Some(i64::MIN), ..Default::default() };
        assert!(q.validate(now).is_err());
        let c = ConfirmSlot {
            ticket_id: "t".into(),
            start_ms: i64::MAX,
            end_ms: i64::MIN,
            technician_id: None,
            reschedule: false,
            expected_version: None,
        };
        assert!(c.validate(now).is_err());
        let e = SetEta { ticket_id: "t".into(), eta_ms: i64::MIN, note: None, late_reason: None };
        assert!(e.validate(now).is_err());
    }

    #[test]
    fn confirm_rejects_past_and_inverted_windows() {
        let now = 20_000 * DAY_MS; // 2024-10-04
        let c = |s, e| ConfirmSlot {
            ticket_id: "tkt_1".into(),
            start_ms: s,
            end_ms: e,
            technician_id: None,
            reschedule: false,
            expected_version: None,
        };
        assert!(c(now + HOUR_MS, now + 3 * HOUR_MS).validate(now).is_ok());
        assert!(c(now - DAY_MS, now - DAY_MS + HOUR_MS).validate(now).is_err());
        assert!(c(now + 3 * HOUR_MS, now + HOUR_MS).validate(now).is_err());
        assert!(c(now + HOUR_MS, now + 20 * HOUR_MS).validate(now).is_err());
    }

    #[test]
    fn text_inputs_are_bounded() {
        let m = AddMessage {
            ticket_id: "tkt_1".into(),
            direction: Direction::Inbound,
            channel: None,
            sender: None,
            text: "x".repeat(MAX_MESSAGE + 1),
        };
        assert!(m.validate().is_err());
        let n = AddNote { ticket_id: "".into(), kind: NoteKind::Note, text: "ok".into() };
        assert!(n.validate().is_err());
        assert!(CancelTicket { ticket_id: "tkt_1".into(), reason: " ".into(), expected_version: None }
            .validate()
            .is_err());
        assert!(RecordPart {
            ticket_id: "t".into(),
            sku: None,
            description: "Valve".into(),
            quantity: 0,
            unit_price_cents: 5
        }
        .validate()
        .is_err());
        assert!(RecordLabor { ticket_id: "t".into(), minutes: 30, description: "Diagnose".into(), rate_cents: None }
            .validate()
            .is_ok());
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    #[test]
    fn input_schemas_are_generated_from_the_types() {
        let schema = serde_json::to_value(schemars::schema_for!(ConfirmSlot)).expect("schema");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        let required: Vec<&str> =
            schema["required"].as_array().expect("required").iter().filter_map(|v| v.as_str()).collect();
        assert_eq!(required, ["ticket_id", "start_ms", "end_ms"]);
        assert_eq!(schema["properties"]["reschedule"]["type"], "boolean");
        let create = serde_json::to_value(schemars::schema_for!(crate::CreateTicket)).expect("schema");
        assert_eq!(create["required"], serde_json::json!(["customer"]));
        let kinds = serde_json::to_value(schemars::schema_for!(AddPhoto)).expect("schema");
        assert!(kinds.to_string().contains("\"after\""), "{kinds}");
    }
}

/// A time as unix milliseconds or an RFC 3339 string (`2026-11-23T15:04:05Z`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TimeInput {
    UnixMs(i64),
    Rfc3339(String),
}

/// `POST /tools/v1/inbound`: one message as a channel delivered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    pub channel: SourceChannel,
    /// The channel's own id of the message; a second delivery with the same id is a duplicate.
    pub provider_message_id: String,
    /// Sender: a phone number or e-mail address finds the customer.
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub text: String,
    pub received_at: TimeInput,
    /// The provider's payload, kept verbatim.
    #[serde(default)]
    pub raw: serde_json::Value,
    /// The conversation it arrived in (the OpenClaw session key): bound to the ticket the
    /// message is attached to, so the agents' later turns in it find their case.
    #[serde(default)]
    pub conversation: Option<String>,
}

/// `ticket.book`: a proposed slot and its technician, booked and assigned in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BookSlot {
    pub ticket_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The technician the slot was proposed with: booked and assigned.
    pub technician_id: String,
    /// Required to move an existing appointment.
    #[serde(default)]
    pub reschedule: bool,
    #[serde(default)]
    pub expected_version: Option<i64>,
}

impl BookSlot {
    /// The booking as `schedule.confirm` validates it.
    pub fn as_confirm(&self) -> ConfirmSlot {
        ConfirmSlot {
            ticket_id: self.ticket_id.clone(),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            technician_id: Some(self.technician_id.clone()),
            reschedule: self.reschedule,
            expected_version: self.expected_version,
        }
    }
}

/// `portal.create_link`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    pub ticket_id: String,
    /// Hours until the link stops working (default 72, at most 720).
    #[serde(default)]
    pub ttl_hours: Option<u32>,
}

/// `portal.revoke_link`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeLink {
    pub link_id: String,
}
