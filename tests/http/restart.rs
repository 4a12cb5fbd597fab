//! A rolling restart: two instances on one PostgreSQL database behind a balancer that follows
//! their readiness, under steady load; one instance gets SIGTERM, leaves, and comes back. No
//! call fails, none is cut mid-request, and every acknowledged call is applied exactly once.

use crate::support::process::{cli, free_port, serve, Instance};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the balancer in front of the two instances knows: their addresses and which answer
/// `/readyz` with 200.
struct Balancer {
    bases: [String; 2],
    ready: [AtomicBool; 2],
    next: AtomicUsize,
}

impl Balancer {
    fn pick(&self, avoid: Option<usize>) -> usize {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..2)
            .map(|i| (start + i) % 2)
            .find(|&i| Some(i) != avoid && self.ready[i].load(Ordering::Relaxed))
            .unwrap_or(start % 2)
    }
}

#[derive(Default)]
struct Tally {
    acknowledged: Vec<String>,
    /// Answers other than 200 that the balancer could not take elsewhere.
    failed: Vec<String>,
    /// Requests sent and then cut (the connection died before the answer).
    cut: Vec<String>,
    /// Connections refused (the balancer tries the other instance).
    refused: usize,
}

async fn call(http: &reqwest::Client, lb: &Balancer, token: &str, ticket: &str, key: &str, tally: &Mutex<Tally>) {
    let mut avoid = None;
    for _ in 0..20 {
        let i = lb.pick(avoid);
        let sent = http
            .post(format!("{}/tools/v1/ticket.add_message", lb.bases[i]))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({"ticket_id": ticket, "direction": "inbound", "text": format!("load {key}")}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tally.lock().expect("tally").acknowledged.push(key.to_string());
                return;
            }
            // Readiness not seen yet: the instance said so itself; go elsewhere.
            Ok(r) if r.status().as_u16() == 503 => avoid = Some(i),
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                tally.lock().expect("tally").failed.push(format!("{key}: {status} {body}"));
                return;
            }
            Err(e) if e.is_connect() => {
                tally.lock().expect("tally").refused += 1;
                avoid = Some(i);
            }
            Err(e) => {
                // Cut mid-request: retried with the same key, but counted.
                tally.lock().expect("tally").cut.push(format!("{key}: {e}"));
                avoid = Some(i);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tally.lock().expect("tally").failed.push(format!("{key}: no instance took it"));
}

#[tokio::test]
async fn a_rolling_restart_of_one_of_two_instances_fails_no_call() {
    let url = dispatch::testing::postgres_url().await;
    let key = "5e".repeat(32);
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("RD_AUDIT_KEY", key.as_str()),
        ("RD_DRAIN_NOTICE_SECS", "1"),
        ("RD_TOOL_RATE_PER_MINUTE", "1000000"),
    ];
    let (dir_a, dir_b) = (dispatch::testing::temp_dir(), dispatch::testing::temp_dir());
    cli(&dir_a, &env, &["migrate"]);
    let token = cli(&dir_a, &env, &["token", "create", "--role", "intake_agent", "--name", "load"]);
    let token = token.lines().last().expect("token").trim().to_string();
    let port_a = free_port();
    let mut a: Option<Instance> = Some(serve(&dir_a, &env, port_a).await);
    let b = serve(&dir_b, &env, free_port()).await;

    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    // One ticket per worker: the load is about the restart, not about writers racing on a ticket.
    let mut tickets = vec![];
    for w in 0..6 {
        let created: Value = http
            .post(format!("{}/tools/v1/ticket.create", b.base))
            .bearer_auth(&token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({"customer": {"name": format!("Rolling Restart {w}"), "phone": format!("+1312555017{w}")}, "problem_summary": "Load"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        tickets.push(created["case"]["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string());
    }

    let lb = Arc::new(Balancer {
        bases: [a.as_ref().map(|a| a.base.clone()).unwrap_or_default(), b.base.clone()],
        ready: [AtomicBool::new(true), AtomicBool::new(true)],
        next: AtomicUsize::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    // The balancer's readiness checks, every 100 ms.
    let probe = {
        let (lb, stop, http) = (lb.clone(), stop.clone(), http.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for i in 0..2 {
                    let r = http.get(format!("{}/readyz", lb.bases[i])).timeout(Duration::from_secs(1)).send().await;
                    lb.ready[i].store(r.is_ok_and(|r| r.status().is_success()), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (lb, stop, http, tally, token, ticket) =
                (lb.clone(), stop.clone(), http.clone(), tally.clone(), token.clone(), tickets[w].clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    call(&http, &lb, &token, &ticket, &uuid::Uuid::new_v4().to_string(), &tally).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    // The restart: SIGTERM, a clean exit, and the instance back on its port.
    let mut leaving = a.take().expect("instance a");
    let pid = leaving.child.id().to_string();
    let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(sent.success());
    let mut exited = None;
    for _ in 0..600 {
        if let Some(status) = leaving.child.try_wait().expect("wait") {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.expect("the instance left within 30 s");
    assert!(status.success(), "a drained instance exits cleanly: {status}");
    drop(leaving);
    let back = serve(&dir_a, &env, port_a).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    probe.await.expect("probe");

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    println!(
        "rolling restart: {} calls acknowledged, {} refused connections retried elsewhere, {} cut, {} failed",
        tally.acknowledged.len(),
        tally.refused,
        tally.cut.len(),
        tally.failed.len()
    );
    assert!(tally.failed.is_empty(), "failed calls: {:?}", &tally.failed[..tally.failed.len().min(5)]);
    assert!(tally.acknowledged.len() > 100, "the load ran: {}", tally.acknowledged.len());
    assert!(tally.failed.is_empty(), "failed calls: {:?}", &tally.failed[..tally.failed.len().min(5)]);
    assert!(tally.cut.is_empty(), "calls cut mid-request: {:?}", &tally.cut[..tally.cut.len().min(5)]);
    assert_eq!(tally.refused, 0, "the balancer learnt from readiness before the instance stopped accepting");

    // Every acknowledged call is applied exactly once.
    let db = dispatch::Db::connect(&url).await.expect("db");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE body LIKE 'load %'")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(stored as usize, tally.acknowledged.len());
    drop(back);
}
