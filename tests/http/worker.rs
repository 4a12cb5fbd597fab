//! The follow-up worker on SQLite and PostgreSQL: each timer fires once with two workers
//! running at the same time, a crashed worker's claim is taken over after its lease, timers
//! that no longer apply are dropped, a failing webhook is retried, and OpenClaw's webhook
//! receives exactly one notice per firing with the follow-up id as its idempotency key.

use crate::support::{dispatched_ticket, system, technician};
use dispatch::followups::{FollowupRules, LEASE_MS};
use dispatch::testing::each_backend;
use dispatch::Service;
use domain::{CreateTicket, NewCustomer};
use real_dispatch::worker::{pass, Hook};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// OpenClaw's `POST /hooks/agent`, as far as the worker can tell: checks the token, records
/// the idempotency key and the body.
async fn webhook() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(vec![]));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hooks/agent",
        axum::routing::post(move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
            let record = record.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if auth != "Bearer hook-secret" {
                    return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({"ok": false})));
                }
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let delivering = body["deliver"] == json!(true);
                let refuse = body["to"].as_str().is_some_and(|to| to.ends_with("0000"));
                record.lock().expect("lock").push((key.to_string(), body));
                if delivering {
                    // As OpenClaw answers `waitForCompletion`: whether the channel took it.
                    let completion = if refuse {
                        json!({"status": "ok", "delivered": false, "deliveryAttempted": true, "deliveryError": "delivery-failed"})
                    } else {
                        json!({"status": "ok", "delivered": true, "deliveryAttempted": true})
                    };
                    return (axum::http::StatusCode::OK, axum::Json(json!({"ok": true, "runId": "run-2", "completion": completion})));
                }
                (axum::http::StatusCode::OK, axum::Json(json!({"ok": true, "runId": "run-1"})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}/hooks/agent"), seen)
}

/// The follow-up notices the webhook received (customer updates, delivered through the same
/// webhook with `deliver: true`, left out).
fn notices(seen: &Seen) -> Vec<(String, Value)> {
    seen.lock().expect("lock").iter().filter(|(_, b)| b["deliver"] == json!(false)).cloned().collect()
}

/// The customer updates the webhook was asked to deliver.
fn deliveries(seen: &Seen) -> Vec<(String, Value)> {
    seen.lock().expect("lock").iter().filter(|(_, b)| b["deliver"] == json!(true)).cloned().collect()
}

async fn lead(svc: &Service, name: &str) -> domain::Case {
    let input = CreateTicket {
        customer: NewCustomer {
            name: Some(name.into()),
            phone: Some(crate::support::phone_of(name)),
            ..Default::default()
        },
        problem_summary: Some("Leaking tap".into()),
        ..Default::default()
    };
    svc.create_ticket(&system(), &input).await.expect("lead").case
}

async fn states(svc: &Service) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT ticket_id, kind, state FROM followups ORDER BY ticket_id, kind")
        .fetch_all(svc.db().pool())
        .await
        .expect("followups")
}

async fn fired_events(svc: &Service) -> Vec<Value> {
    dispatch::audit::all_events(svc.db().pool())
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.action == "followup.fired")
        .map(|e| serde_json::from_str(e.detail_json.as_deref().unwrap_or("{}")).expect("detail"))
        .collect()
}

