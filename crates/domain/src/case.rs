//! The canonical case: what every action returns and every surface shows.

use crate::actor::SourceChannel;
use crate::priority::Priority;
use crate::state::CaseState;
use crate::window::TimeWindow;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    pub id: String,
    /// Human ticket number, `RD-000123`.
    pub number: String,
    pub state: CaseState,
    pub priority: Priority,
    pub problem_summary: Option<String>,
    /// Trade or skill needed; also selects the closeout checklist template.
    pub trade: Option<String>,
    pub requested_window: Option<TimeWindow>,
    pub customer: CustomerView,
    /// Who called about this ticket when it is not the customer on file (a tenant, a
    /// partner). Left out when unset, so cases recorded before contacts existed replay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactPerson>,
    pub site: Option<SiteView>,
    pub appointment: Option<Appointment>,
    pub assignment: Option<Assignment>,
    pub eta: Option<Eta>,
    pub checklist: Vec<ChecklistItem>,
    pub notes: Vec<Note>,
    pub attachments: Vec<Attachment>,
    pub labor: Vec<LaborLine>,
    pub parts: Vec<PartLine>,
    pub invoice: Option<InvoiceDraft>,
    pub packet: Option<PacketRef>,
    pub payment: Option<Payment>,
    pub cancel_reason: Option<String>,
    /// A mark the office put on the ticket (VIP, complaint): agents' steps on it wait for a
    /// person. Left out when unmarked, so cases recorded before marks existed replay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<TicketFlag>,
    pub message_count: i64,
    pub last_message_at_ms: Option<i64>,
    /// Compare-and-swap version: every committed change increments it.
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A mark on a ticket that asks for a person's care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketFlag {
    Vip,
    Complaint,
}

impl TicketFlag {
    pub const ALL: [TicketFlag; 2] = [TicketFlag::Vip, TicketFlag::Complaint];

    pub const fn as_str(self) -> &'static str {
        match self {
            TicketFlag::Vip => "vip",
            TicketFlag::Complaint => "complaint",
        }
    }

    /// As the office reads it.
    pub const fn label(self) -> &'static str {
        match self {
            TicketFlag::Vip => "VIP",
            TicketFlag::Complaint => "complaint",
        }
    }
}

impl std::str::FromStr for TicketFlag {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TicketFlag::ALL.into_iter().find(|f| f.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    /// Primary first.
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub preferred_channel: Option<SourceChannel>,
}

/// A person at a customer: a name and how to reach them (their phone may be the customer's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactPerson {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl CustomerView {
    pub fn phone(&self) -> Option<&str> {
        self.phones.first().map(String::as_str)
    }

    pub fn email(&self) -> Option<&str> {
        self.emails.first().map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteView {
    pub id: String,
    pub address: String,
    pub access_notes: Option<String>,
    pub zone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Appointment {
    pub id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The technician the slot was offered with (held, not yet dispatched).
    pub technician_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    pub technician_id: String,
    pub technician_name: String,
    pub assigned_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Eta {
    pub eta_ms: i64,
    pub note: Option<String>,
    pub set_at_ms: i64,
    /// Why the arrival is after the booked window (given with the ETA, told to the customer).
    #[serde(default)]
    pub late_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChecklistItem {
    pub key: String,
    pub label: String,
    pub required: bool,
    pub done: bool,
    pub done_at_ms: Option<i64>,
    pub done_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Note,
    /// What was found and done; required for closeout.
    WorkSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Note {
    pub id: String,
    pub kind: NoteKind,
    pub text: String,
    pub author: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Before,
    After,
    Signature,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attachment {
    pub id: String,
    pub kind: AttachmentKind,
    pub sha256: String,
    pub size: i64,
    pub content_type: String,
    pub filename: Option<String>,
    pub blob_key: String,
    /// A small JPEG preview, when one could be made from the image.
    #[serde(default)]
    pub thumb_key: Option<String>,
    /// The copy customers may see: re-encoded, orientation applied, no metadata (no GPS).
    #[serde(default)]
    pub view_key: Option<String>,
    pub uploaded_by: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LaborLine {
    pub id: String,
    pub technician_id: Option<String>,
    pub description: String,
    pub minutes: i64,
    pub rate_cents: i64,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PartLine {
    pub id: String,
    pub sku: Option<String>,
    pub description: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvoiceDraft {
    pub id: String,
    /// `INV-000042`.
    pub number: String,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_cents: i64,
    /// Basis points: 825 = 8.25 %.
    pub tax_rate_bp: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PacketRef {
    pub id: String,
    pub blob_key: String,
    pub sha256: String,
    pub size: i64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    Paid,
    /// Accounts receivable: invoiced, payment due later.
    Ar,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Payment {
    pub kind: PaymentKind,
    pub amount_cents: i64,
    pub due_ms: Option<i64>,
    pub recorded_at_ms: i64,
}

pub fn ticket_number(n: i64) -> String {
    format!("RD-{n:06}")
}

pub fn invoice_number(n: i64) -> String {
    format!("INV-{n:06}")
}

/// Evidence that must exist before a case may become `closeout_ready`.
pub fn closeout_missing(case: &Case) -> Vec<String> {
    let mut missing: Vec<String> =
        case.checklist.iter().filter(|i| i.required && !i.done).map(|i| format!("checklist:{}", i.key)).collect();
    if !case.attachments.iter().any(|a| a.kind == AttachmentKind::After) {
        missing.push("after_photo".into());
    }
    if !case.notes.iter().any(|n| n.kind == NoteKind::WorkSummary) {
        missing.push("work_summary".into());
    }
    missing
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(super::ticket_number(123), "RD-000123");
        assert_eq!(super::ticket_number(1_234_567), "RD-1234567");
        assert_eq!(super::invoice_number(42), "INV-000042");
    }
}

/// One row of the dispatch board: what lists show, without the case's collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub state: CaseState,
    pub priority: Priority,
    pub problem_summary: Option<String>,
    pub trade: Option<String>,
    pub customer_name: String,
    pub customer_contact: Option<String>,
    pub site_address: Option<String>,
    pub technician_name: Option<String>,
    pub appointment: Option<TimeWindow>,
    pub eta_ms: Option<i64>,
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}
