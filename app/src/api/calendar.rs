//! The dispatch calendar: a day or a week of every technician's bookings, working hours and
//! time off in the shop's time zone, the tickets still to book, and the one booking call its
//! drops and its form make (`ticket.book`, with `reschedule` for a move). A refusal comes back
//! in a dispatcher's words: which technician, and why.

use super::*;
use domain::{CaseState, Priority};

/// The length of a job booked from the side list unless the dispatcher picks another (what
/// `schedule.propose_slots` assumes too).
pub const DEFAULT_JOB_MINUTES: i64 = 120;
/// Drops land on this grid (shop-local quarter hours).
pub const SNAP_MINUTES: i64 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CalendarView {
    Day,
    Week,
}

impl CalendarView {
    pub fn parse(s: &str) -> CalendarView {
        if s == "week" {
            CalendarView::Week
        } else {
            CalendarView::Day
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CalendarView::Day => "day",
            CalendarView::Week => "week",
        }
    }
}

/// One day's column: its shop-local date and the hours the calendar shows of it, as instants
/// (a daylight-saving day has 23 or 25 hours, so the browser never computes them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`, shop-local.
    pub date: String,
    /// The first shown hour (a whole local hour) and the end of the last.
    pub start_ms: i64,
    pub end_ms: i64,
    /// Each whole local hour from `start_ms` on, for the grid's lines and labels.
    pub hours: Vec<i64>,
    pub today: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OffSpan {
    pub start_ms: i64,
    pub end_ms: i64,
    pub reason: Option<String>,
}

/// A technician's row: who, what they do, when they work and when they are off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarTech {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub zone: Option<String>,
    /// Working hours inside the shown days, time off not taken out.
    pub working: Vec<(i64, i64)>,
    pub off: Vec<OffSpan>,
}

/// A booked job on a technician's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarBooking {
    pub ticket_id: String,
    pub number: String,
    pub technician_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub customer_name: String,
    pub site_address: Option<String>,
    pub state: CaseState,
}

impl CalendarBooking {
    /// Whether a drop may move it: booked and nobody on site yet (`ticket.book` takes it).
    pub fn movable(&self) -> bool {
        domain::Action::TicketBook.legal_in(self.state) && self.state != CaseState::Intake
    }
}

/// A ticket that still needs a booking with a technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarTicket {
    pub ticket_id: String,
    pub number: String,
    pub state: CaseState,
    pub priority: Priority,
    pub customer_name: String,
    pub problem: Option<String>,
    pub trade: Option<String>,
    pub site_address: Option<String>,
    /// A confirmed time without a technician (scheduled): a drop gives it one, and may move it.
    pub window: Option<(i64, i64)>,
}

impl CalendarTicket {
    /// A lead lacks details (contact, site or problem) and is completed on its ticket first.
    pub fn bookable(&self) -> bool {
        domain::Action::TicketBook.legal_in(self.state)
    }
}

/// Everything the calendar page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub view: CalendarView,
    /// The date asked for and the shop's today (`YYYY-MM-DD`, shop-local).
    pub date: String,
    pub today: String,
    /// The dates before and after: a day, or a week.
    pub prev: String,
    pub next: String,
    pub days: Vec<CalendarDay>,
    pub technicians: Vec<CalendarTech>,
    pub bookings: Vec<CalendarBooking>,
    pub unscheduled: Vec<CalendarTicket>,
    pub travel_buffer_minutes: i64,
    pub now_ms: i64,
}

/// Tickets listed for booking at most (the oldest wait at the top of the board's columns).
#[cfg(feature = "ssr")]
const UNSCHEDULED_LIMIT: i64 = 60;

