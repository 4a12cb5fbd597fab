//! Service contract tests: every behaviour runs against SQLite and PostgreSQL.

use base64::Engine;
use dispatch::scheduling::NewTechnician;
use dispatch::testing::{each_backend, postgres_db, service, sqlite_db};
use dispatch::{audit, Backend, CallContext, Db, Outcome, Service, ServiceError};
use domain::case::{AttachmentKind, NoteKind, PaymentKind};
use domain::commands::*;
use domain::window::{WorkingHours, HOUR_MS};
use domain::{Actor, ActorKind, Case, CaseState, CreateTicket, NewCustomer, NewSite, Priority, Role, SourceChannel};
use sqlx::Row;

fn actor(role: Role) -> CallContext {
    CallContext {
        channel: SourceChannel::Sms,
        correlation_id: Some("corr-1".into()),
        request_id: Some("req-1".into()),
        idempotency: None,
        ..CallContext::new(Actor::new(ActorKind::Token, format!("tok_{role}"), role, role.to_string()))
    }
}

fn op() -> CallContext {
    actor(Role::Operator)
}

fn complete_ticket() -> CreateTicket {
    CreateTicket {
        customer: NewCustomer {
            name: Some("Ana Ruiz".into()),
            phone: Some("(555) 010-4477".into()),
            ..Default::default()
        },
        site: Some(NewSite {
            address: Some("12 Elm St".into()),
            access_notes: Some("Gate code 1234".into()),
            zone: Some("north".into()),
            ..Default::default()
        }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        priority: Some(Priority::Urgent),
        ..Default::default()
    }
}

/// A PNG header is enough for the content sniffing; the bytes are stored as given.
fn png() -> String {
    base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png())
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}")).fetch_one(db.pool()).await.expect("count").get("n")
}

async fn technician(svc: &Service, name: &str, skills: &[&str]) -> String {
    let all_day = WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
    svc.create_technician(
        &op(),
        &NewTechnician {
            name: name.into(),
            phone: None,
            email: None,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            zone: Some("north".into()),
            working_hours: Some(all_day),
        },
    )
    .await
    .expect("technician")
    .id
}

fn tomorrow_at(hour: i64) -> i64 {
    let now = dispatch::ids::now_ms();
    (now / (24 * HOUR_MS) + 1) * 24 * HOUR_MS + hour * HOUR_MS
}

/// Every test ends here: whatever it did, the chain verifies and replay rebuilds every case.
async fn assert_audit_consistent(svc: &Service) {
    let verify = audit::verify(svc.db().pool()).await.expect("verify");
    assert!(verify.problems.is_empty(), "{:?}", verify.problems);
    let replay = svc.replay().await.expect("replay");
    assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
}

fn r(ticket: &Case) -> TicketRef {
    TicketRef { ticket_id: ticket.id.clone(), expected_version: None }
}

/// Drives a fresh case to `target` through the real actions; returns it and the technician.
async fn case_in(svc: &Service, target: CaseState, hour: i64) -> (Case, String) {
    let ctx = op();
    let tech = technician(svc, &format!("Tech {hour}"), &["hvac"]).await;
    let mut input = complete_ticket();
    if target == CaseState::Lead {
        input.site = None;
    }
    let mut case = svc.create_ticket(&ctx, &input).await.expect("create").case;
    let path = [
        CaseState::Scheduled,
        CaseState::Dispatched,
        CaseState::Onsite,
        CaseState::WorkPerformed,
        CaseState::CloseoutReady,
        CaseState::InvoiceReady,
        CaseState::PaidOrAr,
    ];
    if target == CaseState::Canceled {
        return (
            svc.cancel_ticket(
                &ctx,
                &CancelTicket { ticket_id: case.id.clone(), reason: "test".into(), expected_version: None },
            )
            .await
            .expect("cancel")
            .case,
            tech,
        );
    }
    for step in path {
        if case.state == target || target == CaseState::Lead {
            break;
        }
        case = advance(svc, &case, step, &tech, hour).await.expect("advance").case;
    }
    assert_eq!(case.state, target);
    (case, tech)
}

async fn advance(svc: &Service, case: &Case, to: CaseState, tech: &str, hour: i64) -> Result<Outcome, ServiceError> {
    let ctx = op();
    let id = case.id.clone();
    match to {
        CaseState::Intake => {
            svc.create_ticket(&ctx, &CreateTicket { lead_ticket_id: Some(id), ..complete_ticket() }).await
        }
        CaseState::Scheduled => {
            svc.confirm_slot(
                &ctx,
                &ConfirmSlot {
                    ticket_id: id,
                    start_ms: tomorrow_at(hour),
                    end_ms: tomorrow_at(hour) + 2 * HOUR_MS,
                    technician_id: Some(tech.into()),
                    reschedule: case.state == CaseState::Scheduled,
                    expected_version: None,
                },
            )
            .await
        }
        CaseState::Dispatched => {
            svc.assign_tech(&ctx, &AssignTech { ticket_id: id, technician_id: tech.into(), expected_version: None })
                .await
        }
        CaseState::Onsite => svc.check_in(&ctx, &r(case)).await,
        CaseState::WorkPerformed => svc.complete_work(&ctx, &r(case)).await,
        CaseState::CloseoutReady => {
            if case.state == CaseState::WorkPerformed {
                svc.add_photo(
                    &ctx,
                    &AddPhoto {
                        ticket_id: id.clone(),
                        kind: AttachmentKind::After,
                        content_type: None,
                        filename: None,
                        content_base64: Some(png()),
                        upload_id: None,
                    },
                )
                .await?;
                svc.add_note(
                    &ctx,
                    &AddNote { ticket_id: id.clone(), kind: NoteKind::WorkSummary, text: "Replaced capacitor".into() },
                )
                .await?;
                svc.record_labor(
                    &ctx,
                    &RecordLabor {
                        ticket_id: id.clone(),
                        minutes: 20,
                        description: "Diagnose".into(),
                        rate_cents: Some(9_500),
                    },
                )
                .await?;
                svc.record_part(
                    &ctx,
                    &RecordPart {
                        ticket_id: id.clone(),
                        sku: Some("CAP-45".into()),
                        description: "Capacitor".into(),
                        quantity: 3,
                        unit_price_cents: 1_999,
                    },
                )
                .await?;
            }
            let keys = case.checklist.iter().map(|i| i.key.clone()).collect();
            svc.checklist_complete(
                &ctx,
                &ChecklistComplete {
                    ticket_id: id,
                    items: keys,
                    untick: vec![],
                    finalize: true,
                    expected_version: None,
                },
            )
            .await
        }
        CaseState::InvoiceReady => svc.generate_invoice_draft(&ctx, &r(case)).await,
        CaseState::PaidOrAr => {
            svc.record_payment(
                &ctx,
                &RecordPayment {
                    ticket_id: id,
                    kind: PaymentKind::Paid,
                    amount_cents: None,
                    due_ms: None,
                    expected_version: None,
                },
            )
            .await
        }
        CaseState::Canceled => {
            svc.cancel_ticket(&ctx, &CancelTicket { ticket_id: id, reason: "test".into(), expected_version: None })
                .await
        }
        CaseState::Lead => unreachable!("nothing moves into lead"),
    }
}

