//! `schedule.propose_slots` across the roster: every qualified technician is offered, ranked
//! by the soonest day and the lightest load that day, each slot with its reasons; a proposed
//! slot books in one action.

use super::*;
use domain::slots::Slot;

fn slots_of(o: &Outcome) -> Vec<Slot> {
    serde_json::from_value(o.data["slots"].clone()).expect("slots")
}

#[tokio::test]
async fn every_qualified_technician_is_offered_with_their_load_that_day() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let busy = technician(&svc, "Busy Bea", &["hvac"]).await;
        let idle = technician(&svc, "Idle Ian", &["hvac"]).await;
        let other = technician(&svc, "Other Otto", &["hvac", "plumbing"]).await;
        let plumber = technician(&svc, "Pipe Pat", &["plumbing"]).await;
        // Two jobs for Bea tomorrow.
        for hour in [9, 13] {
            let c = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
            let book = BookSlot {
                ticket_id: c.id.clone(),
                start_ms: tomorrow_at(hour),
                end_ms: tomorrow_at(hour + 2),
                technician_id: busy.clone(),
                reschedule: false,
                expected_version: None,
            };
            svc.book(&op(), &book).await.expect("book Bea");
        }
        let case = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        let events_before = count(&db, "audit_events").await;
        let query = ProposeSlots {
            ticket_id: case.id.clone(),
            from_ms: Some(tomorrow_at(8)),
            to_ms: Some(tomorrow_at(18)),
            duration_minutes: Some(90),
            max_slots: Some(6),
        };
        let proposed = svc.propose_slots(&op(), &query).await.expect("propose");
        let slots = slots_of(&proposed);
        assert_eq!(slots.len(), 6, "{slots:?}");
        for t in [&busy, &idle, &other] {
            assert!(slots.iter().any(|s| &s.technician_id == t), "{t} is qualified and free: {slots:?}");
        }
        assert!(slots.iter().all(|s| s.technician_id != plumber), "no hvac skill, never offered");
        // The lightest load first; Bea's two jobs are counted and said.
        assert_ne!(slots[0].technician_id, busy, "{slots:?}");
        assert_eq!(slots[0].jobs_that_day, 0);
        let bea = slots.iter().find(|s| s.technician_id == busy).expect("Bea");
        assert_eq!(bea.jobs_that_day, 2);
        assert!(bea.reasons.contains(&"2 other jobs that day".to_string()), "{:?}", bea.reasons);
        assert!(bea.reasons.contains(&"works the north zone".to_string()), "{:?}", bea.reasons);
        assert_eq!(bea.zone.as_deref(), Some("north"));
        for s in &slots {
            assert_eq!(s.end_ms - s.start_ms, 90 * 60_000);
            assert!(s.start_ms >= tomorrow_at(8) && s.end_ms <= tomorrow_at(18), "{s:?}");
            // Bea's offers keep clear of her jobs and their travel buffer.
            if s.technician_id == busy {
                for hour in [9, 13] {
                    let (b_start, b_end) = (tomorrow_at(hour) - 30 * 60_000, tomorrow_at(hour + 2) + 30 * 60_000);
                    assert!(s.end_ms <= b_start || s.start_ms >= b_end, "{s:?} overlaps the job at {hour}");
                }
            }
        }
        // One technician's offers never overlap each other.
        for (i, a) in slots.iter().enumerate() {
            for b in &slots[i + 1..] {
                if a.technician_id == b.technician_id {
                    assert!(a.end_ms <= b.start_ms || b.end_ms <= a.start_ms, "{a:?} / {b:?}");
                }
            }
        }
        assert_eq!(count(&db, "audit_events").await, events_before + 1, "the proposal itself is audited");

        // The best slot books and assigns in one action.
        let best = &slots[0];
        let book = BookSlot {
            ticket_id: case.id.clone(),
            start_ms: best.start_ms,
            end_ms: best.end_ms,
            technician_id: best.technician_id.clone(),
            reschedule: false,
            expected_version: None,
        };
        let booked = svc.book(&op(), &book).await.expect("book").case;
        assert_eq!(booked.state, CaseState::Dispatched);
        assert_eq!(booked.assignment.as_ref().map(|a| a.technician_id.as_str()), Some(best.technician_id.as_str()));
        assert_audit_consistent(&svc).await;
    }
}
