//! `dispatch.set_eta` against the booked window: inside it, set; before it, refused; after
//! it, refused unless the technician is running late and says why — then stored, audited and
//! told to the customer.

use super::*;

async fn eta_events(db: &Db, ticket: &str) -> Vec<audit::StoredEvent> {
    let all = audit::events_for_ticket(db.pool(), ticket).await.expect("events");
    all.into_iter().filter(|e| e.action == "dispatch.set_eta").collect()
}

fn set(c: &Case, eta_ms: i64, late_reason: Option<&str>) -> SetEta {
    SetEta { ticket_id: c.id.clone(), eta_ms, note: None, late_reason: late_reason.map(str::to_string) }
}

#[tokio::test]
async fn an_eta_outside_the_booked_window_is_refused_and_changes_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        // Booked tomorrow 09:00-11:00.
        let (c, _) = case_in(&svc, CaseState::Dispatched, 9).await;
        let updates_before = count(&db, "customer_updates").await;
        let events_before = count(&db, "audit_events").await;

        // 45 minutes from now, for a job booked tomorrow: before the window, with or without a reason.
        let soon = dispatch::ids::now_ms() + 45 * 60_000;
        for reason in [None, Some("running late")] {
            let err = svc.set_eta(&op(), &set(&c, soon, reason)).await.expect_err("before the window");
            assert_eq!(err.code(), "ETA_OUTSIDE_WINDOW");
            assert_eq!(err.code().http_status(), 409);
            assert!(err.to_string().contains("before the booked window"), "{err}");
            assert_eq!(err.details()["reason"], "before_window");
            assert_eq!(err.details()["window_start_ms"], tomorrow_at(9));
        }
        // After the window without a reason.
        let late = tomorrow_at(11) + 30 * 60_000;
        let err = svc.set_eta(&op(), &set(&c, late, None)).await.expect_err("late, no reason");
        assert_eq!(err.code(), "ETA_OUTSIDE_WINDOW");
        assert!(err.to_string().contains("running-late reason"), "{err}");
        assert_eq!(err.details()["reason"], "after_window");
        let err = svc.set_eta(&op(), &set(&c, late, Some("   "))).await.expect_err("a blank reason is none");
        assert_eq!(err.code(), "ETA_OUTSIDE_WINDOW");

        let after = svc.case(&op(), &c.id).await.expect("case");
        assert_eq!(after, c, "the case is untouched");
        assert_eq!(count(&db, "audit_events").await, events_before, "nothing audited");
        assert_eq!(count(&db, "customer_updates").await, updates_before, "the customer is told nothing");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn a_late_eta_with_a_reason_is_stored_audited_and_told_to_the_customer() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (c, _) = case_in(&svc, CaseState::Dispatched, 9).await;

        // Inside the window: set, no reason kept even if one is sent.
        let on_time = svc.set_eta(&op(), &set(&c, tomorrow_at(10), Some("traffic"))).await.expect("inside");
        let eta = on_time.case.eta.clone().expect("eta");
        assert_eq!((eta.eta_ms, eta.late_reason), (tomorrow_at(10), None));

        // After the window, with the reason: kept on the case and in the event.
        let late = tomorrow_at(11) + 40 * 60_000;
        let out = svc.set_eta(&op(), &set(&c, late, Some("the previous job ran over"))).await.expect("late");
        let eta = out.case.eta.clone().expect("eta");
        assert_eq!((eta.eta_ms, eta.late_reason.as_deref()), (late, Some("the previous job ran over")));
        assert_eq!(svc.case(&op(), &c.id).await.expect("case").eta, Some(eta.clone()), "stored");
        let events = eta_events(&db, &c.id).await;
        assert_eq!(events.len(), 2);
        let detail: serde_json::Value =
            serde_json::from_str(events[1].detail_json.as_deref().expect("detail")).expect("json");
        assert_eq!(detail["late_reason"], "the previous job ran over");
        assert!(events[1].after_json.as_deref().unwrap_or_default().contains("the previous job ran over"));
        assert!(events[0].detail_json.is_none(), "an on-time ETA has no reason to record");

        // The customer's update says why.
        let updates = svc.customer_updates_of(&op(), &c.id).await.expect("updates");
        let changed = updates.iter().find(|u| u.kind == "eta_changed").expect("an ETA update");
        assert!(changed.body.contains("running late: the previous job ran over"), "{}", changed.body);

        // Back inside the window: the reason goes.
        let back = svc.set_eta(&op(), &set(&c, tomorrow_at(10) + 30 * 60_000, None)).await.expect("inside again");
        assert_eq!(back.case.eta.and_then(|e| e.late_reason), None);
        assert_audit_consistent(&svc).await;
    }
}
