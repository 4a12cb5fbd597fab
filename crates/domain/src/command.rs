//! Typed inputs of the closed toolset, and their validation.

use crate::actor::SourceChannel;
use crate::error::{DomainError, FieldError};
use crate::priority::Priority;
use crate::state::CaseState;
use crate::validate::{optional_text, required_text, Email, Phone};
use crate::window::{TimeWindow, DAY_MS};
use serde::{Deserialize, Serialize};

pub const MAX_NAME: usize = 200;
pub const MAX_SUMMARY: usize = 2_000;
pub const MAX_ADDRESS: usize = 500;
pub const MAX_NOTES: usize = 2_000;

/// `ticket.create`: a new case from an inbound request or a phone call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// Completes the intake of this existing `lead` ticket instead of opening a new one.
    #[serde(default)]
    pub lead_ticket_id: Option<String>,
    pub customer: NewCustomer,
    #[serde(default)]
    pub site: Option<NewSite>,
    #[serde(default)]
    pub problem_summary: Option<String>,
    /// The trade or skill needed (`hvac`, `plumbing`, `electrical`, `appliance`, ...).
    #[serde(default)]
    pub trade: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// When the customer would like the visit (unix ms, at most 14 days long).
    #[serde(default)]
    pub requested_window: Option<TimeWindow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_channel: Option<SourceChannel>,
    /// The answer when the phone or e-mail already belongs to a customer of another name:
    /// without it, such a call is refused with `CONTACT_NAME_DIFFERS` and nothing is filed.
    #[serde(default)]
    pub known_contact: Option<KnownContact>,
}

/// Who a caller is when their phone or e-mail is already a customer's under another name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KnownContact {
    /// The customer on file (a nickname, a spelling): the ticket is theirs, their name stays.
    SamePerson,
    /// Someone else at that customer (a partner, a tenant): the ticket is the customer's and
    /// names this person as its contact.
    AnotherContact,
    /// A different customer who shares the number: a new customer, with this person as contact.
    NewCustomer,
}

impl KnownContact {
    pub const ALL: [KnownContact; 3] =
        [KnownContact::SamePerson, KnownContact::AnotherContact, KnownContact::NewCustomer];

    pub const fn as_str(self) -> &'static str {
        match self {
            KnownContact::SamePerson => "same_person",
            KnownContact::AnotherContact => "another_contact",
            KnownContact::NewCustomer => "new_customer",
        }
    }

    pub fn parse(raw: &str) -> Option<KnownContact> {
        KnownContact::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }
}

/// Whether two names are the same name as people write them: case, spacing and dots aside.
pub fn same_name(a: &str, b: &str) -> bool {
    let fold = |s: &str| -> String {
        s.split(|ch: char| ch.is_whitespace() || ch == '.' || ch == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (a, b) = (fold(a), fold(b));
    !a.is_empty() && a == b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub access_notes: Option<String>,
    /// Service zone used to match technicians (e.g. `north`).
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub lon: Option<f64>,
}

/// A `ticket.create` that passed validation: every field is in its final form.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCreateTicket {
    pub customer_name: String,
    pub known_contact: Option<KnownContact>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub preferred_channel: Option<SourceChannel>,
    pub address: Option<String>,
    pub access_notes: Option<String>,
    pub zone: Option<String>,
    pub geo: Option<(f64, f64)>,
    pub problem_summary: Option<String>,
    pub trade: Option<String>,
    pub priority: Priority,
    pub requested_window: Option<TimeWindow>,
}

impl ValidCreateTicket {
    /// What intake still needs before the ticket can leave `lead`.
    pub fn missing_for_intake(&self) -> Vec<&'static str> {
        let mut missing = vec![];
        if self.address.is_none() {
            missing.push("site.address");
        }
        if self.problem_summary.is_none() {
            missing.push("problem_summary");
        }
        missing
    }

    /// Complete intake (contact, site, problem) lands in `intake`, anything less in `lead`.
    pub fn initial_state(&self) -> CaseState {
        if self.missing_for_intake().is_empty() {
            CaseState::Intake
        } else {
            CaseState::Lead
        }
    }
}

