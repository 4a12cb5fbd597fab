//! Customer updates, on SQLite and PostgreSQL: written with the committed change that calls for
//! them, once per fact, in the shop's words; sent once and recorded on the ticket; retried and
//! given up visibly.

use crate::support::{dispatched_ticket, system, technician};
use dispatch::testing::{each_backend, service};
use dispatch::Service;
use domain::commands::SetEta;
use domain::updates::{UpdateKind, UpdateSettings};

async fn updates(svc: &Service, ticket: &str) -> Vec<dispatch::store::customer_updates::CustomerUpdate> {
    let mut u = svc.customer_updates_of(&system(), ticket).await.expect("updates");
    u.reverse();
    u
}

async fn count_where(svc: &Service, sql: &str, ticket: &str) -> i64 {
    sqlx::query_scalar(sql).bind(ticket).fetch_one(svc.db().pool()).await.expect("count")
}

#[tokio::test]
async fn committed_facts_become_customer_updates_once_each() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let tech = technician(&svc, "hvac").await;
        let case = dispatched_ticket(&svc, &tech, 2).await;
        let confirmed = updates(&svc, &case.id).await;
        assert_eq!(confirmed.len(), 1, "{confirmed:?}");
        assert_eq!((confirmed[0].kind.as_str(), confirmed[0].status.as_str()), ("appointment_confirmed", "pending"));
        assert_eq!((confirmed[0].channel.as_deref(), confirmed[0].to.as_deref()), (Some("sms"), Some("+15550001111")));
        assert!(confirmed[0].body.starts_with("Hi Ada, your "), "{}", confirmed[0].body);

        // On the way, then a small nudge (nothing), then a real change twice in a row: the second
        // within five minutes is skipped, with why.
        // Minutes after the hour before the booked hour: 60 is its start, 120 its end, 180 late.
        let start = case.appointment.as_ref().expect("booked").start_ms;
        let eta = |minutes: i64| SetEta {
            ticket_id: case.id.clone(),
            eta_ms: start + (minutes - 60) * 60_000,
            note: None,
            late_reason: (minutes > 120).then(|| "the previous job ran over".into()),
        };
        svc.set_eta(&system(), &eta(60)).await.expect("eta");
        svc.set_eta(&system(), &eta(63)).await.expect("nudge");
        svc.set_eta(&system(), &eta(90)).await.expect("later");
        svc.set_eta(&system(), &eta(120)).await.expect("later again");
        let all = updates(&svc, &case.id).await;
        let kinds: Vec<(&str, &str)> = all.iter().map(|u| (u.kind.as_str(), u.status.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("appointment_confirmed", "pending"),
                ("on_the_way", "pending"),
                ("eta_changed", "pending"),
                ("eta_changed", "skipped")
            ]
        );
        assert!(all[1].body.contains("is on the way"), "{}", all[1].body);
        assert!(all[3].reason.as_deref().is_some_and(|r| r.contains("five minutes")));

        // The shop turns a kind off: that fact is no longer announced.
        let mut rules = UpdateSettings::default();
        rules.rules.iter_mut().find(|r| r.kind == UpdateKind::EtaChanged).expect("rule").enabled = false;
        svc.set_update_settings(&system(), &rules).await.expect("rules");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        svc.set_eta(&system(), &eta(180)).await.expect("much later");
        assert_eq!(updates(&svc, &case.id).await.len(), 4, "eta_changed is off");
        let bad = UpdateSettings {
            rules: vec![domain::updates::UpdateRule {
                kind: UpdateKind::OnTheWay,
                enabled: true,
                template: "{nonsense}".into(),
            }],
        };
        assert!(svc.set_update_settings(&system(), &bad).await.is_err());
        assert_eq!(svc.update_settings().await.expect("rules"), rules, "a refused change changes nothing");
        assert!(svc.replay().await.expect("replay").mismatches.is_empty());
    }
}