#[tokio::test]
async fn each_timer_fires_once_with_two_workers_and_survives_a_crash() {
    for db in each_backend().await {
        let svc = dispatch::testing::service(db.clone());
        let rules = FollowupRules::default();
        let (url, seen) = webhook().await;
        let hook = Hook::new(url, "hook-secret".into(), Duration::from_secs(5)).expect("hook");
        let tech = technician(&svc, "hvac").await;
        let now = dispatch::ids::now_ms();

        let unanswered = lead(&svc, "Nobody Answered").await;
        let answered = lead(&svc, "Already Answered").await;
        let reply = domain::commands::AddMessage {
            ticket_id: answered.id.clone(),
            direction: domain::commands::Direction::Outbound,
            channel: None,
            sender: None,
            text: "We will call you back in ten minutes".into(),
        };
        svc.add_message(&system(), &reply).await.expect("reply");
        let no_eta = dispatched_ticket(&svc, &tech, 0).await;
        let gets_eta = dispatched_ticket(&svc, &tech, 3).await;

        // Nothing is due yet: timers are planned, none fires.
        let r = pass(&svc, &rules, Some(&hook), "w0", now).await.expect("pass");
        assert_eq!((r.planned, r.fired), (5, 0), "{r:?}"); // 1 lead + 2 × (eta, closeout)
                                                           // The second ticket gets its ETA: its ETA timer no longer applies.
        let at = gets_eta.appointment.as_ref().expect("booked").start_ms;
        let eta =
            domain::commands::SetEta { ticket_id: gets_eta.id.clone(), eta_ms: at, note: None, late_reason: None };
        svc.set_eta(&system(), &eta).await.expect("eta");

        // A worker claims the lead's timer and crashes before firing it.
        let lead_due = now + 16 * 60_000;
        let claimed = svc.claim_followups("crashed", lead_due).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].ticket_id, unanswered.id);
        // While its lease holds, nobody else fires it.
        let r = pass(&svc, &rules, Some(&hook), "w1", lead_due + 1).await.expect("pass");
        assert_eq!(r.fired, 0, "{r:?}");
        assert!(notices(&seen).is_empty());

        // Days later, two workers at once (a fresh service: a restarted process) take
        // everything due, the expired claim included.
        let restarted = dispatch::testing::service(db.clone());
        let later = now + 5 * 86_400_000 + LEASE_MS;
        for _ in 0..3 {
            let (a, b) = tokio::join!(
                pass(&svc, &rules, Some(&hook), "w1", later),
                pass(&restarted, &rules, Some(&hook), "w2", later)
            );
            a.expect("w1");
            b.expect("w2");
        }
        let fired = fired_events(&svc).await;
        let calls = notices(&seen);
        // The lead; the first dispatched ticket's missing ETA; both jobs' closeout deadlines.
        assert_eq!(fired.len(), 4, "{fired:?}");
        assert_eq!(calls.len(), 4, "one notice per firing: {calls:?}");
        let mut keys: Vec<&str> = calls.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 4, "each notice carries its follow-up id");
        let mut agents: Vec<&str> = calls.iter().filter_map(|(_, b)| b["agentId"].as_str()).collect();
        agents.sort();
        assert_eq!(agents, ["closeout", "closeout", "intake", "scheduling"]);
        assert!(calls
            .iter()
            .all(|(_, b)| b["deliver"] == false && b["message"].as_str().is_some_and(|m| m.contains("RD-"))));
        let lead_event = fired.iter().find(|e| e["kind"] == "lead_unanswered").expect("lead fired");
        assert_eq!(lead_event["notified"], true);

        let rows = states(&svc).await;
        let state_of = |ticket: &str, kind: &str| {
            rows.iter().find(|(t, k, _)| t == ticket && k == kind).map(|(_, _, s)| s.as_str()).unwrap_or("(none)")
        };
        assert_eq!(state_of(&unanswered.id, "lead_unanswered"), "fired");
        assert_eq!(state_of(&answered.id, "lead_unanswered"), "(none)", "an answered lead needs no follow-up");
        assert_eq!(state_of(&no_eta.id, "eta_missing"), "fired");
        assert_eq!(state_of(&no_eta.id, "closeout_incomplete"), "fired");
        assert_eq!(state_of(&gets_eta.id, "eta_missing"), "dropped", "the ETA came in time");
        assert_eq!(state_of(&gets_eta.id, "closeout_incomplete"), "fired");
        assert_eq!(rows.len(), 5);

        // The worker changes no fact of a case: it tells, records, and adds to the thread the
        // customer updates it delivered (the booking's confirmation here).
        let after = svc.case(&system(), &no_eta.id).await.expect("case");
        let sent = svc.customer_updates_of(&system(), &no_eta.id).await.expect("updates");
        assert_eq!(sent.iter().filter(|u| u.status == "sent").count(), 1, "{sent:?}");
        assert_eq!((after.state, after.version), (no_eta.state, no_eta.version + 1));
        assert_eq!(after.message_count, no_eta.message_count + 1);
        let verify = dispatch::audit::verify(svc.db().pool()).await.expect("verify");
        assert!(verify.problems.is_empty(), "{:?}", verify.problems);
        let replay = svc.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
    }
}

