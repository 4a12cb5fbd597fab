//! Shop-wide settings in two layers (README, "Shop settings"):
//!
//! - [`ShopSettings`]: what the environment says, read once at start: the first-run defaults
//!   of the shop's profile (`RD_SHOP_NAME`, `RD_TIMEZONE`, rates, the scheduling grid) and the
//!   settings that stay environment-only (the inbound blocklist, the upload limit).
//! - [`Shop`]: the profile in force: every key an admin saved (`shop.settings.set`, kept in
//!   the database), the environment's default for every key never saved.

use domain::currency::Currency;
use domain::money::Money;
use domain::shop_profile::{ShopEntry, ShopKey, ShopProfile, ShopSettingsView, Source};
use jiff::tz::TimeZone;

#[derive(Debug, Clone)]
pub struct ShopSettings {
    /// The profile's value of every key never saved: the environment's, else built in.
    pub defaults: ShopProfile,
    /// The keys whose default the environment gave.
    pub from_env: Vec<ShopKey>,
    /// The default time zone itself (the system's zone may have no IANA name to keep).
    pub default_zone: TimeZone,
    /// Senders whose inbound messages are quarantined (normalised phone numbers or e-mails).
    pub inbound_blocklist: Vec<String>,
    /// Largest file accepted by an upload, in MiB.
    pub max_upload_mib: i64,
    /// Sign-in attempts allowed per minute from one address (a burst of up to ten at once).
    pub sign_ins_per_minute: u32,
}

impl ShopSettings {
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mib as u64 * 1024 * 1024
    }
}

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            defaults: ShopProfile::default(),
            from_env: vec![],
            default_zone: TimeZone::UTC,
            inbound_blocklist: vec![],
            max_upload_mib: 50,
            sign_ins_per_minute: crate::service::LOGINS_PER_MINUTE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{name}='{value}': {why}")]
pub struct SettingsError {
    name: &'static str,
    value: String,
    why: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

pub(crate) fn int(
    name: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, SettingsError> {
    match env(name) {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(SettingsError {
                name,
                value: v,
                why: format!("a whole number from {} to {}", range.start(), range.end()),
            }),
        },
    }
}

impl ShopSettings {
    pub fn from_env() -> Result<ShopSettings, SettingsError> {
        let mut defaults = ShopProfile::default();
        let default_zone = match env("RD_TIMEZONE") {
            None => TimeZone::system(),
            Some(name) => TimeZone::get(&name).map_err(|e| SettingsError {
                name: "RD_TIMEZONE",
                value: name,
                why: e.to_string(),
            })?,
        };
        // An unnamed system zone is used as it is; it shows under the name "system".
        defaults.timezone = default_zone.iana_name().unwrap_or("system").to_string();
        defaults.labor_rate_cents = int("RD_LABOR_RATE_CENTS", defaults.labor_rate_cents, 0..=1_000_000)?;
        defaults.tax_rate_bp = int("RD_TAX_RATE_BP", defaults.tax_rate_bp, 0..=5_000)?;
        defaults.slot_step_minutes = int("RD_SLOT_STEP_MINUTES", defaults.slot_step_minutes, 5..=240)?;
        defaults.travel_buffer_minutes = int("RD_TRAVEL_BUFFER_MINUTES", defaults.travel_buffer_minutes, 0..=240)?;
        if let Some(name) = env("RD_SHOP_NAME") {
            defaults.business_name = name;
        }
        let from_env = ShopKey::ALL.into_iter().filter(|k| k.env().is_some_and(|v| env(v).is_some())).collect();
        Ok(ShopSettings {
            defaults,
            from_env,
            default_zone,
            inbound_blocklist: std::env::var("RD_INBOUND_BLOCKLIST")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            max_upload_mib: int("RD_MAX_UPLOAD_MIB", 50, 1..=4096)?,
            sign_ins_per_minute: int("RD_SIGN_INS_PER_MINUTE", i64::from(crate::service::LOGINS_PER_MINUTE), 1..=6000)?
                as u32,
        })
    }
}

/// One saved key, as the store reads it.
#[derive(Debug, Clone)]
pub struct SavedSetting {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_by: String,
    pub updated_at_ms: i64,
}

/// The shop's profile in force, with its time zone ready to use and where each value comes from.
#[derive(Debug, Clone)]
pub struct Shop {
    pub profile: ShopProfile,
    pub timezone: TimeZone,
    pub entries: Vec<ShopEntry>,
}

impl Shop {
    /// Saved values over the environment's defaults. A saved value that no longer reads (a
    /// zone the time-zone database dropped) keeps the default, and the log says so.
    pub fn resolve(env: &ShopSettings, saved: &[SavedSetting]) -> Shop {
        let mut profile = env.defaults.clone();
        let mut timezone = env.default_zone.clone();
        let mut entries = vec![];
        for key in ShopKey::ALL {
            let row = saved.iter().find(|s| s.key == key.storage_key());
            let mut applied = row.filter(|s| match profile.apply(key, &s.value) {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(key = key.as_str(), error = %e, "saved shop setting unreadable; using the default");
                    false
                }
            });
            if key == ShopKey::Timezone && applied.is_some() {
                match TimeZone::get(&profile.timezone) {
                    Ok(tz) => timezone = tz,
                    Err(e) => {
                        tracing::error!(zone = %profile.timezone, error = %e, "saved time zone unknown; using the default");
                        profile.timezone = env.defaults.timezone.clone();
                        applied = None;
                    }
                }
            }
            let source = match applied {
                Some(_) => Source::Database,
                None if env.from_env.contains(&key) => Source::Environment,
                None => Source::Default,
            };
            entries.push(ShopEntry {
                key,
                text: profile.text_of(key),
                source,
                updated_by: applied.map(|s| s.updated_by.clone()),
                updated_at_ms: applied.map(|s| s.updated_at_ms),
            });
        }
        Shop { profile, timezone, entries }
    }

