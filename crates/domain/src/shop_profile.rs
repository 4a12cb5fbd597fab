//! The shop's profile: who the shop is (name, address, phone, e-mail, logo), how it bills
//! (currency, tax rate, labor rate, payment terms) and how it schedules (time zone, working
//! days and hours, the appointment grid, the travel buffer).
//!
//! Each value is one key. A key the shop never saved reads from the environment (or the
//! built-in default); once an admin saves it, the saved value wins. `shop.settings.set`
//! changes any number of keys at once, all or nothing: every field is checked here first, and
//! one bad field refuses the whole change with every problem named.

use crate::currency::Currency;
use crate::error::{DomainError, FieldError};
use crate::money::Money;
use crate::validate::{optional_text, required_text, Email, Phone};
use crate::window::WorkingHours;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;
use std::str::FromStr;

/// One setting of the shop's profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShopKey {
    BusinessName,
    Address,
    Phone,
    Email,
    Logo,
    Timezone,
    Currency,
    TaxRate,
    LaborRate,
    PaymentTerms,
    WorkingHours,
    SlotStepMinutes,
    TravelBufferMinutes,
}

impl ShopKey {
    pub const ALL: [ShopKey; 13] = [
        ShopKey::BusinessName,
        ShopKey::Address,
        ShopKey::Phone,
        ShopKey::Email,
        ShopKey::Logo,
        ShopKey::Timezone,
        ShopKey::Currency,
        ShopKey::TaxRate,
        ShopKey::LaborRate,
        ShopKey::PaymentTerms,
        ShopKey::WorkingHours,
        ShopKey::SlotStepMinutes,
        ShopKey::TravelBufferMinutes,
    ];

    /// The key's name (the CLI's `settings set KEY`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ShopKey::BusinessName => "business_name",
            ShopKey::Address => "address",
            ShopKey::Phone => "phone",
            ShopKey::Email => "email",
            ShopKey::Logo => "logo",
            ShopKey::Timezone => "timezone",
            ShopKey::Currency => "currency",
            ShopKey::TaxRate => "tax_rate",
            ShopKey::LaborRate => "labor_rate",
            ShopKey::PaymentTerms => "payment_terms",
            ShopKey::WorkingHours => "working_hours",
            ShopKey::SlotStepMinutes => "slot_step_minutes",
            ShopKey::TravelBufferMinutes => "travel_buffer_minutes",
        }
    }

    /// Where the saved value is kept among the shop's settings.
    pub const fn storage_key(self) -> &'static str {
        match self {
            ShopKey::BusinessName => "shop.business_name",
            ShopKey::Address => "shop.address",
            ShopKey::Phone => "shop.phone",
            ShopKey::Email => "shop.email",
            ShopKey::Logo => "shop.logo",
            ShopKey::Timezone => "shop.timezone",
            ShopKey::Currency => "shop.currency",
            ShopKey::TaxRate => "shop.tax_rate",
            ShopKey::LaborRate => "shop.labor_rate",
            ShopKey::PaymentTerms => "shop.payment_terms",
            ShopKey::WorkingHours => "shop.working_hours",
            ShopKey::SlotStepMinutes => "shop.slot_step_minutes",
            ShopKey::TravelBufferMinutes => "shop.travel_buffer_minutes",
        }
    }

    /// The field of [`ShopSettingsChange`] that sets it (and that field errors name).
    pub const fn field(self) -> &'static str {
        match self {
            ShopKey::TaxRate => "tax_rate_bp",
            ShopKey::LaborRate => "labor_rate_cents",
            other => other.as_str(),
        }
    }

    /// As people read it.
    pub const fn label(self) -> &'static str {
        match self {
            ShopKey::BusinessName => "Business name",
            ShopKey::Address => "Address",
            ShopKey::Phone => "Phone",
            ShopKey::Email => "E-mail",
            ShopKey::Logo => "Logo",
            ShopKey::Timezone => "Time zone",
            ShopKey::Currency => "Currency",
            ShopKey::TaxRate => "Tax rate",
            ShopKey::LaborRate => "Labor rate",
            ShopKey::PaymentTerms => "Payment terms",
            ShopKey::WorkingHours => "Working days and hours",
            ShopKey::SlotStepMinutes => "Appointment grid",
            ShopKey::TravelBufferMinutes => "Travel buffer",
        }
    }

    /// The environment variable that gives the first-run default, if one does.
    pub const fn env(self) -> Option<&'static str> {
        match self {
            ShopKey::BusinessName => Some("RD_SHOP_NAME"),
            ShopKey::Timezone => Some("RD_TIMEZONE"),
            ShopKey::TaxRate => Some("RD_TAX_RATE_BP"),
            ShopKey::LaborRate => Some("RD_LABOR_RATE_CENTS"),
            ShopKey::SlotStepMinutes => Some("RD_SLOT_STEP_MINUTES"),
            ShopKey::TravelBufferMinutes => Some("RD_TRAVEL_BUFFER_MINUTES"),
            _ => None,
        }
    }
}

