//! What a customer (or a visitor who came by a link) sees of their ticket: where things
//! stand, the appointment, the technician's first name, the messages to and from the office,
//! and, once the work is done, the closeout. No internal notes or messages, no storage keys,
//! no originals, no account ids; the invoice only once it went out with the closeout packet.

use crate::case::{AttachmentKind, Case, NoteKind, PaymentKind};
use crate::state::CaseState;
use crate::views::MessageEntry;
use serde::{Deserialize, Serialize};

/// How the shop writes times (its own time zone) and money (its currency), and who it is:
/// given by the caller, so this stays pure.
pub trait ShopLabels {
    /// "Mon 30 Nov 2026, 09:30 – 11:30 CST".
    fn window_label(&self, start_ms: i64, end_ms: i64) -> String;
    /// "Mon 30 Nov 2026, 09:30 CST".
    fn time_label(&self, ms: i64) -> String;
    /// "$1,234.56", "€12.50".
    fn money(&self, cents: i64) -> String;
    /// The shop as its customers see it.
    fn card(&self) -> PortalShop;
}

/// The shop on its customers' pages: its name, its phone and its logo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortalShop {
    pub name: String,
    pub phone: Option<String>,
    /// Where the logo is served, if the shop has one.
    pub logo_url: Option<String>,
}

