//! The tool API over real HTTP, on SQLite and PostgreSQL.

use crate::support::{start, start_with, technician, Server};
use dispatch::testing::each_backend;
use dispatch::Service;
use serde_json::{json, Value};

/// GET with a bearer token; the JSON body (status checked by the callers that care).
async fn get_json(url: &str, token: &str) -> Value {
    client().get(url).bearer_auth(token).send().await.expect("get").json().await.expect("json")
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn call(
    s: &Server,
    tool: &str,
    token: Option<&str>,
    body: &str,
    idem: bool,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = client()
        .post(format!("{}/tools/v1/{tool}", s.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if idem {
        req = req.header("idempotency-key", uuid_like());
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let v = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, v, headers)
}

fn uuid_like() -> String {
    uuid::Uuid::new_v4().to_string()
}

const GOOD: &str = r#"{"customer":{"name":"Ana Ruiz","phone":"555-010-4477"},"site":{"address":"12 Elm St"},"problem_summary":"No heat","trade":"hvac"}"#;

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["error"]["request_id"].as_str().is_some_and(|m| m.len() > 8), "{body}");
}

#[tokio::test]
async fn ticket_create_over_http_returns_the_canonical_case() {
    for db in each_backend().await {
        let s = start(db).await;
        let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let (status, body, headers) = call(&s, "ticket.create", Some(&token), GOOD, true).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["case"]["state"], "intake");
        assert_eq!(body["case"]["number"], "RD-000001");
        assert!(body["events"][0].as_str().is_some_and(|e| e.starts_with("evt_")));
        assert_eq!(body["request_id"].as_str(), headers.get("x-request-id").and_then(|v| v.to_str().ok()));

        let id = body["case"]["id"].as_str().expect("id");
        let read =
            client().get(format!("{}/tools/v1/cases/{id}", s.base)).bearer_auth(&token).send().await.expect("get");
        assert_eq!(read.status(), 200);
        let read: Value = read.json().await.expect("json");
        assert_eq!(read["case"], body["case"]);
    }
}

#[tokio::test]
async fn every_refusal_has_its_code_and_changes_nothing() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let closeout = s.service.create_token(domain::Role::CloseoutAgent, "closeout").await.expect("token").token;

        let (st, b, _) = call(&s, "ticket.create", None, GOOD, true).await;
        assert_error(st, &b, 401, "UNAUTHENTICATED");
        let (st, b, _) = call(&s, "ticket.create", Some("rdt_tok_x.y"), GOOD, true).await;
        assert_error(st, &b, 401, "UNAUTHENTICATED");
        let (st, b, _) = call(&s, "ticket.delete", Some(&intake), GOOD, true).await;
        assert_error(st, &b, 404, "UNKNOWN_TOOL");
        let (st, b, _) = call(&s, "ticket.create", Some(&closeout), GOOD, true).await;
        assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
        let (st, b, _) = call(&s, "ticket.create", Some(&intake), GOOD, false).await;
        assert_error(st, &b, 400, "MISSING_IDEMPOTENCY_KEY");
        let (st, b, _) = call(&s, "ticket.create", Some(&intake), "{not json", true).await;
        assert_error(st, &b, 400, "INVALID_JSON");
        let (st, b, _) =
            call(&s, "ticket.create", Some(&intake), r#"{"customer":{"name":"A","phone":"12"}}"#, true).await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert_eq!(b["error"]["details"]["fields"][0]["field"], "customer.phone", "{b}");
        let (st, b, _) = call(
            &s,
            "ticket.create",
            Some(&intake),
            r#"{"customer":{"name":"A","phone":"5550104477"},"colour":"red"}"#,
            true,
        )
        .await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert_eq!(b["error"]["details"]["fields"][0]["field"], "colour", "{b}");

        let mut req = client().post(format!("{}/tools/v1/ticket.create", s.base)).bearer_auth(&intake).body(GOOD);
        req = req.header("idempotency-key", uuid_like()).header("x-source-channel", "carrier-pigeon");
        let res = req.send().await.expect("send");
        let st = res.status().as_u16();
        assert_error(st, &res.json().await.expect("json"), 400, "INVALID_REQUEST");

        let huge = format!("{{\"customer\":{{\"name\":\"{}\"}}}}", "x".repeat(15 * 1024 * 1024));
        let (st, b, _) = call(&s, "ticket.create", Some(&intake), &huge, true).await;
        assert_error(st, &b, 413, "PAYLOAD_TOO_LARGE");

        let missing = client()
            .get(format!("{}/tools/v1/cases/tkt_missing", s.base))
            .bearer_auth(&intake)
            .send()
            .await
            .expect("get");
        let st = missing.status().as_u16();
        assert_error(st, &missing.json().await.expect("json"), 404, "TICKET_NOT_FOUND");

        let n: i64 = sqlx::Row::get(
            &sqlx::query("SELECT COUNT(*) AS n FROM tickets").fetch_one(db.pool()).await.expect("count"),
            "n",
        );
        assert_eq!(n, 0);
        // Nothing about any case was written; the three denials (two bad tokens, one tool
        // outside the role) are security events.
        let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_events ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .expect("events");
        assert_eq!(actions, ["security.denied"; 3], "{:?}", db.backend());
    }
}

#[tokio::test]
async fn health_and_readiness() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let h = client().get(format!("{}/healthz", s.base)).send().await.expect("healthz");
        assert_eq!(h.status(), 200);
        assert!(h.headers().contains_key("x-request-id"));
        let r = client().get(format!("{}/readyz", s.base)).send().await.expect("readyz");
        assert_eq!(r.status(), 200);
        let ready = r.json::<Value>().await.expect("json");
        assert_eq!(
            [&ready["status"], &ready["database"], &ready["blob_store"]],
            [&json!("ready"), &json!("ok"), &json!("ok")],
            "{ready}"
        );
        // The pool's fill is reported: how many connections are open, idle, lent out, allowed.
        assert!(ready["pool"]["max"].as_u64().is_some_and(|n| n >= 1), "{ready}");
        assert!(ready["pool"]["in_use"].as_u64().is_some_and(|n| n < 2), "{ready}");
        db.close().await;
        let r = client().get(format!("{}/readyz", s.base)).send().await.expect("readyz");
        assert_eq!(r.status(), 503);
        assert_eq!(r.json::<Value>().await.expect("json")["database"], "unavailable");
    }
}