#[server(endpoint = "calendar")]
pub async fn load_calendar(view: String, date: String) -> Result<Calendar, ServerFnError> {
    ssr::allow(Action::RecordsRead)?;
    let service = ssr::service()?;
    let ctx = ssr::context(Action::RecordsRead)?;
    let shop = service.shop().await;
    let tz = shop.timezone.clone();
    let now_ms = dispatch::ids::now_ms();
    let view = CalendarView::parse(&view);
    let today = days::local_date(now_ms, &tz).ok_or_else(|| ServerFnError::new("the clock is out of range"))?;
    let anchor = days::parse_date(&date).unwrap_or(today);
    let dates = days::shown(view, anchor);
    let (Some(first), Some(last)) = (dates.first().copied(), dates.last().copied()) else {
        return Err(ServerFnError::new("no days to show"));
    };
    let midnight = |d: jiff::civil::Date| days::local_ms(d, 0, &tz);
    let range_start = midnight(first).ok_or_else(|| ServerFnError::new("date out of range"))?;
    let range_end = last.tomorrow().ok().and_then(midnight).ok_or_else(|| ServerFnError::new("date out of range"))?;
    let range = domain::window::TimeWindow { start_ms: range_start, end_ms: range_end };

    let roster: Vec<_> =
        service.technicians(&ctx).await.map_err(ssr::error)?.into_iter().filter(|t| t.active).collect();
    let agenda = service.agenda(&ctx, range_start, range_end).await.map_err(ssr::error)?;
    let off = service.time_off(&ctx, range_start, range_end).await.map_err(ssr::error)?;

    // The hours shown: every technician's working hours on these days and every booking, an
    // hour either side, so a job early or late is never cut off.
    let mut spans: Vec<(u16, u16)> = vec![];
    for t in &roster {
        for d in &dates {
            spans.extend(t.working_hours.0[d.weekday().to_monday_zero_offset() as usize].iter().copied());
        }
    }
    for b in &agenda {
        if let (Some(s), Some(e)) = (days::local_minute(b.start_ms, &tz), days::local_minute(b.end_ms, &tz)) {
            // A job running past midnight reaches the end of the day.
            spans.push((s, if e <= s { 24 * 60 } else { e }));
        }
    }
    let (from_hour, to_hour) = days::axis_hours(&spans);
    let mut shown = vec![];
    for d in &dates {
        let start = days::local_ms(*d, from_hour, &tz);
        let end = if to_hour >= 24 { d.tomorrow().ok().and_then(midnight) } else { days::local_ms(*d, to_hour, &tz) };
        let (Some(start_ms), Some(end_ms)) = (start, end) else { continue };
        let hours = (from_hour..to_hour).filter_map(|h| days::local_ms(*d, h, &tz)).collect();
        shown.push(CalendarDay { date: d.to_string(), start_ms, end_ms, hours, today: *d == today });
    }

    let technicians = roster
        .iter()
        .map(|t| CalendarTech {
            id: t.id.clone(),
            name: t.name.clone(),
            skills: t.skills.clone(),
            zone: t.zone.clone(),
            working: dispatch::scheduling::working_intervals(&t.working_hours, &tz, range)
                .into_iter()
                .map(|w| (w.start_ms, w.end_ms))
                .collect(),
            off: off
                .iter()
                .filter(|o| o.technician_id == t.id)
                .map(|o| OffSpan { start_ms: o.start_ms, end_ms: o.end_ms, reason: o.reason.clone() })
                .collect(),
        })
        .collect();
    let bookings = agenda
        .into_iter()
        .map(|a| CalendarBooking {
            ticket_id: a.ticket_id,
            number: a.number,
            technician_id: a.technician_id,
            start_ms: a.start_ms,
            end_ms: a.end_ms,
            customer_name: a.customer_name,
            site_address: a.site_address,
            state: a.state,
        })
        .collect();

    let board_ctx = ssr::context(Action::BoardRead)?;
    let board = service
        .board(&board_ctx, &domain::views::BoardFilter::default(), UNSCHEDULED_LIMIT)
        .await
        .map_err(ssr::error)?;
    let unscheduled = board
        .columns
        .into_iter()
        .filter(|c| matches!(c.state, CaseState::Lead | CaseState::Intake | CaseState::Scheduled))
        .flat_map(|c| c.cards)
        // A scheduled job with a technician is on the calendar already.
        .filter(|c| c.state != CaseState::Scheduled || c.technician_name.is_none())
        .map(|c| CalendarTicket {
            ticket_id: c.id,
            number: c.number,
            state: c.state,
            priority: c.priority,
            customer_name: c.customer_name,
            problem: c.problem_summary,
            trade: c.trade,
            site_address: c.site_address,
            window: c.appointment.map(|w| (w.start_ms, w.end_ms)),
        })
        .collect();

    let step = match view {
        CalendarView::Day => 1,
        CalendarView::Week => 7,
    };
    let shift = |n: i64| anchor.checked_add(jiff::Span::new().days(n)).map(|d| d.to_string()).unwrap_or_default();
    Ok(Calendar {
        view,
        date: anchor.to_string(),
        today: today.to_string(),
        prev: shift(-step),
        next: shift(step),
        days: shown,
        technicians,
        bookings,
        unscheduled,
        travel_buffer_minutes: shop.profile.travel_buffer_minutes,
        now_ms,
    })
}

