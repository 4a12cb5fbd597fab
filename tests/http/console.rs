//! The operator console's server side over real HTTP, on SQLite and PostgreSQL: the board,
//! its change stamp, the ticket page's history, the roster and the week's schedule.

use crate::support::{start, technician, Browser, Server};
use dispatch::testing::each_backend;
use dispatch::users::NewUser;
use dispatch::CallContext;
use domain::commands::{AssignTech, ConfirmSlot};
use domain::window::HOUR_MS;
use domain::{Actor, CreateTicket, NewCustomer, NewSite, Role};

async fn signed_in(s: &Server, role: Role, technician_id: Option<&str>) -> Browser {
    let email = format!("{}@example.com", role.as_str());
    let input = NewUser {
        email: email.clone(),
        name: format!("{} Person", role.as_str()),
        role: Some(role),
        password: "correct horse battery".into(),
        technician_id: technician_id.map(Into::into),
        customer_id: None,
    };
    s.service.create_user(&CallContext::new(Actor::system("test")), &input).await.expect("account");
    let mut b = Browser::new(s);
    b.login(&email, "correct horse battery").await;
    b
}

fn intake(name: &str) -> CreateTicket {
    CreateTicket {
        customer: NewCustomer {
            name: Some(name.into()),
            phone: Some(crate::support::phone_of(name)),
            ..Default::default()
        },
        site: Some(NewSite { address: Some("5 Board St".into()), ..Default::default() }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_board_lists_open_tickets_and_its_stamp_moves_on_any_change() {
    for db in each_backend().await {
        let s = start(db).await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let agent = CallContext::new(Actor::new(domain::ActorKind::Token, "tok_x", Role::IntakeAgent, "intake bot"));
        let case = s.service.create_ticket(&agent, &intake("Board Customer")).await.expect("ticket").case;
        let page = op.get("/console").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&case.number) && page.body.contains("Board Customer"), "SSR board shows the ticket");
        assert!(page.body.contains("data-state=\"intake\""), "one column per open state");
        let stamp = op.call("board_stamp", &[]).await.body;
        assert_eq!(op.call("board_stamp", &[]).await.body, stamp, "no change, same stamp");
        let priority = domain::commands::SetPriority {
            ticket_id: case.id.clone(),
            priority: domain::Priority::Urgent,
            reason: None,
            expected_version: None,
        };
        s.service.set_priority(&CallContext::new(Actor::system("test")), &priority).await.expect("priority");
        assert_ne!(op.call("board_stamp", &[]).await.body, stamp, "any change moves the stamp");
        let board = op.call("board", &[("filter[priority]", "urgent")]).await;
        assert!(board.body.contains(&case.number) && board.body.contains("\"total\":1"), "{}", board.body);
        let none = op.call("board", &[("filter[priority]", "emergency")]).await;
        assert!(!none.body.contains(&case.number) && none.body.contains("\"total\":0"), "{}", none.body);

        // The ticket page's history: every event in words, agent actions marked with their role.
        let detail = op.call("ticket_detail", &[("ticket_id", &case.id)]).await;
        assert_eq!(detail.status, 200, "{}", detail.body);
        let v: serde_json::Value = serde_json::from_str(&detail.body).expect("json");
        let timeline = v["timeline"].as_array().expect("timeline");
        assert_eq!(timeline.len(), 2);
        assert_eq!(timeline[0]["action"], "ticket.create");
        assert_eq!(timeline[0]["agent"], "Intake agent");
        assert_eq!(timeline[0]["sentence"], "Intake agent opened the ticket");
        assert_eq!(timeline[1]["action"], "ticket.set_priority");
        assert_eq!(timeline[1]["agent"], serde_json::Value::Null);
        assert_eq!(timeline[1]["sentence"], "Real Dispatch changed the priority", "the server's own step");
        assert_eq!(timeline[1]["facts"], serde_json::json!(["Priority standard → urgent"]));
        assert_eq!(timeline[1]["raw"], serde_json::json!(["priority: standard → urgent"]));
        assert!(!detail.body.contains("tok_x") && !detail.body.contains("intake bot"), "no ids or token names");
    }
}

#[tokio::test]
async fn booking_from_the_console_confirms_and_assigns_and_shows_on_the_schedule() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let case = s
            .service
            .create_ticket(&CallContext::new(Actor::system("t")), &intake("Sched Customer"))
            .await
            .expect("t")
            .case;
        let slots =
            op.call("console_propose", &[("ticket_id", &case.id), ("duration_minutes", "60"), ("days", "3")]).await;
        let v: serde_json::Value = serde_json::from_str(&slots.body).expect("json");
        let first = &v["Done"][0];
        assert_eq!(first["technician_id"], tech.as_str(), "{}", slots.body);
        let (start_ms, end_ms) = (first["start_ms"].as_i64().expect("start"), first["end_ms"].as_i64().expect("end"));
        let booked = op
            .call(
                "console_book",
                &[
                    ("ticket_id", &case.id),
                    ("start_ms", &start_ms.to_string()),
                    ("end_ms", &end_ms.to_string()),
                    ("technician_id", &tech),
                    ("reschedule", "false"),
                ],
            )
            .await;
        let v: serde_json::Value = serde_json::from_str(&booked.body).expect("json");
        assert_eq!(v["Done"]["state"], "dispatched", "{}", booked.body);
        assert_eq!(v["Done"]["assignment"]["technician_id"], tech.as_str());
        let this_week = op.call("calendar", &[("view", "week"), ("date", "")]).await.body;
        let v: serde_json::Value = serde_json::from_str(&this_week).expect("json");
        let next = v["next"].as_str().expect("the next week's date").to_string();
        let weeks = this_week + &op.call("calendar", &[("view", "week"), ("date", &next)]).await.body;
        assert!(weeks.contains(&case.number), "the booking is on this or next week's schedule: {weeks}");
        let page = op.get("/console/schedule").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("hvac tech"), "the roster's technicians are rows");
    }
}

