//! Clients that give up mid-request, and a database that allows fewer connections than the
//! server would like: every action still runs to its commit or its rollback, no connection
//! goes back to the pool inside a transaction, and a caller who cannot get a connection in
//! time is told BUSY (503 with Retry-After) instead of waiting 10 s for an internal error.

use crate::support::{start_with_rate, Server};
use dispatch::testing::{pg_admin_url, service, sqlite_db};
use dispatch::Db;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Requests cut short in the storm; each is then sent again, whole, with the same key.
const CALLS: usize = 300;
/// Requests in flight at once during the storm: no more than the pool has connections, so a
/// call spends its time in its statements rather than queueing for a connection.
const AT_ONCE: usize = 4;
/// Calls per round (see below).
const ROUND: usize = AT_ONCE;
/// Far above any answer the server should give, but below the 10 s stalls this guards against.
const PROMPT: Duration = Duration::from_secs(5);

/// A small xorshift generator: the cut points differ between runs, and a failing run prints
/// its seed.
struct Cuts(u64);

impl Cuts {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(1);
    (nanos as u64) | 1
}

struct Call {
    tool: &'static str,
    body: String,
    key: String,
}

/// What one call came back with: its status, headers and body, or nothing (cut short).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

async fn send(
    http: &reqwest::Client,
    s: &Server,
    token: &str,
    call: &Call,
    timeout: Duration,
) -> Result<Answer, reqwest::Error> {
    let started = Instant::now();
    let res = http
        .post(format!("{}/tools/v1/{}", s.base, call.tool))
        .bearer_auth(token)
        .header("idempotency-key", &call.key)
        .header("content-type", "application/json")
        .body(call.body.clone())
        .timeout(timeout)
        .send()
        .await?;
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = res.json::<Value>().await?;
    Ok(Answer { status, retry_after, body, took: started.elapsed() })
}

fn create_body(tag: &str) -> String {
    json!({
        "customer": {"name": format!("Client {tag}"), "phone": crate::support::phone_of(tag)},
        "site": {"address": "12 Elm St"},
        "problem_summary": tag,
        "trade": "hvac",
    })
    .to_string()
}

async fn count(db: &Db, sql: &str) -> i64 {
    let row = sqlx::query(sql).fetch_one(db.pool()).await.expect("count");
    sqlx::Row::get::<i64, _>(&row, 0)
}

/// `host:port` of a database URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    rest.split_once('/').map_or(rest, |(h, _)| h)
}

/// A fresh PostgreSQL database reached through a relay that holds each of the server's answers
/// back `delay`, as a database on another host would: every round trip takes that long, so a
/// call cut at a random point is often cut while it waits on one (its BEGIN among them).
async fn postgres_db_at_a_distance(delay: Duration) -> Db {
    let admin_url = pg_admin_url();
    let admin = Db::connect(&admin_url).await.expect("PostgreSQL for tests");
    let name = format!("rdtest_{}", uuid::Uuid::new_v4().simple());
    admin.create_database(&name).await.expect("create test database");
    admin.close().await;
    let at = relay(host_of(&admin_url).to_string(), delay).await;
    let url = admin_url.replacen(host_of(&admin_url), &at.to_string(), 1);
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    // The relay is on this machine; TLS through it would only add handshakes.
    let db = Db::connect(&format!("{base}/{name}?sslmode=disable")).await.expect("connect through the relay");
    db.migrate().await.expect("migrate postgres");
    db
}

/// Connections of this database, other than the one asking, left inside a transaction for
/// over half a second (PostgreSQL).
async fn idle_in_transaction(db: &Db) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state LIKE 'idle in transaction%' AND state_change < now() - interval '500 milliseconds'",
    )
    .await
}