/// Books a ticket with a technician at a time, or moves a booking (`reschedule`): one
/// `ticket.book`. The start comes from a drop (`start_ms`) or from the form (`day` and `time`
/// in the shop's zone); the job lasts `minutes`. Answers what happened in words.
#[server(endpoint = "calendar_book")]
pub async fn calendar_book(
    ticket_id: String,
    technician_id: String,
    #[server(default)] start_ms: Option<String>,
    #[server(default)] day: Option<String>,
    #[server(default)] time: Option<String>,
    #[server(default)] minutes: Option<String>,
    #[server(default)] reschedule: Option<String>,
) -> Result<FormOutcome<String>, ServerFnError> {
    ssr::allow(Action::TicketBook)?;
    let service = ssr::service()?;
    let shop = service.shop().await;
    let ctx = ssr::context(Action::TicketBook)?;
    // A plain form post (no client yet) comes back to the calendar, not to this answer.
    if ssr::plain_form_post() {
        ssr::see_other("/console/schedule");
    }
    let invalid = |field: &str, code: &str, message: &str| -> Result<FormOutcome<String>, ServerFnError> {
        Ok(FormOutcome::Invalid {
            message: "Please correct the highlighted fields.".into(),
            fields: vec![FieldError::new(field, code, message)],
        })
    };
    let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let start = match (text(&start_ms), text(&day), text(&time)) {
        (Some(ms), _, _) => ms.parse::<i64>().ok(),
        (None, Some(d), Some(t)) => days::parse_date(&d)
            .zip(domain::eta::parse_time_of_day(&t))
            .and_then(|(d, minute)| days::local_ms_at(d, minute, &shop.timezone)),
        _ => None,
    };
    let Some(start) = start else {
        return invalid("time", "invalid", "a day and a start time like 09:30");
    };
    let minutes = match text(&minutes) {
        None => DEFAULT_JOB_MINUTES,
        Some(m) => match m.parse::<i64>() {
            Ok(m) if (SNAP_MINUTES..=12 * 60).contains(&m) => m,
            _ => return invalid("minutes", "out_of_range", "between 15 minutes and 12 hours"),
        },
    };
    if technician_id.trim().is_empty() {
        return invalid("technician_id", "required", "choose a technician");
    }
    let reschedule = text(&reschedule).is_some_and(|r| r == "true" || r == "on");
    let input = domain::commands::BookSlot {
        ticket_id: ticket_id.trim().to_string(),
        start_ms: start,
        end_ms: start + minutes * 60_000,
        technician_id: technician_id.trim().to_string(),
        reschedule,
        expected_version: None,
    };
    match service.execute_case(&ctx, domain::ActionInput::TicketBook(input.clone())).await {
        Ok(o) => {
            let who = o.case.assignment.as_ref().map(|a| a.technician_name.clone()).unwrap_or_default();
            let verb = if reschedule { "moved to" } else { "booked with" };
            let when = shop.window_label(input.start_ms, input.end_ms);
            Ok(FormOutcome::Done(format!("{} {verb} {who}, {when}.", o.case.number)))
        }
        Err(
            e @ (dispatch::ServiceError::Internal(_)
            | dispatch::ServiceError::Forbidden(_)
            | dispatch::ServiceError::NotAllowed { .. }
            | dispatch::ServiceError::Busy { .. }),
        ) => Err(ssr::error(e)),
        Err(e) => {
            let message = explain::refusal(&service, &input, e).await;
            Ok(FormOutcome::Invalid { message, fields: vec![] })
        }
    }
}