#[tokio::test]
async fn the_roster_takes_new_technicians_and_time_off_and_is_for_staff_only() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let r = op
            .call(
                "create_technician",
                &[
                    ("name", "Rosa Diaz"),
                    ("skills", "Plumbing, gas"),
                    ("zone", "south"),
                    ("start", "07:30"),
                    ("end", "16:00"),
                    ("days", "0,1,2,3,4,5"),
                ],
            )
            .await;
        assert!(r.body.contains("Done"), "{}", r.body);
        let bad = op
            .call(
                "create_technician",
                &[("name", "X"), ("skills", "hvac"), ("zone", ""), ("start", "late"), ("end", "17:00"), ("days", "0")],
            )
            .await;
        assert!(bad.body.contains("working_hours"), "{}", bad.body);
        let list = op.call("technicians", &[]).await.body;
        assert!(list.contains("Rosa Diaz") && list.contains("Sat 07:30–16:00") && list.contains("gas"), "{list}");
        let off = op
            .call(
                "add_time_off",
                &[("technician_id", &tech), ("from", "2030-01-02"), ("to", "2030-01-03"), ("reason", "vacation")],
            )
            .await;
        assert!(off.body.contains("Done"), "{}", off.body);
        let bad_date = op
            .call(
                "add_time_off",
                &[("technician_id", &tech), ("from", "2030-02-30"), ("to", "2030-03-01"), ("reason", "")],
            )
            .await;
        assert!(bad_date.body.contains("dates"), "{}", bad_date.body);
        let page = op.get("/console/technicians").await;
        assert!(page.status == 200 && page.body.contains("Rosa Diaz"));

        // An edit: new skills, zone, hours; then off the roster for new jobs. Bad input changes nothing.
        let edit = |skills: &'static str, start: &'static str, active: &'static str| {
            vec![
                ("technician_id", tech.clone()),
                ("skills", skills.to_string()),
                ("zone", "east".to_string()),
                ("start", start.to_string()),
                ("end", "18:00".to_string()),
                ("days", "1,2,3".to_string()),
                ("active", active.to_string()),
            ]
        };
        let form = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, x)| (*k, x.clone())).collect::<Vec<_>>();
        let as_refs = |v: &Vec<(&'static str, String)>| form(v);
        let bad = as_refs(&edit("", "09:00", "true"));
        let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = op.call("update_technician", &bad).await;
        assert!(r.body.contains("skills") && !r.body.contains("Done"), "{}", r.body);
        let good = as_refs(&edit("electrical, HVAC", "09:00", "true"));
        let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = op.call("update_technician", &good).await;
        assert!(r.body.contains("Done"), "{}", r.body);
        let roster = s.service.technicians(&dispatch::CallContext::new(Actor::system("t"))).await.expect("roster");
        let t = roster.iter().find(|t| t.id == tech).expect("tech");
        assert_eq!(
            (t.skills.clone(), t.zone.as_deref(), t.active),
            (vec!["electrical".to_string(), "hvac".to_string()], Some("east"), true)
        );
        assert!(t.working_hours.0[0].is_empty() && t.working_hours.0[1] == vec![(540, 1080)], "{:?}", t.working_hours);
        let off_roster = as_refs(&edit("hvac", "09:00", "false"));
        let off_roster: Vec<(&str, &str)> = off_roster.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(op.call("update_technician", &off_roster).await.body.contains("Done"));
        let events: Vec<String> = dispatch::audit::all_events(s.service.db().pool())
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.action == "technician.update")
            .map(|e| e.after_json.unwrap_or_default())
            .collect();
        assert_eq!(events.len(), 2, "each edit audited, the refused one not");
        assert!(events[1].contains("\"active\":false"), "{}", events[1]);
        let page = op.get("/console/technicians").await;
        assert!(page.body.contains("inactive"), "the roster shows who takes no new jobs");

        let mut t = signed_in(&s, Role::Technician, Some(&tech)).await;
        for endpoint in ["technicians", "board_stamp"] {
            let r = t.call(endpoint, &[]).await;
            assert!(r.status >= 400, "{endpoint}: {} {}", r.status, r.body);
        }
        assert!(t.call("calendar", &[("view", "week"), ("date", "")]).await.status >= 400);
        assert!(t.call("board", &[("filter[query]", "")]).await.status >= 400);
        assert_eq!(t.get("/console/technicians").await.status, 403);
    }
}

