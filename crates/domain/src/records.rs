//! Inputs of the shop's records: customers, sites, checklist templates, the roster and
//! accounts. Web-app actions (see [`crate::action::Audience::App`]); the browser builds them and
//! the service validates them.

use crate::actor::{Role, SourceChannel};
use crate::case::{CustomerView, SiteView};
use crate::command::{NewCustomer, NewSite};
use crate::window::WorkingHours;
use serde::{Deserialize, Serialize};

/// `customer.create`: a customer and optionally their first site, before any ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerRecord {
    pub customer: NewCustomer,
    #[serde(default)]
    pub site: Option<NewSite>,
}

/// `customer.update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CustomerEdit {
    pub customer_id: String,
    pub name: Option<String>,
    pub add_phone: Option<String>,
    pub add_email: Option<String>,
    pub preferred_channel: Option<SourceChannel>,
}

/// `site.create`: another address of a known customer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSiteRecord {
    pub customer_id: String,
    pub site: NewSite,
}

/// `site.update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteEdit {
    pub site_id: String,
    pub address: Option<String>,
    pub access_notes: Option<String>,
    pub zone: Option<String>,
}

/// One item of a job type's closeout checklist template (`checklist_template.put_item`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateItem {
    pub job_type: String,
    pub key: String,
    pub label: String,
    pub required: bool,
    pub position: i64,
}

/// `checklist_template.remove_item`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateItemRef {
    pub job_type: String,
    pub key: String,
}

/// `technician.create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTechnician {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub skills: Vec<String>,
    #[serde(default)]
    pub zone: Option<String>,
    /// Defaults to Monday–Friday 08:00–17:00.
    #[serde(default)]
    pub working_hours: Option<WorkingHours>,
}

/// `technician.update`: new skills, zone, hours and active flag (the name stays: it is part of
/// the assignments already recorded in cases).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianEdit {
    pub technician_id: String,
    pub skills: Vec<String>,
    #[serde(default)]
    pub zone: Option<String>,
    pub working_hours: WorkingHours,
    pub active: bool,
}

/// `technician.add_time_off`: `[start_ms, end_ms)`, at most a year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOff {
    pub technician_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `account.create`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub role: Option<Role>,
    pub password: String,
    /// Required for technicians: the profile whose jobs they see.
    #[serde(default)]
    pub technician_id: Option<String>,
    /// Required for customers: the record whose tickets they see.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// The password never reaches a log line.
impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("technician_id", &self.technician_id)
            .field("customer_id", &self.customer_id)
            .finish_non_exhaustive()
    }
}

/// `account.set_disabled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDisabled {
    pub user_id: String,
    pub disabled: bool,
}

/// `account.reset_password`.
#[derive(Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub user_id: String,
    pub password: String,
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

/// A customer with their sites, for the records page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub customer: CustomerView,
    pub sites: Vec<SiteView>,
    pub tickets: i64,
}

/// Everything the office keeps about one customer: how to reach them, who else calls for
/// them, where the work is done, and every ticket, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerFile {
    pub customer: CustomerView,
    pub people: Vec<crate::ContactPerson>,
    pub sites: Vec<SiteView>,
    pub tickets: Vec<crate::CaseSummary>,
}

/// An account as the console lists it (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub technician_id: Option<String>,
    pub customer_id: Option<String>,
    pub disabled: bool,
    pub created_at_ms: i64,
    pub last_login_at_ms: Option<i64>,
}