#[tokio::test]
async fn a_failing_webhook_is_retried_later_and_then_given_up() {
    for db in each_backend().await {
        let svc = dispatch::testing::service(db.clone());
        let rules = FollowupRules::default();
        // Nothing listens on port 9.
        let down = Hook::new("http://127.0.0.1:9/hooks/agent".into(), "hook-secret".into(), Duration::from_secs(2))
            .expect("hook");
        let t = lead(&svc, "Webhook Down").await;
        let mut at = dispatch::ids::now_ms() + 16 * 60_000;
        let r = pass(&svc, &rules, Some(&down), "w1", at).await.expect("pass");
        assert_eq!((r.claimed, r.retried, r.fired), (1, 1, 0), "{r:?}");
        let (state, attempts, error): (String, i64, Option<String>) =
            sqlx::query_as("SELECT state, attempts, last_error FROM followups WHERE ticket_id = $1")
                .bind(&t.id)
                .fetch_one(svc.db().pool())
                .await
                .expect("row");
        assert_eq!((state.as_str(), attempts), ("pending", 1));
        assert!(error.unwrap_or_default().contains("unreachable"));
        // Not again before its next attempt is due.
        assert_eq!(pass(&svc, &rules, Some(&down), "w1", at + 1).await.expect("pass").claimed, 0);
        for _ in 0..4 {
            at += 10 * 60_000;
            pass(&svc, &rules, Some(&down), "w1", at).await.expect("pass");
        }
        let (state,): (String,) = sqlx::query_as("SELECT state FROM followups WHERE ticket_id = $1")
            .bind(&t.id)
            .fetch_one(svc.db().pool())
            .await
            .expect("row");
        assert_eq!(state, "failed");
        let failed: Vec<String> = dispatch::audit::all_events(svc.db().pool())
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.action.starts_with("followup."))
            .map(|e| e.action)
            .collect();
        assert_eq!(failed, ["followup.failed"], "giving up is on the record; nothing fired");
    }
}

#[tokio::test]
async fn a_paused_agent_is_not_woken_and_its_follow_up_waits_for_it() {
    use domain::autonomy::{AutonomyChange, PauseScope};
    for db in each_backend().await {
        let svc = dispatch::testing::service(db.clone());
        let rules = FollowupRules::default();
        let (url, seen) = webhook().await;
        let hook = Hook::new(url, "hook-secret".into(), Duration::from_secs(5)).expect("hook");
        let t = lead(&svc, "Paused Intake").await;
        let pause = AutonomyChange::new(&PauseScope::Role { role: domain::Role::IntakeAgent }, Some("training"));
        svc.pause_agents(&system(), &pause).await.expect("pause");

        let due = dispatch::ids::now_ms() + 16 * 60_000;
        let r = pass(&svc, &rules, Some(&hook), "w1", due).await.expect("pass");
        assert_eq!((r.claimed, r.held, r.fired, r.retried), (1, 1, 0, 0), "{r:?}");
        assert!(notices(&seen).is_empty(), "the paused intake agent was not woken");
        let (state, attempts): (String, i64) =
            sqlx::query_as("SELECT state, attempts FROM followups WHERE ticket_id = $1")
                .bind(&t.id)
                .fetch_one(svc.db().pool())
                .await
                .expect("row");
        assert_eq!((state.as_str(), attempts), ("pending", 0), "it waits, spending no attempt");
        // Still paused later: it waits again, however long the pause lasts.
        let later = due + dispatch::followups::HOLD_MS;
        let r = pass(&svc, &rules, Some(&hook), "w1", later).await.expect("pass");
        assert_eq!((r.held, r.fired), (1, 0), "{r:?}");

        // Resumed: the next look fires it, once.
        svc.resume_agents(&system(), &pause).await.expect("resume");
        let r = pass(&svc, &rules, Some(&hook), "w1", later + dispatch::followups::HOLD_MS).await.expect("pass");
        assert_eq!((r.held, r.fired), (0, 1), "{r:?}");
        assert_eq!(notices(&seen).len(), 1);
        assert_eq!(fired_events(&svc).await.len(), 1);
    }
}