#[tokio::test]
async fn customers_can_be_added_before_any_ticket_without_splitting_a_household() {
    for db in each_backend().await {
        let s = start(db).await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let form = |name: &'static str, phone: &'static str, address: &'static str| {
            vec![
                ("name", name),
                ("phone", phone),
                ("email", ""),
                ("address", address),
                ("access_notes", "Dog in yard"),
                ("zone", "north"),
            ]
        };
        let r = op.call("new_customer", &form("Maple Court HOA", "(312) 555-0199", "400 Maple Ct")).await;
        assert!(r.body.contains("Done"), "{}", r.body);
        let list = op.call("customers", &[("query", "maple")]).await.body;
        assert!(
            list.contains("Maple Court HOA") && list.contains("400 Maple Ct") && list.contains("+13125550199"),
            "{list}"
        );
        // The same phone under another name is refused, naming who has it; nothing is written.
        let dup = op.call("new_customer", &form("Someone Else", "312-555-0199", "")).await;
        assert!(dup.body.contains("already_known") && dup.body.contains("Maple Court HOA"), "{}", dup.body);
        let none = op.call("new_customer", &form("No Contact", "", "")).await;
        assert!(none.body.contains("contact_required"), "{}", none.body);
        let all = op.call("customers", &[("query", "")]).await.body;
        assert!(!all.contains("Someone Else") && !all.contains("No Contact"), "{all}");
        let created = dispatch::audit::all_events(s.service.db().pool())
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.action == "customer.create")
            .count();
        assert_eq!(created, 1, "the new customer is audited, the refusals are not");
        // A technician cannot add customers.
        let tech = technician(&s.service, "hvac").await;
        let mut t = signed_in(&s, Role::Technician, Some(&tech)).await;
        let r = t.call("new_customer", &form("Sneaky", "+13125550100", "")).await;
        assert!(r.status >= 400 || !r.body.contains("Done"), "{}", r.body);
    }
}

