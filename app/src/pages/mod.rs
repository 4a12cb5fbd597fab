pub mod accounts;
pub mod approvals;
pub mod billing;
pub mod calendar;
pub mod console;
pub mod customer;
pub mod photos;
pub mod portal;
pub mod records;
pub mod session;
pub mod settings;
pub mod tech;
pub mod ticket;
pub mod updates;

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <main class="home">
            <h1>"Real Dispatch"</h1>
            <p>"Dispatch and closeout for field-service teams."</p>
            <nav class="home-links">
                <A href="/console">"Operator console"</A>
                <A href="/tech">"Technician jobs"</A>
                <A href="/login">"Sign in"</A>
            </nav>
        </main>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="not-found">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the start page"</a></p>
        </main>
    }
}

/// Calls `apply` with the latest value once no new one came for 300 ms (in the browser; on the
/// server nothing is typed).
pub fn debounced(apply: impl Fn(String) + Copy + 'static) -> impl Fn(String) + Copy + 'static {
    #[cfg(feature = "hydrate")]
    {
        let pending = StoredValue::new_local(None::<leptos::prelude::TimeoutHandle>);
        move |value: String| {
            if let Some(h) = pending.get_value() {
                h.clear();
            }
            let h = set_timeout_with_handle(move || apply(value), std::time::Duration::from_millis(300)).ok();
            pending.set_value(h);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    move |value: String| {
        let _ = (apply, value);
    }
}

/// What went wrong with a form's last submission, in one line; None when it succeeded or has
/// not run.
pub fn failure_text<T>(r: Option<Result<crate::api::FormOutcome<T>, ServerFnError>>) -> Option<String> {
    match r? {
        Ok(crate::api::FormOutcome::Done(_)) => None,
        Ok(crate::api::FormOutcome::Invalid { message, fields }) => {
            let detail = fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; ");
            Some(format!("{message} {detail}"))
        }
        Err(e) => Some(e.to_string()),
    }
}

/// The server's message for one field of the last submission, when it named that field (the
/// service names fields by their input names, e.g. `eta_ms`).
pub fn field_error<T>(r: Option<Result<crate::api::FormOutcome<T>, ServerFnError>>, names: &[&str]) -> Option<String> {
    match r? {
        Ok(crate::api::FormOutcome::Invalid { fields, .. }) => {
            let found: Vec<String> =
                fields.into_iter().filter(|f| names.contains(&f.field.as_str())).map(|f| f.message).collect();
            (!found.is_empty()).then(|| found.join("; "))
        }
        _ => None,
    }
}

/// The server's messages for a field and everything under it (`lines`, `lines[2].amount_cents`).
pub fn field_error_under<T>(
    r: Option<Result<crate::api::FormOutcome<T>, ServerFnError>>,
    prefix: &str,
) -> Option<String> {
    match r? {
        Ok(crate::api::FormOutcome::Invalid { fields, .. }) => {
            let under =
                |f: &str| f == prefix || f.strip_prefix(prefix).is_some_and(|rest| rest.starts_with(['[', '.']));
            let found: Vec<String> = fields.into_iter().filter(|f| under(&f.field)).map(|f| f.message).collect();
            (!found.is_empty()).then(|| found.join("; "))
        }
        _ => None,
    }
}

/// A time as `YYYY-MM-DD HH:MM ZONE` in the shop's time zone, from the clock the server put in
/// the page: the same text on the server and in the browser (UTC outside a page).
pub fn when(ms: i64) -> String {
    use_context::<crate::clock::ShopClock>().unwrap_or_else(crate::clock::ShopClock::utc).format(ms)
}

/// A window as a technician reads it, in the shop's time zone: `Tue 30 Nov, 09:30–11:30`.
pub fn window_text(start_ms: i64, end_ms: i64) -> String {
    use_context::<crate::clock::ShopClock>().unwrap_or_else(crate::clock::ShopClock::utc).range(start_ms, end_ms)
}

/// One time, the same way: `Tue 30 Nov, 09:30`.
pub fn day_time(ms: i64) -> String {
    use_context::<crate::clock::ShopClock>().unwrap_or_else(crate::clock::ShopClock::utc).day_time(ms)
}

fn clock() -> crate::clock::ShopClock {
    use_context::<crate::clock::ShopClock>().unwrap_or_else(crate::clock::ShopClock::utc)
}

/// `09:42` in the shop's zone.
pub fn time_of_day(ms: i64) -> String {
    clock().time_of_day(ms)
}

/// `Mon 30 Nov 2026` in the shop's zone.
pub fn day_label(ms: i64) -> String {
    clock().day_label(ms)
}

/// `30 Nov` in the shop's zone.
pub fn short_day(ms: i64) -> String {
    clock().short_day(ms)
}

/// Midnight UTC of a `YYYY-MM-DD` date, in unix milliseconds.
pub fn date_ms(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let (y, m, d): (i64, i64, i64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    // Four-digit years only: no arithmetic below can overflow, and the service refuses
    // anything outside its own range with a clear message.
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let year = y;
    // Days from civil (Howard Hinnant's algorithm), the inverse of `when`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = days * 86_400_000;
    // Reject dates that do not exist (2026-02-30) by checking the round trip.
    crate::clock::civil(ms).starts_with(&format!("{year:04}-{m:02}-{d:02}")).then_some(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_parse_to_utc_midnight() {
        assert_eq!(super::date_ms("1970-01-01"), Some(0));
        assert_eq!(super::date_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(super::date_ms("2026-02-30"), None);
        assert_eq!(super::date_ms("2026-13-01"), None);
        assert_eq!(super::date_ms("soon"), None);
        assert_eq!(super::date_ms("99999999999999-01-01"), None, "no overflow, no panic");
        assert_eq!(super::date_ms("-5-01-01"), None);
        assert_eq!(super::date_ms("é-1-1"), None);
    }

    #[test]
    fn times_read_in_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_709_210_096_000), "2024-02-29 12:34 UTC");
        assert_eq!(super::when(-60_000), "1969-12-31 23:59 UTC");
        for extreme in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1] {
            assert!(!super::when(extreme).is_empty(), "any instant can be written without a panic");
        }
    }
}