impl fmt::Display for ShopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShopKey {
    type Err = FieldError;
    /// A key by its name or its input field's name (`tax_rate` or `tax_rate_bp`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        ShopKey::ALL.into_iter().find(|k| k.as_str() == s || k.field() == s).ok_or_else(|| {
            let names: Vec<&str> = ShopKey::ALL.iter().map(|k| k.as_str()).collect();
            FieldError::new("key", "unknown_setting", format!("{s} is not a setting; one of {}", names.join(", ")))
        })
    }
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Saved by an admin: it wins over the environment.
    Database,
    /// The environment variable, never saved.
    Environment,
    /// The built-in default, never saved and not in the environment.
    Default,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Database => "database",
            Source::Environment => "environment",
            Source::Default => "default",
        }
    }
}

/// The shop's logo as stored: a JPEG made from the admin's image (at most
/// [`LOGO_SIDE`] pixels a side, transparency flattened onto white), in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopLogo {
    pub blob_key: String,
    /// Of the stored JPEG.
    pub sha256: String,
    pub size: i64,
    pub width: u32,
    pub height: u32,
    /// Of the file the admin sent.
    pub original_sha256: String,
    pub filename: Option<String>,
}

/// Longest side of the stored logo, in pixels: sharp on a printed page at its size there.
pub const LOGO_SIDE: u32 = 600;
/// Largest logo file accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 5 * 1024 * 1024;

pub const MAX_NAME: usize = 120;
pub const MAX_ADDRESS: usize = 300;
pub const MAX_TERMS: usize = 200;
/// Sales tax at most 50 %.
pub const MAX_TAX_BP: i64 = 5_000;
/// A labor rate at most $10,000.00 an hour.
pub const MAX_LABOR_CENTS: i64 = 1_000_000;

/// The shop's profile in force: every key's value, saved or default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopProfile {
    pub business_name: String,
    /// Empty when not given (several lines allowed).
    pub address: String,
    /// As the shop writes it; empty when not given.
    pub phone: String,
    pub email: String,
    pub logo: Option<ShopLogo>,
    /// An IANA time zone name.
    pub timezone: String,
    pub currency: Currency,
    /// Sales tax on invoice drafts, in basis points (825 = 8.25 %).
    pub tax_rate_bp: i64,
    /// The labor rate per hour, in cents (of the shop's currency).
    pub labor_rate_cents: i64,
    /// "Due on receipt", "Net 15", …
    pub payment_terms: String,
    /// The shop's working days and hours: new technicians work these unless given their own.
    pub working_hours: WorkingHours,
    /// Appointment starts are offered on this grid.
    pub slot_step_minutes: i64,
    /// Kept free before and after each booking for travel.
    pub travel_buffer_minutes: i64,
}

impl Default for ShopProfile {
    fn default() -> Self {
        ShopProfile {
            business_name: "Real Dispatch".into(),
            address: String::new(),
            phone: String::new(),
            email: String::new(),
            logo: None,
            timezone: "UTC".into(),
            currency: Currency::USD,
            tax_rate_bp: 0,
            labor_rate_cents: 9_500,
            payment_terms: "Due on receipt".into(),
            working_hours: WorkingHours::weekdays_8_to_5(),
            slot_step_minutes: 30,
            travel_buffer_minutes: 30,
        }
    }
}

impl ShopProfile {
    /// The value of `key` as it is stored (and written into the audit trail).
    pub fn value_of(&self, key: ShopKey) -> Value {
        match key {
            ShopKey::BusinessName => json!(self.business_name),
            ShopKey::Address => json!(self.address),
            ShopKey::Phone => json!(self.phone),
            ShopKey::Email => json!(self.email),
            ShopKey::Logo => json!(self.logo),
            ShopKey::Timezone => json!(self.timezone),
            ShopKey::Currency => json!(self.currency),
            ShopKey::TaxRate => json!(self.tax_rate_bp),
            ShopKey::LaborRate => json!(self.labor_rate_cents),
            ShopKey::PaymentTerms => json!(self.payment_terms),
            ShopKey::WorkingHours => json!(self.working_hours),
            ShopKey::SlotStepMinutes => json!(self.slot_step_minutes),
            ShopKey::TravelBufferMinutes => json!(self.travel_buffer_minutes),
        }
    }