#[tokio::test]
async fn console_page_is_server_rendered_with_tickets() {
    let db = dispatch::testing::sqlite_db().await;
    let s = start(db).await;
    let seeded = s.service.seed_demo().await.expect("seed");
    let (email, password) = seeded.operator.expect("demo operator");
    let mut browser = crate::support::Browser::new(&s);
    browser.login(&email, &password).await;
    let html = browser.get("/console").await.body;
    let open = s
        .service
        .cases(
            &dispatch::CallContext::new(domain::Actor::system("t")),
            &dispatch::tickets::CaseFilter { open_only: true, ..Default::default() },
        )
        .await
        .expect("open tickets");
    assert!(open.len() >= 3, "the demo has open tickets");
    for c in &open {
        assert!(html.contains(&c.number), "open ticket {} is on the SSR board", c.number);
    }
    assert!(html.contains("/pkg/real-dispatch_bg.wasm"), "the page loads the hydration client");
    let missing = client().get(format!("{}/no-such-page", s.base)).send().await.expect("get");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.expect("text").contains("Page not found"));
}

async fn post_ok(s: &Server, tool: &str, token: &str, body: Value) -> Value {
    let (status, v, _) = call(s, tool, Some(token), &body.to_string(), true).await;
    assert_eq!(status, 200, "{tool}: {v}");
    assert!(v["events"][0].as_str().is_some_and(|e| e.starts_with("evt_")), "{tool}: {v}");
    v
}

#[tokio::test]
async fn a_whole_lifecycle_through_the_tool_api_only() {
    use base64::Engine;
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let tok = |role| {
            let svc = s.service.clone();
            async move { svc.create_token(role, "agent").await.expect("token").token }
        };
        let (intake, scheduling, liaison, closeout, operator) = (
            tok(domain::Role::IntakeAgent).await,
            tok(domain::Role::SchedulingAgent).await,
            tok(domain::Role::TechLiaisonAgent).await,
            tok(domain::Role::CloseoutAgent).await,
            tok(domain::Role::Operator).await,
        );
        let tech = technician(&s.service, "hvac").await;

        let v = post_ok(&s, "ticket.create", &intake, serde_json::from_str(GOOD).expect("json")).await;
        let id = v["case"]["id"].as_str().expect("id").to_string();
        post_ok(
            &s,
            "ticket.add_message",
            &intake,
            json!({"ticket_id": id, "direction": "inbound", "text": "Still cold"}),
        )
        .await;
        let p = post_ok(&s, "schedule.propose_slots", &scheduling, json!({"ticket_id": id, "max_slots": 2})).await;
        let slot = p["data"]["slots"][0].clone();
        assert_eq!(slot["technician_id"], tech.as_str(), "{p}");
        post_ok(
            &s,
            "schedule.confirm",
            &scheduling,
            json!({"ticket_id": id, "start_ms": slot["start_ms"], "end_ms": slot["end_ms"], "technician_id": tech}),
        )
        .await;
        post_ok(&s, "dispatch.assign_tech", &scheduling, json!({"ticket_id": id, "technician_id": tech})).await;
        post_ok(&s, "dispatch.set_eta", &liaison, json!({"ticket_id": id, "eta_ms": slot["start_ms"]})).await;
        post_ok(&s, "job.check_in", &operator, json!({"ticket_id": id})).await;
        let png = dispatch::testing::small_png();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        post_ok(&s, "closeout.add_photo", &liaison, json!({"ticket_id": id, "kind": "after", "content_base64": b64}))
            .await;
        post_ok(
            &s,
            "closeout.add_note",
            &liaison,
            json!({"ticket_id": id, "kind": "work_summary", "text": "Relit pilot"}),
        )
        .await;
        post_ok(&s, "job.record_labor", &operator, json!({"ticket_id": id, "minutes": 30, "description": "Repair"}))
            .await;
        post_ok(&s, "job.complete_work", &operator, json!({"ticket_id": id})).await;

        // Finalizing without the checklist names exactly what is missing.
        let (st, b, _) = call(
            &s,
            "closeout.checklist_complete",
            Some(&closeout),
            &json!({"ticket_id": id, "finalize": true}).to_string(),
            true,
        )
        .await;
        assert_error(st, &b, 409, "CLOSEOUT_REQUIREMENTS_INCOMPLETE");
        assert_eq!(
            b["error"]["details"]["missing"],
            json!(["checklist:filter_checked", "checklist:thermostat_tested", "checklist:site_left_clean"])
        );
        let keys = json!(["filter_checked", "thermostat_tested", "site_left_clean"]);
        let v = post_ok(
            &s,
            "closeout.checklist_complete",
            &closeout,
            json!({"ticket_id": id, "items": keys, "finalize": true}),
        )
        .await;
        assert_eq!(v["case"]["state"], "closeout_ready");
        // An illegal move reports where it could have come from.
        let (st, b, _) = call(&s, "job.check_in", Some(&operator), &json!({"ticket_id": id}).to_string(), true).await;
        assert_error(st, &b, 409, "INVALID_STATE_TRANSITION");
        assert_eq!(b["error"]["details"]["allowed_from"], json!(["dispatched"]));
        let v = post_ok(&s, "billing.generate_invoice_draft", &closeout, json!({"ticket_id": id})).await;
        assert_eq!(v["case"]["invoice"]["total_cents"], 4750, "{v}"); // 30 min at $95/h
        let v = post_ok(&s, "billing.compile_closeout_packet", &closeout, json!({"ticket_id": id})).await;
        assert_eq!(v["case"]["state"], "invoice_ready");
        assert_eq!(v["data"]["attachments"], 1);

        let read: Value = get_json(&format!("{}/tools/v1/cases/{id}", s.base), &closeout).await;
        assert_eq!(read["case"], v["case"], "the returned case is the committed case");
        let verify = dispatch::audit::verify(db.pool()).await.expect("verify");
        assert!(verify.problems.is_empty(), "{:?}", verify.problems);
        let replay = s.service.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);

        // Agents cannot reach operator actions.
        let (st, b, _) =
            call(&s, "ticket.cancel", Some(&closeout), &json!({"ticket_id": id, "reason": "x"}).to_string(), true)
                .await;
        assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
    }
}