/// Waits (a few seconds at most) until no pooled connection is lent out: the work of the
/// calls cut short has ended.
async fn settle(db: &Db) {
    let deadline = Instant::now() + PROMPT;
    while db.pool().size() as usize > db.pool().num_idle() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Of `n` connections borrowed at once from the pool, those handed out inside a transaction
/// (PostgreSQL): in a transaction begun earlier, `now()` is its start, not this statement's.
async fn handed_out_in_transaction(db: &Db, n: u32) -> i64 {
    let mut held = vec![];
    let mut inside = 0;
    for _ in 0..n {
        let Ok(mut conn) = db.pool().acquire().await else { break };
        // Sent as a simple query, so that outside a transaction this statement is its own.
        let row = sqlx::Executor::fetch_one(&mut *conn, "SELECT now() <> statement_timestamp() AS inside").await;
        if row.is_ok_and(|r| sqlx::Row::get::<bool, _>(&r, "inside")) {
            inside += 1;
        }
        held.push(conn);
    }
    inside
}

/// Lock requests of this database still waiting (PostgreSQL).
async fn lock_waits(db: &Db) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE NOT l.granted AND a.datname = current_database()",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_at_random_points_are_applied_once_and_leave_no_transaction_open() {
    let seed = seed();
    eprintln!("cut points seeded with {seed}");
    let mut cuts = Cuts(seed);
    for db in [sqlite_db().await, postgres_db_at_a_distance(Duration::from_millis(2)).await] {
        let pg = db.backend() == dispatch::db::Backend::Postgres;
        let s = start_with_rate(service(db.clone()), Some(1_000_000)).await;
        let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
        let http = reqwest::Client::new();
        let first = Call { tool: "ticket.create", body: create_body("shared"), key: uuid::Uuid::new_v4().to_string() };
        let shared = send(&http, &s, &token, &first, PROMPT).await.expect("shared ticket");
        assert_eq!(shared.status, 200, "{}", shared.body);
        let shared_id = shared.body["case"]["id"].as_str().expect("id").to_string();

        // Half of the calls make tickets, half write to one ticket (its row lock, the audit
        // chain's head): a transaction nobody owns would hold up everything after it.
        let calls: Vec<Call> = (0..CALLS)
            .map(|i| {
                let body = if i % 2 == 0 {
                    create_body(&format!("cut {i}"))
                } else {
                    json!({"ticket_id": shared_id, "direction": "inbound", "text": format!("cut {i}")}).to_string()
                };
                let tool = if i % 2 == 0 { "ticket.create" } else { "ticket.add_message" };
                Call { tool, body, key: uuid::Uuid::new_v4().to_string() }
            })
            .collect();
        // How long a call takes here with as many in flight (a debug build on a busy machine
        // is many times slower than a release build): the cuts are spread over twice that, so
        // a call is cut before it is read, in the middle of its transaction, while it commits,
        // or not at all.
        let mut warm = vec![];
        for j in 0..AT_ONCE {
            let (http, token, base, service) = (http.clone(), token.clone(), s.base.clone(), s.service.clone());
            warm.push(tokio::spawn(async move {
                let call = Call {
                    tool: "ticket.create",
                    body: create_body(&format!("warm {j}")),
                    key: uuid::Uuid::new_v4().to_string(),
                };
                let a = send(&http, &Server { base, service }, &token, &call, PROMPT).await.expect("a warm-up call");
                assert_eq!(a.status, 200, "{}", a.body);
                a.took
            }));
        }
        let mut took = vec![];
        for w in warm {
            took.push(w.await.expect("warm-up"));
        }
        took.sort();
        let typical = took[took.len() / 2];
        let spread = u64::try_from(typical.as_micros()).unwrap_or(u64::MAX).max(1_000);
        eprintln!("{}: {AT_ONCE} calls at once take {typical:?}; cuts within {spread} µs", db.backend().as_str());
        let limits: Vec<Duration> = (0..CALLS).map(|_| Duration::from_micros(cuts.next(spread))).collect();
        // The calls go in rounds of a few at once. After each round, once the work it left
        // behind is done, every pooled connection is borrowed and looked at: one inside a
        // transaction that nobody began came back from a call that was cut short (traffic
        // would hide it: the next writer's COMMIT ends the stray transaction with its own).
        let calls = std::sync::Arc::new(calls);
        let mut acknowledged = std::collections::HashMap::new();
        let mut handed_out_inside = 0;
        for round in (0..CALLS).step_by(ROUND) {
            let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(round));
            let end = (round + ROUND).min(CALLS);
            let mut workers = vec![];
            for _ in 0..AT_ONCE {
                let (calls, next, http, token, limits) =
                    (calls.clone(), next.clone(), http.clone(), token.clone(), limits.clone());
                let (base, service) = (s.base.clone(), s.service.clone());
                workers.push(tokio::spawn(async move {
                    let s = Server { base, service };
                    let mut answered = vec![];
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        if let Ok(a) = send(&http, &s, &token, &calls[i], limits[i]).await {
                            answered.push((i, a));
                        }
                    }
                    answered
                }));
            }
            for w in workers {
                for (i, a) in w.await.expect("worker") {
                    assert!(a.status < 500 || a.status == 503, "call {i}: {} {}", a.status, a.body);
                    if a.status == 200 {
                        acknowledged.insert(i, a.body);
                    }
                }
            }
            settle(&db).await;
            if pg {
                handed_out_inside += handed_out_in_transaction(&db, db.pool().options().get_max_connections()).await;
            }
        }
        assert_eq!(handed_out_inside, 0, "pooled connections handed out inside a transaction after cut requests");
        let cut = CALLS - acknowledged.len();
        eprintln!("{}: {} acknowledged, {cut} cut or refused", db.backend().as_str(), acknowledged.len());
        assert!(cut >= CALLS / 10, "too few calls were cut ({cut}) for this test to mean anything");

        if pg {
            // Work the cut requests left behind ends within moments; a connection still inside
            // a transaction after that belongs to nobody.
            let deadline = Instant::now() + PROMPT;
            let mut stranded = idle_in_transaction(&db).await;
            while stranded > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
                stranded = idle_in_transaction(&db).await;
            }
            assert_eq!(stranded, 0, "connections left idle in a transaction after the cut requests");
            assert_eq!(lock_waits(&db).await, 0, "lock waits after the cut requests");
        }

        // Every call again, whole, with its key: each is applied now or answers as it did.
        for (i, call) in calls.iter().enumerate() {
            let a = send(&http, &s, &token, call, Duration::from_secs(30)).await.expect("a whole call is answered");
            assert_eq!(a.status, 200, "call {i} sent again: {}", a.body);
            assert!(a.took < PROMPT, "call {i} sent again took {:?}", a.took);
            if let Some(before) = acknowledged.get(&i) {
                assert_eq!(a.body["case"]["id"], before["case"]["id"], "call {i}");
                assert_eq!(a.body["events"], before["events"], "call {i}: the same action, not a second one");
            }
        }
        let creates = count(&db, "SELECT COUNT(*) FROM tickets WHERE problem_summary LIKE 'cut %'").await;
        assert_eq!(creates, (CALLS as i64 + 1) / 2, "each ticket.create applied exactly once");
        let distinct =
            count(&db, "SELECT COUNT(DISTINCT problem_summary) FROM tickets WHERE problem_summary LIKE 'cut %'").await;
        assert_eq!(distinct, creates);
        let messages = count(&db, "SELECT COUNT(*) FROM messages WHERE body LIKE 'cut %'").await;
        assert_eq!(messages, CALLS as i64 / 2, "each ticket.add_message applied exactly once");
        let keys = count(&db, "SELECT COUNT(*) FROM idempotency_keys WHERE response_json IS NOT NULL").await;
        assert_eq!(keys, (CALLS + AT_ONCE + 1) as i64, "every key holds its one answer");
        if pg {
            assert_eq!(idle_in_transaction(&db).await, 0);
            assert_eq!(lock_waits(&db).await, 0);
        }
    }
}