    /// Puts a stored value in place; a value that no longer reads is refused (the caller keeps
    /// the default and says so).
    pub fn apply(&mut self, key: ShopKey, value: &Value) -> Result<(), String> {
        fn read<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
            serde_json::from_value(v.clone()).map_err(|e| e.to_string())
        }
        match key {
            ShopKey::BusinessName => self.business_name = read(value)?,
            ShopKey::Address => self.address = read(value)?,
            ShopKey::Phone => self.phone = read(value)?,
            ShopKey::Email => self.email = read(value)?,
            ShopKey::Logo => self.logo = read(value)?,
            ShopKey::Timezone => self.timezone = read(value)?,
            ShopKey::Currency => self.currency = read(value)?,
            ShopKey::TaxRate => self.tax_rate_bp = read(value)?,
            ShopKey::LaborRate => self.labor_rate_cents = read(value)?,
            ShopKey::PaymentTerms => self.payment_terms = read(value)?,
            ShopKey::WorkingHours => self.working_hours = read(value)?,
            ShopKey::SlotStepMinutes => self.slot_step_minutes = read(value)?,
            ShopKey::TravelBufferMinutes => self.travel_buffer_minutes = read(value)?,
        }
        Ok(())
    }

    /// The value of `key` as people read it ("8.25 %", "$95.00", "Mon-Fri 08:00-17:00").
    pub fn text_of(&self, key: ShopKey) -> String {
        match key {
            ShopKey::BusinessName => self.business_name.clone(),
            ShopKey::Address => self.address.clone(),
            ShopKey::Phone => self.phone.clone(),
            ShopKey::Email => self.email.clone(),
            ShopKey::Logo => match &self.logo {
                Some(l) => format!("{}×{} JPEG, sha256 {}", l.width, l.height, l.sha256),
                None => String::new(),
            },
            ShopKey::Timezone => self.timezone.clone(),
            ShopKey::Currency => self.currency.to_string(),
            ShopKey::TaxRate => percent_text(self.tax_rate_bp),
            ShopKey::LaborRate => format!("{}/h", self.money(self.labor_rate_cents)),
            ShopKey::PaymentTerms => self.payment_terms.clone(),
            ShopKey::WorkingHours => hours_text(&self.working_hours),
            ShopKey::SlotStepMinutes => format!("{} min", self.slot_step_minutes),
            ShopKey::TravelBufferMinutes => format!("{} min", self.travel_buffer_minutes),
        }
    }

    /// An amount in the shop's currency.
    pub fn money(&self, cents: i64) -> String {
        self.currency.format(Money(cents))
    }

    /// The value of `key` as a form (or the CLI) takes it back through
    /// [`ShopSettingsChange::set_text`]: "8.25", "95.00", "Mon-Fri 08:00-17:00", "30".
    pub fn form_text(&self, key: ShopKey) -> String {
        match key {
            ShopKey::TaxRate => percent_text(self.tax_rate_bp).trim_end_matches(" %").to_string(),
            ShopKey::LaborRate => {
                format!("{}.{:02}", self.labor_rate_cents / 100, self.labor_rate_cents % 100)
            }
            ShopKey::SlotStepMinutes => self.slot_step_minutes.to_string(),
            ShopKey::TravelBufferMinutes => self.travel_buffer_minutes.to_string(),
            ShopKey::Logo => String::new(),
            other => self.text_of(other),
        }
    }

    /// The change a form asks for: each key whose text differs from what the form was given
    /// ([`ShopProfile::form_text`]), so a value left as it was keeps following its default.
    pub fn changes_from_form(&self, form: &[(ShopKey, String)]) -> Result<ShopSettingsChange, DomainError> {
        let mut change = ShopSettingsChange::default();
        let mut errors = vec![];
        let same = |a: &str, b: &str| a.replace("\r\n", "\n").trim() == b.trim();
        for (key, text) in form {
            if same(text, &self.form_text(*key)) {
                continue;
            }
            if let Err(e) = change.set_text(*key, text) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(change)
        } else {
            Err(DomainError::Invalid(errors))
        }
    }
}

/// Basis points as a percentage: 825 → "8.25 %", 800 → "8 %".
pub fn percent_text(bp: i64) -> String {
    let (whole, frac) = (bp / 100, (bp % 100).abs());
    match frac {
        0 => format!("{whole} %"),
        f if f % 10 == 0 => format!("{whole}.{} %", f / 10),
        f => format!("{whole}.{f:02} %"),
    }
}

/// What to change: every field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSettingsChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_name: Option<String>,
    /// Empty text removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An IANA name such as America/Chicago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// An ISO 4217 code with two decimal places, such as USD or EUR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate_bp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labor_rate_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_step_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_buffer_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<LogoChange>,
}

/// A new logo (the image file, base64), or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogoChange {
    /// A JPEG, PNG or WebP image of at most 5 MiB.
    Set {
        content_base64: String,
        #[serde(default)]
        filename: Option<String>,
    },
    Remove,
}