/// `n` calls of `tool` with the same body and key, sent at once: their statuses and answers.
async fn at_once(s: &Server, n: usize, tool: &str, token: &str, body: &str, key: &str) -> Vec<(u16, Value)> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let url = format!("{}/tools/v1/{tool}", s.base);
            let (token, body, key) = (token.to_string(), body.to_string(), key.to_string());
            tokio::spawn(async move {
                let res = client()
                    .post(url)
                    .bearer_auth(token)
                    .header("idempotency-key", key)
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = vec![];
    for c in calls {
        answers.push(c.await.expect("join"));
    }
    answers
}

async fn call_with_key(s: &Server, tool: &str, token: &str, body: &str, key: &str) -> (u16, Value) {
    let res = client()
        .post(format!("{}/tools/v1/{tool}", s.base))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn events(db: &dispatch::Db) -> i64 {
    sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) AS n FROM audit_events").fetch_one(db.pool()).await.expect("count"),
        "n",
    )
}

#[tokio::test]
async fn idempotent_replay_mismatch_and_concurrent_duplicates() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let key = uuid_like();
        let (st1, first) = call_with_key(&s, "ticket.create", &token, GOOD, &key).await;
        assert_eq!(st1, 200, "{first}");
        let after_first = events(&db).await;
        // Same key, same body in another formatting: the stored answer, nothing written.
        let reformatted =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(GOOD).expect("json")).expect("pretty");
        let (st2, second) = call_with_key(&s, "ticket.create", &token, &reformatted, &key).await;
        assert_eq!((st2, &second), (200, &first));
        assert_eq!(events(&db).await, after_first);
        // Same key, different body.
        let other = GOOD.replace("No heat", "No hot water");
        let (st3, b) = call_with_key(&s, "ticket.create", &token, &other, &key).await;
        assert_error(st3, &b, 409, "IDEMPOTENCY_PAYLOAD_MISMATCH");
        // The key is scoped to the tool: the same key on another tool is a new call.
        let id = first["case"]["id"].as_str().expect("id");
        let msg = json!({"ticket_id": id, "direction": "inbound", "text": "hello"}).to_string();
        let (st4, _) = call_with_key(&s, "ticket.add_message", &token, &msg, &key).await;
        assert_eq!(st4, 200);
        // A malformed key is refused before anything runs.
        let (st5, b) = call_with_key(&s, "ticket.create", &token, GOOD, "not-a-uuid").await;
        assert_error(st5, &b, 400, "INVALID_REQUEST");

        // Eight concurrent duplicates: one action, eight identical answers.
        let key = uuid_like();
        let before = events(&db).await;
        let body = GOOD.replace("Ana Ruiz", "Concurrent Carla").replace("555-010-4477", "555-010-1212");
        let answers = at_once(&s, 8, "ticket.create", &token, &body, &key).await;
        assert!(answers.iter().all(|(st, b)| *st == 200 && b == &answers[0].1), "{answers:?}");
        assert_eq!(events(&db).await, before + 1, "exactly one ticket.create ran on {:?}", db.backend());
    }
}

/// The shop's people and integrations (not agents) have their key looked up only when it can
/// matter: a retry of a call that committed still gets its first answer, even once the case
/// has moved on so far that the call itself would now be refused, and nothing is written
/// twice (no event, no file).
#[tokio::test]
async fn a_retry_gets_its_first_answer_after_the_case_moved_on() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let token = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let tech = technician(&s.service, "hvac").await;
        let case = crate::support::dispatched_ticket(&s.service, &tech, 0).await;
        let png = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dispatch::testing::small_png());
        let photo = json!({"ticket_id": case.id, "kind": "after", "content_base64": png}).to_string();
        let key = uuid_like();
        let (st, first) = call_with_key(&s, "closeout.add_photo", &token, &photo, &key).await;
        assert_eq!(st, 200, "{first}");
        // The office cancels the job: a photo is no longer taken on it.
        let cancel = json!({"ticket_id": case.id, "reason": "customer called"}).to_string();
        let (st, b) = call_with_key(&s, "ticket.cancel", &token, &cancel, &uuid_like()).await;
        assert_eq!(st, 200, "{b}");
        let (st, b) = call_with_key(&s, "closeout.add_photo", &token, &photo, &uuid_like()).await;
        assert!(st >= 400, "a new photo on a canceled job is refused: {b}");
        let (events_before, files_before) = (events(&db).await, crate::support::blob_count(&s).await);
        // The retry: the first call's answer, with nothing written.
        let (st, again) = call_with_key(&s, "closeout.add_photo", &token, &photo, &key).await;
        assert_eq!((st, &again), (200, &first), "on {:?}", db.backend());
        // The same key with another body: refused as such, not as the canceled job's refusal.
        let other = json!({"ticket_id": case.id, "kind": "before", "content_base64": png}).to_string();
        let (st, b) = call_with_key(&s, "closeout.add_photo", &token, &other, &key).await;
        assert_error(st, &b, 409, "IDEMPOTENCY_PAYLOAD_MISMATCH");
        assert_eq!(events(&db).await, events_before, "no event written by the retries");
        assert_eq!(crate::support::blob_count(&s).await, files_before, "no file left by the retries");

        // Eight concurrent duplicates of a call that goes through: one action, one answer.
        let key = uuid_like();
        let before = events(&db).await;
        let msg =
            json!({"ticket_id": case.id, "direction": "internal", "text": "Called the customer back"}).to_string();
        let answers = at_once(&s, 8, "ticket.add_message", &token, &msg, &key).await;
        assert!(answers.iter().all(|(st, b)| *st == 200 && b == &answers[0].1), "{answers:?}");
        assert_eq!(events(&db).await, before + 1, "exactly one ticket.add_message ran on {:?}", db.backend());
    }
}

