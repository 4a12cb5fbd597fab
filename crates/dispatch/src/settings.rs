//! Shop-wide settings: time zone, rates, scheduling grid. From the environment (README).

use jiff::tz::TimeZone;

#[derive(Debug, Clone)]
pub struct ShopSettings {
    /// Technicians' working hours are in this zone (IANA name, e.g. America/Chicago).
    pub timezone: TimeZone,
    /// Default labor rate per hour, in cents.
    pub labor_rate_cents: i64,
    /// Sales tax in basis points (825 = 8.25 %).
    pub tax_rate_bp: i64,
    /// Appointment starts are offered on this grid.
    pub slot_step_minutes: i64,
    /// Kept free around each booking for travel.
    pub travel_buffer_minutes: i64,
    /// Senders whose inbound messages are quarantined (normalised phone numbers or e-mails).
    pub inbound_blocklist: Vec<String>,
    /// Largest file accepted by an upload, in MiB.
    pub max_upload_mib: i64,
    /// The business name printed on closeout packets.
    pub shop_name: String,
}

impl ShopSettings {
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mib as u64 * 1024 * 1024
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

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            timezone: TimeZone::UTC,
            labor_rate_cents: 9_500,
            tax_rate_bp: 0,
            slot_step_minutes: 30,
            travel_buffer_minutes: 30,
            inbound_blocklist: vec![],
            max_upload_mib: 50,
            shop_name: "Real Dispatch".into(),
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

pub(crate) fn int(
    name: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, SettingsError> {
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
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
        let d = ShopSettings::default();
        let timezone = match std::env::var("RD_TIMEZONE").ok().filter(|v| !v.trim().is_empty()) {
            None => TimeZone::system(),
            Some(name) => TimeZone::get(name.trim()).map_err(|e| SettingsError {
                name: "RD_TIMEZONE",
                value: name.clone(),
                why: e.to_string(),
            })?,
        };
        Ok(ShopSettings {
            timezone,
            labor_rate_cents: int("RD_LABOR_RATE_CENTS", d.labor_rate_cents, 0..=1_000_000)?,
            tax_rate_bp: int("RD_TAX_RATE_BP", d.tax_rate_bp, 0..=5_000)?,
            slot_step_minutes: int("RD_SLOT_STEP_MINUTES", d.slot_step_minutes, 5..=240)?,
            travel_buffer_minutes: int("RD_TRAVEL_BUFFER_MINUTES", d.travel_buffer_minutes, 0..=240)?,
            inbound_blocklist: std::env::var("RD_INBOUND_BLOCKLIST")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            max_upload_mib: int("RD_MAX_UPLOAD_MIB", d.max_upload_mib, 1..=4096)?,
            shop_name: std::env::var("RD_SHOP_NAME")
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or(d.shop_name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_in_the_shops_time_zone() {
        let s = ShopSettings { timezone: TimeZone::get("America/Chicago").expect("zone"), ..Default::default() };
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
}
