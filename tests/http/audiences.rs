//! Each audience gets its own view: every server function the app registers, called as every
//! role that can hold a session (and as a visitor who came by a portal link), on a job full of
//! what the office keeps to itself. Customers and link visitors only ever receive the portal's
//! view; technicians the job's; a function answers only the roles it declares.

use crate::support::{account, dispatched_ticket, start, system, technician, Browser};
use dispatch::testing::each_backend;
use dispatch::Service;
use domain::case::{AttachmentKind, NoteKind};
use domain::commands::*;
use domain::Role;

/// Drives a dispatched job to an invoice draft that has not gone out, leaving behind an
/// office note, an internal message, labor and a stored photo.
async fn invoice_drafted(svc: &Service, case: &domain::Case) -> domain::Case {
    use base64::Engine;
    let op = system();
    let r = || TicketRef { ticket_id: case.id.clone(), expected_version: None };
    svc.check_in(&op, &r()).await.expect("check in");
    let png = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png());
    let photo = AddPhoto {
        ticket_id: case.id.clone(),
        kind: AttachmentKind::After,
        content_type: None,
        filename: Some("after.png".into()),
        content_base64: Some(png),
        upload_id: None,
    };
    svc.add_photo(&op, &photo).await.expect("photo");
    for (kind, text) in [(NoteKind::Note, "ZZNOTE owes on the last job"), (NoteKind::WorkSummary, "Relit the pilot")] {
        svc.add_note(&op, &AddNote { ticket_id: case.id.clone(), kind, text: text.into() }).await.expect("note");
    }
    let labor = RecordLabor {
        ticket_id: case.id.clone(),
        minutes: 45,
        description: "ZZLABOR diagnosis".into(),
        rate_cents: None,
    };
    svc.record_labor(&op, &labor).await.expect("labor");
    let internal = AddMessage {
        ticket_id: case.id.clone(),
        direction: Direction::Internal,
        channel: None,
        sender: None,
        text: "ZZINTERNALMSG call them back later".into(),
    };
    svc.add_message(&op, &internal).await.expect("internal message");
    svc.complete_work(&op, &r()).await.expect("done");
    crate::support::close_out(svc, &op, &case.id).await;
    svc.generate_invoice_draft(&op, &r()).await.expect("invoice").case
}

/// One value for every argument name any server function takes: functions ignore the names
/// they do not use, so one form reaches them all with this ticket.
fn every_argument(ticket_id: &str, tech: &str, customer: &str) -> Vec<(String, String)> {
    let fixed = [
        ("ticket_id", ticket_id),
        ("technician_id", tech),
        ("customer_id", customer),
        ("text", "hello from the probe"),
        ("kind", "note"),
        ("step", "check_in"),
        ("version", ""),
        ("minutes", "30"),
        ("description", "probe"),
        ("quantity", "1"),
        ("unit_price", "1.00"),
        ("key", "probe"),
        ("mark", "done"),
        ("note", "probe"),
        ("reason", "probe"),
        ("direction", "inbound"),
        ("priority", "standard"),
        ("flag", "vip"),
        ("switch", "pause"),
        ("duration_minutes", "60"),
        ("days", "1,2,3,4,5"),
        ("start", "08:00"),
        ("end", "17:00"),
        ("start_ms", "0"),
        ("end_ms", "1"),
        ("reschedule", "false"),
        ("lines", "Labor | 1 | 10.00"),
        ("tax_percent", "0"),
        ("amount", "1.00"),
        ("due", ""),
        ("approval_id", "apr_probe"),
        ("decision", "reject"),
        ("invoice_above", "100.00"),
        ("reschedule_within_minutes", "60"),
        ("name", "Probe"),
        ("email", "probe@example.com"),
        ("phone", "+15550009999"),
        ("address", "9 Probe St"),
        ("access_notes", "none"),
        ("zone", "north"),
        ("customer_name", "Probe"),
        ("problem_summary", "probe"),
        ("trade", "hvac"),
        ("skills", "hvac"),
        ("active", "true"),
        ("from", "2030-01-01"),
        ("to", "2030-01-02"),
        ("week", "0"),
        ("view", "day"),
        ("date", "2030-01-01"),
        ("query", ""),
        ("site_id", "sit_probe"),
        ("add_phone", ""),
        ("add_email", ""),
        ("job_type", "hvac"),
        ("label", "probe"),
        ("position", "1"),
        ("role", "operator"),
        ("password", "wrong password entirely"),
        ("user_id", "usr_probe"),
        ("disabled", "false"),
        ("template", "probe"),
        ("current_password", "wrong password entirely"),
        ("new_password", "another long password"),
        ("next", "/"),
        ("business_name", "Probe Heating"),
        ("timezone", "UTC"),
        ("currency", "USD"),
        ("tax_rate", "0"),
        ("labor_rate", "95.00"),
        ("payment_terms", "Due on receipt"),
        ("working_hours", "Mon-Fri 08:00-17:00"),
        ("slot_step_minutes", "30"),
        ("travel_buffer_minutes", "30"),
        ("filter[query]", ""),
        ("filter[state]", ""),
        ("filter[priority]", ""),
        ("filter[technician]", ""),
        ("filter[trade]", ""),
    ];
    fixed.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every registered server function, sign-in and sign-out last (they change the session).
fn server_functions() -> Vec<String> {
    let mut paths: Vec<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _method)| path.to_string()).collect();
    paths.sort();
    paths.dedup();
    let last = |p: &String| p.ends_with("/login") || p.ends_with("/logout");
    let (mut tail, mut out): (Vec<_>, Vec<_>) = paths.into_iter().partition(last);
    tail.sort_by_key(|p| p.ends_with("/logout"));
    out.append(&mut tail);
    out
}