#[tokio::test]
async fn tool_listing_and_bounded_summaries() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let list: Value = get_json(&format!("{}/tools/v1", s.base), &intake).await;
        let names: Vec<&str> =
            list["tools"].as_array().expect("tools").iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["ticket.create", "ticket.add_message", "ticket.set_priority", "ticket.cancel"]);
        let create_schema = &list["tools"][0]["input_schema"];
        assert_eq!(create_schema["type"], "object", "{create_schema}");
        assert_eq!(create_schema["required"], json!(["customer"]));
        let all: Value = get_json(&format!("{}/tools/v1", s.base), &operator).await;
        assert_eq!(
            all["tools"].as_array().map(Vec::len),
            Some(25),
            "every action of the tool API but the inbound delivery and the portal links, which dedupe themselves or show a secret once"
        );
        let anon = client().get(format!("{}/tools/v1", s.base)).send().await.expect("get");
        assert_eq!(anon.status(), 401);

        let (_, created, _) = call(&s, "ticket.create", Some(&intake), GOOD, true).await;
        let id = created["case"]["id"].as_str().expect("id").to_string();
        let long = "word ".repeat(1_500);
        for i in 0..60 {
            let body = json!({"ticket_id": id, "direction": if i % 2 == 0 { "inbound" } else { "outbound" }, "text": format!("{i}: {long}")});
            let (st, b, _) = call(&s, "ticket.add_message", Some(&intake), &body.to_string(), true).await;
            assert_eq!(st, 200, "{b}");
        }
        let res = client()
            .get(format!("{}/tools/v1/cases/{id}/summary", s.base))
            .bearer_auth(&intake)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 200);
        let text = res.text().await.expect("text");
        assert!(text.chars().count() <= 6_000, "{} characters", text.chars().count());
        let v: Value = serde_json::from_str(&text).expect("json");
        let sum = &v["summary"];
        assert_eq!(sum["state"], "intake");
        assert_eq!(
            sum["legal_tools"],
            json!(["ticket.add_message", "ticket.set_priority", "ticket.cancel"]),
            "intake agent, intake state"
        );
        let msgs = sum["last_messages"].as_array().expect("messages");
        assert!(!msgs.is_empty() && msgs.len() <= 5, "{}", msgs.len());
        assert!(msgs.last().and_then(|m| m["text"].as_str()).is_some_and(|t| t.starts_with("59:")), "newest last");
        assert!(sum["text"].as_str().is_some_and(|t| t.contains("RD-000001") && t.contains("Next:")), "{sum}");
        // The operator sees the scheduling tools that are legal now.
        let op: Value = get_json(&format!("{}/tools/v1/cases/{id}/summary", s.base), &operator).await;
        let legal: Vec<&str> =
            op["summary"]["legal_tools"].as_array().expect("legal").iter().filter_map(|t| t.as_str()).collect();
        assert!(
            legal.contains(&"schedule.propose_slots")
                && legal.contains(&"schedule.confirm")
                && !legal.contains(&"dispatch.assign_tech"),
            "{legal:?}"
        );
    }
}

/// Every `$ref` in `v` points at a schema that exists in the document.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_describes_every_tool_from_the_rust_types() {
    let s = start(dispatch::testing::sqlite_db().await).await;
    let doc: Value =
        client().get(format!("{}/openapi.json", s.base)).send().await.expect("get").json().await.expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for t in domain::Action::agent_tools() {
        let op = &paths[&format!("/tools/v1/{}", t.name())]["post"];
        assert!(op["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string(), "{t}: {op}");
        assert!(op["responses"]["409"].is_object() && op["responses"]["200"].is_object(), "{t}");
    }
    // 25 actions of the tool API; inbound, the tool list, a case, its summary, a conversation.
    assert_eq!(paths.len(), 25 + 5);
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in ["Case", "CreateTicket", "ConfirmSlot", "SuccessBody", "ErrorBody", "CaseState"] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(all.len() > 50);
    for r in all {
        let pointer = r.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // The published error body is the one the door sends.
    let err: Value = client()
        .post(format!("{}/tools/v1/ticket.create", s.base))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let required: Vec<&str> =
        schemas["ErrorDetail"]["required"].as_array().expect("required").iter().filter_map(|v| v.as_str()).collect();
    for field in required {
        assert!(err["error"].get(field).is_some(), "{field} missing from {err}");
    }
}

#[tokio::test]
async fn every_role_reaches_exactly_its_tools_and_denials_are_audited() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        for role in [
            domain::Role::IntakeAgent,
            domain::Role::SchedulingAgent,
            domain::Role::TechLiaisonAgent,
            domain::Role::CloseoutAgent,
            domain::Role::Operator,
        ] {
            let token = s.service.create_token(role, "matrix").await.expect("token").token;
            // Every row of the action table, reads and web-app actions included.
            for action in domain::Action::ALL {
                // An empty body: allowed tools get past the door and fail validation instead.
                let (st, b, _) = call(&s, action.name(), Some(&token), "{}", true).await;
                if action.audience() == domain::Audience::App {
                    assert_error(st, &b, 404, "UNKNOWN_TOOL");
                } else if action.allowed_for(role) {
                    assert_error(st, &b, 400, "INVALID_REQUEST");
                } else {
                    assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
                }
            }
        }
        let denied: Vec<(String, String)> =
            sqlx::query("SELECT actor_role, detail_json FROM audit_events WHERE action = 'security.denied'")
                .fetch_all(db.pool())
                .await
                .expect("events")
                .iter()
                .map(|r| (sqlx::Row::get(r, "actor_role"), sqlx::Row::get(r, "detail_json")))
                .collect();
        // 25 tools: intake 4, scheduling 7, liaison 5, closeout 6, operator 25 allowed; of the 3
        // calls that dedupe themselves, the scheduling, liaison and closeout agents may not
        // deliver inbound messages.
        assert_eq!(denied.len(), 5 * 25 - (4 + 7 + 5 + 6 + 25) + 3, "{:?}", db.backend());
        assert!(denied.iter().all(|(_, d)| d.contains("TOOL_NOT_ALLOWED")));
        let (st, _, _) = call(&s, "ticket.create", Some("rdt_tok_nobody.nothing"), GOOD, true).await;
        assert_eq!(st, 401);
        let anon: i64 = sqlx::Row::get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'security.denied' AND actor_kind = 'anonymous'",
            )
            .fetch_one(db.pool())
            .await
            .expect("count"),
            "n",
        );
        assert_eq!(anon, 1);
        let verify = dispatch::audit::verify(db.pool()).await.expect("verify");
        assert!(verify.problems.is_empty(), "{:?}", verify.problems);
    }
}