/// Shop-local dates and hours (server side: the zone database is there).
#[cfg(feature = "ssr")]
pub mod days {
    use super::CalendarView;
    use jiff::civil::Date;
    use jiff::tz::TimeZone;

    pub fn parse_date(s: &str) -> Option<Date> {
        let d: Date = s.trim().parse().ok()?;
        // The service takes the years 2000 to 2200; nothing outside them is worth a page.
        (2000..2200).contains(&d.year()).then_some(d)
    }

    /// The shop-local date at `ms`.
    pub fn local_date(ms: i64, tz: &TimeZone) -> Option<Date> {
        Some(jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(tz.clone()).date())
    }

    /// Minutes after local midnight at `ms`.
    pub fn local_minute(ms: i64, tz: &TimeZone) -> Option<u16> {
        let t = jiff::Timestamp::from_millisecond(ms).ok()?.to_zoned(tz.clone()).time();
        u16::try_from(i32::from(t.hour()) * 60 + i32::from(t.minute())).ok()
    }

    /// The instant of `hour`:00 on `date`, shop-local (a time skipped by daylight saving
    /// lands after the gap, as jiff resolves it).
    pub fn local_ms(date: Date, hour: u16, tz: &TimeZone) -> Option<i64> {
        local_ms_at(date, i64::from(hour) * 60, tz)
    }

    /// The instant of `minute` minutes after midnight on `date`, shop-local.
    pub fn local_ms_at(date: Date, minute: i64, tz: &TimeZone) -> Option<i64> {
        if !(0..24 * 60).contains(&minute) {
            return None;
        }
        let at = date.at(i8::try_from(minute / 60).ok()?, i8::try_from(minute % 60).ok()?, 0, 0);
        Some(at.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
    }

    /// `Tuesday`, the shop-local weekday at `ms`.
    pub fn weekday_name(ms: i64, tz: &TimeZone) -> String {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(tz.clone()).strftime("%A").to_string())
            .unwrap_or_default()
    }

    /// The Monday that starts the shop's week holding `date` (a Sunday belongs to the week
    /// that began six days before).
    pub fn week_start(date: Date) -> Date {
        let back = i64::from(date.weekday().to_monday_zero_offset());
        date.checked_sub(jiff::Span::new().days(back)).unwrap_or(date)
    }

    /// The dates a view shows around `anchor`.
    pub fn shown(view: CalendarView, anchor: Date) -> Vec<Date> {
        match view {
            CalendarView::Day => vec![anchor],
            CalendarView::Week => {
                let monday = week_start(anchor);
                (0..7).filter_map(|i| monday.checked_add(jiff::Span::new().days(i)).ok()).collect()
            }
        }
    }

    /// The whole hours `[from, to)` that hold every `(start, end)` minute span, an hour either
    /// side; the shop's usual day (08:00–17:00) when there is nothing.
    pub fn axis_hours(spans: &[(u16, u16)]) -> (u16, u16) {
        let (Some(first), Some(last)) = (spans.iter().map(|s| s.0).min(), spans.iter().map(|s| s.1).max()) else {
            return (7, 18);
        };
        let from = (first / 60).saturating_sub(1);
        let to = (last.div_ceil(60) + 1).min(24);
        if to <= from {
            (7, 18)
        } else {
            (from, to)
        }
    }
}

/// A refused booking in a dispatcher's words: which technician, and why (another job, outside
/// their hours, time off, a missing skill, another zone), or what happened to the ticket.
#[cfg(feature = "ssr")]
mod explain {
    use super::*;
    use dispatch::ServiceError;