#[tokio::test]
async fn the_worker_delivers_customer_updates_through_the_webhook_once_each() {
    for db in each_backend().await {
        let svc = dispatch::testing::service(db.clone());
        let rules = FollowupRules::default();
        let (url, seen) = webhook().await;
        let hook = Hook::new(url, "hook-secret".into(), Duration::from_secs(5)).expect("hook");
        let tech = technician(&svc, "hvac").await;
        let booked = dispatched_ticket(&svc, &tech, 5).await;
        let now = dispatch::ids::now_ms();

        let r = pass(&svc, &rules, Some(&hook), "w1", now).await.expect("pass");
        assert_eq!((r.updates_sent, r.updates_failed), (1, 0), "{r:?}");
        let sent = deliveries(&seen);
        assert_eq!(sent.len(), 1);
        let (key, body) = &sent[0];
        let updates = svc.customer_updates_of(&system(), &booked.id).await.expect("updates");
        assert_eq!(body["message"], format!("[[real-dispatch-update {}]]", updates[0].id), "the words come from here");
        assert_eq!((body["channel"].as_str(), body["to"].as_str()), (Some("sms"), Some("+15550001111")));
        assert_eq!(body["waitForCompletion"], json!(true));
        assert_eq!(key, &format!("{}-1", updates[0].id), "one key per attempt");
        assert_eq!(updates[0].status, "sent");

        // Nothing left to send: the next pass sends nothing again.
        let r = pass(&svc, &rules, Some(&hook), "w1", now + 1).await.expect("pass");
        assert_eq!(r.updates_sent, 0);
        assert_eq!(deliveries(&seen).len(), 1);

        // A channel that does not take it: not sent, retried later.
        let input = CreateTicket {
            customer: NewCustomer {
                name: Some("Zed Null".into()),
                phone: Some("+15550010000".into()),
                ..Default::default()
            },
            site: Some(domain::NewSite { address: Some("2 Main St".into()), ..Default::default() }),
            problem_summary: Some("No heat".into()),
            trade: Some("hvac".into()),
            ..Default::default()
        };
        let refused = svc.create_ticket(&system(), &input).await.expect("ticket").case;
        let start = (now / 3_600_000 + 60) * 3_600_000;
        let confirm = domain::commands::ConfirmSlot {
            ticket_id: refused.id.clone(),
            start_ms: start,
            end_ms: start + 3_600_000,
            technician_id: Some(tech.clone()),
            reschedule: false,
            expected_version: None,
        };
        svc.confirm_slot(&system(), &confirm).await.expect("confirm");
        let r = pass(&svc, &rules, Some(&hook), "w1", dispatch::ids::now_ms()).await.expect("pass");
        assert_eq!(r.updates_failed, 1, "{r:?}");
        let pending = svc.customer_updates_of(&system(), &refused.id).await.expect("updates");
        assert_eq!((pending[0].status.as_str(), pending[0].attempts), ("pending", 1));
        assert!(pending[0].last_error.as_deref().is_some_and(|e| e.contains("delivery-failed")), "{pending:?}");
    }
}
