//! The dispatch calendar (`/console/schedule`): a day or a week, one row per technician, time
//! across, in the shop's time zone; the tickets still to book in a side list. Drag a ticket
//! onto a technician's time to book it, or a booking to another time or technician to move it;
//! or, from the keyboard, Enter on either fills the "Book or move" form. Every way ends in the
//! same server call (`ticket.book`), and a refusal is shown in words with nothing changed.

use crate::api::{
    load_calendar, Calendar, CalendarBook, CalendarBooking, CalendarDay, CalendarTech, CalendarTicket, CalendarView,
    FormOutcome, DEFAULT_JOB_MINUTES, SNAP_MINUTES,
};
use crate::pages::session::TopBar;
use crate::pages::{day_label, time_of_day, when};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What a drag carries, or what the keyboard form holds: the ticket, its job's length, and
/// whether it is a move of an existing booking.
#[derive(Debug, Clone, PartialEq)]
struct Subject {
    ticket_id: String,
    number: String,
    customer: String,
    minutes: i64,
    reschedule: bool,
    technician_id: Option<String>,
    start_ms: Option<i64>,
    /// Where the pointer took hold of the job (ms after its start): a drop keeps that point
    /// under the pointer, so a job grabbed in its middle does not jump.
    grab_ms: i64,
}

/// Where a drop would land now: which row and day, and the snapped time.
#[derive(Debug, Clone, PartialEq)]
struct Hover {
    lane: String,
    start_ms: i64,
    end_ms: i64,
}

/// The page's shared state: the one booking action and what is being dragged or picked.
#[derive(Clone, Copy)]
struct Desk {
    book: ServerAction<CalendarBook>,
    dragging: RwSignal<Option<Subject>>,
    hover: RwSignal<Option<Hover>>,
    picked: RwSignal<Option<Subject>>,
    /// The length of a job booked from the side list, in minutes.
    length: RwSignal<i64>,
}

/// Time runs across a row in the day view, and down each day's cell in the week view (seven
/// days across leave too little width for a readable job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Across,
    Down,
}

/// A drop's start: `raw_ms` on the quarter-hour grid that starts at the row's first hour (a
/// whole local hour, so the grid is the shop's quarter hours).
pub fn snap(axis_start_ms: i64, raw_ms: i64) -> i64 {
    let step = SNAP_MINUTES * 60_000;
    axis_start_ms + (raw_ms - axis_start_ms + step / 2).div_euclid(step) * step
}

const QUARTER_MS: i64 = 15 * 60_000;

/// Quarter hours a row shows (a daylight-saving day has four more or fewer), at most 100.
fn quarters(from: i64, to: i64) -> i64 {
    ((to - from + QUARTER_MS - 1) / QUARTER_MS).clamp(1, 100)
}

/// The classes placing `[start, end)` on the quarter-hour grid of a row that shows
/// `[from, to)` (`qs-`/`qe-`: first and past-the-last quarter); None when it lies outside.
/// Classes, not inline styles: the pages' Content-Security-Policy allows no inline styles.
fn place(start: i64, end: i64, from: i64, to: i64) -> Option<String> {
    let (a, b) = (start.max(from), end.min(to));
    if a >= b || to <= from {
        return None;
    }
    let n = quarters(from, to);
    let first = ((a - from + QUARTER_MS / 2) / QUARTER_MS).clamp(0, n - 1);
    let past = ((b - from + QUARTER_MS / 2) / QUARTER_MS).clamp(first + 1, n);
    Some(format!("qs-{first} qe-{past}"))
}

fn schedule_link(view: CalendarView, date: &str) -> String {
    format!("/console/schedule?view={}&date={date}", view.as_str())
}

/// `Mon 30 Nov` (the day label without its year).
fn weekday_day(ms: i64) -> String {
    let label = day_label(ms);
    label.rsplit_once(' ').map(|(d, _)| d.to_string()).unwrap_or(label)
}

