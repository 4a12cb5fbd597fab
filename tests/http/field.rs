//! The technician's page and the customer portal without JavaScript, on SQLite and
//! PostgreSQL: the pages arrive as HTML with their content, and the primary actions work as
//! plain form posts that come back to the same page (303) and change the case, audited with
//! the technician (or the customer) as actor.

use crate::support::{account, dispatched_ticket, start, technician, Browser, Reply};
use dispatch::testing::each_backend;
use domain::{CaseState, Role};

/// A form post as a browser without JavaScript sends it: it accepts HTML, and says it comes
/// from this site.
async fn plain_post(b: &mut Browser, endpoint: &str, form: &[(&str, &str)]) -> Reply {
    let req = b
        .http
        .post(format!("{}/api/{endpoint}", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .form(form);
    b.send(req).await
}

/// The text of the element marked `data-test="{name}"` (up to its closing tag).
fn shown(body: &str, name: &str) -> String {
    let Some(at) = body.find(&format!(r#"data-test="{name}""#)) else { return String::new() };
    let rest = &body[at..];
    let start = rest.find('>').map_or(0, |i| i + 1);
    let end = rest.find("</").unwrap_or(rest.len());
    rest[start..end.max(start)].to_string()
}

fn assert_has_content(page: &str, r: &Reply, wants: &[&str]) {
    assert_eq!(r.status, 200, "{page}: {}", r.body);
    for want in wants {
        assert!(r.body.contains(want), "{page} lacks {want:?} in its HTML: {}", r.body);
    }
    assert!(!r.body.contains("Loading"), "{page} sends a loading placeholder instead of its content: {}", r.body);
}

#[tokio::test]
async fn every_field_and_office_page_arrives_as_html_with_its_content() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 3).await;
        account(&s, "tech@field.test", Role::Technician, Some(&tech), None).await;
        account(&s, "op@field.test", Role::Operator, None, None).await;
        account(&s, "ada@field.test", Role::Customer, None, Some(&job.customer.id)).await;

        let mut t = Browser::new(&s);
        t.login("tech@field.test", "correct horse battery").await;
        let list = t.get("/tech").await;
        assert_has_content("/tech", &list, &[&job.number, "1 Main St", "Booked"]);
        assert!(!list.body.contains(">Dispatched<"), "office words on the technician's card: {}", list.body);
        let page = t.get(&format!("/tech/jobs/{}", job.id)).await;
        assert_has_content("the job page", &page, &[&job.number, "No heat", "Check in", "Filter checked or replaced"]);
        assert!(page.body.contains(r#"action="/api/tech_step""#), "check-in is a plain form: {}", page.body);

        let mut c = Browser::new(&s);
        c.login("ada@field.test", "correct horse battery").await;
        assert_has_content("/portal", &c.get("/portal").await, &[&job.number, "No heat"]);
        let portal = c.get(&format!("/portal/tickets/{}", job.id)).await;
        assert_has_content("the portal ticket", &portal, &[&job.number, "Message to the office"]);
        assert!(portal.body.contains(r#"action="/api/portal_send""#), "{}", portal.body);

        let mut o = Browser::new(&s);
        o.login("op@field.test", "correct horse battery").await;
        assert_has_content("the board", &o.get("/console").await, &[&job.number, "Ada Lovelace"]);
        assert_has_content("the ticket page", &o.get(&format!("/console/tickets/{}", job.id)).await, &[&job.number]);
    }
}

#[tokio::test]
async fn a_technician_works_a_job_by_plain_form_posts_and_stays_on_its_page() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 4).await;
        account(&s, "tech@field.test", Role::Technician, Some(&tech), None).await;
        let mut t = Browser::new(&s);
        t.login("tech@field.test", "correct horse battery").await;
        let here = format!("/tech/jobs/{}", job.id);
        let id = job.id.as_str();
        let version = job.version.to_string();

        let r =
            plain_post(&mut t, "tech_step", &[("ticket_id", id), ("step", "check_in"), ("version", &version)]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location, format!("{here}?done=check_in"), "back to the same job page");
        let page = t.get(&r.location).await;
        assert!(page.body.contains("Checked in."), "the page says what happened: {}", page.body);
        assert!(page.body.contains("On site"), "{}", page.body);

        let r =
            plain_post(&mut t, "tech_note", &[("ticket_id", id), ("kind", "note"), ("text", "Blower motor seized")])
                .await;
        assert_eq!((r.status, r.location.as_str()), (303, format!("{here}?done=note").as_str()), "{}", r.body);
        let page = t.get(&r.location).await;
        assert!(page.body.contains("Blower motor seized") && page.body.contains("Note saved."), "{}", page.body);

        let tick = [("ticket_id", id), ("key", "filter_checked"), ("mark", "done")];
        let r = plain_post(&mut t, "tech_check", &tick).await;
        assert_eq!((r.status, r.location.as_str()), (303, format!("{here}?done=checklist").as_str()), "{}", r.body);
        let page = t.get(&r.location).await;
        assert!(page.body.contains(r#"aria-pressed="true""#), "the item shows ticked: {}", page.body);
        let untick = [("ticket_id", id), ("key", "filter_checked"), ("mark", "not_done")];
        let r = plain_post(&mut t, "tech_check", &untick).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let case = s.service.case(&crate::support::system(), id).await.expect("case");
        let item = case.checklist.iter().find(|i| i.key == "filter_checked").expect("item");
        assert!(!item.done, "unticked by a plain post");

        let version = case.version.to_string();
        let r = plain_post(&mut t, "tech_step", &[("ticket_id", id), ("step", "complete_work"), ("version", &version)])
            .await;
        assert_eq!((r.status, r.location.as_str()), (303, format!("{here}?done=complete_work").as_str()), "{}", r.body);

        // A closeout with evidence missing comes back to the page, which names what is missing
        // by the labels the technician sees.
        let r = plain_post(&mut t, "tech_submit", &[("ticket_id", id)]).await;
        assert_eq!((r.status, r.location.as_str()), (303, format!("{here}?refused=closeout").as_str()), "{}", r.body);
        let page = t.get(&r.location).await;
        assert!(page.body.contains("still needed: Filter checked or replaced"), "{}", page.body);
        assert!(page.body.contains("a photo after the work"), "{}", page.body);
        let said = shown(&page.body, "plain-outcome");
        assert!(said.starts_with("Not sent yet") && !said.contains("checklist:"), "no internal keys: {said}");
        // The same refusal to the hydrated page, in the same words.
        let called = t.call("tech_submit", &[("ticket_id", id)]).await;
        assert!(called.body.contains("still needed: Filter checked or replaced"), "{}", called.body);
        assert!(!called.body.contains("checklist:"), "{}", called.body);

        let case = s.service.case(&crate::support::system(), id).await.expect("case");
        assert_eq!(case.state, CaseState::WorkPerformed);
        assert!(case.notes.iter().any(|n| n.text == "Blower motor seized"));
        let events = dispatch::audit::events_for_ticket(s.service.db().pool(), id).await.expect("events");
        let by_tech: Vec<&str> =
            events.iter().filter(|e| e.actor_role == "technician").map(|e| e.action.as_str()).collect();
        assert_eq!(
            by_tech,
            [
                "job.check_in",
                "closeout.add_note",
                "closeout.checklist_complete",
                "closeout.checklist_complete",
                "job.complete_work"
            ],
            "each post is one action, by the technician"
        );
        let untick_event = events.iter().filter(|e| e.action == "closeout.checklist_complete").nth(1).expect("untick");
        let after = untick_event.after_json.clone().unwrap_or_default();
        assert!(after.contains("filter_checked"), "the audit shows the untick: {after}");
    }
}

#[tokio::test]
async fn a_customer_writes_to_the_office_by_a_plain_form_post() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 5).await;
        account(&s, "ada@field.test", Role::Customer, None, Some(&job.customer.id)).await;
        let mut c = Browser::new(&s);
        c.login("ada@field.test", "correct horse battery").await;
        let r = plain_post(&mut c, "portal_send", &[("ticket_id", &job.id), ("text", "The dog will be inside")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location, format!("/portal/tickets/{}?sent=1", job.id));
        let page = c.get(&r.location).await;
        assert!(page.body.contains("The dog will be inside"), "{}", page.body);
        assert!(page.body.contains("Sent. The office will answer"), "{}", page.body);
        let events = dispatch::audit::events_for_ticket(s.service.db().pool(), &job.id).await.expect("events");
        let last = events.last().expect("event");
        assert_eq!((last.action.as_str(), last.actor_role.as_str()), ("ticket.add_message", "customer"));
    }
}

/// Steps a phone queued while offline arrive with the key chosen when the technician acted:
/// sent twice (the first answer was lost), each applies once; one refused because the office
/// canceled the job meanwhile is answered in words and lands in the ticket's trail, by the
/// technician, for the office to see.
#[tokio::test]
async fn queued_steps_apply_once_and_a_refused_one_reaches_the_trail() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 6).await;
        account(&s, "tech@field.test", Role::Technician, Some(&tech), None).await;
        let mut t = Browser::new(&s);
        t.login("tech@field.test", "correct horse battery").await;
        let id = job.id.as_str();
        let version = job.version.to_string();
        let note_key = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b";
        let note =
            [("ticket_id", id), ("kind", "note"), ("text", "Queued in the crawl space"), ("idempotency_key", note_key)];
        for _ in 0..2 {
            let r = t.call("tech_note", &note).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(r.body.contains("Queued in the crawl space"), "{}", r.body);
        }
        let case = s.service.case(&crate::support::system(), id).await.expect("case");
        assert_eq!(case.notes.iter().filter(|n| n.text == "Queued in the crawl space").count(), 1, "applied once");
        // The same key with another body is not taken for the first step.
        let other = [("ticket_id", id), ("kind", "note"), ("text", "Something else"), ("idempotency_key", note_key)];
        let r = t.call("tech_note", &other).await;
        assert!(!r.body.contains("Something else"), "{}", r.body);

        // A check-in sent with the job's version from before the notes: refused as the
        // technician reads it, not in the API's words, and (sent without a key) not on record.
        let stale = [("ticket_id", id), ("step", "check_in"), ("version", version.as_str()), ("idempotency_key", "")];
        let r = t.call("tech_step", &stale).await;
        assert!(r.body.contains("the job was changed at the office before this step arrived"), "{}", r.body);
        assert!(!r.body.contains("since it was read"), "{}", r.body);

        // A job the office gave to someone else: the step says it is no longer theirs, and
        // nothing of the job as it now is (the other technician's) comes with it.
        let moved = dispatched_ticket(&s.service, &tech, 9).await;
        let other = technician(&s.service, "hvac").await;
        let window = moved.appointment.clone().expect("booked");
        let to_other = domain::commands::BookSlot {
            ticket_id: moved.id.clone(),
            start_ms: window.start_ms,
            end_ms: window.end_ms,
            technician_id: other.clone(),
            reschedule: true,
            expected_version: None,
        };
        s.service.book(&crate::support::system(), &to_other).await.expect("moved to another technician");
        let moved_version = moved.version.to_string();
        let gone = [("ticket_id", moved.id.as_str()), ("step", "check_in"), ("version", moved_version.as_str())];
        let r = t.call("tech_step", &gone).await;
        assert!(r.body.contains("this job is no longer on your list"), "{}", r.body);
        assert!(!r.body.contains(&other) && !r.body.contains("not found"), "{}", r.body);

        // The office cancels the job while a check-in waits on the phone.
        let cancel = serde_json::json!({"ticket_id": id, "reason": "Customer called to cancel"}).to_string();
        s.service
            .call(
                crate::support::system(),
                domain::Action::TicketCancel,
                Some("0b9e8d7c-6a5b-4c3d-8e1f-2a3b4c5d6e7f"),
                cancel.as_bytes(),
            )
            .await
            .expect("cancel");
        let check_in = [
            ("ticket_id", id),
            ("step", "check_in"),
            ("version", version.as_str()),
            ("idempotency_key", "1a2b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d"),
        ];
        let r = t.call("tech_step", &check_in).await;
        assert!(r.body.contains("Invalid") || r.status >= 400, "refused: {} {}", r.status, r.body);
        assert!(r.body.contains("the office canceled this job"), "why, from the job as it now stands: {}", r.body);
        let events = dispatch::audit::events_for_ticket(s.service.db().pool(), id).await.expect("events");
        let refused: Vec<_> = events.iter().filter(|e| e.action == "field.refused").collect();
        assert_eq!(refused.len(), 1, "{:?}", events.iter().map(|e| &e.action).collect::<Vec<_>>());
        assert_eq!(refused[0].actor_role, "technician");
        let detail = refused[0].detail_json.clone().unwrap_or_default();
        assert!(detail.contains("job.check_in") && detail.contains("1a2b3c4d"), "{detail}");
        // The office reads it in words on the ticket's timeline.
        let timeline = s.service.timeline(&crate::support::system(), id).await.expect("timeline");
        assert!(
            timeline.iter().any(|e| e.sentence.contains("could not check in")),
            "{:?}",
            timeline.iter().map(|e| &e.sentence).collect::<Vec<_>>()
        );
        // The trail still replays: the refusal changed nothing in the case.
        assert!(s.service.replay().await.expect("replay").mismatches.is_empty());
        let case = s.service.case(&crate::support::system(), id).await.expect("case");
        assert_eq!(case.state, CaseState::Canceled);
    }
}