/// `admin`'s server, as `role` (no password: the test server trusts local connections) on the
/// database of the same name.
fn role_url(admin: &str, role: &str) -> String {
    let (scheme, rest) = admin.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = host.split_once('/').map_or(host, |(h, _)| h);
    format!("{scheme}://{role}@{host}/{role}")
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Answer {
    let started = Instant::now();
    let res = http.get(url).bearer_auth(token).timeout(Duration::from_secs(30)).send().await.expect("answered");
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Answer { status, retry_after, body, took: started.elapsed() }
}

/// OK, or BUSY with the time to come back; anything else, or a slow answer, fails.
fn assert_ok_or_busy(a: &Answer, what: &str) -> bool {
    assert!(a.took < PROMPT, "{what} took {:?}", a.took);
    if a.status == 503 {
        assert_eq!(a.body["error"]["code"], "BUSY", "{what}: {}", a.body);
        assert!(a.retry_after.as_deref().is_some_and(|s| s.parse::<u64>().is_ok()), "{what}: no Retry-After");
        return false;
    }
    assert!((200..300).contains(&a.status), "{what}: {} {}", a.status, a.body);
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_for_four_clients_answer_ok_or_busy_never_stall() {
    let admin = Db::connect(&pg_admin_url()).await.expect("PostgreSQL for tests");
    let name = format!("rdtight_{}", uuid::Uuid::new_v4().simple());
    for sql in [format!("CREATE ROLE {name} LOGIN CONNECTION LIMIT 2"), format!("CREATE DATABASE {name} OWNER {name}")]
    {
        sqlx::query(&sql).execute(admin.pool()).await.expect(&sql);
    }
    let db = Db::connect(&role_url(&pg_admin_url(), &name)).await.expect("a pool that fits the role's limit");
    let max = db.pool().options().get_max_connections();
    assert_eq!(max, 2, "the pool is cut to the two connections the role may open");
    db.migrate().await.expect("migrate");
    let s = start_with_rate(service(db.clone()), Some(1_000_000)).await;
    let token = s.service.create_token(domain::Role::IntakeAgent, "intake").await.expect("token").token;
    let http = reqwest::Client::new();
    // One ticket per client: clients writing to one ticket would also hear CONFLICT.
    let mut tickets = vec![];
    for c in 0..4 {
        let call = Call {
            tool: "ticket.create",
            body: create_body(&format!("tight {c}")),
            key: uuid::Uuid::new_v4().to_string(),
        };
        let created = send(&http, &s, &token, &call, PROMPT).await.expect("ticket");
        assert_eq!(created.status, 200, "{}", created.body);
        tickets.push(created.body["case"]["id"].as_str().expect("id").to_string());
    }
    let id = tickets[0].clone();

    // Four light clients, each reading the case and adding a message in turn.
    let started = Instant::now();
    let mut clients = vec![];
    for (c, id) in tickets.iter().cloned().enumerate() {
        let (http, token, base) = (http.clone(), token.clone(), s.base.clone());
        let service = s.service.clone();
        clients.push(tokio::spawn(async move {
            let s = Server { base, service };
            let (mut ok, mut busy) = (0, 0);
            for i in 0..20 {
                let read = get(&http, &format!("{}/tools/v1/cases/{id}", s.base), &token).await;
                let text = format!("client {c} message {i}");
                let body = json!({"ticket_id": id, "direction": "inbound", "text": text}).to_string();
                let call = Call { tool: "ticket.add_message", body, key: uuid::Uuid::new_v4().to_string() };
                let write = send(&http, &s, &token, &call, Duration::from_secs(30)).await.expect("answered");
                for (a, what) in [(read, "read"), (write, "write")] {
                    if assert_ok_or_busy(&a, &format!("client {c} {what} {i}")) {
                        ok += 1;
                    } else {
                        busy += 1;
                    }
                }
            }
            (ok, busy)
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for c in clients {
        let (o, b) = c.await.expect("client");
        ok += o;
        busy += b;
    }
    eprintln!("four clients on two connections: {ok} answered, {busy} busy, in {:?}", started.elapsed());
    assert!(ok > busy, "most light calls are served ({ok} ok, {busy} busy)");

    // Both connections lent out elsewhere: the next caller hears BUSY after the acquire
    // timeout, and readiness says why.
    let held = (db.pool().acquire().await.expect("one"), db.pool().acquire().await.expect("two"));
    let read = get(&http, &format!("{}/tools/v1/cases/{id}", s.base), &token).await;
    assert_eq!(read.status, 503, "{}", read.body);
    assert!(!assert_ok_or_busy(&read, "read while saturated"));
    let ready = get(&http, &format!("{}/readyz", s.base), &token).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["database"], "saturated", "{}", ready.body);
    assert_eq!(ready.body["pool"]["in_use"], 2, "{}", ready.body);
    assert!(ready.retry_after.is_some());
    drop(held);
    // A connection given back reaches the pool on a task of its own.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = get(&http, &format!("{}/readyz", s.base), &token).await;
    assert_eq!(ready.status, 200, "{}", ready.body);

    db.close().await;
    for sql in [format!("DROP DATABASE {name} WITH (FORCE)"), format!("DROP ROLE {name}")] {
        sqlx::query(&sql).execute(admin.pool()).await.expect(&sql);
    }
    admin.close().await;
}

/// A TCP relay on a loopback port to `target`, holding each of the server's answers back
/// `delay`.
async fn relay(target: String, delay: Duration) -> std::net::SocketAddr {
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let at = relay.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((client, _)) = relay.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else { continue };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut from_client, &mut to_server).await });
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                    tokio::time::sleep(delay).await;
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    at
}