#[component]
pub fn CalendarPage() -> impl IntoView {
    let query = use_query_map();
    let view_name = Memo::new(move |_| query.with(|q| q.get("view").unwrap_or_default()));
    let date = Memo::new(move |_| query.with(|q| q.get("date").unwrap_or_default()));
    let desk = Desk {
        book: ServerAction::<CalendarBook>::new(),
        dragging: RwSignal::new(None),
        hover: RwSignal::new(None),
        picked: RwSignal::new(None),
        length: RwSignal::new(DEFAULT_JOB_MINUTES),
    };
    let calendar = Resource::new(
        move || (view_name.get(), date.get(), desk.book.version().get()),
        |(v, d, _)| load_calendar(v, d),
    );
    // A booking made clears the form for the next one.
    Effect::new(move |_| {
        if let Some(Ok(FormOutcome::Done(_))) = desk.book.value().get() {
            desk.picked.set(None);
        }
    });
    view! {
        <TopBar title="Dispatch calendar"/>
        <main class="calendar-page">
            <Transition fallback=|| view! { <p class="muted">"Loading the calendar…"</p> }>
                {move || Suspend::new(async move {
                    match calendar.await {
                        Ok(cal) => view! { <CalendarBody cal desk/> }.into_any(),
                        Err(e) => view! { <p class="bad">{format!("Could not load the calendar: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn CalendarBody(cal: Calendar, desk: Desk) -> impl IntoView {
    let view = cal.view;
    let title = match (cal.days.first(), cal.days.last()) {
        (Some(d), _) if view == CalendarView::Day => day_label(d.start_ms),
        (Some(a), Some(b)) => format!("{} – {}", weekday_day(a.start_ms), day_label(b.start_ms)),
        _ => String::new(),
    };
    let showing_today = cal.days.iter().any(|d| d.today);
    let zone = cal.days.first().map(|d| when(d.start_ms)).and_then(|w| w.rsplit(' ').next().map(str::to_string));
    let zone_text = zone.map(|z| format!("Shop time ({z})")).unwrap_or_default();
    let (today_word, step_word) = match view {
        CalendarView::Day => ("Today", "day"),
        CalendarView::Week => ("This week", "week"),
    };
    let tab = |v: CalendarView, label: &'static str| {
        let current = v == view;
        view! {
            <a class=if current { "tab on" } else { "tab" } href=schedule_link(v, &cal.date)
                aria-current=current.then_some("page") data-test=format!("view-{}", v.as_str())>{label}</a>
        }
    };
    let first_day = cal.days.first().map(|d| d.date.clone()).unwrap_or_default();
    // The form's day for a ticket from the side list: the day shown, or today when that is past.
    let form_day = if cal.date < cal.today { cal.today.clone() } else { first_day.clone() };
    let technicians: Vec<(String, String)> = cal.technicians.iter().map(|t| (t.id.clone(), t.name.clone())).collect();
    let grid = match view {
        CalendarView::Day => day_grid(&cal, desk).into_any(),
        CalendarView::Week => week_grid(&cal, desk).into_any(),
    };
    view! {
        <header class="cal-head">
            <nav class="cal-nav" aria-label="Calendar">
                <span class="tabs">{tab(CalendarView::Day, "Day")}{tab(CalendarView::Week, "Week")}</span>
                <a class="cal-btn" href=format!("/console/schedule?view={}", view.as_str()) data-test="cal-today"
                    aria-current=showing_today.then_some("date")>{today_word}</a>
                <a class="cal-btn" href=schedule_link(view, &cal.prev) data-test="cal-prev" aria-label=format!("Previous {step_word}")>"← Previous"</a>
                <a class="cal-btn" href=schedule_link(view, &cal.next) data-test="cal-next" aria-label=format!("Next {step_word}")>"Next →"</a>
            </nav>
            <h1 data-test="cal-title">{title}</h1>
            <span class="muted" data-test="cal-zone">{zone_text}</span>
        </header>
        <div class="cal-body">
            <aside class="cal-side" aria-label="Tickets to book">
                <ToBook tickets=cal.unscheduled.clone() desk/>
                <MoveForm desk technicians day=form_day/>
            </aside>
            <section class="cal-grid" aria-label="Technicians' schedule" data-view=view.as_str()>
                {grid}
                <p class="muted cal-hint">
                    {format!("Drag a ticket or a booking onto a technician's time; drops snap to {SNAP_MINUTES} minutes and keep the job's length. ")}
                    {(cal.travel_buffer_minutes > 0).then(|| format!("{} min of travel are kept between jobs.", cal.travel_buffer_minutes))}
                </p>
            </section>
        </div>
    }
}

/// The day view: an hour scale, then one row per technician.
fn day_grid(cal: &Calendar, desk: Desk) -> impl IntoView {
    let Some(day) = cal.days.first().cloned() else {
        return view! { <p class="empty">"No day to show."</p> }.into_any();
    };
    let scale = day
        .hours
        .iter()
        .filter_map(|h| {
            place(*h, *h + 3_600_000, day.start_ms, day.end_ms)
                .map(|at| view! { <span class=format!("cal-hour {at}")>{time_of_day(*h)}</span> })
        })
        .collect_view();
    let rows = cal
        .technicians
        .iter()
        .map(|t| {
            view! {
                <div class="cal-row" data-technician=t.name.clone()>
                    {tech_name(t)}
                    {lane(desk, Axis::Across, t, &day, 0, &cal.bookings)}
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="cal-day" data-date=day.date.clone()>
            <div class="cal-row cal-scale" aria-hidden="true"><div class="cal-name"></div>
                <div class=format!("cal-hours qn-{}", quarters(day.start_ms, day.end_ms))>{scale}</div></div>
            {rows}
            {cal.technicians.is_empty().then(|| view! { <p class="empty">"No technicians yet: add them on the Technicians page."</p> })}
        </div>
    }
    .into_any()
}

/// The week view: the days across, one row per technician, each day's time running down.
fn week_grid(cal: &Calendar, desk: Desk) -> impl IntoView {
    let span =
        cal.days.first().map(|d| format!("{}–{}", time_of_day(d.start_ms), time_of_day(d.end_ms))).unwrap_or_default();
    let head = cal
        .days
        .iter()
        .map(|d| {
            view! {
                <a class=if d.today { "cal-dayhead today" } else { "cal-dayhead" } href=schedule_link(CalendarView::Day, &d.date)
                    data-date=d.date.clone()>{weekday_day(d.start_ms)}</a>
            }
        })
        .collect_view();
    let rows = cal
        .technicians
        .iter()
        .map(|t| {
            let cells =
                cal.days.iter().enumerate().map(|(i, d)| lane(desk, Axis::Down, t, d, i, &cal.bookings)).collect_view();
            view! { <div class="cal-row" data-technician=t.name.clone()>{tech_name(t)}{cells}</div> }
        })
        .collect_view();
    view! {
        <div class="cal-week">
            <div class="cal-row cal-scale"><div class="cal-name muted">{format!("{span}, top to bottom")}</div>{head}</div>
            {rows}
            {cal.technicians.is_empty().then(|| view! { <p class="empty">"No technicians yet: add them on the Technicians page."</p> })}
        </div>
    }
}

fn tech_name(t: &CalendarTech) -> impl IntoView {
    let about = match &t.zone {
        Some(z) => format!("{} · {z}", t.skills.join(", ")),
        None => t.skills.join(", "),
    };
    view! { <div class="cal-name"><strong>{t.name.clone()}</strong><small>{about}</small></div> }
}

/// One technician's time on one day: working hours, time off, bookings, and the drop target.
fn lane(
    desk: Desk,
    axis: Axis,
    t: &CalendarTech,
    day: &CalendarDay,
    index: usize,
    bookings: &[CalendarBooking],
) -> impl IntoView {
    let key = format!("{}|{index}", t.id);
    let (from, to) = (day.start_ms, day.end_ms);
    let work = t
        .working
        .iter()
        .filter_map(|(s, e)| place(*s, *e, from, to))
        .map(|at| view! { <div class=format!("cal-work {at}")></div> })
        .collect_view();
    let off = t
        .off
        .iter()
        .filter_map(|o| place(o.start_ms, o.end_ms, from, to).map(|at| (at, o.reason.clone())))
        .map(|(at, reason)| {
            let text = format!("Off{}", reason.map(|r| format!(": {r}")).unwrap_or_default());
            view! { <div class=format!("cal-off {at}") data-test="time-off" title=text.clone()><span>{text.clone()}</span></div> }
        })
        .collect_view();
    let jobs = bookings
        .iter()
        .filter(|b| b.technician_id == t.id)
        .filter_map(|b| place(b.start_ms, b.end_ms, from, to).map(|at| job(desk, axis, b.clone(), at)))
        .collect_view();
    let ghost = {
        let key = key.clone();
        move || {
            desk.hover.get().filter(|h| h.lane == key).and_then(|h| {
                place(h.start_ms, h.end_ms, from, to).map(|at| {
                    view! { <div class=format!("cal-ghost {at}") aria-hidden="true">{time_of_day(h.start_ms)}</div> }
                })
            })
        }
    };
    let over = {
        let key = key.clone();
        move |ev: leptos::ev::DragEvent| {
            #[cfg(feature = "hydrate")]
            dnd::over(desk, &ev, &key, axis, from, to);
            #[cfg(not(feature = "hydrate"))]
            let _ = (ev, &key);
        }
    };
    let tech_id = t.id.clone();
    let dropped = move |ev: leptos::ev::DragEvent| {
        #[cfg(feature = "hydrate")]
        dnd::dropped(desk, &ev, &tech_id, axis, from, to);
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, &tech_id);
    };
    let class = match axis {
        Axis::Across => format!("cal-lane qn-{}", quarters(from, to)),
        Axis::Down => format!("cal-lane cal-cell qn-{}", quarters(from, to)),
    };
    view! {
        <div class=class data-lane=key data-technician-id=t.id.clone() data-date=day.date.clone()
            data-start-ms=from.to_string() data-end-ms=to.to_string()
            on:dragover=over on:drop=dropped>
            {work}{off}{jobs}{ghost}
        </div>
    }
}

/// A booking on a row: draggable and pickable while it can still move; a link to its ticket
/// once someone is on site.
fn job(desk: Desk, axis: Axis, b: CalendarBooking, at: String) -> impl IntoView {
    let time = format!("{}–{}", time_of_day(b.start_ms), time_of_day(b.end_ms));
    let title = format!(
        "{} · {} · {}{} · {}",
        b.number,
        time,
        b.customer_name,
        b.site_address.as_ref().map(|a| format!(", {a}")).unwrap_or_default(),
        b.state.label()
    );
    if !b.movable() {
        return view! {
            <a class=format!("cal-job fixed {at}") href=format!("/console/tickets/{}", b.ticket_id) title=title.clone()
                data-ticket=b.number.clone() data-test="booking">
                <strong>{time}</strong>" "<span>{b.number.clone()}</span>" "<small>{format!("{} · {}", b.customer_name, b.state.label())}</small>
            </a>
        }
        .into_any();
    }
    let subject = Subject {
        ticket_id: b.ticket_id.clone(),
        number: b.number.clone(),
        customer: b.customer_name.clone(),
        minutes: (b.end_ms - b.start_ms) / 60_000,
        reschedule: true,
        technician_id: Some(b.technician_id.clone()),
        start_ms: Some(b.start_ms),
        grab_ms: 0,
    };
    let span = (b.start_ms, b.end_ms);
    let label = format!("{title}. Press Enter to move it with the form.");
    let (on_drag, on_key) = (start_drag(desk, subject.clone(), Some(span), axis), pick_on_key(desk, subject.clone()));
    view! {
        <div class=format!("cal-job {at}") draggable="true" tabindex="0" role="button" title=title aria-label=label
            data-ticket=b.number.clone() data-test="booking"
            on:dragstart=on_drag
            on:dragend=move |_| end_drag(desk)
            on:keydown=on_key
            on:click=move |_| desk.picked.set(Some(subject.clone()))>
            <strong>{time}</strong>" "<span>{b.number.clone()}</span>" "<small>{b.customer_name.clone()}</small>
        </div>
    }
    .into_any()
}

fn start_drag(
    desk: Desk,
    subject: Subject,
    span: Option<(i64, i64)>,
    axis: Axis,
) -> impl Fn(leptos::ev::DragEvent) + Clone + 'static {
    move |ev: leptos::ev::DragEvent| {
        let mut s = subject.clone();
        if s.start_ms.is_none() {
            s.minutes = desk.length.get_untracked();
        }
        #[cfg(feature = "hydrate")]
        dnd::start(desk, &ev, s, span, axis);
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, s, span, axis);
    }
}

fn end_drag(desk: Desk) {
    desk.dragging.set(None);
    desk.hover.set(None);
}

/// Enter (or Space) on a ticket or a booking puts it in the form, for the keyboard.
fn pick_on_key(desk: Desk, subject: Subject) -> impl Fn(leptos::ev::KeyboardEvent) + Clone + 'static {
    move |ev: leptos::ev::KeyboardEvent| {
        if matches!(ev.key().as_str(), "Enter" | " ") {
            ev.prevent_default();
            let mut s = subject.clone();
            if s.start_ms.is_none() {
                s.minutes = desk.length.get_untracked();
            }
            desk.picked.set(Some(s));
        }
    }
}

/// The side list: tickets that need a booking with a technician.
#[component]
fn ToBook(tickets: Vec<CalendarTicket>, desk: Desk) -> impl IntoView {
    let count = tickets.len();
    let items = tickets
        .into_iter()
        .map(|t| {
            let bookable = t.bookable();
            let minutes = t.window.map(|(s, e)| (e - s) / 60_000);
            let subject = Subject {
                ticket_id: t.ticket_id.clone(),
                number: t.number.clone(),
                customer: t.customer_name.clone(),
                minutes: minutes.unwrap_or(DEFAULT_JOB_MINUTES),
                reschedule: t.window.is_some(),
                technician_id: None,
                start_ms: t.window.map(|(s, _)| s),
                grab_ms: 0,
            };
            let about = [t.trade.clone(), t.problem.clone(), t.site_address.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · ");
            let state_class = format!("badge state-{}", t.state.as_str());
            let when_text = t.window.map(|(s, e)| format!("Booked {}, no technician", crate::pages::window_text(s, e)));
            let href = format!("/console/tickets/{}", t.ticket_id);
            let body = view! {
                <div class="cal-ticket-head">
                    <strong>{t.number.clone()}</strong>
                    <span class=state_class>{t.state.label()}</span>
                    {(t.priority != domain::Priority::Standard).then(|| view! { <span class="badge prio">{t.priority.as_str()}</span> })}
                </div>
                <div>{t.customer_name.clone()}</div>
                <small class="muted">{about}</small>
                {when_text.map(|w| view! { <small>{w}</small> })}
            };
            if bookable {
                let (on_drag, on_key) = (start_drag(desk, subject.clone(), None, Axis::Across), pick_on_key(desk, subject.clone()));
                view! {
                    <li class="cal-ticket" draggable="true" tabindex="0" role="button" data-ticket=t.number.clone() data-test="unscheduled"
                        aria-label=format!("{} {}: drag onto a technician's time, or press Enter to book it with the form", t.number, t.customer_name)
                        on:dragstart=on_drag
                        on:dragend=move |_| end_drag(desk)
                        on:keydown=on_key
                        on:click={
                            move |_| {
                                let mut s = subject.clone();
                                if s.start_ms.is_none() {
                                    s.minutes = desk.length.get_untracked();
                                }
                                desk.picked.set(Some(s));
                            }
                        }>
                        {body}
                    </li>
                }
                .into_any()
            } else {
                view! {
                    <li class="cal-ticket lead" data-ticket=t.number.clone() data-test="unscheduled">
                        {body}
                        <small><a href=href>"Complete the details"</a>" before booking."</small>
                    </li>
                }
                .into_any()
            }
        })
        .collect_view();
    view! {
        <section class="cal-tobook">
            <h2>"To book " <span class="muted" data-test="unscheduled-count">{format!("({count})")}</span></h2>
            <label class="field inline">
                <span>"New jobs last"</span>
                <select name="length" aria-label="Length of a newly booked job"
                    on:change=move |ev| if let Ok(m) = event_target_value(&ev).parse() { desk.length.set(m) }>
                    {[60i64, 90, 120, 180, 240, 360, 480].into_iter().map(|m| {
                        let label = if m % 60 == 0 { format!("{} h", m / 60) } else { format!("{} h {} min", m / 60, m % 60) };
                        view! { <option value=m.to_string() selected={m == DEFAULT_JOB_MINUTES}>{label}</option> }
                    }).collect_view()}
                </select>
            </label>
            {if count == 0 {
                view! { <p class="empty">"Nothing waiting: every ticket has a booking."</p> }.into_any()
            } else {
                view! { <ul class="cal-list" id="unscheduled">{items}</ul> }.into_any()
            }}
        </section>
    }
}

/// The keyboard's way (and a precise one for anybody): the picked ticket or booking, a
/// technician, a day, a start and a length; the same call as a drop.
#[component]
fn MoveForm(desk: Desk, technicians: Vec<(String, String)>, day: String) -> impl IntoView {
    let picked = desk.picked;
    let tech_ref = NodeRef::<leptos::html::Select>::new();
    // Picked from the keyboard: the form's first choice takes the focus, once the form is
    // enabled (after this turn's rendering).
    Effect::new(move |_| {
        if picked.with(Option::is_some) {
            set_timeout(
                move || {
                    if let Some(select) = tech_ref.get_untracked() {
                        let _ = select.focus();
                    }
                },
                std::time::Duration::ZERO,
            );
        }
    });
    let field = move |f: fn(&Subject) -> String, none: String| {
        move || picked.with(|p| p.as_ref().map(f).unwrap_or_else(|| none.clone()))
    };
    let heading = move || match picked.get() {
        Some(s) if s.reschedule && s.technician_id.is_some() => format!("Move {} ({})", s.number, s.customer),
        Some(s) => format!("Book {} ({})", s.number, s.customer),
        None => "Book or move".to_string(),
    };
    let outcome = desk.book.value();
    view! {
        <section class="cal-move" aria-labelledby="move-title">
            <h2 id="move-title" data-test="move-title">{heading}</h2>
            <p class="muted">{move || picked.with(Option::is_none).then_some("Press Enter on a ticket or a booking (or click it) to book or move it here.")}</p>
            <ActionForm action=desk.book attr:id="move-form" attr:class="form cal-form">
                <fieldset disabled=move || picked.with(Option::is_none)>
                    <input type="hidden" name="ticket_id" prop:value=field(|s| s.ticket_id.clone(), String::new())/>
                    <input type="hidden" name="reschedule" prop:value=field(|s| s.reschedule.to_string(), "false".into())/>
                    <label class="field"><span>"Technician"</span>
                        <select name="technician_id" node_ref=tech_ref data-test="move-technician"
                            prop:value=field(|s| s.technician_id.clone().unwrap_or_default(), String::new())>
                            <option value="">"Choose…"</option>
                            {technicians.into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="field"><span>"Day"</span>
                        <input type="date" name="day" data-test="move-day" required=true
                            prop:value=move || picked.with(|p| p.as_ref().and_then(|s| s.start_ms).map(|ms| when(ms).chars().take(10).collect::<String>()).unwrap_or_else(|| day.clone()))/>
                    </label>
                    <div class="row">
                        <label class="field"><span>"Start"</span>
                            <input type="time" name="time" step="900" data-test="move-time" required=true
                                prop:value=move || picked.with(|p| p.as_ref().and_then(|s| s.start_ms).map(time_of_day).unwrap_or_else(|| "09:00".into()))/>
                        </label>
                        <label class="field"><span>"Minutes"</span>
                            <input type="number" name="minutes" min="15" max="720" step="15" data-test="move-minutes"
                                prop:value=move || picked.with(|p| p.as_ref().map(|s| s.minutes.to_string()).unwrap_or_default())/>
                        </label>
                    </div>
                    <div class="row">
                        <button type="submit" class="primary" data-test="move-submit" disabled=move || desk.book.pending().get()>
                            {move || match picked.get() {
                                Some(s) if s.reschedule && s.technician_id.is_some() => "Move",
                                _ => "Book",
                            }}
                        </button>
                        <button type="button" on:click=move |_| picked.set(None)>"Cancel"</button>
                    </div>
                    {move || picked.get().map(|s| view! { <a href=format!("/console/tickets/{}", s.ticket_id)>{format!("Open {}", s.number)}</a> })}
                </fieldset>
            </ActionForm>
            <p class="form-status cal-status" role="status" aria-live="polite" data-test="calendar-status">
                {move || if desk.book.pending().get() {
                    view! { <span class="muted">"Saving…"</span> }.into_any()
                } else {
                    match outcome.get() {
                        Some(Ok(FormOutcome::Done(text))) => view! { <span class="ok" data-test="calendar-done">{text}</span> }.into_any(),
                        Some(Ok(FormOutcome::Invalid { message, fields })) => {
                            let detail = fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; ");
                            view! { <span class="bad" data-test="calendar-refusal">{message} " " {detail}</span> }.into_any()
                        }
                        Some(Err(e)) => view! { <span class="bad" data-test="calendar-refusal">{format!("Nothing changed: {e}")}</span> }.into_any(),
                        None => ().into_any(),
                    }
                }}
            </p>
        </section>
    }
}

/// Drag and drop in the browser (HTML5): where the pointer is on a row, as a snapped time.
#[cfg(feature = "hydrate")]
mod dnd {
    use super::*;
    use wasm_bindgen::JsCast;

    /// How far along the row (0 to 1) the pointer is.
    fn fraction(ev: &web_sys::DragEvent, axis: Axis) -> Option<f64> {
        let el = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
        let r = el.get_bounding_client_rect();
        let f = match axis {
            Axis::Across => (f64::from(ev.client_x()) - r.left()) / r.width(),
            Axis::Down => (f64::from(ev.client_y()) - r.top()) / r.height(),
        };
        f.is_finite().then(|| f.clamp(0.0, 1.0))
    }

    fn landing(d: &Subject, ev: &web_sys::DragEvent, axis: Axis, from: i64, to: i64) -> Option<i64> {
        let f = fraction(ev, axis)?;
        Some(snap(from, from + ((to - from) as f64 * f) as i64 - d.grab_ms))
    }

    pub fn start(desk: Desk, ev: &web_sys::DragEvent, mut subject: Subject, span: Option<(i64, i64)>, axis: Axis) {
        if let Some(dt) = ev.data_transfer() {
            let _ = dt.set_data("text/plain", &subject.number);
            dt.set_effect_allowed("move");
        }
        if let (Some((s, e)), Some(f)) = (span, fraction(ev, axis)) {
            subject.grab_ms = ((e - s) as f64 * f) as i64;
        }
        desk.dragging.set(Some(subject));
    }

    pub fn over(desk: Desk, ev: &web_sys::DragEvent, key: &str, axis: Axis, from: i64, to: i64) {
        let Some(d) = desk.dragging.get_untracked() else { return };
        // Saying "a drop is welcome here".
        ev.prevent_default();
        if let Some(dt) = ev.data_transfer() {
            dt.set_drop_effect("move");
        }
        let Some(at) = landing(&d, ev, axis, from, to) else { return };
        let h = Hover { lane: key.to_string(), start_ms: at, end_ms: at + d.minutes * 60_000 };
        if desk.hover.with_untracked(|now| now.as_ref() != Some(&h)) {
            desk.hover.set(Some(h));
        }
    }

    pub fn dropped(desk: Desk, ev: &web_sys::DragEvent, technician_id: &str, axis: Axis, from: i64, to: i64) {
        ev.prevent_default();
        let Some(d) = desk.dragging.get_untracked() else { return };
        let at = landing(&d, ev, axis, from, to);
        end_drag(desk);
        let Some(at) = at else { return };
        // Put back where it was: nothing to do.
        if d.technician_id.as_deref() == Some(technician_id) && d.start_ms == Some(at) {
            return;
        }
        desk.book.dispatch(CalendarBook {
            ticket_id: d.ticket_id,
            technician_id: technician_id.to_string(),
            start_ms: Some(at.to_string()),
            day: None,
            time: None,
            minutes: Some(d.minutes.to_string()),
            reschedule: Some(d.reschedule.to_string()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_snap_to_the_quarter_hour_of_the_row() {
        let start = 1_796_052_600_000; // a whole hour
        let q = 15 * 60_000;
        assert_eq!(snap(start, start), start);
        assert_eq!(snap(start, start + 7 * 60_000), start);
        assert_eq!(snap(start, start + 8 * 60_000), start + q);
        assert_eq!(snap(start, start + 3 * q + 60_000), start + 3 * q);
        assert_eq!(snap(start, start - 8 * 60_000), start - q, "before the row's first hour still on the grid");
    }

    #[test]
    fn spans_are_placed_inside_the_row_or_not_at_all() {
        let (from, to) = (0, 10 * 3_600_000);
        assert_eq!(quarters(from, to), 40);
        assert_eq!(place(3_600_000, 3 * 3_600_000, from, to).as_deref(), Some("qs-4 qe-12"));
        assert_eq!(place(-3_600_000, 3_600_000, from, to).as_deref(), Some("qs-0 qe-4"), "cut at the row's start");
        assert_eq!(place(to - 60_000, to + 3_600_000, from, to).as_deref(), Some("qs-39 qe-40"), "at least a quarter");
        assert_eq!(place(to, to + 1, from, to), None);
        assert_eq!(place(5, 5, from, to), None);
        assert_eq!(quarters(0, 25 * 3_600_000), 100, "a 25-hour day");
    }
}