#[tokio::test]
async fn tokens_are_rate_limited_with_retry_after() {
    let service = dispatch::testing::service(dispatch::testing::sqlite_db().await);
    let s = crate::support::start_with_rate(service, Some(3)).await;
    let token = s.service.create_token(domain::Role::IntakeAgent, "fast").await.expect("token").token;
    let other = s.service.create_token(domain::Role::IntakeAgent, "other").await.expect("token").token;
    for _ in 0..3 {
        let (st, b, _) = call(&s, "ticket.add_message", Some(&token), "{}", true).await;
        assert_eq!(st, 400, "{b}");
    }
    let (st, b, headers) = call(&s, "ticket.add_message", Some(&token), "{}", true).await;
    assert_error(st, &b, 429, "RATE_LIMITED");
    let retry: u64 =
        headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=20).contains(&retry), "{retry}");
    let (st, _, _) = call(&s, "ticket.add_message", Some(&other), "{}", true).await;
    assert_eq!(st, 400, "another token has its own budget");
}

#[tokio::test]
async fn a_token_given_its_own_budget_is_held_to_it_instead_of_the_shops() {
    for db in each_backend().await {
        let service = dispatch::testing::service(db);
        let s = crate::support::start_with_rate(service, Some(3)).await;
        let holder = |n| s.service.create_token_with_budget(domain::Role::IntakeAgent, "budgeted", Some(n));
        let unlimited = holder(0).await.expect("token").token;
        let small = holder(1).await.expect("token").token;
        for _ in 0..20 {
            let (st, b, _) = call(&s, "ticket.add_message", Some(&unlimited), "{}", true).await;
            assert_eq!(st, 400, "0 is no limit: {b}");
        }
        let (st, b, _) = call(&s, "ticket.add_message", Some(&small), "{}", true).await;
        assert_eq!(st, 400, "{b}");
        let (st, b, _) = call(&s, "ticket.add_message", Some(&small), "{}", true).await;
        assert_error(st, &b, 429, "RATE_LIMITED");
    }
}

