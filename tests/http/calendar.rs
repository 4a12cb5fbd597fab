//! The dispatch calendar over real HTTP on SQLite and PostgreSQL: the page rendered on the
//! server in the shop's time zone (a Chicago shop), with each technician's row, their bookings
//! and time off, and the tickets still to book; and its one booking call, which books, moves and
//! reassigns through `ticket.book` and refuses in words (which technician, why) changing nothing.

use crate::support::{account, start, system, Browser};
use dispatch::testing::each_backend;
use dispatch::{CallContext, Service};
use domain::commands::{BookSlot, SetEta};
use domain::{CaseState, CreateTicket, NewCustomer, NewSite, Role};

async fn tech(service: &Service, name: &str, skill: &str) -> String {
    let all_day = domain::window::WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
    let input = dispatch::scheduling::NewTechnician {
        name: name.into(),
        phone: None,
        email: None,
        skills: vec![skill.into()],
        zone: None,
        working_hours: Some(all_day),
    };
    service.create_technician(&system(), &input).await.expect("technician").id
}

async fn ticket(service: &Service, name: &str, phone: &str) -> domain::Case {
    let input = CreateTicket {
        customer: NewCustomer { name: Some(name.into()), phone: Some(phone.into()), ..Default::default() },
        site: Some(NewSite { address: Some("12 Calendar Ct".into()), ..Default::default() }),
        problem_summary: Some("Furnace will not light".into()),
        trade: Some("hvac".into()),
        ..Default::default()
    };
    service.create_ticket(&system(), &input).await.expect("ticket").case
}