#[tokio::test]
async fn an_update_is_sent_once_and_recorded_or_given_up_visibly() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let tech = technician(&svc, "hvac").await;
        let case = dispatched_ticket(&svc, &tech, 3).await;
        let now = dispatch::ids::now_ms();

        // Two workers at once: each update is claimed by one.
        let (a, b) = tokio::join!(svc.claim_updates(now, 10), svc.claim_updates(now, 10));
        let (a, b) = (a.expect("claim"), b.expect("claim"));
        assert_eq!(a.len() + b.len(), 1, "one claim: {a:?} {b:?}");
        let u = a.into_iter().chain(b).next().expect("the confirmation");
        let text = svc.update_text(&u, "https://shop.example").await.expect("text");
        assert!(svc.update_sent(&u, &text, now).await.expect("sent"));
        assert!(!svc.update_sent(&u, &text, now).await.expect("again"), "settled once");
        let out = count_where(
            &svc,
            "SELECT COUNT(*) FROM messages WHERE ticket_id = $1 AND direction = 'outbound'",
            &case.id,
        )
        .await;
        assert_eq!(out, 1, "on the ticket's thread once");
        let sent = updates(&svc, &case.id).await;
        assert_eq!((sent[0].status.as_str(), sent[0].attempts), ("sent", 1));

        // A channel that keeps failing: retried with backoff, then given up where the office sees it.
        svc.set_eta(
            &system(),
            &SetEta {
                ticket_id: case.id.clone(),
                eta_ms: case.appointment.as_ref().expect("booked").start_ms,
                note: None,
                late_reason: None,
            },
        )
        .await
        .expect("eta");
        let mut at = dispatch::ids::now_ms();
        for attempt in 1..=dispatch::customer_updates::MAX_ATTEMPTS {
            let claimed = svc.claim_updates(at, 10).await.expect("claim");
            assert_eq!(claimed.len(), 1, "attempt {attempt}");
            assert!(svc.update_failed(&claimed[0], "Twilio unreachable", at).await.expect("failed"));
            assert!(svc.claim_updates(at, 10).await.expect("claim").is_empty(), "not before its backoff");
            at += 5 * 60_000;
        }
        let dead = svc.undelivered_updates(&system()).await.expect("dead");
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].kind.as_str(), dead[0].attempts), ("on_the_way", 5));
        assert_eq!(dead[0].last_error.as_deref(), Some("Twilio unreachable"));
        let audited = count_where(
            &svc,
            "SELECT COUNT(*) FROM audit_events WHERE ticket_id = $1 AND action = 'update.dead'",
            &case.id,
        )
        .await;
        assert_eq!(audited, 1);
        assert!(svc.claim_updates(at + 3_600_000, 10).await.expect("claim").is_empty(), "given up for good");
        assert!(svc.verify_audit().await.expect("verify").problems.is_empty());
    }
}

#[tokio::test]
async fn the_office_sends_the_customer_a_working_link_through_their_channel() {
    for db in each_backend().await {
        let svc = service(db.clone());
        let tech = technician(&svc, "hvac").await;
        let case = dispatched_ticket(&svc, &tech, 4).await;
        // The booking's own update goes first, out of the way.
        let now = dispatch::ids::now_ms();
        for u in svc.claim_updates(now, 10).await.expect("claim") {
            assert!(svc.update_sent(&u, &u.body, now).await.expect("sent"));
        }
        let send = domain::commands::TicketRef { ticket_id: case.id.clone(), expected_version: None };
        let queued = svc.send_portal_link(&system(), &send).await.expect("queued");
        assert_eq!((queued.kind.as_str(), queued.status.as_str()), ("ticket_link", "pending"));
        assert_eq!((queued.channel.as_deref(), queued.to.as_deref()), (Some("sms"), Some("+15550001111")));
        assert!(queued.body.starts_with("Hi Ada, here is the page for your job"), "{}", queued.body);

        // A second click within five minutes queues nothing.
        let err = svc.send_portal_link(&system(), &send).await.expect_err("too soon");
        assert_eq!(err.code(), "CONFLICT");
        let links = "SELECT COUNT(*) FROM customer_updates WHERE ticket_id = $1 AND kind = 'ticket_link'";
        assert_eq!(count_where(&svc, links, &case.id).await, 1);

        // The worker makes the link as it sends; the customer's link opens their ticket.
        let claimed = svc.claim_updates(dispatch::ids::now_ms(), 10).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        let text = svc.update_text(&claimed[0], "https://shop.example").await.expect("text");
        let path = text.split("https://shop.example").nth(1).expect("a link in the text").trim().to_string();
        assert!(path.starts_with("/portal/link/"), "{text}");
        let token = path.trim_start_matches("/portal/link/");
        let grant = svc.open_portal_link(token, None).await.expect("the link opens");
        assert_eq!(grant.ticket_id, case.id);
        assert!(svc.update_sent(&claimed[0], &text, dispatch::ids::now_ms()).await.expect("sent"));
        let audited = "SELECT COUNT(*) FROM audit_events WHERE ticket_id = $1 AND action = 'portal.send_link'";
        assert_eq!(count_where(&svc, audited, &case.id).await, 1);

        // A shop that turned these off is told so, and nothing is queued.
        let mut rules = UpdateSettings::default();
        rules.rules.iter_mut().find(|r| r.kind == UpdateKind::TicketLink).expect("rule").enabled = false;
        svc.set_update_settings(&system(), &rules).await.expect("rules");
        let err = svc.send_portal_link(&system(), &send).await.expect_err("turned off");
        assert!(err.to_string().contains("turned off"), "{err}");
        assert_eq!(count_where(&svc, links, &case.id).await, 1);
        assert!(svc.verify_audit().await.expect("verify").problems.is_empty());
    }
}