#[tokio::test]
async fn create_ticket_persists_case_and_audit() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let ctx = actor(Role::IntakeAgent);
        let out = svc.create_ticket(&ctx, &complete_ticket()).await.expect("create");
        let case = out.case;
        assert_eq!(case.state, CaseState::Intake, "{:?}", db.backend());
        assert_eq!(case.number, "RD-000001");
        assert_eq!(case.version, 1);
        assert_eq!(case.customer.phones, vec!["+15550104477".to_string()]);
        assert_eq!(case.site.as_ref().and_then(|s| s.access_notes.as_deref()), Some("Gate code 1234"));
        let keys: Vec<&str> = case.checklist.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["filter_checked", "thermostat_tested", "refrigerant_logged", "site_left_clean"]);
        assert_eq!(svc.case(&ctx, &case.id).await.expect("read"), case);

        let events = audit::events_for_ticket(db.pool(), &case.id).await.expect("events");
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.id, out.event_id);
        assert_eq!(
            (e.action.as_str(), e.actor_role.as_str(), e.source_channel.as_str()),
            ("ticket.create", "intake_agent", "sms")
        );
        assert_eq!(e.correlation_id.as_deref(), Some("corr-1"));
        assert!(e.after_json.as_deref().is_some_and(|j| j.contains("RD-000001")));

        // Same phone: the customer is reused, the number advances; no site makes a lead.
        let mut lead = complete_ticket();
        lead.site = None;
        lead.customer.email = Some("ana@example.com".into());
        let second = svc.create_ticket(&ctx, &lead).await.expect("create lead");
        assert_eq!(second.case.state, CaseState::Lead);
        assert_eq!(second.data["missing_for_intake"], serde_json::json!(["site.address"]));
        assert_eq!(second.case.number, "RD-000002");
        assert_eq!(second.case.customer.id, case.customer.id);
        assert_eq!(second.case.customer.emails, vec!["ana@example.com".to_string()]);
        assert_eq!(count(&db, "customers").await, 1);
        // The first case shows the customer's new address, with an event saying so.
        let first = svc.case(&ctx, &case.id).await.expect("first");
        assert_eq!((first.customer.emails.len(), first.version), (1, 1));
        let events = audit::events_for_ticket(db.pool(), &case.id).await.expect("events");
        assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["ticket.create", "customer.update"]);

        // Completing the lead moves it to intake instead of opening a third ticket.
        let done = svc
            .create_ticket(&ctx, &CreateTicket { lead_ticket_id: Some(second.case.id.clone()), ..complete_ticket() })
            .await
            .expect("complete");
        assert_eq!((done.case.id.as_str(), done.case.state), (second.case.id.as_str(), CaseState::Intake));
        assert_eq!(count(&db, "tickets").await, 2);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn invalid_input_changes_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let mut bad = complete_ticket();
        bad.customer.phone = Some("12".into());
        let err = svc.create_ticket(&op(), &bad).await.unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        for table in ["tickets", "customers", "sites", "audit_events"] {
            assert_eq!(count(&db, table).await, 0, "{table} on {:?}", db.backend());
        }
        let case = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        let before = count(&db, "audit_events").await;
        let bad_calls: Vec<ServiceError> = vec![
            svc.add_message(
                &op(),
                &AddMessage {
                    ticket_id: case.id.clone(),
                    direction: Direction::Inbound,
                    channel: None,
                    sender: None,
                    text: " ".into(),
                },
            )
            .await
            .unwrap_err(),
            svc.confirm_slot(
                &op(),
                &ConfirmSlot {
                    ticket_id: case.id.clone(),
                    start_ms: 5,
                    end_ms: 1,
                    technician_id: None,
                    reschedule: false,
                    expected_version: None,
                },
            )
            .await
            .unwrap_err(),
            svc.propose_slots(
                &op(),
                &ProposeSlots { ticket_id: case.id.clone(), max_slots: Some(99), ..Default::default() },
            )
            .await
            .unwrap_err(),
            svc.set_eta(&op(), &SetEta { ticket_id: case.id.clone(), eta_ms: 1, note: None, late_reason: None })
                .await
                .unwrap_err(),
        ];
        for e in bad_calls {
            assert_eq!(e.code(), "INVALID_REQUEST", "{e:?}");
        }
        let missing = svc
            .add_message(
                &op(),
                &AddMessage {
                    ticket_id: "tkt_nope".into(),
                    direction: Direction::Inbound,
                    channel: None,
                    sender: None,
                    text: "hi".into(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(missing.code(), "TICKET_NOT_FOUND");
        assert_eq!(count(&db, "audit_events").await, before);
        assert_eq!(svc.case(&op(), &case.id).await.expect("case"), case);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn roles_without_the_tool_are_refused() {
    for db in each_backend().await {
        let svc = service(db.clone());
        for role in
            [Role::SchedulingAgent, Role::CloseoutAgent, Role::TechLiaisonAgent, Role::Technician, Role::Customer]
        {
            let err = svc.create_ticket(&actor(role), &complete_ticket()).await.unwrap_err();
            assert_eq!(err.code(), "FORBIDDEN", "{role}");
        }
        let case = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        let cancel = CancelTicket { ticket_id: case.id.clone(), reason: "x".into(), expected_version: None };
        assert_eq!(svc.cancel_ticket(&actor(Role::TechLiaisonAgent), &cancel).await.unwrap_err().code(), "FORBIDDEN");
        // The intake agent may ask to cancel; through the one entry point, a person decides.
        let asked = svc.execute(&actor(Role::IntakeAgent), domain::ActionInput::TicketCancel(cancel.clone())).await;
        assert_eq!(asked.map(|_| ()).unwrap_err().code(), "APPROVAL_REQUIRED");
        assert_eq!(svc.check_in(&actor(Role::SchedulingAgent), &r(&case)).await.unwrap_err().code(), "FORBIDDEN");
        assert_eq!(count(&db, "tickets").await, 1);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn the_whole_lifecycle_through_the_service() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let ctx = op();
        let tech = technician(&svc, "Dana", &["hvac"]).await;
        let case = svc.create_ticket(&ctx, &complete_ticket()).await.expect("create").case;
        let msg = svc
            .add_message(
                &ctx,
                &AddMessage {
                    ticket_id: case.id.clone(),
                    direction: Direction::Inbound,
                    channel: None,
                    sender: Some("+15550104477".into()),
                    text: "Any news?".into(),
                },
            )
            .await
            .expect("message");
        assert_eq!(msg.case.message_count, 1);
        let p = svc
            .set_priority(
                &ctx,
                &SetPriority {
                    ticket_id: case.id.clone(),
                    priority: Priority::Emergency,
                    reason: Some("elderly resident".into()),
                    expected_version: None,
                },
            )
            .await
            .expect("priority");
        assert_eq!(p.case.priority, Priority::Emergency);

        let proposed = svc
            .propose_slots(
                &ctx,
                &ProposeSlots {
                    ticket_id: case.id.clone(),
                    from_ms: Some(tomorrow_at(9)),
                    to_ms: Some(tomorrow_at(15)),
                    ..Default::default()
                },
            )
            .await
            .expect("propose");
        let slots = proposed.data["slots"].as_array().expect("slots").clone();
        // One technician's offers do not overlap: 9:00, 11:00 and 13:00 fit a 2 h job before 15:00.
        let starts: Vec<i64> = slots.iter().filter_map(|s| s["start_ms"].as_i64()).collect();
        assert_eq!(starts, vec![tomorrow_at(9), tomorrow_at(11), tomorrow_at(13)], "{slots:?}");
        assert_eq!(slots[0]["jobs_that_day"], 0);
        assert_eq!(slots[0]["zone"], "north");
        assert_eq!(slots[0]["technician_id"], tech.as_str());

        let mut c = case.clone();
        for to in [CaseState::Scheduled, CaseState::Dispatched] {
            c = advance(&svc, &c, to, &tech, 9).await.expect("advance").case;
        }
        assert_eq!(c.assignment.as_ref().map(|a| a.technician_id.as_str()), Some(tech.as_str()));
        let eta = svc
            .set_eta(
                &ctx,
                &SetEta {
                    ticket_id: c.id.clone(),
                    eta_ms: tomorrow_at(9),
                    note: Some("on the way".into()),
                    late_reason: None,
                },
            )
            .await
            .expect("eta");
        assert_eq!(eta.case.eta.as_ref().map(|e| e.eta_ms), Some(tomorrow_at(9)));
        c = eta.case;
        for to in [CaseState::Onsite, CaseState::WorkPerformed, CaseState::CloseoutReady, CaseState::InvoiceReady] {
            c = advance(&svc, &c, to, &tech, 9).await.expect("advance").case;
            assert_eq!(c.state, to);
        }
        let inv = c.invoice.clone().expect("invoice");
        assert_eq!(inv.number, "INV-000001");
        assert_eq!((inv.subtotal_cents, inv.tax_cents, inv.total_cents), (3_167 + 5_997, 0, 9_164));
        assert_eq!(c.attachments.len(), 1);
        let blob = svc.blobs().get(&c.attachments[0].blob_key).await.expect("blob");
        assert_eq!(blob.len() as i64, c.attachments[0].size);

        let packet = svc.compile_closeout_packet(&ctx, &r(&c)).await.expect("packet");
        let pref = packet.case.packet.clone().expect("packet ref");
        let pdf = svc.blobs().get(&pref.blob_key).await.expect("packet blob");
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        assert_eq!(packet.data["manifest"][0]["sha256"], c.attachments[0].sha256.as_str());
        let events = audit::events_for_ticket(db.pool(), &c.id).await.expect("events");
        let last = events.last().expect("event");
        assert!(last.attachments_json.contains(&pref.sha256), "packet hash in the audit");

        let paid = advance(&svc, &packet.case, CaseState::PaidOrAr, &tech, 9).await.expect("paid").case;
        assert_eq!(paid.payment.as_ref().map(|p| (p.kind, p.amount_cents)), Some((PaymentKind::Paid, 9_164)));

        let verify = audit::verify(db.pool()).await.expect("verify");
        assert!(verify.problems.is_empty(), "{:?}", verify.problems);
        let replay = svc.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
        assert_eq!(replay.cases, 1);
    }
}

#[tokio::test]
async fn every_illegal_transition_is_refused_and_writes_nothing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let mut refused = 0;
        for (i, from) in CaseState::ALL.into_iter().enumerate() {
            let (case, tech) = case_in(&svc, from, 7 + i as i64).await;
            let events_before = count(&db, "audit_events").await;
            for to in CaseState::ALL {
                if from.can_transition_to(to) || to == CaseState::Lead {
                    continue;
                }
                let err = advance(&svc, &case, to, &tech, 7 + i as i64).await.unwrap_err();
                assert!(
                    matches!(err.code().as_str(), "INVALID_STATE_TRANSITION" | "CLOSEOUT_REQUIREMENTS_INCOMPLETE"),
                    "{from} -> {to} on {:?}: {err:?}",
                    db.backend()
                );
                refused += 1;
            }
            assert_eq!(count(&db, "audit_events").await, events_before, "something was written from {from}");
            let now = svc.case(&op(), &case.id).await.expect("case");
            assert_eq!((now.state, now.version), (case.state, case.version));
            // Writing around the service is refused by the database itself.
            for to in CaseState::ALL.into_iter().filter(|to| *to != from && !from.can_transition_to(*to)) {
                let direct = sqlx::query("UPDATE tickets SET state = $1 WHERE id = $2")
                    .bind(to.as_str())
                    .bind(&case.id)
                    .execute(db.pool())
                    .await;
                assert!(direct.is_err(), "database accepted {from} -> {to} on {:?}", db.backend());
            }
        }
        // 10 x 9 targets other than lead, minus 15 legal moves (intake -> dispatched is a
        // booking), plus the 2 moves refused only without `reschedule` (scheduled and
        // dispatched to themselves; not counted): every illegal pair was tried.
        assert_eq!(refused, 10 * 9 - 15, "{:?}", db.backend());
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn concurrent_confirms_of_one_ticket_have_exactly_one_winner() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let tech = technician(&svc, "Dana", &["hvac"]).await;
        let case = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (svc, id, tech) = (svc.clone(), case.id.clone(), tech.clone());
                tokio::spawn(async move {
                    let start = tomorrow_at(8 + i);
                    svc.confirm_slot(
                        &op(),
                        &ConfirmSlot {
                            ticket_id: id,
                            start_ms: start,
                            end_ms: start + HOUR_MS,
                            technician_id: Some(tech),
                            reschedule: false,
                            expected_version: Some(1),
                        },
                    )
                    .await
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e.code(), "CONFLICT", "{e:?}"),
            }
        }
        assert_eq!(wins, 1, "{:?}", db.backend());
        assert_eq!(count(&db, "appointments").await, 1);
        // Without expected_version a second confirm is still refused: rescheduling is explicit.
        let again = svc
            .confirm_slot(
                &op(),
                &ConfirmSlot {
                    ticket_id: case.id.clone(),
                    start_ms: tomorrow_at(20),
                    end_ms: tomorrow_at(21),
                    technician_id: None,
                    reschedule: false,
                    expected_version: None,
                },
            )
            .await;
        assert_eq!(again.unwrap_err().code(), "CONFLICT");
        let moved = svc
            .confirm_slot(
                &op(),
                &ConfirmSlot {
                    ticket_id: case.id.clone(),
                    start_ms: tomorrow_at(20),
                    end_ms: tomorrow_at(21),
                    technician_id: None,
                    reschedule: true,
                    expected_version: None,
                },
            )
            .await
            .expect("reschedule");
        assert_eq!(moved.case.appointment.as_ref().map(|a| a.start_ms), Some(tomorrow_at(20)));
        assert_eq!(moved.case.state, CaseState::Scheduled);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn invoice_numbers_are_gap_free_when_drafts_are_made_at_once() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let mut cases = vec![];
        for hour in 0..6 {
            cases.push(case_in(&svc, CaseState::CloseoutReady, 8 + hour).await.0);
        }
        // A refused draft takes no number.
        let stale = TicketRef { ticket_id: cases[0].id.clone(), expected_version: Some(cases[0].version - 1) };
        let refused = svc.generate_invoice_draft(&op(), &stale).await.expect_err("stale version");
        assert_eq!(refused.code(), "CONFLICT");
        let tasks: Vec<_> = cases
            .iter()
            .map(|c| {
                let (svc, input) = (svc.clone(), r(c));
                tokio::spawn(async move { svc.generate_invoice_draft(&op(), &input).await })
            })
            .collect();
        let mut numbers = vec![];
        for t in tasks {
            let drafted = t.await.expect("join").expect("draft");
            let invoice = drafted.case.invoice.clone().expect("invoice");
            assert_eq!(drafted.data["invoice_number"], invoice.number.as_str(), "the answer names the draft's number");
            assert_eq!(drafted.case.state, CaseState::InvoiceReady);
            numbers.push(invoice.number);
        }
        numbers.sort();
        let expected: Vec<String> = (1..=6).map(|n| format!("INV-{n:06}")).collect();
        assert_eq!(numbers, expected, "{:?}", db.backend());
        // The next draft, after them, takes the next number.
        let (late, _) = case_in(&svc, CaseState::InvoiceReady, 20).await;
        assert_eq!(late.invoice.map(|i| i.number).as_deref(), Some("INV-000007"));
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn technicians_without_the_skill_or_time_are_unavailable() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let plumber = technician(&svc, "Sam", &["plumbing"]).await;
        let hvac = technician(&svc, "Dana", &["hvac"]).await;
        let first = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        let confirm = |id: &str, tech: &str, hour: i64| ConfirmSlot {
            ticket_id: id.into(),
            start_ms: tomorrow_at(hour),
            end_ms: tomorrow_at(hour) + 2 * HOUR_MS,
            technician_id: Some(tech.into()),
            reschedule: false,
            expected_version: None,
        };
        let err = svc.confirm_slot(&op(), &confirm(&first.id, &plumber, 9)).await.unwrap_err();
        assert!(matches!(err, ServiceError::TechUnavailable { reason: "missing_skill", .. }), "{err:?}");
        svc.confirm_slot(&op(), &confirm(&first.id, &hvac, 9)).await.expect("book");
        let second = svc.create_ticket(&op(), &complete_ticket()).await.expect("create").case;
        // Overlapping, and inside the 30-minute travel buffer after the first job.
        for hour in [10, 11] {
            let err = svc.confirm_slot(&op(), &confirm(&second.id, &hvac, hour)).await.unwrap_err();
            assert!(matches!(err, ServiceError::TechUnavailable { reason: "already_booked", .. }), "{hour}: {err:?}");
        }
        // Proposals skip the booked time.
        let morning = ProposeSlots {
            ticket_id: second.id.clone(),
            from_ms: Some(tomorrow_at(8)),
            to_ms: Some(tomorrow_at(14)),
            duration_minutes: Some(60),
            max_slots: Some(20),
        };
        let p = svc.propose_slots(&op(), &morning).await.expect("propose");
        let starts: Vec<i64> = p.data["slots"]
            .as_array()
            .expect("slots")
            .iter()
            .map(|s| (s["start_ms"].as_i64().unwrap_or(0) - tomorrow_at(0)) / (HOUR_MS / 2))
            .collect();
        // In half hours from midnight: 8:00 would end inside the buffer before 9:00; the
        // booking plus its buffer ends at 11:30; offers do not overlap, and the last hour-long
        // one must end by 14:00.
        assert_eq!(starts, vec![23, 25], "{:?}", db.backend());
        let offered = &p.data["slots"][0];
        assert_eq!(offered["jobs_that_day"], 1, "the booked job counts against the day: {offered}");
        let why: Vec<&str> =
            offered["reasons"].as_array().expect("reasons").iter().filter_map(|r| r.as_str()).collect();
        assert!(why.contains(&"30 min kept for travel from the job before"), "{why:?}");
        let err = svc
            .assign_tech(
                &op(),
                &AssignTech {
                    ticket_id: first.id.clone(),
                    technician_id: "tec_missing".into(),
                    expected_version: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        // Time off removes the afternoon: no slots there, and no booking either.
        svc.add_time_off(&op(), &hvac, tomorrow_at(12), tomorrow_at(18), Some("dentist")).await.expect("time off");
        let p = svc.propose_slots(&op(), &morning).await.expect("propose");
        assert_eq!(p.data["slots"].as_array().map(Vec::len), Some(0), "{}", p.data);
        let err = svc.confirm_slot(&op(), &confirm(&second.id, &hvac, 13)).await.unwrap_err();
        assert!(matches!(err, ServiceError::TechUnavailable { reason: "outside_working_hours", .. }), "{err:?}");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn a_ticked_item_can_be_unticked_in_the_same_audited_action() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (case, _) = case_in(&svc, CaseState::Onsite, 10).await;
        let check = |items: Vec<String>, untick: Vec<String>| ChecklistComplete {
            ticket_id: case.id.clone(),
            items,
            untick,
            finalize: false,
            expected_version: None,
        };
        svc.checklist_complete(&op(), &check(vec!["filter_checked".into()], vec![])).await.expect("tick");
        let out = svc.checklist_complete(&op(), &check(vec![], vec!["filter_checked".into()])).await.expect("untick");
        let item = out.case.checklist.iter().find(|i| i.key == "filter_checked").expect("item");
        assert!(!item.done, "unticked");
        let now = svc.case(&op(), &case.id).await.expect("case");
        assert!(now.checklist.iter().all(|i| !i.done), "stored as not done");
        let events = audit::events_for_ticket(db.pool(), &case.id).await.expect("events");
        let last = events.last().expect("event");
        assert_eq!(last.action, "closeout.checklist_complete");
        assert_eq!(last.id, out.event_id);
        let (before, after) =
            (last.before_json.clone().unwrap_or_default(), last.after_json.clone().unwrap_or_default());
        assert!(before.contains("filter_checked") && after.contains("filter_checked"), "{before} -> {after}");
        // An unknown key is refused, and so is ticking and unticking one item at once.
        let unknown = svc.checklist_complete(&op(), &check(vec![], vec!["nope".into()])).await.unwrap_err();
        assert_eq!(unknown.code(), "INVALID_REQUEST");
        let both = svc
            .checklist_complete(&op(), &check(vec!["filter_checked".into()], vec!["filter_checked".into()]))
            .await
            .unwrap_err();
        assert_eq!(both.code(), "INVALID_REQUEST");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn closeout_gates_list_exactly_what_is_missing() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (case, _) = case_in(&svc, CaseState::WorkPerformed, 9).await;
        let err = svc
            .checklist_complete(
                &op(),
                &ChecklistComplete {
                    ticket_id: case.id.clone(),
                    items: vec!["filter_checked".into()],
                    untick: vec![],
                    finalize: true,
                    expected_version: None,
                },
            )
            .await
            .unwrap_err();
        let ServiceError::CloseoutIncomplete { missing } = err else { panic!("{err:?}") };
        assert_eq!(
            missing,
            ["checklist:thermostat_tested", "checklist:site_left_clean", "after_photo", "work_summary"]
        );
        let now = svc.case(&op(), &case.id).await.expect("case");
        assert!(now.checklist.iter().all(|i| !i.done), "the refused call ticked nothing");
        let unknown = svc
            .checklist_complete(
                &op(),
                &ChecklistComplete {
                    ticket_id: case.id.clone(),
                    items: vec!["nope".into()],
                    untick: vec![],
                    finalize: false,
                    expected_version: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), "INVALID_REQUEST");
        let bad_photo = svc
            .add_photo(
                &op(),
                &AddPhoto {
                    ticket_id: case.id.clone(),
                    kind: AttachmentKind::After,
                    content_type: None,
                    filename: None,
                    content_base64: Some(base64::engine::general_purpose::STANDARD.encode(b"GIF89a....")),
                    upload_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(bad_photo.code(), "INVALID_REQUEST");
        let mismatch = svc
            .add_photo(
                &op(),
                &AddPhoto {
                    ticket_id: case.id.clone(),
                    kind: AttachmentKind::After,
                    content_type: Some("image/jpeg".into()),
                    filename: None,
                    content_base64: Some(png()),
                    upload_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(mismatch.code(), "INVALID_REQUEST");
        assert_eq!(count(&db, "attachments").await, 0);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn technicians_reach_only_their_own_jobs() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (mine, tech) = case_in(&svc, CaseState::Dispatched, 9).await;
        let (other, _) = case_in(&svc, CaseState::Dispatched, 13).await;
        let mut me = Actor::new(ActorKind::User, "usr_tech", Role::Technician, "Tech");
        me.technician_id = Some(tech);
        let ctx = CallContext::new(me);
        let job = svc.job(&ctx, &mine.id).await.expect("their job's view");
        assert_eq!(job.id, mine.id);
        assert_eq!(svc.job(&ctx, &other.id).await.unwrap_err().code(), "TICKET_NOT_FOUND");
        // The canonical case is the office's and the agents': a technician reads the view.
        assert_eq!(svc.case(&ctx, &mine.id).await.unwrap_err().code(), "FORBIDDEN");
        assert_eq!(svc.check_in(&ctx, &r(&other)).await.unwrap_err().code(), "TICKET_NOT_FOUND");
        assert_eq!(svc.check_in(&ctx, &r(&mine)).await.expect("check in").case.state, CaseState::Onsite);
        let listed = svc.cases(&ctx, &Default::default()).await.expect("list");
        assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec![mine.id.as_str()]);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn audit_chain_and_replay_survive_the_demo_and_detect_tampering() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let report = svc.seed_demo().await.expect("seed");
        assert!(report.operator.is_some());
        let ok = audit::verify(db.pool()).await.expect("verify");
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        let replay = svc.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
        assert_eq!(replay.cases, 7);
        assert!(svc.seed_demo().await.expect("seed again").operator.is_none());

        // The table refuses edits; an attacker with DDL rights removes the guard first.
        assert!(sqlx::query("UPDATE audit_events SET action = 'x' WHERE seq = 3").execute(db.pool()).await.is_err());
        let drop_guard = match db.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
            Backend::Postgres => "DROP TRIGGER audit_events_no_update ON audit_events",
        };
        sqlx::query(drop_guard).execute(db.pool()).await.expect("drop trigger");
        sqlx::query("UPDATE audit_events SET actor_id = 'someone-else' WHERE seq = 3")
            .execute(db.pool())
            .await
            .expect("tamper");
        let bad = audit::verify(db.pool()).await.expect("verify");
        assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
        assert!(bad.problems[0].contains("seq 3"), "{:?}", bad.problems);

        // A state changed behind the service's back no longer matches its events.
        sqlx::query("UPDATE tickets SET priority = 'emergency' WHERE number = 1")
            .execute(db.pool())
            .await
            .expect("edit");
        let replay = svc.replay().await.expect("replay");
        assert_eq!(replay.mismatches.len(), 1, "{:?}", replay.mismatches);
    }
}

#[tokio::test]
async fn tokens_authenticate_until_revoked() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let t = svc.create_token(Role::IntakeAgent, "intake bot").await.expect("token");
        let a = svc.authenticate_token(&t.token).await.expect("auth").expect("known token");
        assert_eq!((a.role, a.kind, a.id.as_str()), (Role::IntakeAgent, ActorKind::Token, t.id.as_str()));
        let stored: String = sqlx::query("SELECT secret_hash FROM api_tokens")
            .fetch_one(db.pool())
            .await
            .expect("row")
            .get("secret_hash");
        assert!(!t.token.contains(&stored), "the secret itself is not stored");
        // "Last used" is kept to the minute, not written on every call.
        let last_used = || async {
            sqlx::query_scalar::<_, Option<i64>>("SELECT last_used_at_ms FROM api_tokens WHERE id = $1")
                .bind(&t.id)
                .fetch_one(db.pool())
                .await
                .expect("row")
        };
        let first = last_used().await.expect("set by the first call");
        sqlx::query("UPDATE api_tokens SET last_used_at_ms = last_used_at_ms - 30000")
            .execute(db.pool())
            .await
            .expect("age");
        // Each check on an instance that has not read the token yet (an instance trusts its
        // copy of the row for a second).
        service(db.clone()).authenticate_token(&t.token).await.expect("auth").expect("known token");
        assert_eq!(last_used().await, Some(first - 30_000), "not rewritten within the minute");
        sqlx::query("UPDATE api_tokens SET last_used_at_ms = last_used_at_ms - 60000")
            .execute(db.pool())
            .await
            .expect("age");
        service(db.clone()).authenticate_token(&t.token).await.expect("auth").expect("known token");
        assert!(last_used().await >= Some(first), "rewritten once a minute has passed");
        let mut wrong = t.token.clone();
        wrong.pop();
        wrong.push('x');
        assert!(svc.authenticate_token(&wrong).await.expect("auth").is_none());
        assert!(svc.authenticate_token("rdt_nope.nope").await.expect("auth").is_none());
        assert!(svc.revoke_token(&t.id).await.expect("revoke"));
        assert!(svc.authenticate_token(&t.token).await.expect("auth").is_none(), "refused at once where revoked");
        assert!(svc.create_token(Role::Customer, "x").await.is_err());

        // Revoked on another instance (or by the command line): refused here once this
        // instance's copy of the row is a second old.
        let t = svc.create_token(Role::IntakeAgent, "second bot").await.expect("token");
        svc.authenticate_token(&t.token).await.expect("auth").expect("known token");
        let other = service(db.clone());
        assert!(other.revoke_token(&t.id).await.expect("revoke"));
        assert!(other.authenticate_token(&t.token).await.expect("auth").is_none());
        tokio::time::sleep(dispatch::tokens::TOKEN_FRESH + std::time::Duration::from_millis(50)).await;
        assert!(svc.authenticate_token(&t.token).await.expect("auth").is_none(), "refused everywhere within a second");
    }
}

#[tokio::test]
async fn transition_table_matches_migrations() {
    for db in each_backend().await {
        let rows =
            sqlx::query("SELECT from_state, to_state FROM state_transitions").fetch_all(db.pool()).await.expect("rows");
        let mut in_db: Vec<(String, String)> = rows.iter().map(|r| (r.get("from_state"), r.get("to_state"))).collect();
        let mut in_code: Vec<(String, String)> =
            domain::Action::all_moves().iter().map(|(f, t)| (f.as_str().to_string(), t.as_str().to_string())).collect();
        in_db.sort();
        in_code.sort();
        assert_eq!(in_db, in_code, "{:?}", db.backend());
    }
}

#[tokio::test]
async fn both_schemas_have_the_same_tables_and_columns() {
    let sqlite = sqlite_db().await;
    let pg = postgres_db().await;
    let mut lite: Vec<(String, String)> = vec![];
    let tables = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(sqlite.pool())
    .await
    .expect("tables");
    for t in tables {
        let table: String = t.get("name");
        let cols = sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(sqlite.pool())
            .await
            .expect("cols");
        lite.extend(cols.iter().map(|c| (table.clone(), c.get::<String, _>("name"))));
    }
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pg.pool())
    .await
    .expect("pg columns");
    let mut postgres: Vec<(String, String)> = rows.iter().map(|r| (r.get("t"), r.get("c"))).collect();
    lite.sort();
    postgres.sort();
    assert!(lite.len() > 150, "{} columns", lite.len());
    assert_eq!(lite, postgres);
}

/// SQLite writers never checkpoint (it would stall a write on a file sync); the background
/// checkpointer must fold the write-ahead log back into the database file on its own.
#[tokio::test]
async fn sqlite_write_ahead_log_is_checkpointed_in_the_background() {
    let dir = dispatch::testing::temp_dir();
    let file = dir.join("wal.db");
    let db = Db::connect(&format!("sqlite://{}?mode=rwc", file.display())).await.expect("open");
    db.migrate().await.expect("migrate");
    let svc = service(db.clone());
    for _ in 0..20 {
        svc.create_ticket(&op(), &complete_ticket()).await.expect("create");
    }
    let wal = dir.join("wal.db-wal");
    let wal_size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(wal_size > 0, "writes go to the write-ahead log first");
    // Once checkpointed, every frame is in the main file: its page count covers the data.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let main_pages = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) / 4096;
        let row = sqlx::query("PRAGMA page_count").fetch_one(db.pool()).await.expect("page count");
        let pages: i64 = row.try_get(0).expect("pages");
        if main_pages as i64 >= pages {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not checkpointed: file has {main_pages} of {pages} pages");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(&db, "tickets").await, 20);
}

#[tokio::test]
async fn customer_and_site_edits_reach_every_case_and_replay() {
    for db in dispatch::testing::each_backend().await {
        let svc = service(db.clone());
        let first = svc.create_ticket(&op(), &complete_ticket()).await.expect("first").case;
        let second = svc.create_ticket(&op(), &complete_ticket()).await.expect("second").case;
        assert_eq!(first.customer.id, second.customer.id, "the same phone is the same customer");
        let other = CreateTicket {
            customer: NewCustomer {
                name: Some("Someone Else".into()),
                phone: Some("+15550007777".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        svc.create_ticket(&op(), &other).await.expect("other");
        let edit = dispatch::records::CustomerEdit {
            customer_id: first.customer.id.clone(),
            name: Some("Renamed Customer".into()),
            add_email: Some("renamed@example.com".into()),
            ..Default::default()
        };
        let updated = svc.update_customer(&op(), &edit).await.expect("update");
        assert_eq!(updated.name, "Renamed Customer");
        assert_eq!(updated.emails, vec!["renamed@example.com".to_string()]);
        for id in [&first.id, &second.id] {
            let case = svc.case(&op(), id).await.expect("case");
            assert_eq!(case.customer.name, "Renamed Customer");
        }
        let taken = dispatch::records::CustomerEdit {
            customer_id: first.customer.id.clone(),
            add_phone: Some("+15550007777".into()),
            ..Default::default()
        };
        let e = svc.update_customer(&op(), &taken).await.expect_err("taken");
        assert_eq!(e.code(), "INVALID_REQUEST");
        let bad = dispatch::records::CustomerEdit {
            customer_id: first.customer.id.clone(),
            add_phone: Some("12".into()),
            ..Default::default()
        };
        assert!(svc.update_customer(&op(), &bad).await.is_err());

        let site_id = first.site.clone().expect("site").id;
        let site = dispatch::records::SiteEdit {
            site_id: site_id.clone(),
            access_notes: Some("Gate code 4411".into()),
            zone: Some("North".into()),
            ..Default::default()
        };
        let s = svc.update_site(&op(), &site).await.expect("site");
        assert_eq!(s.zone.as_deref(), Some("north"));
        let case = svc.case(&op(), &first.id).await.expect("case");
        assert_eq!(case.site.expect("site").access_notes.as_deref(), Some("Gate code 4411"));

        let tech_ctx = actor(Role::Technician);
        assert_eq!(svc.update_site(&tech_ctx, &site).await.expect_err("tech").code(), "FORBIDDEN");
        let found = svc.customers(&op(), "renamed").await.expect("search");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].tickets, 2);
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn checklist_templates_shape_new_tickets_only() {
    for db in dispatch::testing::each_backend().await {
        let svc = service(db.clone());
        let before = svc.create_ticket(&op(), &complete_ticket()).await.expect("before").case;
        let item = dispatch::records::TemplateItem {
            job_type: "HVAC".into(),
            key: String::new(),
            label: "Carbon monoxide test".into(),
            required: true,
            position: 9,
        };
        let saved = svc.put_template_item(&op(), &item).await.expect("put");
        assert_eq!((saved.job_type.as_str(), saved.key.as_str()), ("hvac", "carbon_monoxide_test"));
        let after = svc.create_ticket(&op(), &complete_ticket()).await.expect("after").case;
        assert!(after.checklist.iter().any(|i| i.key == "carbon_monoxide_test" && i.required));
        let unchanged = svc.case(&op(), &before.id).await.expect("case");
        assert!(!unchanged.checklist.iter().any(|i| i.key == "carbon_monoxide_test"), "open tickets keep their list");
        let bad = dispatch::records::TemplateItem { job_type: "no spaces!".into(), ..item.clone() };
        assert_eq!(svc.put_template_item(&op(), &bad).await.expect_err("bad").code(), "INVALID_REQUEST");
        svc.remove_template_item(&op(), "hvac", "carbon_monoxide_test").await.expect("remove");
        assert!(svc.remove_template_item(&op(), "hvac", "carbon_monoxide_test").await.is_err());
        let listed = svc.checklist_templates(&op()).await.expect("list");
        assert!(
            listed.iter().all(|i| i.key != "carbon_monoxide_test") && listed.iter().any(|i| i.job_type == "general")
        );
        assert_eq!(svc.checklist_templates(&actor(Role::Technician)).await.expect_err("tech").code(), "FORBIDDEN");
        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn the_board_counts_everything_and_sends_a_page_per_column() {
    for db in dispatch::testing::each_backend().await {
        let svc = service(db.clone());
        for n in 0..30 {
            let input = CreateTicket {
                customer: NewCustomer {
                    name: Some(format!("Board {n}")),
                    phone: Some(format!("+1555010{n:04}")),
                    ..Default::default()
                },
                site: Some(NewSite { address: Some(format!("{n} Elm St")), ..Default::default() }),
                problem_summary: Some(if n == 7 { "Gas smell".into() } else { "No heat".into() }),
                trade: Some("hvac".into()),
                ..Default::default()
            };
            svc.create_ticket(&op(), &input).await.expect("ticket");
        }
        let all = svc.board(&op(), &Default::default(), 25).await.expect("board");
        let intake = all.columns.iter().find(|c| c.state == CaseState::Intake).expect("intake column");
        assert_eq!((intake.count, intake.cards.len()), (30, 25));
        assert_eq!(intake.cards[0].customer_name, "Board 29", "most recently changed first");
        assert_eq!(all.trades, vec!["hvac".to_string()]);
        let search = |q: &str| domain::views::BoardFilter { query: q.into(), ..Default::default() };
        let count = |b: &dispatch::timeline::BoardData| b.columns.iter().map(|c| c.count).sum::<usize>();
        assert_eq!(count(&svc.board(&op(), &search("gas SMELL"), 25).await.expect("b")), 1);
        assert_eq!(count(&svc.board(&op(), &search("5550100012"), 25).await.expect("b")), 1, "by phone");
        assert_eq!(count(&svc.board(&op(), &search("RD-000003"), 25).await.expect("b")), 1, "by number");
        assert_eq!(count(&svc.board(&op(), &search("'; DROP TABLE tickets; --"), 25).await.expect("b")), 0);
        let urgent = domain::views::BoardFilter { priority: "urgent".into(), ..Default::default() };
        assert_eq!(count(&svc.board(&op(), &urgent, 25).await.expect("b")), 0);
        assert_eq!(
            svc.board(&actor(Role::Technician), &Default::default(), 25).await.expect_err("tech").code(),
            "FORBIDDEN"
        );
    }
}

mod s3_server;

/// A spooled copy of `bytes`, as a door would hand it to the service.
async fn spooled(bytes: &[u8]) -> dispatch::spool::Spooled {
    let mut spool = dispatch::spool::Spool::create(&dispatch::testing::temp_dir(), 64 << 20).await.expect("spool");
    for chunk in bytes.chunks(7000) {
        spool.write(bytes::Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    spool.finish().await.expect("finish")
}

/// A structurally complete HEIC (ftyp, meta, mdat): stored, but there is no decoder for it here.
fn heic() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 24];
    b.extend(b"ftypheic\0\0\0\0mif1heic");
    b.extend([0, 0, 0, 16]);
    b.extend(b"meta\0\0\0\0\0\0\0\0");
    b.extend([0, 0, 0, 40]);
    b.extend(b"mdat");
    b.extend([9u8; 32]);
    b
}

async fn exists(svc: &Service, key: &str) -> bool {
    match svc.blobs().open(key).await {
        Ok(_) => true,
        Err(dispatch::blob::BlobError::NotFound(_)) => false,
        Err(e) => panic!("{key}: {e}"),
    }
}

/// Photos get their copies in the store, and the sweep removes what no row names (once it
/// is old enough) but never a blob a row points at.
async fn photos_and_the_sweep(svc: &Service) {
    use dispatch::files::Variant;
    let (case, _) = case_in(svc, CaseState::Onsite, 2).await;
    let ctx = op();
    let photo = dispatch::testing::jpeg_with_exif(640, 480, 1);
    let add = |kind, bytes: &[u8]| AddPhoto {
        ticket_id: case.id.clone(),
        kind,
        content_type: None,
        filename: Some("meter.jpg".into()),
        content_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        upload_id: None,
    };
    let out = svc.add_photo(&ctx, &add(AttachmentKind::Before, &photo)).await.expect("photo");
    let a = out.case.attachments[0].clone();
    let (thumb, view) = (a.thumb_key.clone().expect("thumbnail"), a.view_key.clone().expect("shared copy"));
    for key in [&a.blob_key, &thumb, &view] {
        assert!(exists(svc, key).await, "{key}");
    }
    let mut file = svc.attachment_file(&ctx, &a.id, Variant::View).await.expect("view");
    let mut bytes = vec![];
    tokio::io::AsyncReadExt::read_to_end(&mut file.reader.body, &mut bytes).await.expect("read");
    assert!(!bytes.windows(8).any(|w| w == dispatch::testing::GPS_MARK), "no location in the shared copy");
    assert_eq!(file.content_type, "image/jpeg");

    // HEIC is kept as sent, without copies; staff still see it, and it is complete.
    let out = svc.add_photo(&ctx, &add(AttachmentKind::After, &heic())).await.expect("heic");
    let h = out.case.attachments.iter().find(|x| x.content_type == "image/heic").expect("heic attachment").clone();
    assert_eq!((h.thumb_key.as_deref(), h.view_key.as_deref()), (None, None));
    assert_eq!(svc.attachment_file(&ctx, &h.id, Variant::View).await.expect("staff view").content_type, "image/heic");
    let mut cut = heic();
    cut.truncate(50);
    let e = svc.add_photo(&ctx, &add(AttachmentKind::After, &cut)).await.expect_err("truncated heic");
    assert!(format!("{e:?}").contains("truncated_image"), "{e:?}");

    // Streamed uploads: written to the store as they arrive (a multipart upload on S3 past
    // 8 MiB), previews only while a local copy was kept, nothing kept of a refused file.
    let big = dispatch::testing::padded_jpeg(9 * 1024 * 1024 + 12_345);
    // A spool streaming into the store, with the size its sender declared, if any.
    let stream_declared = |bytes: Vec<u8>, keep_local: u64, declared: Option<u64>| {
        let store = svc.blobs().clone();
        async move {
            let mut spool =
                dispatch::spool::Spool::create(&dispatch::testing::temp_dir(), 64 << 20).await.expect("spool");
            if let Some(size) = declared {
                spool = spool.declared_size(size)?;
            }
            let mut spool = spool.streaming_to(store, keep_local);
            for chunk in bytes.chunks(300_000) {
                spool.write(bytes::Bytes::copy_from_slice(chunk)).await?;
            }
            spool.finish().await
        }
    };
    let stream = |bytes: Vec<u8>, keep_local: u64| stream_declared(bytes, keep_local, None);
    let received = stream(big.clone(), 1024 * 1024).await.expect("streamed");
    assert!(received.path.is_none(), "no local copy past the limit");
    let streamed = svc.store_upload(&ctx, &received, Some("big.jpg"), None).await.expect("big upload");
    assert!(!streamed.previews);
    assert_eq!(svc.blobs().get(&streamed.blob_key).await.expect("stored"), big, "every byte, in order");
    svc.attach_upload(&ctx, &case.id, &streamed.upload_id, AttachmentKind::Other).await.expect("attach big");
    let small = stream(photo.clone(), 40 << 20).await.expect("streamed");
    let small = svc.store_upload(&ctx, &small, None, None).await.expect("small upload");
    assert!(small.previews, "a small streamed photo still gets previews");
    svc.attach_upload(&ctx, &case.id, &small.upload_id, AttachmentKind::After).await.expect("attach small");
    let refused = stream(b"%PDF-1.7 this is not a photo at all".to_vec(), 40 << 20).await;
    assert!(matches!(refused, Err(dispatch::spool::SpoolError::NotAnImage)), "refused at its first bytes");
    let mut cut = big.clone();
    cut.truncate(big.len() - 100);
    let cut = stream(cut, 1024 * 1024).await.expect("streamed");
    let e = svc.store_upload(&ctx, &cut, None, None).await.expect_err("truncated");
    assert!(format!("{e:?}").contains("truncated_image"), "{e:?}");
    let key = cut.streamed.as_ref().expect("streamed").key.clone();
    assert!(!exists(svc, &key).await, "a refused upload leaves nothing in the store");

    // A declared size (a raw body with its Content-Length) goes to the store in one write
    // while it arrives (a single streamed PUT on S3). A body that does not match its
    // declaration, or a declaration over the limit, stores nothing.
    let declared = |bytes: Vec<u8>, size: u64| stream_declared(bytes, 1024 * 1024, Some(size));
    let uploads_stored = || async { svc.blobs().list("uploads/").await.expect("list").len() };
    let before = uploads_stored().await;
    let received = declared(big.clone(), big.len() as u64).await.expect("declared");
    assert!(received.path.is_none(), "no local copy past the limit");
    let whole = svc.store_upload(&ctx, &received, Some("declared.jpg"), None).await.expect("declared upload");
    assert_eq!((whole.size, whole.sha256.as_str()), (big.len() as i64, streamed.sha256.as_str()));
    assert_eq!(svc.blobs().get(&whole.blob_key).await.expect("stored"), big, "every byte, in order");
    svc.attach_upload(&ctx, &case.id, &whole.upload_id, AttachmentKind::Other).await.expect("attach declared");
    let short = declared(big[..big.len() - 10].to_vec(), big.len() as u64).await;
    assert!(matches!(short, Err(dispatch::spool::SpoolError::WrongLength)), "fewer bytes than declared");
    let long = declared(big.clone(), big.len() as u64 - 10).await;
    assert!(matches!(long, Err(dispatch::spool::SpoolError::WrongLength)), "more bytes than declared");
    let over = declared(vec![], 65 << 20).await;
    assert!(matches!(over, Err(dispatch::spool::SpoolError::TooLarge { .. })), "refused before any byte");
    // The abandoned writes are given up in the background.
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = uploads_stored().await;
        if left == before + 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, before + 1, "only the whole upload is stored");

    // An upload never attached, and a blob whose row never committed (a crash in between).
    let upload = svc.store_upload(&ctx, &spooled(&photo).await, Some("later.jpg"), None).await.expect("upload");
    let orphan = format!("attachments/{}/att_crashed.jpg", case.id);
    svc.blobs().put(&orphan, "image/jpeg", photo.clone()).await.expect("orphan");
    let hour = 3_600_000;
    let now = dispatch::ids::now_ms();

    let r = svc.sweep_blobs(now, hour, 24 * hour).await.expect("sweep");
    assert_eq!((r.orphans_removed, r.orphans_too_young, r.uploads_expired), (0, 1, 0), "{r:?}");
    assert!(exists(svc, &orphan).await, "a write in flight is never taken");

    let r = svc.sweep_blobs(now + 2 * hour, hour, 24 * hour).await.expect("sweep");
    assert_eq!((r.orphans_removed, r.uploads_expired), (1, 0), "{r:?}");
    assert!(!exists(svc, &orphan).await);
    assert!(exists(svc, &upload.blob_key).await, "an upload within its time is kept");

    let r = svc.sweep_blobs(now + 25 * hour, hour, 24 * hour).await.expect("sweep");
    assert_eq!((r.uploads_expired, r.orphans_removed), (1, 3), "the upload and its two copies: {r:?}");
    assert!(!exists(svc, &upload.blob_key).await);
    let e = svc.attach_upload(&ctx, &case.id, &upload.upload_id, AttachmentKind::After).await.expect_err("expired");
    assert!(format!("{e:?}").contains("unknown_upload"), "{e:?}");

    // Every blob a row names is still there.
    let case = svc.case(&ctx, &case.id).await.expect("case");
    for a in &case.attachments {
        for key in std::iter::once(&a.blob_key).chain(a.thumb_key.iter()).chain(a.view_key.iter()) {
            assert!(exists(svc, key).await, "{key}");
        }
    }
    let r = svc.sweep_blobs(now + 48 * hour, hour, 24 * hour).await.expect("sweep");
    assert_eq!((r.orphans_removed, r.uploads_expired), (0, 0), "nothing left to sweep: {r:?}");
    assert_audit_consistent(svc).await;
}

#[tokio::test]
async fn photos_and_the_orphan_sweep_on_every_backend_and_store() {
    for db in each_backend().await {
        photos_and_the_sweep(&service(db)).await;
    }
    let s3 = s3_server::start_s3().await;
    let store = dispatch::S3BlobStore::new(&s3_server::settings(&s3.endpoint, "rdtest-secret-key"));
    store.ensure_bucket().await.expect("bucket");
    let svc = Service::new(sqlite_db().await, std::sync::Arc::new(store));
    photos_and_the_sweep(&svc).await;
}

/// Invoice edits (operators only, audited, totals recomputed, locked once the packet is out),
/// then the packet: a PDF whose hash and manifest the audit trail holds, which verifies, and
/// which fails verification when the file or one of its photos is changed.
#[tokio::test]
async fn invoice_edits_and_packet_verification() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (mut c, tech) = case_in(&svc, CaseState::WorkPerformed, 10).await;
        // A real photo, so the packet carries a picture as well as the PNG after-photo.
        let jpeg = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::jpeg_with_exif(64, 48, 1));
        svc.add_photo(
            &op(),
            &AddPhoto {
                ticket_id: c.id.clone(),
                kind: AttachmentKind::Before,
                content_type: None,
                filename: Some("unit.jpg".into()),
                content_base64: Some(jpeg),
                upload_id: None,
            },
        )
        .await
        .expect("photo");
        c = svc.case(&op(), &c.id).await.expect("case");
        for to in [CaseState::CloseoutReady, CaseState::InvoiceReady] {
            c = advance(&svc, &c, to, &tech, 10).await.expect("advance").case;
        }
        let generated = c.invoice.clone().expect("invoice");
        let line = |d: &str, q: Option<&str>, a: i64| InvoiceLineInput {
            description: d.into(),
            quantity: q.map(str::to_string),
            amount_cents: a,
        };
        let edit = |lines: Vec<InvoiceLineInput>, tax: Option<i64>| EditInvoiceDraft {
            ticket_id: c.id.clone(),
            lines,
            tax_rate_bp: tax,
            expected_version: None,
        };

        // Refusals change nothing.
        let tech_ctx = actor(Role::CloseoutAgent);
        let err = svc.edit_invoice_draft(&tech_ctx, &edit(vec![line("x", None, 1)], None)).await.expect_err("agent");
        assert_eq!(err.code(), "FORBIDDEN");
        let err = svc.edit_invoice_draft(&op(), &edit(vec![], Some(9_000))).await.expect_err("invalid");
        let ServiceError::Domain(domain::DomainError::Invalid(fields)) = &err else { panic!("{err:?}") };
        let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(named, ["lines", "tax_rate_bp"]);
        let err = svc
            .edit_invoice_draft(&op(), &edit(vec![line("Fix", None, 1_000), line("Credit", None, -1_001)], None))
            .await
            .expect_err("negative");
        assert!(err.to_string().contains("less than zero"), "{err}");
        assert_eq!(svc.case(&op(), &c.id).await.expect("case").version, c.version, "refusals wrote nothing");

        // An edit: a discount line and a tax rate; totals are recomputed, the event has both.
        let edited = svc
            .edit_invoice_draft(
                &op(),
                &edit(
                    vec![
                        line("Labor: furnace repair", Some("1.50 h"), 14_250),
                        line("Capacitor 45/5 uF", Some("1"), 1_999),
                        line("Loyalty discount", None, -1_000),
                    ],
                    Some(825),
                ),
            )
            .await
            .expect("edit");
        let inv = edited.case.invoice.clone().expect("invoice");
        assert_eq!(inv.number, generated.number, "the number stays");
        assert_eq!(inv.lines.len(), 3);
        assert_eq!(inv.lines[2].quantity, "1", "quantity defaults to 1");
        // 142.50 + 19.99 - 10.00 = 152.49; 8.25 % = 12.580425 -> 12.58.
        assert_eq!((inv.subtotal_cents, inv.tax_rate_bp, inv.tax_cents, inv.total_cents), (15_249, 825, 1_258, 16_507));
        let events = audit::events_for_ticket(db.pool(), &c.id).await.expect("events");
        let ev = events.last().expect("event");
        assert_eq!(ev.action, "billing.edit_invoice_draft");
        assert!(ev.before_json.as_deref().unwrap_or_default().contains(&generated.total_cents.to_string()));
        assert!(ev.after_json.as_deref().unwrap_or_default().contains("Loyalty discount"));

        // The packet: a PDF holding its id; verified against the trail and the store.
        let packet = svc.compile_closeout_packet(&op(), &r(&edited.case)).await.expect("packet");
        let pref = packet.case.packet.clone().expect("packet ref");
        let pdf = svc.blobs().get(&pref.blob_key).await.expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        assert!(pdf[pdf.len().saturating_sub(8)..].windows(5).any(|w| w == b"%%EOF"), "a whole PDF");
        assert_eq!(dispatch::packet_pdf::packet_id_of(&pdf).as_deref(), Some(pref.id.as_str()));
        assert_eq!(pref.size as usize, pdf.len());
        if let Ok(path) = std::env::var("RD_TEST_PACKET_OUT") {
            std::fs::write(path, &pdf).expect("write the packet for a look");
        }
        let images = pdf.windows(b"/DCTDecode".len()).filter(|w| w == b"/DCTDecode").count();
        assert_eq!(images, 2, "both photos are pictured");
        let check = svc.verify_packet(&pdf).await.expect("verify");
        assert!(check.ok(), "{:?}", check.problems);
        assert_eq!(check.files_ok, packet.case.attachments.len());
        assert_eq!(check.packet_id.as_deref(), Some(pref.id.as_str()));
        let file = svc.packet_file(&op(), &c.id).await.expect("packet file");
        assert_eq!(file.sha256, pref.sha256);

        // Once the packet is out, the invoice is no longer a draft.
        let err = svc.edit_invoice_draft(&op(), &edit(vec![line("x", None, 1)], None)).await.expect_err("sent");
        assert_eq!(err.code(), "INVOICE_SENT");

        // One changed byte in the file: it is named and refused.
        let mut tampered = pdf.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 0x20;
        let check = svc.verify_packet(&tampered).await.expect("verify");
        assert!(!check.ok());
        assert_eq!(check.packet_id.as_deref(), Some(pref.id.as_str()), "found by the id inside the file");
        assert!(check.problems.iter().any(|p| p.contains("the file was changed")), "{:?}", check.problems);
        let check = svc.verify_packet(b"%PDF-1.7 something else").await.expect("verify");
        assert!(!check.ok() && check.packet_id.is_none(), "{check:?}");

        // A photo changed in the store after the fact: the packet still matches, the file not.
        let photo = packet.case.attachments.iter().find(|a| a.kind == AttachmentKind::Before).expect("before");
        svc.blobs().put(&photo.blob_key, "image/jpeg", b"not the photo".to_vec()).await.expect("overwrite");
        let check = svc.verify_packet(&pdf).await.expect("verify");
        assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
        assert!(check.problems[0].contains(&photo.id) && check.problems[0].contains("changed in the store"));

        assert_audit_consistent(&svc).await;
    }
}

#[tokio::test]
async fn every_action_and_role_is_authorised_as_the_table_says() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let events_before = count(&db, "audit_events").await;
        for role in Role::ALL {
            for action in domain::Action::CHANGES.iter().copied() {
                // An empty body: a role the table allows gets past authorization and fails on
                // the input instead; any other role is refused before the body is read.
                let key = format!("00000000-0000-4000-8000-{:012}", action as usize);
                let err = svc.call(actor(role), action, Some(&key), b"{}").await.expect_err("empty body");
                let expected = if action.allowed_for(role) { "INVALID_REQUEST" } else { "TOOL_NOT_ALLOWED" };
                assert_eq!(err.code(), expected, "{role} {action} on {:?}", db.backend());
            }
        }
        assert_eq!(count(&db, "audit_events").await, events_before, "refusals change nothing");
        assert_eq!(count(&db, "idempotency_keys").await, 0, "nor claim a key");
    }
}

fn key(n: u32) -> String {
    format!("00000000-0000-4000-9000-{n:012}")
}

#[tokio::test]
async fn paused_agents_change_nothing_until_resumed() {
    use domain::autonomy::{AutonomyChange, PauseScope};
    for db in each_backend().await {
        let svc = service(db.clone());
        let (case, _) = case_in(&svc, CaseState::Intake, 9).await;
        let (other, _) = case_in(&svc, CaseState::Intake, 10).await;
        let ticket = PauseScope::Ticket { ticket_id: case.id.clone() };
        let pause = AutonomyChange::new(&ticket, Some("customer complained; the owner calls back"));
        let p = svc.pause_agents(&op(), &pause).await.expect("pause");
        assert_eq!((p.scope.clone(), p.reason.as_deref()), (ticket.clone(), pause.reason.as_deref()));
        assert_eq!(
            svc.pause_agents(&actor(Role::Technician), &pause).await.expect_err("tech").code(),
            "FORBIDDEN",
            "people other than staff cannot pause"
        );

        // The intake agent on the paused ticket: refused, nothing changes, the refusal is audited.
        let body = |id: &str| serde_json::json!({"ticket_id": id, "priority": "urgent"}).to_string();
        let intake = actor(Role::IntakeAgent);
        let events = count(&db, "audit_events").await;
        let err = svc
            .call(intake.clone(), domain::Action::TicketSetPriority, Some(&key(1)), body(&case.id).as_bytes())
            .await
            .expect_err("paused");
        assert_eq!(err.code(), "AUTONOMY_PAUSED", "{err}");
        assert_eq!(err.details()["reason"], "customer complained; the owner calls back");
        let now = svc.case(&op(), &case.id).await.expect("case");
        assert_eq!((now.version, now.priority), (case.version, case.priority), "nothing changed");
        assert_eq!(count(&db, "audit_events").await, events + 1, "one autonomy.held event, nothing else");
        assert_eq!(count(&db, "idempotency_keys").await, 0, "the key is not spent");
        let summary = svc.case_summary(&intake, &case.id).await.expect("summary");
        assert_eq!(summary["legal_tools"], serde_json::json!([]), "a paused agent is offered no tool");
        assert!(summary["next_step"].as_str().is_some_and(|n| n.starts_with("Paused")), "{summary}");
        assert_eq!(summary["paused"]["scope"]["ticket_id"], case.id.as_str());

        // Other tickets, and people on this one, go on.
        svc.call(intake.clone(), domain::Action::TicketSetPriority, Some(&key(2)), body(&other.id).as_bytes())
            .await
            .expect("another ticket");
        svc.call(op(), domain::Action::TicketSetPriority, Some(&key(3)), body(&case.id).as_bytes())
            .await
            .expect("the office acts");

        // Resumed: the same call goes through; resuming again says it was not paused.
        svc.resume_agents(&op(), &pause).await.expect("resume");
        let done = svc
            .call(intake.clone(), domain::Action::TicketSetPriority, Some(&key(1)), body(&case.id).as_bytes())
            .await
            .expect("after resume");
        assert!(matches!(done, dispatch::Done::Case(_)));
        let err = svc.resume_agents(&op(), &pause).await.expect_err("not paused");
        assert_eq!(err.code(), "INVALID_REQUEST");

        // A role pause holds that role everywhere and no other; inbound messages are still
        // recorded while every agent is paused.
        let role = AutonomyChange::new(&PauseScope::Role { role: Role::IntakeAgent }, None);
        svc.pause_agents(&op(), &role).await.expect("pause role");
        let err = svc
            .call(intake.clone(), domain::Action::TicketSetPriority, Some(&key(4)), body(&other.id).as_bytes())
            .await
            .expect_err("role paused");
        assert_eq!(err.code(), "AUTONOMY_PAUSED");
        let msg = serde_json::json!({"ticket_id": other.id, "direction": "outbound", "text": "On our way"}).to_string();
        svc.call(actor(Role::SchedulingAgent), domain::Action::TicketAddMessage, Some(&key(5)), msg.as_bytes())
            .await
            .expect("another role goes on");
        let all = AutonomyChange::new(&PauseScope::All, Some("maintenance"));
        svc.pause_agents(&op(), &all).await.expect("pause all");
        let inbound = serde_json::json!({"channel": "sms", "provider_message_id": "SM-paused", "from": "+15550104477",
                                         "text": "Are you coming?", "received_at": 1_795_000_000_000i64});
        let r = svc
            .call(intake.clone(), domain::Action::InboundDeliver, None, inbound.to_string().as_bytes())
            .await
            .expect("inbound recorded");
        assert!(
            matches!(r, dispatch::Done::Data(ref v) if v["disposition"] == "attached" || v["disposition"] == "created"),
            "{r:?}"
        );
        let listed = svc.pauses(&op()).await.expect("pauses");
        assert_eq!(listed.iter().map(|p| p.scope.key()).collect::<Vec<_>>(), ["all", "role:intake_agent"]);
        assert_audit_consistent(&svc).await;
    }
}

/// Writers of one ticket take turns: changes that name no version all land, however many
/// arrive at once (a customer, two agents and the office writing in the same second), and a
/// change that names a version still fails when another got there first.
#[tokio::test]
async fn concurrent_writes_to_one_ticket_take_turns() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let (case, _) = case_in(&svc, CaseState::Onsite, 9).await;
        let op = CallContext::new(Actor::system("test"));
        let writes = (0..12).map(|i| {
            let (svc, op, id) = (svc.clone(), op.clone(), case.id.clone());
            tokio::spawn(async move {
                let message = AddMessage {
                    ticket_id: id.clone(),
                    direction: Direction::Internal,
                    channel: None,
                    sender: None,
                    text: format!("note {i}"),
                };
                if i % 2 == 0 {
                    svc.add_message(&op, &message).await.map(|_| ())
                } else {
                    let note = AddNote { ticket_id: id, kind: NoteKind::Note, text: format!("note {i}") };
                    svc.add_note(&op, &note).await.map(|_| ())
                }
            })
        });
        for done in futures_util::future::join_all(writes).await {
            done.expect("task").expect("every change that names no version lands");
        }
        let after = svc.case(&op, &case.id).await.expect("case");
        assert_eq!(after.version, case.version + 12);
        assert_eq!(after.message_count, case.message_count + 6);
        let stale = SetPriority {
            ticket_id: case.id.clone(),
            priority: Priority::Urgent,
            reason: None,
            expected_version: Some(case.version),
        };
        assert_eq!(svc.set_priority(&op, &stale).await.unwrap_err().code(), "CONFLICT");
        assert_audit_consistent(&svc).await;
    }
}

#[path = "contract/shop.rs"]
mod shop;

#[path = "contract/eta.rs"]
mod eta;

#[path = "contract/intake_contacts.rs"]
mod intake_contacts;

#[path = "contract/proposals.rs"]
mod proposals;