fn form_outcome(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A refusal's words, checked to change nothing on the ticket.
async fn refused(op: &mut Browser, s: &crate::support::Server, form: &[(&str, &str)], case: &domain::Case) -> String {
    let r = op.call("calendar_book", form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = form_outcome(&r.body);
    let message = v["Invalid"]["message"].as_str().unwrap_or_else(|| panic!("refused: {}", r.body)).to_string();
    assert!(!message.contains("TECH_UNAVAILABLE") && !message.contains("tec_"), "words, not codes: {message}");
    let after = s.service.case(&system(), &case.id).await.expect("case");
    assert_eq!((after.state, after.version, &after.appointment), (case.state, case.version, &case.appointment));
    message
}

#[tokio::test]
async fn the_calendar_shows_the_shops_day_and_books_moves_and_refuses_in_words() {
    for db in each_backend().await {
        let s = start(db).await;
        let zone =
            domain::shop_profile::ShopSettingsChange { timezone: Some("America/Chicago".into()), ..Default::default() };
        s.service.set_shop_settings(&system(), &zone).await.expect("zone");
        let tz = s.service.shop().await.timezone.clone();
        let dana = tech(&s.service, "Dana Whitfield", "hvac").await;
        let eli = tech(&s.service, "Eli Park", "hvac").await;
        let pat = tech(&s.service, "Pat Plumb", "plumbing").await;
        let today = app::api::days::local_date(dispatch::ids::now_ms(), &tz).expect("today");
        let tomorrow = today.tomorrow().expect("tomorrow");
        let at = |minute: i64| app::api::days::local_ms_at(tomorrow, minute, &tz).expect("local time");
        let midnight = app::api::days::local_ms(tomorrow, 0, &tz).expect("midnight");
        s.service
            .add_time_off(&system(), &eli, midnight, midnight + 24 * 3_600_000, Some("training"))
            .await
            .expect("time off");

        // Ada's job tomorrow 09:30–11:30 Chicago time with Dana; Nora's ticket waits to be booked.
        let ada = ticket(&s.service, "Ada Lovelace", "+15550001111").await;
        let book = BookSlot {
            ticket_id: ada.id.clone(),
            start_ms: at(9 * 60 + 30),
            end_ms: at(11 * 60 + 30),
            technician_id: dana.clone(),
            reschedule: false,
            expected_version: None,
        };
        let ada = s.service.book(&system(), &book).await.expect("booked").case;
        let nora = ticket(&s.service, "Nora Quinlan", "+15550002222").await;
        assert_eq!(nora.state, CaseState::Intake);

        account(&s, "op@calendar.test", Role::Operator, None, None).await;
        let mut op = Browser::new(&s);
        assert!(op.login("op@calendar.test", "correct horse battery").await.status < 400);

        // The day, rendered on the server: rows, the booking at its Chicago time, the time off,
        // the ticket to book; no UTC anywhere.
        let day = op.get(&format!("/console/schedule?view=day&date={tomorrow}")).await;
        assert_eq!(day.status, 200);
        let html = &day.body;
        for expected in [
            "data-technician=\"Dana Whitfield\"",
            "data-technician=\"Eli Park\"",
            "data-technician=\"Pat Plumb\"",
            &format!("data-ticket=\"{}\"", ada.number),
            "09:30–11:30",
            "Off: training",
            "Shop time (C",
            "id=\"unscheduled\"",
            &format!("data-ticket=\"{}\" data-test=\"unscheduled\"", nora.number),
            "Nora Quinlan",
            "id=\"move-form\"",
        ] {
            assert!(html.contains(expected), "the day view shows {expected:?}:\n{html}");
        }
        assert!(!html.contains("UTC"), "times in the shop's zone, never UTC:\n{html}");
        let lane_start = format!("data-start-ms=\"{}\"", app::api::days::local_ms(tomorrow, 0, &tz).expect("ms"));
        assert!(html.contains(&lane_start), "the rows start at the shop's midnight (all-day technicians)");

        let week = op.get(&format!("/console/schedule?view=week&date={tomorrow}")).await;
        assert_eq!(week.status, 200);
        assert!(week.body.contains(&format!("data-ticket=\"{}\"", ada.number)) && week.body.contains("09:30–11:30"));
        assert_eq!(week.body.matches("class=\"cal-dayhead").count(), 7, "seven days across");
        assert!(week.body.contains(&format!("data-date=\"{tomorrow}\"")));

        // "Today" is the shop's today, whatever the date in UTC.
        let now = op.get("/console/schedule").await;
        let label = today.strftime("%a %-d %b %Y").to_string();
        assert!(
            now.body.contains("data-test=\"cal-title\"") && now.body.contains(&label),
            "today is {label}:\n{}",
            now.body
        );

        // Refusals in words; nothing changes.
        let nora_id = nora.id.clone();
        let ten = at(10 * 60).to_string();
        let busy = refused(
            &mut op,
            &s,
            &[("ticket_id", &nora_id), ("technician_id", &dana), ("start_ms", &ten), ("minutes", "120")],
            &nora,
        )
        .await;
        assert!(busy.starts_with("Not booked: Dana Whitfield already has") && busy.contains(&ada.number), "{busy}");
        let off = refused(
            &mut op,
            &s,
            &[("ticket_id", &nora_id), ("technician_id", &eli), ("start_ms", &ten), ("minutes", "120")],
            &nora,
        )
        .await;
        assert!(off.starts_with("Not booked: Eli Park is off then: training"), "{off}");
        let skill = refused(
            &mut op,
            &s,
            &[("ticket_id", &nora_id), ("technician_id", &pat), ("start_ms", &ten), ("minutes", "120")],
            &nora,
        )
        .await;
        assert!(skill.contains("Pat Plumb is not qualified for hvac work"), "{skill}");
        let past = refused(
            &mut op,
            &s,
            &[("ticket_id", &nora_id), ("technician_id", &dana), ("day", "2020-01-06"), ("time", "09:00")],
            &nora,
        )
        .await;
        assert!(past.contains("that time has passed"), "{past}");
        // A move that forgets it is one (a stale side list) is refused too.
        let stale = refused(
            &mut op,
            &s,
            &[("ticket_id", &ada.id), ("technician_id", &dana), ("start_ms", &at(14 * 60).to_string())],
            &ada,
        )
        .await;
        assert!(stale.contains("changed while you were looking"), "{stale}");

        // Booked from the form's day and time, in the shop's zone.
        let day_text = tomorrow.to_string();
        let r = op
            .call(
                "calendar_book",
                &[
                    ("ticket_id", &nora_id),
                    ("technician_id", &dana),
                    ("day", &day_text),
                    ("time", "14:00"),
                    ("minutes", "90"),
                    ("reschedule", "false"),
                ],
            )
            .await;
        let done = form_outcome(&r.body)["Done"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string();
        assert!(
            done.starts_with(&format!("{} booked with Dana Whitfield,", nora.number)) && done.contains("14:00–15:30 C"),
            "{done}"
        );
        let nora = s.service.case(&system(), &nora_id).await.expect("case");
        assert_eq!(nora.state, CaseState::Dispatched);
        let apt = nora.appointment.clone().expect("appointment");
        assert_eq!((apt.start_ms, apt.end_ms), (at(14 * 60), at(15 * 60 + 30)));

        // A dispatched job with an ETA, moved to another technician and time: one drop.
        let sam = tech(&s.service, "Sam Ortiz", "hvac").await;
        let eta = SetEta { ticket_id: ada.id.clone(), eta_ms: at(9 * 60 + 40), note: None, late_reason: None };
        let with_eta = s.service.set_eta(&CallContext::new(domain::Actor::system("t")), &eta).await.expect("eta").case;
        let r = op
            .call(
                "calendar_book",
                &[
                    ("ticket_id", &ada.id),
                    ("technician_id", &sam),
                    ("start_ms", &at(16 * 60).to_string()),
                    ("minutes", "120"),
                    ("reschedule", "true"),
                ],
            )
            .await;
        let done = form_outcome(&r.body)["Done"].as_str().unwrap_or_else(|| panic!("{}", r.body)).to_string();
        assert!(done.starts_with(&format!("{} moved to Sam Ortiz,", ada.number)), "{done}");
        let moved = s.service.case(&system(), &ada.id).await.expect("case");
        assert_eq!(moved.state, CaseState::Dispatched);
        assert_eq!(moved.assignment.as_ref().map(|a| a.technician_id.as_str()), Some(sam.as_str()));
        let apt = moved.appointment.expect("appointment");
        assert_eq!((apt.start_ms, apt.end_ms), (at(16 * 60), at(18 * 60)), "the job keeps its two hours");
        assert!(with_eta.eta.is_some() && moved.eta.is_none(), "the old window's ETA is gone");
        let agenda = s.service.agenda(&system(), midnight, midnight + 24 * 3_600_000).await.expect("agenda");
        let of_ada: Vec<_> = agenda.iter().filter(|a| a.ticket_id == ada.id).collect();
        assert_eq!(of_ada.len(), 1, "one active appointment: {of_ada:?}");
        assert_eq!(of_ada[0].technician_id, sam, "Dana's morning is free again");

        // People without the console get nothing.
        account(&s, "tech@calendar.test", Role::Technician, Some(&dana), None).await;
        let mut t = Browser::new(&s);
        t.login("tech@calendar.test", "correct horse battery").await;
        assert_eq!(t.get("/console/schedule").await.status, 403);
        let r = t.call("calendar_book", &[("ticket_id", &nora_id), ("technician_id", &dana), ("start_ms", &ten)]).await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
}