async fn inbound(s: &Server, token: &str, body: Value) -> (u16, Value) {
    let res = client()
        .post(format!("{}/tools/v1/inbound", s.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

fn msg(id: &str, from: &str, text: &str) -> Value {
    json!({"channel": "sms", "provider_message_id": id, "from": from, "to": "+15550000000", "text": text,
           "received_at": "2026-11-23T15:04:05Z", "raw": {"MessageSid": id, "Body": text}})
}

#[tokio::test]
async fn an_inbound_conversation_is_bound_to_its_ticket_and_found_again() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let session = "agent:intake:sms:direct:+15550104488";
        let url = format!("{}/tools/v1/conversations/{}", s.base, urlencode(session));
        let res = client().get(&url).bearer_auth(&intake).send().await.expect("get");
        assert_eq!(res.status().as_u16(), 404, "nothing bound yet");

        let mut first = msg("CV1", "+1 555 010 4488", "Dryer will not spin");
        first["conversation"] = json!(session);
        let (st, created) = inbound(&s, &intake, first.clone()).await;
        assert_eq!((st, created["disposition"].as_str()), (200, Some("created")), "{created}");
        let ticket = created["ticket_id"].as_str().expect("ticket").to_string();
        let bound = get_json(&url, &intake).await;
        assert_eq!(bound["ticket_id"], ticket.as_str(), "{bound}");
        assert_eq!(bound["channel"], "sms");

        // The same delivery again, and a later message: one binding, audited once.
        inbound(&s, &intake, first).await;
        let mut later = msg("CV2", "+15550104488", "Also it smells of burning");
        later["conversation"] = json!(session);
        let (_, attached) = inbound(&s, &intake, later).await;
        assert_eq!(attached["disposition"], "attached", "{attached}");
        let events = dispatch::audit::events_for_ticket(db.pool(), &ticket).await.expect("events");
        assert_eq!(events.iter().filter(|e| e.action == "conversation.bound").count(), 1);

        // Staff read it too; customers and technicians cannot look conversations up.
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        assert_eq!(get_json(&url, &operator).await["ticket_id"], ticket.as_str());
        for role in [domain::Role::Customer, domain::Role::Technician] {
            let who = domain::Actor::new(domain::ActorKind::User, "usr_x", role, "someone");
            let refused = s.service.conversation_ticket(&dispatch::CallContext::new(who), session).await;
            assert!(refused.is_err_and(|e| e.code() == "TOOL_NOT_ALLOWED" || e.code() == "FORBIDDEN"), "{role}");
        }
        // Intake learns the sender's name: it replaces the number the lead was named by.
        assert_eq!(created["case"]["customer"]["name"], "+1 555 010 4488", "named by the number it came from");
        let complete = json!({"lead_ticket_id": ticket, "customer": {"name": "Dora Dryer", "phone": "+15550104488"},
            "site": {"address": "5 Spin St"}, "problem_summary": "Dryer will not spin", "trade": "appliance"});
        let (st, done, _) = call(&s, "ticket.create", Some(&intake), &complete.to_string(), true).await;
        assert_eq!((st, done["case"]["customer"]["name"].as_str()), (200, Some("Dora Dryer")), "{done}");
        assert_eq!(done["case"]["state"], "intake");
        assert!(s.service.replay().await.expect("replay").mismatches.is_empty());
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn inbound_dedupes_attaches_creates_and_quarantines() {
    for db in each_backend().await {
        let settings = dispatch::ShopSettings { inbound_blocklist: vec!["+15550109999".into()], ..Default::default() };
        let blobs = std::sync::Arc::new(dispatch::LocalBlobStore::new(dispatch::testing::temp_dir()).expect("blobs"));
        let s = start_with(Service::with_settings(db.clone(), blobs, settings)).await;
        let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;

        let (st, first) = inbound(&s, &token, msg("SM1", "(555) 010-4477", "My furnace is out")).await;
        assert_eq!(st, 200, "{first}");
        assert_eq!(first["disposition"], "created");
        assert_eq!(first["case"]["state"], "lead");
        assert_eq!(first["case"]["message_count"], 1);
        let ticket = first["ticket_id"].as_str().expect("ticket").to_string();

        let (_, dup) = inbound(&s, &token, msg("SM1", "(555) 010-4477", "My furnace is out")).await;
        assert_eq!(
            (dup["disposition"].as_str(), dup["ticket_id"].as_str()),
            (Some("duplicate"), Some(ticket.as_str()))
        );
        assert_eq!(dup["message_id"], first["message_id"]);

        let (_, second) = inbound(&s, &token, msg("SM2", "+1 555 010 4477", "Any update?")).await;
        assert_eq!(
            (second["disposition"].as_str(), second["ticket_id"].as_str()),
            (Some("attached"), Some(ticket.as_str()))
        );
        assert_eq!(second["case"]["message_count"], 2);

        for (id, from, text, why) in [
            ("SM3", "+15550104477", "   ", "empty"),
            ("SM4", "+15550104477", &"x".repeat(9_000)[..], "too long"),
            ("SM5", "tg:123456", "hello", "no phone"),
            ("SM6", "+1 555 010 9999", "buy now", "blocked"),
        ] {
            let (st, q) = inbound(&s, &token, msg(id, from, text)).await;
            assert_eq!(st, 200, "{q}");
            assert_eq!(q["disposition"], "quarantined", "{id}: {q}");
            assert!(q["reason"].as_str().is_some_and(|r| r.contains(why)), "{id}: {q}");
            assert!(q["ticket_id"].is_null());
        }
        let raw: String = sqlx::query_scalar("SELECT raw_json FROM inbound_messages WHERE provider_message_id = 'SM2'")
            .fetch_one(db.pool())
            .await
            .expect("raw");
        assert!(raw.contains("MessageSid"), "{raw}");
        let tickets: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(db.pool()).await.expect("count");
        assert_eq!(tickets, 1);

        // A flood from one sender is quarantined after 20 messages in ten minutes.
        let mut last = Value::Null;
        for i in 0..21 {
            let (_, r) = inbound(&s, &token, msg(&format!("F{i}"), "flood@example.com", "hi")).await;
            last = r;
        }
        assert_eq!(last["disposition"], "quarantined", "{last}");

        // Concurrent deliveries of one message: one message on the thread.
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let (base, token) = (s.base.clone(), token.clone());
                tokio::spawn(async move {
                    let res = client()
                        .post(format!("{base}/tools/v1/inbound"))
                        .bearer_auth(token)
                        .json(&msg("C1", "carla@example.com", "Leaking tap"))
                        .send()
                        .await
                        .expect("send");
                    res.json::<Value>().await.unwrap_or(Value::Null)
                })
            })
            .collect();
        let mut tickets = vec![];
        for c in calls {
            let v = c.await.expect("join");
            tickets.push(v["ticket_id"].as_str().unwrap_or_default().to_string());
        }
        assert!(tickets.iter().all(|t| !t.is_empty() && t == &tickets[0]), "{tickets:?}");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE body = 'Leaking tap'")
            .fetch_one(db.pool())
            .await
            .expect("count");
        assert_eq!(n, 1, "{:?}", db.backend());

        let scheduling = s.service.create_token(domain::Role::SchedulingAgent, "sched").await.expect("token").token;
        let (st, b) = inbound(&s, &scheduling, msg("X1", "+15550104477", "hi")).await;
        assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
    }
}

async fn upload(s: &Server, token: &str, bytes: Vec<u8>, name: &str) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = client()
        .post(format!("{}/tools/v1/uploads", s.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("send");
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// Sends `bytes` as the raw request body, named by the query.
async fn upload_raw(s: &Server, token: &str, bytes: Vec<u8>, name: &str) -> (u16, Value) {
    let res = client()
        .post(format!("{}/tools/v1/uploads?filename={name}", s.base))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("send");
    let st = res.status().as_u16();
    (st, res.json().await.unwrap_or(Value::Null))
}

/// The status line and body of a raw upload that declares `length` bytes and sends none.
async fn declared_only(s: &Server, token: &str, length: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /tools/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![];
    let read = tcp.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(30), read).await.expect("answered at once").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn uploads_stream_to_the_blob_store_and_attach_once() {
    use sha2::Digest;
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let liaison = s.service.create_token(domain::Role::TechLiaisonAgent, "liaison").await.expect("token").token;
        let other = s.service.create_token(domain::Role::TechLiaisonAgent, "other").await.expect("token").token;
        // A real PNG of about 3 MiB (noise does not compress).
        let mut seed = 7u32;
        let noise = image::RgbImage::from_fn(1000, 1000, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(seed >> 24) as u8, (seed >> 16) as u8, (seed >> 8) as u8])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(noise)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        let (st, up) = upload(&s, &liaison, png.clone(), "meter.png").await;
        assert_eq!(st, 200, "{up}");
        assert_eq!(up["sha256"], hex::encode(sha2::Sha256::digest(&png)));
        assert_eq!((up["size"].as_u64(), up["content_type"].as_str()), (Some(png.len() as u64), Some("image/png")));

        // A dispatched job to attach it to.
        let ctx = dispatch::CallContext::new(domain::Actor::system("test"));
        let tech = technician(&s.service, "hvac").await;
        let case =
            s.service.create_ticket(&ctx, &serde_json::from_str(GOOD).expect("input")).await.expect("create").case;
        let start_ms = (dispatch::ids::now_ms() / 3_600_000 + 30) * 3_600_000;
        s.service
            .confirm_slot(
                &ctx,
                &domain::ConfirmSlot {
                    ticket_id: case.id.clone(),
                    start_ms,
                    end_ms: start_ms + 3_600_000,
                    technician_id: Some(tech.clone()),
                    reschedule: false,
                    expected_version: None,
                },
            )
            .await
            .expect("confirm");
        s.service
            .assign_tech(
                &ctx,
                &domain::AssignTech { ticket_id: case.id.clone(), technician_id: tech, expected_version: None },
            )
            .await
            .expect("assign");

        let add = json!({"ticket_id": case.id, "kind": "before", "upload_id": up["upload_id"]}).to_string();
        let (st, b, _) = call(&s, "closeout.add_photo", Some(&other), &add, true).await;
        assert_error(st, &b, 400, "INVALID_REQUEST"); // someone else's upload
        let (st, b, _) = call(&s, "closeout.add_photo", Some(&liaison), &add, true).await;
        assert_eq!(st, 200, "{b}");
        let att = &b["case"]["attachments"][0];
        assert_eq!(att["sha256"], up["sha256"]);
        let stored = s.service.blobs().get(att["blob_key"].as_str().expect("key")).await.expect("blob");
        assert_eq!(stored, png);
        let (st, b, _) = call(&s, "closeout.add_photo", Some(&liaison), &add, true).await;
        assert_error(st, &b, 400, "INVALID_REQUEST"); // used once

        // The same file as the raw body: the same hash, named by the query.
        let (st, raw) = upload_raw(&s, &liaison, png.clone(), "meter%20raw.png").await;
        assert_eq!(st, 200, "{raw}");
        assert_eq!((&raw["sha256"], &raw["filename"]), (&up["sha256"], &json!("meter raw.png")));
        assert_ne!(raw["upload_id"], up["upload_id"]);

        let (st, b) = upload(&s, &liaison, b"%PDF-1.7 not a photo".to_vec(), "x.pdf").await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        let (st, b) = upload_raw(&s, &liaison, b"%PDF-1.7 not a photo".to_vec(), "x.pdf").await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert_eq!(b["error"]["details"]["fields"][0]["code"], "unsupported_type");
        let (st, b) = upload_raw(&s, &liaison, vec![], "empty.jpg").await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert_eq!(b["error"]["details"]["fields"][0]["code"], "empty_file");
        // A declared size over the limit is refused before any byte is sent.
        let answer = declared_only(&s, &liaison, 51 * 1024 * 1024).await;
        assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("PAYLOAD_TOO_LARGE"), "{answer}");
        let (st, b) = upload(&s, &liaison, dispatch::testing::padded_jpeg(51 * 1024 * 1024), "huge.jpg").await;
        assert_error(st, &b, 413, "PAYLOAD_TOO_LARGE");
        // Garbage is refused at its first bytes, whatever its size.
        let (st, b) = upload(&s, &liaison, vec![0xFF; 51 * 1024 * 1024], "huge.jpg").await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert_eq!(b["error"]["details"]["fields"][0]["code"], "unsupported_type");
        assert_eq!(
            crate::support::blob_count(&s).await,
            6,
            "only the attached photo and the raw upload, each with its thumbnail and shared copy, are stored"
        );
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let (st, b) = upload(&s, &intake, png.clone(), "meter.png").await;
        assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn conflict_tech_unavailable_and_internal_over_http() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let plumber = technician(&s.service, "plumbing").await;
        let (_, created, _) = call(&s, "ticket.create", Some(&operator), GOOD, true).await;
        let id = created["case"]["id"].as_str().expect("id").to_string();
        let start_ms = (dispatch::ids::now_ms() / 3_600_000 + 30) * 3_600_000;

        // The ticket needs hvac; the plumber cannot take it.
        let confirm =
            json!({"ticket_id": id, "start_ms": start_ms, "end_ms": start_ms + 3_600_000, "technician_id": plumber});
        let (st, b, _) = call(&s, "schedule.confirm", Some(&operator), &confirm.to_string(), true).await;
        assert_error(st, &b, 409, "TECH_UNAVAILABLE");
        assert_eq!(b["error"]["details"]["reason"], "missing_skill");

        // A stale expected_version.
        let stale = json!({"ticket_id": id, "priority": "urgent", "expected_version": 99});
        let (st, b, _) = call(&s, "ticket.set_priority", Some(&operator), &stale.to_string(), true).await;
        assert_error(st, &b, 409, "CONFLICT");

        // The database goes away: INTERNAL, and nothing about it in the message.
        db.close().await;
        let (st, b, _) = call(
            &s,
            "ticket.add_message",
            Some(&operator),
            &json!({"ticket_id": id, "direction": "inbound", "text": "hi"}).to_string(),
            true,
        )
        .await;
        assert_error(st, &b, 500, "INTERNAL");
        let message = b["error"]["message"].as_str().unwrap_or_default().to_lowercase();
        assert!(!message.contains("pool") && !message.contains("sqlx") && !message.contains("closed"), "{message}");
    }
}