/// Looks a time zone up by name: its canonical IANA name, if the zone is known. The service
/// asks the time-zone database; this module stays pure.
pub type ZoneLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ShopSettingsChange {
    /// The keys this change sets, the logo included.
    pub fn keys(&self) -> Vec<ShopKey> {
        let set = [
            (ShopKey::BusinessName, self.business_name.is_some()),
            (ShopKey::Address, self.address.is_some()),
            (ShopKey::Phone, self.phone.is_some()),
            (ShopKey::Email, self.email.is_some()),
            (ShopKey::Logo, self.logo.is_some()),
            (ShopKey::Timezone, self.timezone.is_some()),
            (ShopKey::Currency, self.currency.is_some()),
            (ShopKey::TaxRate, self.tax_rate_bp.is_some()),
            (ShopKey::LaborRate, self.labor_rate_cents.is_some()),
            (ShopKey::PaymentTerms, self.payment_terms.is_some()),
            (ShopKey::WorkingHours, self.working_hours.is_some()),
            (ShopKey::SlotStepMinutes, self.slot_step_minutes.is_some()),
            (ShopKey::TravelBufferMinutes, self.travel_buffer_minutes.is_some()),
        ];
        set.into_iter().filter(|(_, on)| *on).map(|(k, _)| k).collect()
    }

    /// Checks every field and gives the values to store, key by key (the logo, whose bytes the
    /// service checks and converts, is left to it). Any problem refuses the whole change.
    pub fn validate(&self, zone: ZoneLookup<'_>) -> Result<Vec<(ShopKey, Value)>, DomainError> {
        let mut errors = vec![];
        let mut out = vec![];
        if self.keys().is_empty() {
            errors.push(FieldError::new("settings", "empty", "nothing to change: give at least one setting"));
        }
        if let Some(raw) = &self.business_name {
            if let Some(name) = one_line(ShopKey::BusinessName, Some(raw), MAX_NAME, true, &mut errors) {
                out.push((ShopKey::BusinessName, json!(name)));
            }
        }
        if let Some(raw) = &self.address {
            let before = errors.len();
            let address = optional_text("address", Some(raw), MAX_ADDRESS, &mut errors);
            if errors.len() == before {
                // Lines as typed, without trailing spaces or blank lines.
                let lines: Vec<&str> =
                    address.as_deref().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                out.push((ShopKey::Address, json!(lines.join("\n"))));
            }
        }
        if let Some(raw) = &self.phone {
            let before = errors.len();
            let text = one_line(ShopKey::Phone, Some(raw), 40, false, &mut errors).unwrap_or_default();
            if !text.is_empty() {
                if let Err(e) = Phone::parse("phone", &text) {
                    errors.push(e);
                }
            }
            if errors.len() == before {
                out.push((ShopKey::Phone, json!(text)));
            }
        }
        if let Some(raw) = &self.email {
            match raw.trim() {
                "" => out.push((ShopKey::Email, json!(""))),
                text => match Email::parse("email", text) {
                    Ok(e) => out.push((ShopKey::Email, json!(e.as_str()))),
                    Err(e) => errors.push(e),
                },
            }
        }
        if let Some(raw) = &self.timezone {
            match time_zone(raw, zone) {
                Ok(name) => out.push((ShopKey::Timezone, json!(name))),
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = &self.currency {
            match Currency::parse("currency", raw) {
                Ok(c) => out.push((ShopKey::Currency, json!(c))),
                Err(e) => errors.push(e),
            }
        }
        let ranges = [
            (ShopKey::TaxRate, self.tax_rate_bp, 0, MAX_TAX_BP, "basis points from 0 to 5000 (0 % to 50 %)"),
            (ShopKey::LaborRate, self.labor_rate_cents, 0, MAX_LABOR_CENTS, "cents from 0 to 1000000 an hour"),
            (ShopKey::SlotStepMinutes, self.slot_step_minutes, 5, 240, "minutes from 5 to 240"),
            (ShopKey::TravelBufferMinutes, self.travel_buffer_minutes, 0, 240, "minutes from 0 to 240"),
        ];
        for (key, value, min, max, what) in ranges {
            match value {
                Some(v) if (min..=max).contains(&v) => out.push((key, json!(v))),
                Some(v) if v < 0 => {
                    errors.push(FieldError::new(key.field(), "negative", format!("not below zero: {what}")))
                }
                Some(_) => errors.push(FieldError::new(key.field(), "out_of_range", what)),
                None => {}
            }
        }
        if let Some(raw) = &self.payment_terms {
            if let Some(terms) = one_line(ShopKey::PaymentTerms, Some(raw), MAX_TERMS, true, &mut errors) {
                out.push((ShopKey::PaymentTerms, json!(terms)));
            }
        }
        if let Some(hours) = &self.working_hours {
            match check_hours(hours) {
                Ok(()) => out.push((ShopKey::WorkingHours, json!(hours))),
                Err(e) => errors.push(e),
            }
        }
        if let Some(LogoChange::Set { content_base64, .. }) = &self.logo {
            if content_base64.trim().is_empty() {
                errors.push(FieldError::new("logo", "required", "the image file"));
            } else if content_base64.len() > MAX_LOGO_BYTES / 3 * 4 + 8 {
                errors.push(FieldError::new("logo", "too_large", "a logo file of at most 5 MiB"));
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    /// Sets one key from the text a person typed (the CLI's `settings set KEY VALUE`): a
    /// percentage for the tax rate ("8.25"), an amount for the labor rate ("95.00"), working
    /// hours as "Mon-Fri 08:00-17:00; Sat 09:00-12:00". The logo is not text.
    pub fn set_text(&mut self, key: ShopKey, raw: &str) -> Result<(), FieldError> {
        let text = || Some(raw.to_string());
        let whole = |field: &str| {
            raw.trim().parse::<i64>().map_err(|_| FieldError::new(field, "invalid_number", "a whole number of minutes"))
        };
        match key {
            ShopKey::BusinessName => self.business_name = text(),
            ShopKey::Address => self.address = text(),
            ShopKey::Phone => self.phone = text(),
            ShopKey::Email => self.email = text(),
            ShopKey::Timezone => self.timezone = text(),
            ShopKey::Currency => self.currency = text(),
            ShopKey::PaymentTerms => self.payment_terms = text(),
            ShopKey::TaxRate => self.tax_rate_bp = Some(parse_percent(key.field(), raw)?),
            ShopKey::LaborRate => self.labor_rate_cents = Some(parse_amount(key.field(), raw)?),
            ShopKey::WorkingHours => self.working_hours = Some(parse_hours(key.field(), raw)?),
            ShopKey::SlotStepMinutes => self.slot_step_minutes = Some(whole(key.field())?),
            ShopKey::TravelBufferMinutes => self.travel_buffer_minutes = Some(whole(key.field())?),
            ShopKey::Logo => {
                return Err(FieldError::new("logo", "not_text", "a logo is an image file: use --logo FILE"));
            }
        }
        Ok(())
    }
}

/// One line of text (no line breaks), trimmed and bounded; blank is refused when `required`.
fn one_line(
    key: ShopKey,
    raw: Option<&str>,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let field = key.field();
    let before = errors.len();
    let text = if required {
        required_text(field, raw, max, errors)
    } else {
        optional_text(field, raw, max, errors).or(Some(String::new()))
    };
    if errors.len() > before {
        return None;
    }
    let text = text?;
    if text.contains(['\n', '\r']) {
        errors.push(FieldError::new(field, "invalid_characters", "one line, without line breaks"));
        return None;
    }
    Some(text)
}

/// A time zone name as the time-zone database knows it.
fn time_zone(raw: &str, zone: ZoneLookup<'_>) -> Result<String, FieldError> {
    let name = raw.trim();
    let shaped = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !shaped {
        return Err(FieldError::new("timezone", "invalid_time_zone", "an IANA time zone name such as America/Chicago"));
    }
    zone(name).ok_or_else(|| {
        FieldError::new("timezone", "unknown_time_zone", format!("{name} is not a known IANA time zone"))
    })
}

/// The shop's hours: valid ranges, none overlapping on a day, and at least one working day.
fn check_hours(hours: &WorkingHours) -> Result<(), FieldError> {
    hours.validate("working_hours")?;
    for ranges in &hours.0 {
        let mut sorted = ranges.clone();
        sorted.sort();
        if sorted.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(FieldError::new("working_hours", "overlapping_hours", "the hours of one day overlap"));
        }
    }
    if hours.0.iter().all(Vec::is_empty) {
        return Err(FieldError::new("working_hours", "no_working_days", "at least one working day"));
    }
    Ok(())
}

/// "8.25", "8.25 %" or "8,25" as basis points (825).
pub fn parse_percent(field: &str, raw: &str) -> Result<i64, FieldError> {
    let text = raw.trim().trim_end_matches('%').trim().replace(',', ".");
    if let Some(rest) = text.strip_prefix('-') {
        if !rest.is_empty() {
            return Err(FieldError::new(field, "negative", "not below zero: a percentage such as 8.25"));
        }
    }
    Money::parse(field, &text)
        .map(|m| m.cents())
        .map_err(|_| FieldError::new(field, "invalid_percent", "a percentage such as 8.25 (two decimals at most)"))
}

/// "95", "95.50" or "$1,095.00" as cents.
pub fn parse_amount(field: &str, raw: &str) -> Result<i64, FieldError> {
    let text: String = raw.trim().chars().filter(|c| !c.is_alphabetic() && !matches!(c, '€' | '£')).collect();
    if text.trim().starts_with('-') {
        return Err(FieldError::new(field, "negative", "not below zero: an amount such as 95.00"));
    }
    Money::parse(field, text.trim()).map(|m| m.cents())
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Working hours as "Mon-Fri 08:00-17:00; Sat 09:00-12:00": days with the same hours together.
pub fn hours_text(hours: &WorkingHours) -> String {
    let ranges = |d: usize| {
        hours.0[d]
            .iter()
            .map(|(a, b)| format!("{:02}:{:02}-{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = vec![];
    let mut d = 0;
    while d < 7 {
        if hours.0[d].is_empty() {
            d += 1;
            continue;
        }
        let mut end = d;
        while end + 1 < 7 && hours.0[end + 1] == hours.0[d] {
            end += 1;
        }
        let days = if end == d { DAY_NAMES[d].to_string() } else { format!("{}-{}", DAY_NAMES[d], DAY_NAMES[end]) };
        parts.push(format!("{days} {}", ranges(d)));
        d = end + 1;
    }
    if parts.is_empty() {
        "closed every day".into()
    } else {
        parts.join("; ")
    }
}

/// The inverse of [`hours_text`]: entries separated by `;` or new lines, each days (`Mon`,
/// `Mon-Fri`, `Sat,Sun`) then one or more ranges (`08:00-12:00, 13:00-17:00`). En dashes
/// are read as hyphens; day names in any case, three letters or whole.
pub fn parse_hours(field: &str, raw: &str) -> Result<WorkingHours, FieldError> {
    let bad = |why: String| FieldError::new(field, "invalid_hours", why);
    let mut hours = WorkingHours(Default::default());
    let text = raw.replace(['–', '—'], "-");
    let entries: Vec<&str> = text.split([';', '\n']).map(str::trim).filter(|e| !e.is_empty()).collect();
    if entries.is_empty() {
        return Err(bad("days and hours such as Mon-Fri 08:00-17:00".into()));
    }
    for entry in entries {
        let (days, times) = entry
            .split_once(|c: char| c.is_ascii_digit())
            .map(|(d, _)| (d, &entry[d.len()..]))
            .ok_or_else(|| bad(format!("'{entry}': days then hours, such as Mon-Fri 08:00-17:00")))?;
        let mut on = [false; 7];
        for part in days.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (Some(a), Some(b)) = (day_index(a), day_index(b)) else {
                return Err(bad(format!("'{part}' is not a day: Mon, Tue, Wed, Thu, Fri, Sat, Sun")));
            };
            if a > b {
                return Err(bad(format!("'{part}': days run from Monday to Sunday")));
            }
            on[a..=b].iter_mut().for_each(|d| *d = true);
        }
        if !on.contains(&true) {
            return Err(bad(format!("'{entry}': which days?")));
        }
        for range in times.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (a, b) = range.split_once('-').ok_or_else(|| bad(format!("'{range}': hours like 08:00-17:00")))?;
            let (Some(a), Some(b)) = (minute_of_day(a), minute_of_day(b)) else {
                return Err(bad(format!("'{range}': hours like 08:00-17:00")));
            };
            if a >= b {
                return Err(bad(format!("'{range}': a range ends after it starts")));
            }
            for (d, _) in on.iter().enumerate().filter(|(_, on)| **on) {
                hours.0[d].push((a, b));
            }
        }
    }
    for day in &mut hours.0 {
        day.sort();
    }
    check_hours(&hours).map_err(|e| FieldError::new(field, &e.code, e.message))?;
    Ok(hours)
}

fn day_index(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    if name.len() < 3 {
        return None;
    }
    const WHOLE: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    WHOLE.iter().position(|d| d.starts_with(&name))
}

fn minute_of_day(s: &str) -> Option<u16> {
    let s = s.trim();
    if s == "24:00" {
        return Some(24 * 60);
    }
    let (h, m) = s.split_once(':').unwrap_or((s, "00"));
    let (h, m): (u16, u16) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// What `shop.settings.read` shows: the profile in force and, for every key, where its value
/// comes from and who saved it last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopSettingsView {
    pub profile: ShopProfile,
    pub entries: Vec<ShopEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopEntry {
    pub key: ShopKey,
    /// The value as people read it.
    pub text: String,
    pub source: Source,
    pub updated_by: Option<String>,
    pub updated_at_ms: Option<i64>,
}

impl ShopSettingsView {
    pub fn entry(&self, key: ShopKey) -> Option<&ShopEntry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(name: &str) -> Option<String> {
        ["America/Chicago", "Europe/Berlin", "UTC"].into_iter().find(|z| z.eq_ignore_ascii_case(name)).map(String::from)
    }

    fn refused(change: &ShopSettingsChange) -> Vec<(String, String)> {
        match change.validate(&zones) {
            Err(DomainError::Invalid(e)) => e.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_good_change_gives_one_value_per_key() {
        let change = ShopSettingsChange {
            business_name: Some("  Acme Heating ".into()),
            address: Some("12 Elm St  \n\n Springfield IL ".into()),
            phone: Some("(312) 555-0100".into()),
            email: Some("Office@ACME.test".into()),
            timezone: Some("america/chicago".into()),
            currency: Some("eur".into()),
            tax_rate_bp: Some(825),
            labor_rate_cents: Some(12_000),
            payment_terms: Some("Net 15".into()),
            working_hours: Some(parse_hours("working_hours", "Mon-Fri 08:00-17:00; Sat 09:00-12:00").expect("hours")),
            slot_step_minutes: Some(15),
            travel_buffer_minutes: Some(0),
            logo: None,
        };
        let values: std::collections::BTreeMap<_, _> = change.validate(&zones).expect("valid").into_iter().collect();
        assert_eq!(values[&ShopKey::BusinessName], json!("Acme Heating"));
        assert_eq!(values[&ShopKey::Address], json!("12 Elm St\nSpringfield IL"));
        assert_eq!(values[&ShopKey::Phone], json!("(312) 555-0100"), "kept as the shop writes it");
        assert_eq!(values[&ShopKey::Email], json!("Office@acme.test"));
        assert_eq!(values[&ShopKey::Timezone], json!("America/Chicago"), "the database's own spelling");
        assert_eq!(values[&ShopKey::Currency], json!("EUR"));
        assert_eq!(values[&ShopKey::TaxRate], json!(825));
        assert_eq!(values.len(), 12);
    }

    #[test]
    fn bad_fields_are_each_named_and_nothing_is_taken() {
        let change = ShopSettingsChange {
            business_name: Some("Acme".into()),
            timezone: Some("Mars/Olympus_Mons".into()),
            currency: Some("XYZ".into()),
            tax_rate_bp: Some(-5),
            labor_rate_cents: Some(-100),
            slot_step_minutes: Some(1),
            email: Some("not an address".into()),
            phone: Some("12".into()),
            ..Default::default()
        };
        let errors = refused(&change);
        for (field, code) in [
            ("timezone", "unknown_time_zone"),
            ("currency", "unknown_currency"),
            ("tax_rate_bp", "negative"),
            ("labor_rate_cents", "negative"),
            ("slot_step_minutes", "out_of_range"),
            ("email", "invalid_email"),
            ("phone", "invalid_phone"),
        ] {
            assert!(errors.contains(&(field.into(), code.into())), "{field} {code} in {errors:?}");
        }
        assert!(!errors.iter().any(|(f, _)| f == "business_name"), "the good field is not blamed");
    }

    #[test]
    fn zones_currencies_and_names_are_checked() {
        let one = |c: ShopSettingsChange| refused(&c).remove(0);
        let tz = |z: &str| ShopSettingsChange { timezone: Some(z.into()), ..Default::default() };
        assert_eq!(one(tz("")), ("timezone".into(), "invalid_time_zone".into()));
        assert_eq!(one(tz("Chicago; DROP")), ("timezone".into(), "invalid_time_zone".into()));
        assert_eq!(one(tz("Europe/Atlantis")), ("timezone".into(), "unknown_time_zone".into()));
        let cur = ShopSettingsChange { currency: Some("JPY".into()), ..Default::default() };
        assert_eq!(one(cur), ("currency".into(), "unsupported_currency".into()));
        let name = ShopSettingsChange { business_name: Some("  ".into()), ..Default::default() };
        assert_eq!(one(name), ("business_name".into(), "required".into()));
        let name = ShopSettingsChange { business_name: Some("A\nB".into()), ..Default::default() };
        assert_eq!(one(name), ("business_name".into(), "invalid_characters".into()));
        let tax = ShopSettingsChange { tax_rate_bp: Some(5_001), ..Default::default() };
        assert_eq!(one(tax), ("tax_rate_bp".into(), "out_of_range".into()));
        assert_eq!(one(ShopSettingsChange::default()), ("settings".into(), "empty".into()));
    }

    #[test]
    fn blank_contact_details_clear_them() {
        let change = ShopSettingsChange {
            phone: Some(" ".into()),
            email: Some("".into()),
            address: Some("".into()),
            ..Default::default()
        };
        let values = change.validate(&zones).expect("valid");
        assert_eq!(values.len(), 3);
        assert!(values.iter().all(|(_, v)| v == &json!("")));
    }

    #[test]
    fn working_hours_read_and_write_as_text() {
        let h = parse_hours("h", "Mon–Fri 08:00–17:00; sat 09:00-12:00").expect("hours");
        assert_eq!(h.0[0], vec![(480, 1020)]);
        assert_eq!(h.0[5], vec![(540, 720)]);
        assert!(h.0[6].is_empty());
        assert_eq!(hours_text(&h), "Mon-Fri 08:00-17:00; Sat 09:00-12:00");
        assert_eq!(parse_hours("h", &hours_text(&h)), Ok(h));
        let split = parse_hours("h", "Monday, Wednesday 08:00-12:00, 13:00-17:00").expect("split shifts");
        assert_eq!(split.0[2], vec![(480, 720), (780, 1020)]);
        assert_eq!(hours_text(&split), "Mon 08:00-12:00, 13:00-17:00; Wed 08:00-12:00, 13:00-17:00");
        for bad in ["", "Funday 08:00-17:00", "Mon-Fri 17:00-08:00", "Fri-Mon 8-9", "Mon 08:00"] {
            assert_eq!(parse_hours("h", bad).map_err(|e| e.code), Err("invalid_hours".into()), "{bad}");
        }
        let overlap = parse_hours("h", "Mon 08:00-12:00, 11:00-13:00").map_err(|e| e.code);
        assert_eq!(overlap, Err("overlapping_hours".into()));
        assert_eq!(
            check_hours(&WorkingHours(Default::default())).unwrap_err().code,
            "no_working_days",
            "a shop works some day"
        );
    }

    #[test]
    fn text_values_are_what_people_type() {
        let mut c = ShopSettingsChange::default();
        c.set_text(ShopKey::TaxRate, "8.25 %").expect("percent");
        c.set_text(ShopKey::LaborRate, "$120.50").expect("amount");
        c.set_text(ShopKey::SlotStepMinutes, "15").expect("minutes");
        c.set_text("payment-terms".parse().expect("a key"), "Net 15").expect("terms");
        assert_eq!((c.tax_rate_bp, c.labor_rate_cents, c.slot_step_minutes), (Some(825), Some(12_050), Some(15)));
        assert_eq!(c.payment_terms.as_deref(), Some("Net 15"));
        assert_eq!(c.set_text(ShopKey::TaxRate, "-1").unwrap_err().code, "negative");
        assert_eq!(c.set_text(ShopKey::LaborRate, "-95").unwrap_err().code, "negative");
        assert_eq!(c.set_text(ShopKey::TaxRate, "8.125").unwrap_err().code, "invalid_percent");
        assert_eq!(c.set_text(ShopKey::Logo, "x").unwrap_err().code, "not_text");
        assert_eq!("colour".parse::<ShopKey>().unwrap_err().code, "unknown_setting");
        assert_eq!("tax_rate_bp".parse::<ShopKey>(), Ok(ShopKey::TaxRate));
    }

    #[test]
    fn a_form_changes_only_what_was_edited() {
        let current = ShopProfile { tax_rate_bp: 825, ..Default::default() };
        let form: Vec<(ShopKey, String)> =
            ShopKey::ALL.into_iter().filter(|k| *k != ShopKey::Logo).map(|k| (k, current.form_text(k))).collect();
        assert_eq!(current.form_text(ShopKey::TaxRate), "8.25");
        assert_eq!(current.form_text(ShopKey::LaborRate), "95.00");
        assert!(current.changes_from_form(&form).expect("unchanged").keys().is_empty(), "nothing edited");
        let mut edited = form.clone();
        edited[0].1 = "Acme Heating".into();
        edited.iter_mut().find(|(k, _)| *k == ShopKey::TaxRate).expect("tax").1 = " 8.25 ".into();
        edited.iter_mut().find(|(k, _)| *k == ShopKey::LaborRate).expect("labor").1 = "120".into();
        let change = current.changes_from_form(&edited).expect("a change");
        assert_eq!(change.keys(), [ShopKey::BusinessName, ShopKey::LaborRate]);
        assert_eq!(change.labor_rate_cents, Some(12_000));
        edited.iter_mut().find(|(k, _)| *k == ShopKey::TaxRate).expect("tax").1 = "lots".into();
        let Err(DomainError::Invalid(e)) = current.changes_from_form(&edited) else { panic!("refused") };
        assert_eq!((e[0].field.as_str(), e[0].code.as_str()), ("tax_rate_bp", "invalid_percent"));
    }

    #[test]
    fn the_profile_reads_back_what_it_stores() {
        let mut p = ShopProfile::default();
        let stored = ShopProfile {
            currency: Currency::parse("c", "GBP").expect("GBP"),
            tax_rate_bp: 750,
            working_hours: parse_hours("h", "Tue-Sat 07:30-16:00").expect("hours"),
            ..Default::default()
        };
        for key in ShopKey::ALL {
            p.apply(key, &stored.value_of(key)).expect("reads back");
        }
        assert_eq!(p, stored);
        assert_eq!(p.text_of(ShopKey::TaxRate), "7.5 %");
        assert_eq!(p.text_of(ShopKey::LaborRate), "£95.00/h");
        assert!(p.apply(ShopKey::TaxRate, &json!("lots")).is_err());
        assert_eq!(percent_text(825), "8.25 %");
        assert_eq!(percent_text(800), "8 %");
    }
}