/// What a customer sees of their ticket: no internal notes, no storage keys, no originals.
/// Times are written by the server in the shop's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalTicket {
    pub shop: PortalShop,
    pub id: String,
    pub number: String,
    pub state: CaseState,
    pub version: i64,
    pub problem_summary: Option<String>,
    pub address: Option<String>,
    pub appointment: Option<String>,
    pub technician_first_name: Option<String>,
    pub eta: Option<String>,
    pub messages: Vec<PortalMessage>,
    /// From the end of the work on.
    pub closeout: Option<PortalCloseout>,
    /// "Paid on …" or "Due …", once recorded.
    pub payment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalMessage {
    pub at: String,
    pub from_office: bool,
    pub sender: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalCloseout {
    pub summary: Vec<String>,
    pub checklist: Vec<(String, bool)>,
    /// Attachment ids and what they show (served as the shared copy).
    pub photos: Vec<(String, String)>,
    /// Shown once it went out with the closeout packet (before that it may still change).
    pub invoice: Option<PortalInvoice>,
    pub packet_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalInvoice {
    pub number: String,
    /// Description, quantity, amount.
    pub lines: Vec<(String, String, String)>,
    pub subtotal: String,
    pub tax_label: String,
    pub tax: String,
    pub total: String,
}

/// The portal's view of `c`, with its customer-visible messages (internal ones are dropped
/// here too, whatever the caller passed).
pub fn portal_view(settings: &impl ShopLabels, c: Case, messages: Vec<MessageEntry>) -> PortalTicket {
    let money = |cents: i64| settings.money(cents);
    let closeout = matches!(
        c.state,
        CaseState::WorkPerformed | CaseState::CloseoutReady | CaseState::InvoiceReady | CaseState::PaidOrAr
    )
    .then(|| PortalCloseout {
        summary: c.notes.iter().filter(|n| n.kind == NoteKind::WorkSummary).map(|n| n.text.clone()).collect(),
        checklist: c.checklist.iter().map(|i| (i.label.clone(), i.done)).collect(),
        photos: c
            .attachments
            .iter()
            .filter(|a| a.view_key.is_some() && matches!(a.kind, AttachmentKind::Before | AttachmentKind::After))
            .map(|a| (a.id.clone(), if a.kind == AttachmentKind::Before { "Before" } else { "After" }.to_string()))
            .collect(),
        invoice: c.invoice.as_ref().filter(|_| c.packet.is_some()).map(|i| PortalInvoice {
            number: i.number.clone(),
            lines: i.lines.iter().map(|l| (l.description.clone(), l.quantity.clone(), money(l.amount_cents))).collect(),
            subtotal: money(i.subtotal_cents),
            tax_label: format!("Tax ({}.{:02} %)", i.tax_rate_bp / 100, i.tax_rate_bp % 100),
            tax: money(i.tax_cents),
            total: money(i.total_cents),
        }),
        packet_url: c.packet.as_ref().map(|_| format!("/packets/{}", c.id)),
    });
    PortalTicket {
        shop: settings.card(),
        id: c.id.clone(),
        number: c.number.clone(),
        state: c.state,
        version: c.version,
        problem_summary: c.problem_summary.clone(),
        address: c.site.as_ref().map(|s| s.address.clone()),
        appointment: c.appointment.as_ref().map(|a| settings.window_label(a.start_ms, a.end_ms)),
        technician_first_name: c
            .assignment
            .as_ref()
            .and_then(|a| a.technician_name.split_whitespace().next().map(str::to_string)),
        eta: c.eta.as_ref().map(|e| settings.time_label(e.eta_ms)),
        messages: messages
            .into_iter()
            .filter(|m| m.direction != "internal")
            .map(|m| PortalMessage {
                at: settings.time_label(m.at_ms),
                from_office: m.direction == "outbound",
                sender: if m.direction == "outbound" {
                    "The office".into()
                } else {
                    m.sender.unwrap_or_else(|| "You".into())
                },
                text: m.text,
            })
            .collect(),
        closeout,
        payment: c.payment.as_ref().map(|p| match p.kind {
            PaymentKind::Paid => {
                format!("Paid {} on {}. Thank you!", money(p.amount_cents), settings.time_label(p.recorded_at_ms))
            }
            PaymentKind::Ar => format!(
                "{} due {}",
                money(p.amount_cents),
                p.due_ms.map(|d| settings.time_label(d)).unwrap_or_else(|| "on your account terms".into())
            ),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    struct Utc;
    impl ShopLabels for Utc {
        fn window_label(&self, a: i64, b: i64) -> String {
            format!("{a}-{b}")
        }
        fn time_label(&self, ms: i64) -> String {
            ms.to_string()
        }
        fn money(&self, cents: i64) -> String {
            crate::currency::Currency::parse("c", "EUR").expect("EUR").format(crate::money::Money(cents))
        }
        fn card(&self) -> PortalShop {
            PortalShop { name: "Acme Heating".into(), phone: Some("(312) 555-0100".into()), logo_url: None }
        }
    }

    /// A job with everything the office keeps to itself: an internal note, storage keys,
    /// account and technician ids, labor and an invoice draft not yet sent.
    pub(crate) fn busy_case(state: &str, packet: bool) -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "tkt_1", "number": "RD-000001", "state": state, "priority": "standard",
            "problem_summary": "No heat", "trade": "hvac", "requested_window": null,
            "customer": {"id": "cus_SECRET", "name": "Nora", "phones": ["+13125550100"], "emails": ["n@x.test"], "preferred_channel": null},
            "site": {"id": "site_SECRET", "address": "1 Elm St", "access_notes": "side door", "zone": "n", "lat": null, "lon": null},
            "appointment": {"id": "apt_SECRET", "start_ms": 1000, "end_ms": 2000, "technician_id": "tech_SECRET"},
            "assignment": {"technician_id": "tech_SECRET", "technician_name": "Dana Whitfield", "assigned_at_ms": 5},
            "eta": null,
            "checklist": [{"key": "filter", "label": "Filter checked", "required": true, "done": true, "done_at_ms": 7, "done_by": "usr_SECRET"}],
            "notes": [
                {"id": "note_SECRET", "kind": "note", "text": "INTERNAL: customer owes on last job", "author": "Op", "created_at_ms": 8},
                {"id": "note_2", "kind": "work_summary", "text": "Replaced the igniter", "author": "Dana", "created_at_ms": 9}
            ],
            "attachments": [{"id": "att_1", "kind": "after", "sha256": "ab", "size": 3, "content_type": "image/jpeg", "filename": "x.jpg",
                "blob_key": "uploads/KEY_SECRET.jpg", "thumb_key": "uploads/KEY_SECRET.thumb.jpg", "view_key": "uploads/KEY_SECRET.view.jpg",
                "uploaded_by": "usr_SECRET", "created_at_ms": 10}],
            "labor": [{"id": "lab_SECRET", "technician_id": "tech_SECRET", "description": "diagnose", "minutes": 45, "rate_cents": 9500, "amount_cents": 7125}],
            "parts": [{"id": "part_SECRET", "sku": null, "description": "Igniter", "quantity": 1, "unit_price_cents": 3100, "amount_cents": 3100}],
            "invoice": {"id": "inv_SECRET", "number": "INV-000042", "lines": [], "subtotal_cents": 10225, "tax_rate_bp": 0, "tax_cents": 0, "total_cents": 10225, "created_at_ms": 11},
            "packet": if packet { serde_json::json!({"id": "pkt_SECRET", "blob_key": "packets/KEY_SECRET.pdf", "sha256": "cd", "size": 1, "created_at_ms": 12}) } else { serde_json::Value::Null },
            "payment": null, "cancel_reason": null, "message_count": 2, "last_message_at_ms": 13, "version": 9,
            "created_at_ms": 0, "updated_at_ms": 13
        }))
        .expect("a case")
    }

    fn message(direction: &str, text: &str) -> MessageEntry {
        MessageEntry { at_ms: 1, direction: direction.into(), channel: "sms".into(), sender: None, text: text.into() }
    }

    #[test]
    fn the_portal_shows_nothing_the_office_keeps_to_itself() {
        let messages = vec![message("inbound", "is he coming?"), message("internal", "INTERNAL: call back later")];
        let view = portal_view(&Utc, busy_case("invoice_ready", false), messages);
        let text = serde_json::to_string(&view).expect("json");
        for secret in ["SECRET", "INTERNAL", "uploads/", "packets/", "INV-000042", "102.25", "diagnose"] {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
        assert_eq!(view.technician_first_name.as_deref(), Some("Dana"));
        assert_eq!(view.messages.len(), 1, "internal messages are dropped");
        let closeout = view.closeout.expect("a closeout once the work is done");
        assert_eq!(closeout.summary, vec!["Replaced the igniter".to_string()]);
        assert_eq!(closeout.invoice, None, "the invoice waits for the packet");
    }

    #[test]
    fn the_invoice_shows_once_it_went_out_with_the_packet() {
        let view = portal_view(&Utc, busy_case("invoice_ready", true), vec![]);
        let closeout = view.closeout.expect("closeout");
        let invoice = closeout.invoice.expect("the invoice");
        assert_eq!(invoice.number, "INV-000042");
        assert_eq!(invoice.total, "€102.25", "in the shop's currency");
        assert_eq!(view.shop.name, "Acme Heating");
        assert_eq!(view.shop.phone.as_deref(), Some("(312) 555-0100"));
        assert_eq!(closeout.packet_url.as_deref(), Some("/packets/tkt_1"));
    }
}