#[tokio::test]
async fn a_paused_ticket_answers_agents_409_over_http_until_resumed() {
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let intake = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let operator = s.service.create_token(domain::Role::Operator, "ops").await.expect("token").token;
        let (_, created, _) = call(&s, "ticket.create", Some(&intake), GOOD, true).await;
        let id = created["case"]["id"].as_str().expect("id").to_string();
        let scope = json!({"scope": "ticket", "ticket_id": id, "reason": "VIP: the owner handles it"}).to_string();
        let (st, b, _) = call(&s, "autonomy.pause", Some(&intake), &scope, true).await;
        assert_error(st, &b, 403, "TOOL_NOT_ALLOWED");
        let (st, b, _) = call(&s, "autonomy.pause", Some(&operator), &scope, true).await;
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["pause"]["reason"], "VIP: the owner handles it");

        let priority = json!({"ticket_id": id, "priority": "emergency"}).to_string();
        let (st, b, _) = call(&s, "ticket.set_priority", Some(&intake), &priority, true).await;
        assert_error(st, &b, 409, "AUTONOMY_PAUSED");
        assert_eq!(b["error"]["details"]["reason"], "VIP: the owner handles it", "{b}");
        let summary: Value = get_json(&format!("{}/tools/v1/cases/{id}/summary", s.base), &intake).await;
        assert!(summary["summary"]["text"].as_str().is_some_and(|t| t.contains("Paused")), "{summary}");

        let (st, b, _) = call(&s, "autonomy.resume", Some(&operator), &scope, true).await;
        assert_eq!(st, 200, "{b}");
        let (st, b, _) = call(&s, "ticket.set_priority", Some(&intake), &priority, true).await;
        assert_eq!((st, b["case"]["priority"].as_str()), (200, Some("emergency")), "{b}");
    }
}

