//! Customer updates from committed facts: which changes to a case the customer is told about
//! (appointment confirmed, technician on the way, ETA changed, work done, invoice ready), and
//! the shop's words for each. Derived from the case before and after an action, so an update
//! exists only for what was committed.

use crate::actor::SourceChannel;
use crate::case::Case;
use crate::error::{DomainError, FieldError};
use crate::state::CaseState;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    AppointmentConfirmed,
    OnTheWay,
    EtaChanged,
    WorkDone,
    InvoiceReady,
    /// Sent when the office (or an agent) asks, never by itself: the link to the ticket's page.
    TicketLink,
}

impl UpdateKind {
    pub const ALL: [UpdateKind; 6] = [
        UpdateKind::AppointmentConfirmed,
        UpdateKind::OnTheWay,
        UpdateKind::EtaChanged,
        UpdateKind::WorkDone,
        UpdateKind::InvoiceReady,
        UpdateKind::TicketLink,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            UpdateKind::AppointmentConfirmed => "appointment_confirmed",
            UpdateKind::OnTheWay => "on_the_way",
            UpdateKind::EtaChanged => "eta_changed",
            UpdateKind::WorkDone => "work_done",
            UpdateKind::InvoiceReady => "invoice_ready",
            UpdateKind::TicketLink => "ticket_link",
        }
    }

    /// As the office reads it.
    pub const fn label(self) -> &'static str {
        match self {
            UpdateKind::AppointmentConfirmed => "Appointment confirmed",
            UpdateKind::OnTheWay => "On the way",
            UpdateKind::EtaChanged => "Arrival time changed",
            UpdateKind::WorkDone => "Work done",
            UpdateKind::InvoiceReady => "Invoice ready",
            UpdateKind::TicketLink => "Link to the ticket page",
        }
    }

    /// The words a shop starts with.
    pub const fn default_template(self) -> &'static str {
        match self {
            UpdateKind::AppointmentConfirmed => {
                "Hi {customer}, your {shop} appointment is confirmed for {window}{with_technician}. Reply here if that no longer works."
            }
            UpdateKind::OnTheWay => "Hi {customer}, {technician} from {shop} is on the way and should arrive around {eta}.",
            UpdateKind::EtaChanged => "Hi {customer}, an update from {shop}: {technician} now expects to arrive around {eta}.",
            UpdateKind::WorkDone => "Hi {customer}, the work is done. The report and photos are here: {portal_link}",
            UpdateKind::InvoiceReady => "Hi {customer}, your invoice {invoice} for {total} is ready: {portal_link}",
            UpdateKind::TicketLink => {
                "Hi {customer}, here is the page for your job with {shop}: its status, the arrival time and, once done, the report. {portal_link}"
            }
        }
    }

    /// How soon the same update may go out again on one ticket (a second "on the way" within
    /// five minutes is one too many).
    pub const fn quiet_ms(self) -> i64 {
        5 * 60_000
    }
}

impl fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UpdateKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UpdateKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// One update as the office sees it (and the gateway reads it to send).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CustomerUpdate {
    pub id: String,
    pub ticket_id: String,
    pub kind: String,
    pub channel: Option<String>,
    pub to: Option<String>,
    pub body: String,
    /// `pending`, `sent`, `dead` (given up) or `skipped` (not sent, with why).
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
}

impl CustomerUpdate {
    /// The kind as the office reads it.
    pub fn label(&self) -> &'static str {
        self.kind.parse::<UpdateKind>().map(UpdateKind::label).unwrap_or("Update")
    }
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 10] = [
    "customer",
    "shop",
    "shop_phone",
    "window",
    "with_technician",
    "technician",
    "eta",
    "invoice",
    "total",
    "portal_link",
];

/// Whether the shop sends one kind of update, and in which words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    pub kind: UpdateKind,
    pub enabled: bool,
    pub template: String,
}

/// `customer_updates.set`: every kind, on or off, with its words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    pub rules: Vec<UpdateRule>,
}

impl Default for UpdateSettings {
    fn default() -> Self {
        UpdateSettings {
            rules: UpdateKind::ALL
                .into_iter()
                .map(|kind| UpdateRule { kind, enabled: true, template: kind.default_template().into() })
                .collect(),
        }
    }
}

pub const MAX_TEMPLATE: usize = 600;