/// A plain form post after the session ended lands on the sign-in page, which brings the
/// technician back to the job page, where it says the step was not saved.
#[tokio::test]
async fn a_plain_post_with_an_ended_session_goes_to_sign_in_and_back() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 7).await;
        account(&s, "tech@field.test", Role::Technician, Some(&tech), None).await;
        let mut t = Browser::new(&s);
        let r = plain_post(&mut t, "tech_note", &[("ticket_id", &job.id), ("kind", "note"), ("text", "Lost?")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let back = format!("/tech/jobs/{}?refused=signed_out", job.id);
        assert_eq!(
            r.location,
            format!("/login?next={}", back.replace('/', "%2F").replace('?', "%3F").replace('=', "%3D"))
        );
        t.login("tech@field.test", "correct horse battery").await;
        let page = t.get(&back).await;
        assert!(page.body.contains("you had been signed out"), "{}", page.body);
        // A page with scripts is told to sign in again (401), and keeps its step.
        let mut gone = Browser::new(&s);
        let r = gone.call("tech_note", &[("ticket_id", &job.id), ("kind", "note"), ("text", "Lost?")]).await;
        assert_eq!(r.status, 401, "{}", r.body);
        let case = s.service.case(&crate::support::system(), &job.id).await.expect("case");
        assert!(case.notes.is_empty());
    }
}
