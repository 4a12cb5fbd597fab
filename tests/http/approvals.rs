//! The approval gate over real HTTP, on SQLite and PostgreSQL: agent calls the shop's rules
//! give to a person wait (202), change nothing, and run once when approved.

use crate::support::{start, system, Server};
use dispatch::testing::each_backend;
use serde_json::{json, Value};

async fn call(s: &Server, tool: &str, token: &str, body: &Value, key: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/tools/v1/{tool}", s.base))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn case(s: &Server, token: &str, id: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{}/tools/v1/cases/{id}", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    res.json::<Value>().await.expect("json")["case"].clone()
}

async fn summary(s: &Server, token: &str, id: &str) -> String {
    let res = reqwest::Client::new()
        .get(format!("{}/tools/v1/cases/{id}/summary", s.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    res.json::<Value>().await.expect("json")["summary"]["text"].as_str().unwrap_or_default().to_string()
}

async fn events(s: &Server, ticket: &str) -> Vec<dispatch::audit::StoredEvent> {
    dispatch::audit::events_for_ticket(s.service.db().pool(), ticket).await.expect("events")
}

async fn new_ticket(s: &Server, intake: &str) -> String {
    let body = json!({"customer": {"name": "Gale Gate", "phone": "+1 312 555 0190"}, "site": {"address": "9 Hold St"},
        "problem_summary": "Furnace short-cycles", "trade": "hvac"});
    let (st, b) = call(s, "ticket.create", intake, &body, &key()).await;
    assert_eq!(st, 200, "{b}");
    b["case"]["id"].as_str().expect("id").to_string()
}

fn assert_held(status: u16, b: &Value, rule: &str) -> String {
    assert_eq!(status, 202, "{b}");
    assert_eq!(b["error"]["code"], "APPROVAL_REQUIRED", "{b}");
    assert_eq!(b["error"]["details"]["rule"], rule, "{b}");
    assert_eq!(b["error"]["details"]["status"], "pending", "{b}");
    b["error"]["details"]["approval_id"].as_str().expect("approval id").to_string()
}

#[tokio::test]
async fn an_agents_cancel_waits_for_a_person_and_runs_once_when_approved() {
    for db in each_backend().await {
        let s = start(db).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token");
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let id = new_ticket(&s, &intake.token).await;
        let before = case(&s, &operator, &id).await;

        // The agent asks; the call waits and changes nothing. Its retry is the same request.
        let k = key();
        let cancel = json!({"ticket_id": id, "reason": "the customer found another company"});
        let (st, b) = call(&s, "ticket.cancel", &intake.token, &cancel, &k).await;
        let approval = assert_held(st, &b, "cancel");
        let (st, b) = call(&s, "ticket.cancel", &intake.token, &cancel, &k).await;
        assert_eq!(assert_held(st, &b, "cancel"), approval, "a retry finds the same approval");
        let held = case(&s, &operator, &id).await;
        assert_eq!(
            (held["state"].clone(), held["version"].clone()),
            (before["state"].clone(), before["version"].clone())
        );
        let requested = events(&s, &id).await.into_iter().filter(|e| e.action == "approval.requested").count();
        assert_eq!(requested, 1, "one request, however often the agent retries");
        assert!(summary(&s, &intake.token, &id).await.contains("waits for a person's approval"), "the agent is told");

        // Agents cannot approve their own calls.
        let (st, b) = call(&s, "approval.approve", &intake.token, &json!({"approval_id": approval}), &key()).await;
        assert_eq!((st, b["error"]["code"].as_str()), (403, Some("TOOL_NOT_ALLOWED")), "{b}");

        // A person approves: the cancel runs once, as the agent's, with the approval beside it.
        let (st, b) = call(&s, "approval.approve", &operator, &json!({"approval_id": approval}), &key()).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["approval"]["status"], "approved", "{b}");
        let ran = b["approval"]["result_event_id"].as_str().expect("the event it wrote").to_string();
        assert_eq!(case(&s, &operator, &id).await["state"], "canceled");
        let (st, b) = call(&s, "approval.approve", &operator, &json!({"approval_id": approval}), &key()).await;
        assert_eq!((st, b["approval"]["status"].as_str()), (200, Some("approved")), "a second approval: {b}");
        let all = events(&s, &id).await;
        let cancels: Vec<_> = all.iter().filter(|e| e.action == "ticket.cancel").collect();
        assert_eq!(cancels.len(), 1, "applied exactly once");
        assert_eq!(cancels[0].id, ran);
        assert_eq!(cancels[0].actor_id, intake.id, "the agent's action");
        assert_eq!(cancels[0].correlation_id.as_deref(), Some(approval.as_str()), "tied to its approval");
        let approved: Vec<_> = all.iter().filter(|e| e.action == "approval.approved").collect();
        assert_eq!(approved.len(), 1);
        assert_eq!(approved[0].actor_role, "operator", "the person who approved");

        // The agent's retry now gets the answer of the one run.
        let (st, b) = call(&s, "ticket.cancel", &intake.token, &cancel, &k).await;
        assert_eq!((st, b["case"]["state"].as_str()), (200, Some("canceled")), "{b}");
        assert_eq!(b["events"][0], ran.as_str());
        assert!(summary(&s, &intake.token, &id).await.contains("a person approved your ticket.cancel"));

        assert!(s.service.verify_audit().await.expect("verify").problems.is_empty());
        assert!(s.service.replay().await.expect("replay").mismatches.is_empty());
    }
}

#[tokio::test]
async fn a_rejected_call_never_runs_and_the_agent_is_told_why() {
    for db in each_backend().await {
        let s = start(db).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let id = new_ticket(&s, &intake).await;

        // A complaint: every step an agent takes on it waits, its messages excepted.
        let (st, b) =
            call(&s, "ticket.set_flag", &operator, &json!({"ticket_id": id, "flag": "complaint"}), &key()).await;
        assert_eq!((st, b["case"]["flag"].as_str()), (200, Some("complaint")), "{b}");
        let (st, b) = call(&s, "ticket.set_flag", &intake, &json!({"ticket_id": id, "flag": null}), &key()).await;
        assert_eq!(st, 403, "agents cannot lift the mark: {b}");
        let k = key();
        let urgent = json!({"ticket_id": id, "priority": "emergency"});
        let (st, b) = call(&s, "ticket.set_priority", &intake, &urgent, &k).await;
        let approval = assert_held(st, &b, "flagged_ticket");
        let note = json!({"ticket_id": id, "direction": "outbound", "channel": "sms", "text": "We are on it."});
        let (st, b) = call(&s, "ticket.add_message", &intake, &note, &key()).await;
        assert_eq!(st, 200, "messages record what was said: {b}");

        // A rejection must say why; then the call never runs, and the agent learns why.
        let (st, b) = call(&s, "approval.reject", &operator, &json!({"approval_id": approval}), &key()).await;
        assert_eq!((st, b["error"]["code"].as_str()), (400, Some("INVALID_REQUEST")), "{b}");
        let why = json!({"approval_id": approval, "note": "the owner calls this customer herself"});
        let (st, b) = call(&s, "approval.reject", &operator, &why, &key()).await;
        assert_eq!((st, b["approval"]["status"].as_str()), (200, Some("rejected")), "{b}");
        assert_eq!(case(&s, &operator, &id).await["priority"], "standard", "nothing changed");
        let (st, b) = call(&s, "ticket.set_priority", &intake, &urgent, &k).await;
        assert_eq!((st, b["error"]["code"].as_str()), (409, Some("CONFLICT")), "{b}");
        assert!(b["error"]["message"].as_str().is_some_and(|m| m.contains("the owner calls")), "{b}");
        assert!(summary(&s, &intake, &id).await.contains("rejected your ticket.set_priority"));
        let (st, b) = call(&s, "approval.approve", &operator, &json!({"approval_id": approval}), &key()).await;
        assert_eq!((st, b["error"]["code"].as_str()), (409, Some("CONFLICT")), "decided once: {b}");
        let rejected = events(&s, &id).await.into_iter().filter(|e| e.action == "approval.rejected").count();
        assert_eq!(rejected, 1);
        let (st, b) = call(&s, "approval.approve", &operator, &json!({"approval_id": "apr_nope"}), &key()).await;
        assert_eq!((st, b["error"]["code"].as_str()), (400, Some("INVALID_REQUEST")), "{b}");
    }
}

#[tokio::test]
async fn the_shop_sets_the_rules_and_a_call_overtaken_by_events_fails_visibly() {
    for db in each_backend().await {
        let s = start(db).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let first = new_ticket(&s, &intake).await;
        let second = new_ticket(&s, &intake).await;

        // Held, then the office cancels the ticket itself: approving cannot run it again.
        let cancel = |id: &str| json!({"ticket_id": id, "reason": "duplicate request"});
        let (st, b) = call(&s, "ticket.cancel", &intake, &cancel(&first), &key()).await;
        let approval = assert_held(st, &b, "cancel");
        let (st, b) =
            call(&s, "ticket.cancel", &operator, &json!({"ticket_id": first, "reason": "called in"}), &key()).await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = call(&s, "approval.approve", &operator, &json!({"approval_id": approval}), &key()).await;
        assert_eq!((st, b["approval"]["status"].as_str()), (200, Some("failed")), "{b}");
        assert!(b["approval"]["decision_note"].as_str().is_some_and(|n| n.contains("canceled")), "{b}");
        let c = case(&s, &operator, &first).await;
        assert_eq!(c["cancel_reason"], "called in", "the office's cancel stands");

        // The shop lets agents cancel: the call goes straight through, and the change is audited.
        let rules = domain::approval::GatePolicy { cancel: false, ..Default::default() };
        s.service.set_gate_policy(&system(), &rules).await.expect("rules");
        assert_eq!(s.service.gate_policy().await.expect("rules"), rules);
        let (st, b) = call(&s, "ticket.cancel", &intake, &cancel(&second), &key()).await;
        assert_eq!((st, b["case"]["state"].as_str()), (200, Some("canceled")), "{b}");
        let shop = dispatch::audit::all_events(s.service.db().pool()).await.expect("events");
        assert_eq!(shop.iter().filter(|e| e.action == "approval_gate.set").count(), 1);
        let bad = domain::approval::GatePolicy { invoice_above_cents: Some(-1), ..Default::default() };
        assert!(s.service.set_gate_policy(&system(), &bad).await.is_err(), "a negative limit is refused");
        assert_eq!(s.service.gate_policy().await.expect("rules"), rules, "and changes nothing");
    }
}