impl CreateTicket {
    pub fn validate(&self) -> Result<ValidCreateTicket, DomainError> {
        let mut errors = vec![];
        let c = &self.customer;
        let customer_name = required_text("customer.name", c.name.as_deref(), MAX_NAME, &mut errors);
        let phone = parse_opt(&mut errors, c.phone.as_deref(), |s| Phone::parse("customer.phone", s));
        let email = parse_opt(&mut errors, c.email.as_deref(), |s| Email::parse("customer.email", s));
        if c.phone.as_deref().is_none_or(|s| s.trim().is_empty())
            && c.email.as_deref().is_none_or(|s| s.trim().is_empty())
        {
            errors.push(FieldError::new(
                "customer.phone",
                "contact_required",
                "a phone number or an e-mail address is needed to reach the customer",
            ));
        }
        let site = self.site.clone().unwrap_or_default();
        let address = optional_text("site.address", site.address.as_deref(), MAX_ADDRESS, &mut errors);
        let access_notes = optional_text("site.access_notes", site.access_notes.as_deref(), MAX_NOTES, &mut errors);
        let zone = slug("site.zone", site.zone.as_deref(), &mut errors);
        let geo = match (site.lat, site.lon) {
            (None, None) => None,
            (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                Some((lat, lon))
            }
            _ => {
                errors.push(FieldError::new(
                    "site.lat",
                    "invalid_geo",
                    "latitude -90..90 and longitude -180..180, both or neither",
                ));
                None
            }
        };
        let requested_window = self.requested_window.and_then(|w| {
            TimeWindow::parse("requested_window", w.start_ms, w.end_ms, 14 * DAY_MS).map_err(|e| errors.push(e)).ok()
        });
        if let Some(id) = &self.lead_ticket_id {
            if id.trim().is_empty() || id.len() > 64 {
                errors.push(FieldError::new("lead_ticket_id", "invalid", "the id of a lead ticket (tkt_...)"));
            }
        }
        let problem_summary =
            optional_text("problem_summary", self.problem_summary.as_deref(), MAX_SUMMARY, &mut errors);
        let trade = slug("trade", self.trade.as_deref(), &mut errors);
        match (customer_name, errors.is_empty()) {
            (Some(customer_name), true) => Ok(ValidCreateTicket {
                customer_name,
                known_contact: c.known_contact,
                phone,
                email,
                preferred_channel: c.preferred_channel,
                address,
                access_notes,
                zone,
                geo,
                problem_summary,
                trade,
                priority: self.priority.unwrap_or_default(),
                requested_window,
            }),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// A short lower-case name (`hvac`, `north`): letters, digits, `_` and `-`.
pub fn slug(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let t = raw.map(str::trim).filter(|t| !t.is_empty())?.to_ascii_lowercase();
    if t.len() <= 32 && t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-') {
        Some(t)
    } else {
        errors.push(FieldError::new(field, "invalid_name", "a short name like hvac, plumbing or north"));
        None
    }
}

fn parse_opt<T>(
    errors: &mut Vec<FieldError>,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
) -> Option<T> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    parse(raw).map_err(|e| errors.push(e)).ok()
}

#[cfg(test)]
mod tests {
    use super::{same_name, KnownContact};

    #[test]
    fn names_match_as_people_write_them() {
        assert!(same_name("Nora Quinlan", "  nora   QUINLAN "));
        assert!(same_name("J. R. Ewing", "J R Ewing"));
        assert!(!same_name("Nora Quinlan", "Liam Quinlan"));
        assert!(!same_name("", ""), "no name is no match");
        for k in KnownContact::ALL {
            assert_eq!(KnownContact::parse(k.as_str()), Some(k));
        }
        assert_eq!(KnownContact::parse("maybe"), None);
    }

    use super::*;

    fn complete() -> CreateTicket {
        CreateTicket {
            customer: NewCustomer {
                name: Some("Ana Ruiz".into()),
                phone: Some("555-010-4477".into()),
                ..Default::default()
            },
            site: Some(NewSite { address: Some("12 Elm St".into()), ..Default::default() }),
            problem_summary: Some("No heat upstairs".into()),
            trade: Some("HVAC".into()),
            priority: Some(Priority::Urgent),
            ..Default::default()
        }
    }

    #[test]
    fn complete_intake_lands_in_intake() {
        let v = complete().validate().expect("valid");
        assert_eq!(v.initial_state(), CaseState::Intake);
        assert_eq!(v.phone.as_ref().map(Phone::as_str), Some("+15550104477"));
        assert_eq!(v.trade.as_deref(), Some("hvac"));
        assert_eq!(v.priority, Priority::Urgent);
    }

    #[test]
    fn incomplete_intake_is_a_lead() {
        let mut t = complete();
        t.site = None;
        let v = t.validate().expect("valid");
        assert_eq!(v.initial_state(), CaseState::Lead);
        assert_eq!(v.missing_for_intake(), vec!["site.address"]);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let t = CreateTicket {
            customer: NewCustomer { name: Some("  ".into()), email: Some("nope".into()), ..Default::default() },
            trade: Some("h v a c".into()),
            ..Default::default()
        };
        let DomainError::Invalid(errs) = t.validate().unwrap_err() else { panic!("wrong error") };
        let fields: Vec<_> = errs.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            fields,
            vec![("customer.name", "required"), ("customer.email", "invalid_email"), ("trade", "invalid_name")]
        );
    }

    #[test]
    fn contact_is_required() {
        let mut t = complete();
        t.customer.phone = None;
        let DomainError::Invalid(errs) = t.validate().unwrap_err() else { panic!("wrong error") };
        assert_eq!(errs[0].code, "contact_required");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            serde_json::from_str::<CreateTicket>(r#"{"customer":{"name":"A","phone":"5550104477"},"colour":"red"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