    /// What the refusal of one `ticket.book` means, read back from the roster, the schedule and
    /// the case (a read after the refused call, which changed nothing).
    pub async fn refusal(service: &dispatch::Service, input: &domain::commands::BookSlot, e: ServiceError) -> String {
        let shop = service.shop().await;
        let read = ssr::context(Action::RecordsRead).ok();
        let case = match &read {
            Some(ctx) => service.case(ctx, &input.ticket_id).await.ok(),
            None => None,
        };
        let number = case.as_ref().map(|c| c.number.clone()).unwrap_or_else(|| "The ticket".into());
        let lead = if input.reschedule { "Not moved" } else { "Not booked" };
        let reason = match e {
            ServiceError::TechUnavailable { technician_id, reason } => {
                let facts = match &read {
                    Some(ctx) => Facts::read(service, ctx, &technician_id, input).await,
                    None => Facts::default(),
                };
                let name = facts.name.clone().unwrap_or_else(|| "This technician".into());
                let job_zone = case.as_ref().and_then(|c| c.site.as_ref().and_then(|s| s.zone.clone()));
                let trade = case.as_ref().and_then(|c| c.trade.clone());
                unavailable(reason, &name, trade.as_deref(), job_zone.as_deref(), &facts, &shop)
            }
            ServiceError::Conflict(_) => {
                format!("{number} changed while you were looking (booked or moved by someone else); the calendar now shows it as it is")
            }
            ServiceError::Domain(domain::DomainError::InvalidTransition { from, .. }) => {
                format!("{number} is {}: it can no longer be booked or moved here", from.label().to_lowercase())
            }
            ServiceError::Domain(domain::DomainError::NotInState { state, .. }) => {
                format!("{number} is {}: it can no longer be booked or moved here", state.label().to_lowercase())
            }
            ServiceError::Domain(domain::DomainError::Invalid(fields))
                if fields.iter().any(|f| f.code == "in_the_past") =>
            {
                "that time has passed; choose a time from now on".to_string()
            }
            ServiceError::TicketNotFound(_) => "that ticket no longer exists".to_string(),
            other => other.public_message(),
        };
        format!("{lead}: {reason}.")
    }

    /// What the roster and the schedule say about the refused technician at the asked time.
    #[derive(Default)]
    pub struct Facts {
        pub name: Option<String>,
        pub skills: Vec<String>,
        pub zone: Option<String>,
        /// Their time off over the asked time, if any.
        pub off: Option<domain::records::TimeOff>,
        /// Another job of theirs at the asked time (travel buffer included), if any.
        pub other: Option<domain::views::AgendaItem>,
        /// Their working hours on the asked day, as `08:00–17:00`, or empty when off that day.
        pub hours: Vec<String>,
        pub start_ms: i64,
        pub end_ms: i64,
    }

