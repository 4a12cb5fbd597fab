//! A known phone with another name: intake asks who is calling (same person, another contact
//! of the customer, or a new customer) instead of filing the call under the customer on record
//! and dropping the name.

use super::*;
use domain::KnownContact;

fn call(name: &str, phone: &str, choice: Option<KnownContact>) -> CreateTicket {
    CreateTicket {
        customer: NewCustomer {
            name: Some(name.into()),
            phone: Some(phone.into()),
            known_contact: choice,
            ..Default::default()
        },
        site: Some(NewSite { address: Some("4 Quinlan Ct".into()), ..Default::default() }),
        problem_summary: Some("No hot water".into()),
        trade: Some("plumbing".into()),
        ..Default::default()
    }
}

const NORAS: &str = "+13125556958";

#[tokio::test]
async fn a_second_name_on_a_known_phone_is_asked_about_and_changes_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let nora = svc.create_ticket(&op(), &call("Nora Quinlan", NORAS, None)).await.expect("Nora").case;
        let counts = |db: Db| async move {
            let mut n = vec![];
            for t in ["tickets", "customers", "customer_people", "customer_contacts", "sites", "audit_events"] {
                n.push(count(&db, t).await);
            }
            n
        };
        let before = counts(db.clone()).await;
        let err = svc.create_ticket(&op(), &call("Liam Quinlan", "(312) 555-6958", None)).await.expect_err("asked");
        assert_eq!(err.code(), "CONTACT_NAME_DIFFERS");
        assert_eq!(err.code().http_status(), 409);
        assert_eq!(err.details()["customer_id"], nora.customer.id.as_str());
        assert_eq!(err.details()["customer_name"], "Nora Quinlan");
        assert_eq!(err.details()["choices"], serde_json::json!(["same_person", "another_contact", "new_customer"]));
        assert!(err.to_string().contains("(312) 555-6958 already belongs to Nora Quinlan"), "{err}");
        assert_eq!(counts(db.clone()).await, before, "nothing filed, nothing audited");

        // The same name written differently is the same person: no question.
        let again = svc.create_ticket(&op(), &call("  nora   QUINLAN", NORAS, None)).await.expect("Nora again").case;
        assert_eq!(again.customer.id, nora.customer.id);
        assert_eq!(again.contact, None);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn each_answer_files_the_call_as_said() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let nora = svc.create_ticket(&op(), &call("Nora Quinlan", NORAS, None)).await.expect("Nora").case;

        // The same person: Nora's ticket, Nora's name stays.
        let same = call("Norah Q", NORAS, Some(KnownContact::SamePerson));
        let same = svc.create_ticket(&op(), &same).await.expect("same person").case;
        assert_eq!(same.customer.id, nora.customer.id);
        assert_eq!(same.customer.name, "Nora Quinlan");
        assert_eq!(same.contact, None);

        // Another contact: Nora's customer, Liam named as the caller with the shared phone.
        let liam = call("Liam Quinlan", NORAS, Some(KnownContact::AnotherContact));
        let liam = svc.create_ticket(&op(), &liam).await.expect("another contact").case;
        assert_eq!(liam.customer.id, nora.customer.id);
        assert_eq!(liam.customer.name, "Nora Quinlan");
        let person = liam.contact.clone().expect("the caller is on the ticket");
        assert_eq!((person.name.as_str(), person.phone.as_deref()), ("Liam Quinlan", Some(NORAS)));
        // Liam calls again: known now, filed under Nora with him as the caller, no question.
        let second = svc.create_ticket(&op(), &call("liam quinlan", NORAS, None)).await.expect("Liam again").case;
        assert_eq!(second.customer.id, nora.customer.id);
        assert_eq!(second.contact.as_ref().map(|p| p.id.as_str()), Some(person.id.as_str()), "one person, not two");
        assert_eq!(count(&db, "customer_people").await, 1);

        // A new customer who shares the number: a customer of their own, reachable through
        // the contact; messages from the number still reach Nora.
        let mia = call("Mia Tenant", NORAS, Some(KnownContact::NewCustomer));
        let mia = svc.create_ticket(&op(), &mia).await.expect("new customer").case;
        assert_ne!(mia.customer.id, nora.customer.id);
        assert_eq!(mia.customer.name, "Mia Tenant");
        assert_eq!(mia.contact.as_ref().and_then(|p| p.phone.as_deref()), Some(NORAS));
        let nora_now = svc.case(&op(), &nora.id).await.expect("Nora's ticket");
        assert_eq!(nora_now.customer.phones, vec![NORAS.to_string()]);
        let tech_view = domain::job_view::JobView::of(&mia);
        assert_eq!(tech_view.customer.phones, vec![NORAS.to_string()], "the technician can call Mia");

        // The caller is in the audited case, and replay rebuilds it.
        let events = audit::events_for_ticket(db.pool(), &liam.id).await.expect("events");
        let created = events.iter().find(|e| e.action == "ticket.create").expect("create event");
        let after: serde_json::Value =
            serde_json::from_str(created.after_json.as_deref().unwrap_or("null")).expect("after json");
        // A new case's change is the whole case, under the root path "".
        assert_eq!(after[""]["contact"]["name"], "Liam Quinlan", "{after}");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn the_board_finds_callers_and_closed_tickets_and_the_file_holds_them_all() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let nora = svc.create_ticket(&op(), &call("Nora Quinlan", NORAS, None)).await.expect("Nora").case;
        let liam = call("Liam Quinlan", NORAS, Some(KnownContact::AnotherContact));
        let liam = svc.create_ticket(&op(), &liam).await.expect("Liam").case;
        let cancel = CancelTicket { ticket_id: nora.id.clone(), reason: "fixed it".into(), expected_version: None };
        svc.cancel_ticket(&op(), &cancel).await.expect("cancel");

        let board = |query: &str, include_closed: bool| domain::views::BoardFilter {
            query: query.into(),
            include_closed,
            ..Default::default()
        };
        let numbers = |cols: &[domain::views::BoardColumn]| -> Vec<(String, String)> {
            cols.iter().flat_map(|c| c.cards.iter().map(|k| (c.state.as_str().to_string(), k.number.clone()))).collect()
        };
        let open = svc.board(&op(), &board("liam", false), 25).await.expect("board").columns;
        assert_eq!(numbers(&open), vec![("intake".to_string(), liam.number.clone())], "found by the caller's name");
        assert!(open.iter().all(|c| c.state.is_open()), "closed columns only when asked");
        let all = svc.board(&op(), &board("quinlan", true), 25).await.expect("board").columns;
        let found = numbers(&all);
        assert!(found.contains(&("canceled".to_string(), nora.number.clone())), "{found:?}");
        assert!(found.contains(&("intake".to_string(), liam.number.clone())), "{found:?}");
        assert_eq!(all.iter().find(|c| c.state == CaseState::Canceled).map(|c| c.count), Some(1));

        let file = svc.customer_file(&op(), &nora.customer.id).await.expect("file");
        assert_eq!(file.customer.name, "Nora Quinlan");
        assert_eq!(file.people.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["Liam Quinlan"]);
        assert_eq!(file.sites.len(), 1);
        let mut tickets: Vec<&str> = file.tickets.iter().map(|t| t.number.as_str()).collect();
        tickets.sort();
        let mut want = vec![nora.number.as_str(), liam.number.as_str()];
        want.sort();
        assert_eq!(tickets, want, "closed tickets are in the history too");
        let err = svc.customer_file(&op(), "cus_missing").await.expect_err("unknown customer");
        assert_eq!(err.code(), "INVALID_REQUEST");
        let tech = actor(Role::Technician);
        assert!(svc.customer_file(&tech, &nora.customer.id).await.is_err(), "records are the office's");
    }
}