impl UpdateSettings {
    /// The rule of `kind` (the default one when the shop never wrote it).
    pub fn rule(&self, kind: UpdateKind) -> UpdateRule {
        self.rules.iter().find(|r| r.kind == kind).cloned().unwrap_or(UpdateRule {
            kind,
            enabled: true,
            template: kind.default_template().into(),
        })
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = vec![];
        for (i, r) in self.rules.iter().enumerate() {
            let field = format!("rules[{i}].template");
            let t = r.template.trim();
            if t.is_empty() {
                errors.push(FieldError::new(&field, "required", "the words of the update"));
            } else if t.chars().count() > MAX_TEMPLATE {
                errors.push(FieldError::new(&field, "too_long", format!("at most {MAX_TEMPLATE} characters")));
            }
            for name in placeholders_in(t) {
                if !PLACEHOLDERS.contains(&name.as_str()) {
                    errors.push(FieldError::new(
                        &field,
                        "unknown_placeholder",
                        format!("{{{name}}} is not one of {}", PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")),
                    ));
                }
            }
            if self.rules[..i].iter().any(|o| o.kind == r.kind) {
                errors.push(FieldError::new(&format!("rules[{i}].kind"), "duplicate", "each kind once"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }
}

fn placeholders_in(t: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

/// The updates an action's committed change calls for.
pub fn due(before: &Case, after: &Case) -> Vec<UpdateKind> {
    let mut kinds = vec![];
    let booked = matches!(after.state, CaseState::Scheduled | CaseState::Dispatched);
    let slot = |c: &Case| c.appointment.as_ref().map(|a| (a.start_ms, a.end_ms));
    if booked && slot(after).is_some() && slot(before) != slot(after) {
        kinds.push(UpdateKind::AppointmentConfirmed);
    }
    if after.state == CaseState::Dispatched {
        match (&before.eta, &after.eta) {
            (None, Some(_)) => kinds.push(UpdateKind::OnTheWay),
            // Ten minutes either way is news; less is noise.
            (Some(b), Some(a)) if (a.eta_ms - b.eta_ms).abs() >= 10 * 60_000 => kinds.push(UpdateKind::EtaChanged),
            // A new reason for being late is news whatever the minutes.
            (Some(b), Some(a)) if a.late_reason.is_some() && a.late_reason != b.late_reason => {
                kinds.push(UpdateKind::EtaChanged)
            }
            _ => {}
        }
    }
    if before.state != CaseState::WorkPerformed && after.state == CaseState::WorkPerformed {
        kinds.push(UpdateKind::WorkDone);
    }
    if before.packet.is_none() && after.packet.is_some() && after.invoice.is_some() {
        kinds.push(UpdateKind::InvoiceReady);
    }
    kinds
}

/// Where the customer hears from the shop: their preferred channel when it can carry a text,
/// else a text to their phone, else an e-mail.
pub fn recipient(case: &Case) -> Option<(SourceChannel, String)> {
    let phone = case.customer.phone().map(str::to_string);
    let email = case.customer.email().map(str::to_string);
    match case.customer.preferred_channel {
        Some(SourceChannel::Email) if email.is_some() => email.map(|e| (SourceChannel::Email, e)),
        Some(SourceChannel::Whatsapp) if phone.is_some() => phone.map(|p| (SourceChannel::Whatsapp, p)),
        _ => phone.map(|p| (SourceChannel::Sms, p)).or_else(|| email.map(|e| (SourceChannel::Email, e))),
    }
}

/// What the customer reads after an ETA update when the technician is running late: the
/// shop's words, then the reason, so no template can leave it out.
pub fn with_late_reason(body: String, technician: &str, late_reason: Option<&str>) -> String {
    match late_reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => {
            let reason = reason.trim_end_matches(['.', '!']);
            format!("{} Sorry, {technician} is running late: {reason}.", body.trim_end())
        }
        None => body,
    }
}

/// The template with its placeholders filled; `{portal_link}` stays for the sender, which makes
/// the link when it sends (a link is a secret shown once).
pub fn render(template: &str, facts: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in facts {
        if *name != "portal_link" {
            out = out.replace(&format!("{{{name}}}"), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Appointment, Eta};

    fn case(state: CaseState) -> Case {
        let mut c: Case = serde_json::from_value(serde_json::json!({
            "id": "tkt_1", "number": "RD-000001", "state": "intake", "priority": "standard",
            "problem_summary": null, "trade": null, "requested_window": null,
            "customer": {"id": "cus_1", "name": "Nora Diaz", "phones": ["+13125550101"], "emails": ["n@example.com"], "preferred_channel": "sms"},
            "site": null, "appointment": null, "assignment": null, "eta": null, "checklist": [], "notes": [],
            "attachments": [], "labor": [], "parts": [], "invoice": null, "packet": null, "payment": null,
            "cancel_reason": null, "message_count": 0, "last_message_at_ms": null, "version": 1,
            "created_at_ms": 0, "updated_at_ms": 0
        }))
        .expect("a case");
        c.state = state;
        c
    }

    #[test]
    fn booking_and_moving_an_appointment_confirm_it() {
        let before = case(CaseState::Intake);
        let mut after = case(CaseState::Scheduled);
        after.appointment = Some(Appointment { id: "a".into(), start_ms: 1, end_ms: 2, technician_id: None });
        assert_eq!(due(&before, &after), [UpdateKind::AppointmentConfirmed]);
        assert_eq!(due(&after, &after), [], "nothing changed, nothing said");
        let mut moved = after.clone();
        moved.appointment = Some(Appointment { id: "b".into(), start_ms: 5, end_ms: 6, technician_id: None });
        assert_eq!(due(&after, &moved), [UpdateKind::AppointmentConfirmed]);
    }

    #[test]
    fn an_eta_is_news_once_and_then_only_when_it_moves_ten_minutes() {
        let before = case(CaseState::Dispatched);
        let mut first = before.clone();
        first.eta = Some(Eta { eta_ms: 3_600_000, note: None, set_at_ms: 0, late_reason: None });
        assert_eq!(due(&before, &first), [UpdateKind::OnTheWay]);
        let mut nudged = first.clone();
        nudged.eta = Some(Eta { eta_ms: 3_600_000 + 5 * 60_000, note: None, set_at_ms: 1, late_reason: None });
        assert_eq!(due(&first, &nudged), []);
        let mut late = first.clone();
        late.eta = Some(Eta { eta_ms: 3_600_000 + 20 * 60_000, note: None, set_at_ms: 1, late_reason: None });
        assert_eq!(due(&first, &late), [UpdateKind::EtaChanged]);
        let mut sorry = first.clone();
        sorry.eta =
            Some(Eta { late_reason: Some("the previous job ran over".into()), ..nudged.eta.clone().expect("eta") });
        assert_eq!(due(&first, &sorry), [UpdateKind::EtaChanged], "a new reason to be late is news");
        assert_eq!(due(&sorry, &sorry), []);
    }

    #[test]
    fn a_late_reason_is_told_in_the_customers_update() {
        let body = "Hi Ada, an update from Acme: Dana now expects to arrive around 11:40.".to_string();
        assert_eq!(
            with_late_reason(body.clone(), "Dana", Some("the previous job ran over.")),
            "Hi Ada, an update from Acme: Dana now expects to arrive around 11:40. Sorry, Dana is running late: the previous job ran over."
        );
        assert_eq!(with_late_reason(body.clone(), "Dana", Some("  ")), body);
        assert_eq!(with_late_reason(body.clone(), "Dana", None), body);
    }

    #[test]
    fn work_done_is_said_when_the_job_is_finished() {
        assert_eq!(due(&case(CaseState::Onsite), &case(CaseState::WorkPerformed)), [UpdateKind::WorkDone]);
        assert_eq!(due(&case(CaseState::WorkPerformed), &case(CaseState::WorkPerformed)), []);
    }

    #[test]
    fn the_customer_is_reached_where_they_can_read_it() {
        let mut c = case(CaseState::Scheduled);
        assert_eq!(recipient(&c), Some((SourceChannel::Sms, "+13125550101".into())));
        c.customer.preferred_channel = Some(SourceChannel::Email);
        assert_eq!(recipient(&c), Some((SourceChannel::Email, "n@example.com".into())));
        c.customer.phones.clear();
        c.customer.preferred_channel = Some(SourceChannel::Webchat);
        assert_eq!(recipient(&c), Some((SourceChannel::Email, "n@example.com".into())));
        c.customer.emails.clear();
        assert_eq!(recipient(&c), None);
    }

    #[test]
    fn templates_fill_their_placeholders_and_unknown_ones_are_refused() {
        let t = UpdateKind::OnTheWay.default_template();
        let text = render(
            t,
            &[
                ("customer", "Nora".into()),
                ("technician", "Dana".into()),
                ("shop", "Acme".into()),
                ("eta", "10:30".into()),
            ],
        );
        assert_eq!(text, "Hi Nora, Dana from Acme is on the way and should arrive around 10:30.");
        assert!(
            render("See {portal_link}", &[("portal_link", "x".into())]).contains("{portal_link}"),
            "made when sent"
        );
        let mut s = UpdateSettings::default();
        assert!(s.validate().is_ok());
        s.rules[0].template = "Hi {name}".into();
        let Err(DomainError::Invalid(e)) = s.validate() else { panic!("refused") };
        assert_eq!(e[0].code, "unknown_placeholder");
        s.rules[0].template = " ".into();
        assert!(s.validate().is_err());
    }
}