    impl Facts {
        async fn read(
            service: &dispatch::Service,
            ctx: &dispatch::CallContext,
            technician_id: &str,
            input: &domain::commands::BookSlot,
        ) -> Facts {
            let shop = service.shop().await;
            let buffer = shop.profile.travel_buffer_minutes * 60_000;
            let (from, to) = (input.start_ms - buffer, input.end_ms + buffer);
            let tech =
                service.technicians(ctx).await.ok().and_then(|all| all.into_iter().find(|t| t.id == technician_id));
            let off = service
                .time_off(ctx, input.start_ms, input.end_ms)
                .await
                .ok()
                .and_then(|all| all.into_iter().find(|o| o.technician_id == technician_id));
            let other = service.agenda(ctx, from, to).await.ok().and_then(|all| {
                all.into_iter().find(|a| a.technician_id == technician_id && a.ticket_id != input.ticket_id)
            });
            let hours = match (&tech, days::local_date(input.start_ms, &shop.timezone)) {
                (Some(t), Some(d)) => t.working_hours.0[d.weekday().to_monday_zero_offset() as usize]
                    .iter()
                    .map(|(a, b)| format!("{:02}:{:02}–{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
                    .collect(),
                _ => vec![],
            };
            Facts {
                name: tech.as_ref().map(|t| t.name.clone()),
                skills: tech.as_ref().map(|t| t.skills.clone()).unwrap_or_default(),
                zone: tech.and_then(|t| t.zone),
                off,
                other,
                hours,
                start_ms: input.start_ms,
                end_ms: input.end_ms,
            }
        }
    }

    /// `TECH_UNAVAILABLE`'s reason (`domain::slots::Unavailable`) in words.
    pub fn unavailable(
        reason: &str,
        name: &str,
        trade: Option<&str>,
        job_zone: Option<&str>,
        facts: &Facts,
        shop: &dispatch::settings::Shop,
    ) -> String {
        match reason {
            "missing_skill" => {
                let has = if facts.skills.is_empty() {
                    String::new()
                } else {
                    format!(" (skills: {})", facts.skills.join(", "))
                };
                format!("{name} is not qualified for {} work{has}", trade.unwrap_or("this"))
            }
            "other_zone" => match (&facts.zone, job_zone) {
                (Some(theirs), Some(job)) => format!("{name} works the {theirs} zone; this job is in the {job} zone"),
                _ => format!("{name} does not work in this job's zone"),
            },
            "inactive" => format!("{name} is not taking new jobs"),
            "outside_working_hours" => match &facts.off {
                Some(off) => {
                    let why = off.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
                    format!("{name} is off then{why} ({})", shop.window_label(off.start_ms, off.end_ms))
                }
                None if facts.hours.is_empty() => {
                    format!("{name} does not work on {}s", days::weekday_name(facts.start_ms, &shop.timezone))
                }
                None => format!(
                    "that is outside {name}'s working hours ({} on {}s)",
                    facts.hours.join(", "),
                    days::weekday_name(facts.start_ms, &shop.timezone)
                ),
            },
            "already_booked" => {
                let buffer = shop.profile.travel_buffer_minutes;
                match &facts.other {
                    Some(o) => {
                        let overlaps = o.start_ms < facts.end_ms && facts.start_ms < o.end_ms;
                        let travel = if overlaps || buffer == 0 {
                            String::new()
                        } else {
                            format!(", and {buffer} min of travel are kept between jobs")
                        };
                        format!(
                            "{name} already has {} then ({}){travel}",
                            o.number,
                            shop.window_label(o.start_ms, o.end_ms)
                        )
                    }
                    None => format!("{name} already has another job then"),
                }
            }
            other => format!("{name} cannot take this job ({other})"),
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::days::*;
    use super::CalendarView;

    fn date(s: &str) -> jiff::civil::Date {
        s.parse().expect("date")
    }

    #[test]
    fn a_sunday_night_belongs_to_the_week_that_began_on_monday() {
        let chicago = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        // 2026-11-30 05:00 UTC is Sunday 29 Nov, 23:00 in Chicago: that week began on the 23rd.
        let sunday_night = 1_796_014_800_000;
        let today = local_date(sunday_night, &chicago).expect("date");
        assert_eq!(today, date("2026-11-29"));
        assert_eq!(week_start(today), date("2026-11-23"));
        let week = shown(CalendarView::Week, today);
        assert_eq!((week[0], week[6]), (date("2026-11-23"), date("2026-11-29")));
        // In UTC it is already Monday: the next week.
        assert_eq!(local_date(sunday_night, &jiff::tz::TimeZone::UTC), Some(date("2026-11-30")));
        assert_eq!(shown(CalendarView::Day, today), vec![today]);
    }

    #[test]
    fn local_hours_follow_daylight_saving() {
        let chicago = jiff::tz::TimeZone::get("America/Chicago").expect("zone");
        // Daylight saving began on 8 Mar 2026: 08:00 on the 9th is CDT (13:00 UTC), on the
        // 6th CST (14:00 UTC).
        let after = local_ms(date("2026-03-09"), 8, &chicago).expect("ms");
        assert_eq!(jiff::Timestamp::from_millisecond(after).expect("ts").to_string(), "2026-03-09T13:00:00Z");
        let before = local_ms(date("2026-03-06"), 8, &chicago).expect("ms");
        assert_eq!(jiff::Timestamp::from_millisecond(before).expect("ts").to_string(), "2026-03-06T14:00:00Z");
        assert_eq!(local_minute(after + 30 * 60_000, &chicago), Some(8 * 60 + 30));
        assert_eq!(local_ms_at(date("2026-03-09"), 24 * 60, &chicago), None);
    }

    #[test]
    fn the_axis_holds_every_span_with_an_hour_either_side() {
        assert_eq!(axis_hours(&[]), (7, 18));
        assert_eq!(axis_hours(&[(8 * 60, 17 * 60)]), (7, 18));
        assert_eq!(axis_hours(&[(8 * 60, 17 * 60), (18 * 60 + 30, 20 * 60 + 15)]), (7, 22));
        assert_eq!(axis_hours(&[(0, 24 * 60)]), (0, 24));
        assert_eq!(parse_date("2026-12-01"), Some(date("2026-12-01")));
        assert_eq!(parse_date("1999-12-31"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }
}