    pub fn view(&self) -> ShopSettingsView {
        ShopSettingsView { profile: self.profile.clone(), entries: self.entries.clone() }
    }

    pub fn currency(&self) -> Currency {
        self.profile.currency
    }

    /// An amount in the shop's currency: "$1,234.56", "€12.50", "CHF 80.00".
    pub fn money(&self, cents: i64) -> String {
        self.profile.currency.format(Money(cents))
    }

    /// The shop's own word for the day of `ms` seen from `now_ms`: "Today", "Tomorrow",
    /// "Yesterday", else a short date such as "Wed 25 Nov".
    pub fn day_label(&self, ms: i64, now_ms: i64) -> String {
        let date =
            |ms: i64| jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned(self.timezone.clone()).date());
        let (Some(day), Some(today)) = (date(ms), date(now_ms)) else { return String::new() };
        match (day - today).get_days() {
            0 => "Today".into(),
            1 => "Tomorrow".into(),
            -1 => "Yesterday".into(),
            _ => day.strftime("%a %-d %b").to_string(),
        }
    }

    /// A time window in the shop's zone: "Tue 24 Nov 2026, 09:00–11:00 CST" on one day.
    pub fn window_label(&self, start_ms: i64, end_ms: i64) -> String {
        let zoned = |ms: i64| jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned(self.timezone.clone()));
        match (zoned(start_ms), zoned(end_ms)) {
            (Some(a), Some(b)) if a.date() == b.date() => {
                format!("{}–{}", a.strftime("%a %-d %b %Y, %H:%M"), b.strftime("%H:%M %Z"))
            }
            _ => format!("{} – {}", self.time_label(start_ms), self.time_label(end_ms)),
        }
    }

    /// A date and time in the shop's zone, for documents: "Tue 24 Nov 2026, 14:05 CST".
    pub fn time_label(&self, ms: i64) -> String {
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t.to_zoned(self.timezone.clone()).strftime("%a %-d %b %Y, %H:%M %Z").to_string(),
            Err(_) => String::new(),
        }
    }
}

impl Default for Shop {
    fn default() -> Self {
        Shop::resolve(&ShopSettings::default(), &[])
    }
}

/// The time-zone database's own name for `name`, if it knows the zone (for the domain's check).
pub fn known_zone(name: &str) -> Option<String> {
    let tz = TimeZone::get(name).ok()?;
    Some(tz.iana_name().unwrap_or(name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(key: ShopKey, value: serde_json::Value) -> SavedSetting {
        SavedSetting { key: key.storage_key().into(), value, updated_by: "usr_admin".into(), updated_at_ms: 7 }
    }

    #[test]
    fn days_are_named_in_the_shops_time_zone() {
        let s = Shop::resolve(&ShopSettings::default(), &[saved(ShopKey::Timezone, "America/Chicago".into())]);
        // 2026-11-23 20:00 in Chicago is 2026-11-24 02:00 UTC.
        let now = jiff::Timestamp::from_second(1_795_485_600).expect("ts").as_millisecond();
        assert_eq!(s.day_label(now, now), "Today");
        assert_eq!(s.day_label(now + 5 * 3_600_000, now), "Tomorrow", "01:00 next day in Chicago");
        assert_eq!(s.day_label(now + 3 * 3_600_000, now), "Today", "23:00 in Chicago, though the 24th in UTC");
        assert_eq!(s.day_label(now - 86_400_000, now), "Yesterday");
        assert_eq!(s.day_label(now + 2 * 86_400_000, now), "Wed 25 Nov");
        assert_eq!(s.time_label(now), "Mon 23 Nov 2026, 20:00 CST");
        assert_eq!(s.window_label(now - 3_600_000, now), "Mon 23 Nov 2026, 19:00–20:00 CST");
        assert_eq!(s.window_label(now, now + 5 * 3_600_000), "Mon 23 Nov 2026, 20:00 CST – Tue 24 Nov 2026, 01:00 CST");
    }

    #[test]
    fn saved_values_win_over_the_environment_and_say_so() {
        let mut env = ShopSettings::default();
        env.defaults.business_name = "From Env".into();
        env.from_env = vec![ShopKey::BusinessName];
        let before = Shop::resolve(&env, &[]);
        assert_eq!(before.profile.business_name, "From Env");
        let source = |s: &Shop, k: ShopKey| s.entries.iter().find(|e| e.key == k).map(|e| e.source);
        assert_eq!(source(&before, ShopKey::BusinessName), Some(Source::Environment));
        assert_eq!(source(&before, ShopKey::Currency), Some(Source::Default));
        let after = Shop::resolve(
            &env,
            &[saved(ShopKey::BusinessName, "Saved Name".into()), saved(ShopKey::Currency, "EUR".into())],
        );
        assert_eq!(after.profile.business_name, "Saved Name");
        assert_eq!(source(&after, ShopKey::BusinessName), Some(Source::Database));
        assert_eq!(after.money(1_250), "€12.50");
    }

    #[test]
    fn an_unreadable_saved_value_keeps_the_default() {
        let s = Shop::resolve(
            &ShopSettings::default(),
            &[saved(ShopKey::Timezone, "Gone/Zone".into()), saved(ShopKey::TaxRate, "lots".into())],
        );
        assert_eq!(s.profile.timezone, "UTC");
        assert_eq!(s.timezone, TimeZone::UTC);
        assert_eq!(s.profile.tax_rate_bp, 0);
        assert!(s
            .entries
            .iter()
            .filter(|e| matches!(e.key, ShopKey::Timezone | ShopKey::TaxRate))
            .all(|e| e.source == Source::Default));
    }
}