/// Booked appointments are listed by `Service::agenda`; nothing outside the range.
#[tokio::test]
async fn the_agenda_holds_exactly_the_range() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let op = CallContext::new(Actor::system("t"));
        let case = s.service.create_ticket(&op, &intake("Range")).await.expect("t").case;
        let start_ms = (dispatch::ids::now_ms() / HOUR_MS + 30) * HOUR_MS;
        let confirm = ConfirmSlot {
            ticket_id: case.id.clone(),
            start_ms,
            end_ms: start_ms + HOUR_MS,
            technician_id: Some(tech.clone()),
            reschedule: false,
            expected_version: None,
        };
        s.service.confirm_slot(&op, &confirm).await.expect("confirm");
        s.service
            .assign_tech(
                &op,
                &AssignTech { ticket_id: case.id.clone(), technician_id: tech.clone(), expected_version: None },
            )
            .await
            .expect("assign");
        let within = s.service.agenda(&op, start_ms - HOUR_MS, start_ms + 2 * HOUR_MS).await.expect("agenda");
        assert_eq!(within.len(), 1);
        assert_eq!(within[0].number, case.number);
        assert_eq!(within[0].state, domain::CaseState::Dispatched);
        let before = s.service.agenda(&op, start_ms - 5 * HOUR_MS, start_ms).await.expect("agenda");
        assert!(before.is_empty());
        assert!(s.service.agenda(&op, start_ms, start_ms - 1).await.is_err(), "an empty range is refused");
    }
}

#[tokio::test]
async fn customers_are_found_and_edited_from_the_console() {
    for db in each_backend().await {
        let s = start(db).await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let case =
            s.service.create_ticket(&CallContext::new(Actor::system("t")), &intake("Edit Me")).await.expect("t").case;
        let page = op.get("/console/customers").await;
        assert!(page.status == 200 && page.body.contains("Edit Me"), "{}", page.status);
        let digits = crate::support::phone_of("Edit Me");
        let found = op.call("customers", &[("query", &digits[5..])]).await.body;
        assert!(found.contains("Edit Me"), "search by phone: {found}");
        let r = op
            .call(
                "edit_customer",
                &[
                    ("customer_id", &case.customer.id),
                    ("name", "Edited Name"),
                    ("add_phone", ""),
                    ("add_email", "e@example.com"),
                ],
            )
            .await;
        assert!(r.body.contains("Done"), "{}", r.body);
        let site = case.site.clone().expect("site");
        let r = op
            .call(
                "edit_site",
                &[("site_id", &site.id), ("address", "6 Board St"), ("access_notes", "Dog in yard"), ("zone", "east")],
            )
            .await;
        assert!(r.body.contains("Done"), "{}", r.body);
        let after = s.service.case(&CallContext::new(Actor::system("t")), &case.id).await.expect("case");
        assert_eq!(after.customer.name, "Edited Name");
        assert_eq!(after.site.expect("site").address, "6 Board St");
        let empty =
            op.call("edit_site", &[("site_id", &site.id), ("address", " "), ("access_notes", ""), ("zone", "")]).await;
        assert!(empty.body.contains("address"), "an address is required: {}", empty.body);
    }
}

#[tokio::test]
async fn checklist_templates_are_edited_from_the_console() {
    for db in each_backend().await {
        let s = start(db).await;
        let mut op = signed_in(&s, Role::Operator, None).await;
        let r = op
            .call(
                "put_template_item",
                &[("job_type", "appliance"), ("label", "Door seal checked"), ("required", "on"), ("position", "2")],
            )
            .await;
        assert!(r.body.contains("door_seal_checked"), "{}", r.body);
        let page = op.get("/console/checklists").await;
        assert!(page.status == 200 && page.body.contains("Door seal checked"));
        let r = op.call("remove_template_item", &[("job_type", "appliance"), ("key", "door_seal_checked")]).await;
        assert!(r.body.contains("Done"), "{}", r.body);
        assert!(!op.call("checklist_templates", &[]).await.body.contains("door_seal_checked"));
    }
}