async fn post(b: &mut Browser, path: &str, form: &[(String, String)]) -> (u16, String) {
    let req = b
        .http
        .post(format!("{}{path}", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .form(form);
    let r = b.send(req).await;
    (r.status, r.body)
}

#[tokio::test]
async fn every_server_function_answers_each_audience_with_its_own_view_only() {
    let functions = server_functions();
    assert!(functions.len() > 40, "the registry lists the app's server functions: {functions:?}");
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let dispatched = dispatched_ticket(&s.service, &tech, 0).await;
        let case = invoice_drafted(&s.service, &dispatched).await;
        let invoice = case.invoice.clone().expect("an invoice draft");
        let photo = case.attachments.first().cloned().expect("a photo");
        let form = every_argument(&case.id, &tech, &case.customer.id);

        // What the office keeps to itself, as it would appear in any answer.
        let mut secrets: Vec<String> =
            ["ZZNOTE", "ZZLABOR", "ZZINTERNALMSG", "uploads/", "attachments/", "packets/"].map(String::from).to_vec();
        secrets.extend([invoice.number.clone(), invoice.id.clone(), photo.blob_key.clone(), tech.clone()]);
        secrets.extend(
            ["usr_", "tok_", "tec_", "cus_", "sit_", "lab_", "prt_", "not_", "apt_", "lnk_", "evt_"].map(String::from),
        );
        // Technicians do the work: notes and labor are theirs; the books and the storage are not.
        let tech_secrets: Vec<String> = secrets
            .iter()
            .filter(|x| !["ZZNOTE", "ZZLABOR", "tec_"].contains(&x.as_str()) && **x != tech)
            .cloned()
            .collect();

        let mut sessions: Vec<(&str, Browser)> = vec![];
        for (who, role, tech_id, cust_id) in [
            ("technician", Role::Technician, Some(tech.as_str()), None),
            ("customer", Role::Customer, None, Some(case.customer.id.as_str())),
            ("admin", Role::Admin, None, None),
            ("operator", Role::Operator, None, None),
        ] {
            let email = format!("{who}@audience.test");
            account(&s, &email, role, tech_id, cust_id).await;
            let mut b = Browser::new(&s);
            let r = b.login(&email, "correct horse battery").await;
            assert!(r.status < 400, "{who} signs in: {}", r.body);
            sessions.push((who, b));
        }
        let link = s
            .service
            .create_portal_link(
                &system(),
                &dispatch::portal::CreateLink { ticket_id: case.id.clone(), ttl_hours: None },
            )
            .await
            .expect("link");
        let mut visitor = Browser::new(&s);
        assert_eq!(visitor.get(&link.path).await.status, 303);
        // The narrow audiences first: the office's calls change the ticket.
        sessions.insert(0, ("link visitor", visitor));

        let portal = ["/api/portal_tickets", "/api/portal_ticket", "/api/portal_stamp", "/api/portal_send"];
        let own = ["/api/whoami", "/api/login", "/api/logout", "/api/change_password"];
        let job = ["/api/job_case", "/api/tech_"];
        for (who, b) in &mut sessions {
            let mut answered = vec![];
            for path in &functions {
                let (status, body) = post(b, path, &form).await;
                assert!(status < 500, "{who} {path}: {status} {body}");
                let (allowed, leaks): (Vec<&str>, &[String]) = match *who {
                    "customer" | "link visitor" => ([&portal[..], &own[..]].concat(), &secrets),
                    "technician" => ([&job[..], &own[..]].concat(), &tech_secrets),
                    _ => (vec![""], &[]),
                };
                for secret in leaks {
                    assert!(!body.contains(secret.as_str()), "{who} {path} received {secret}: {body}");
                }
                if status == 200 {
                    assert!(
                        allowed.iter().any(|a| path.starts_with(a)),
                        "{who} may not call {path}, yet it answered 200: {body}"
                    );
                    answered.push(path.clone());
                }
            }
            match *who {
                "customer" | "link visitor" => {
                    assert!(
                        answered.iter().any(|p| p == "/api/portal_ticket"),
                        "{who} reads their ticket: {answered:?}"
                    )
                }
                "technician" => {
                    assert!(answered.iter().any(|p| p == "/api/job_case"), "{who} reads the job: {answered:?}")
                }
                _ => assert!(answered.len() > 20, "{who} uses the console: {answered:?}"),
            }
        }
    }
}