/// One agent turn is one trace: the turn's `traceparent` reaches the audit events its calls
/// write as their correlation id (a caller's `X-Correlation-Id` serves when there is none).
#[tokio::test]
async fn a_calls_trace_reaches_its_audit_events() {
    for db in each_backend().await {
        let s = start(db).await;
        let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let send = |traced: bool, correlation: Option<&str>| {
            let mut req = client()
                .post(format!("{}/tools/v1/ticket.create", s.base))
                .bearer_auth(&token)
                .header("idempotency-key", uuid_like())
                .header("content-type", "application/json")
                .body(GOOD);
            if traced {
                req = req.header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"));
            }
            if let Some(c) = correlation {
                req = req.header("x-correlation-id", c);
            }
            req.send()
        };
        for (traced, correlation, expected) in
            [(true, None, trace), (true, Some("call_7"), trace), (false, Some("call_7"), "call_7")]
        {
            let body: Value = send(traced, correlation).await.expect("send").json().await.expect("json");
            let event = body["events"][0].as_str().expect("an event").to_string();
            let events = dispatch::audit::all_events(s.service.db().pool()).await.expect("events");
            let written = events.iter().find(|e| e.id == event).expect("the event");
            assert_eq!(written.correlation_id.as_deref(), Some(expected));
        }
    }
}

#[tokio::test]
async fn the_eta_door_checks_the_booked_window_and_names_its_refusals() {
    for db in each_backend().await {
        let s = start(db).await;
        let liaison = s.service.create_token(domain::Role::TechLiaisonAgent, "liaison").await.expect("token").token;
        let tech = technician(&s.service, "hvac").await;
        let case = crate::support::dispatched_ticket(&s.service, &tech, 0).await;
        let (start_ms, end_ms) = case.appointment.as_ref().map(|a| (a.start_ms, a.end_ms)).expect("booked");
        let id = case.id.as_str();

        // The console's old "minutes from now" is not the tool's input: refused by name.
        let (st, b, _) =
            call(&s, "dispatch.set_eta", Some(&liaison), &json!({"ticket_id": id, "minutes": 45}).to_string(), true)
                .await;
        assert_error(st, &b, 400, "INVALID_REQUEST");
        assert!(b.to_string().contains("minutes"), "{b}");
        // 45 minutes from now, for a job booked two days out: refused, with the window.
        let soon = dispatch::ids::now_ms() + 45 * 60_000;
        let (st, b, _) =
            call(&s, "dispatch.set_eta", Some(&liaison), &json!({"ticket_id": id, "eta_ms": soon}).to_string(), true)
                .await;
        assert_error(st, &b, 409, "ETA_OUTSIDE_WINDOW");
        assert_eq!(b["error"]["details"]["reason"], "before_window", "{b}");
        assert_eq!(b["error"]["details"]["window_start_ms"], start_ms, "{b}");
        // Late without a reason, then with one.
        let late = json!({"ticket_id": id, "eta_ms": end_ms + 20 * 60_000});
        let (st, b, _) = call(&s, "dispatch.set_eta", Some(&liaison), &late.to_string(), true).await;
        assert_error(st, &b, 409, "ETA_OUTSIDE_WINDOW");
        assert_eq!(b["error"]["details"]["reason"], "after_window", "{b}");
        let v = post_ok(
            &s,
            "dispatch.set_eta",
            &liaison,
            json!({"ticket_id": id, "eta_ms": end_ms + 20 * 60_000, "late_reason": "stuck behind a road closure"}),
        )
        .await;
        assert_eq!(v["case"]["eta"]["late_reason"], "stuck behind a road closure", "{v}");
        let doc: Value =
            client().get(format!("{}/openapi.json", s.base)).send().await.expect("get").json().await.expect("json");
        let schema = &doc["components"]["schemas"]["SetEta"]["properties"];
        assert!(schema["late_reason"].is_object() && schema["eta_ms"].is_object(), "{schema}");
    }
}
