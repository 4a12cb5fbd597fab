//! Slow and stalling clients over real TCP: headers that never end, bodies that trickle or
//! stop, a flood of slow connections, and the slow-but-steady upload that must still succeed.
//! The limits are short here so the tests run fast; each assertion says "cut" or "answered"
//! with bounds far above the limit, so a busy machine does not fail them.

use crate::support::{account, dispatched_ticket, start_until, start_with_limits, system, technician, Browser, Server};
use dispatch::testing::{padded_jpeg, service, sqlite_db};
use domain::commands::TicketRef;
use domain::Role;
use real_dispatch::limits::Limits;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far above any limit below: an answer later than this is no answer.
const PATIENCE: Duration = Duration::from_secs(60);

fn short_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        upload_min_bytes_per_sec: 256,
        upload_rate_window: Duration::from_secs(2),
        max_connections: 512,
    }
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// What came back on a connection, and how much of the body was sent before it closed.
struct Answer {
    status: u16,
    headers: String,
    body: Value,
    sent: usize,
}

/// Sends `head`, then `body` in `chunk`-byte pieces `every` apart while reading the answer,
/// and stops sending once the server has closed the connection.
async fn send_slowly(s: &Server, head: &[u8], body: &[u8], chunk: usize, every: Duration) -> Answer {
    let tcp = TcpStream::connect(addr(s)).await.expect("connect");
    let (mut rd, mut wr) = tcp.into_split();
    let reader = tokio::spawn(async move {
        let mut answer = vec![];
        // A reset after the answer (bytes the server never read) keeps what was read.
        let _ = rd.read_to_end(&mut answer).await;
        answer
    });
    let exchange = async {
        wr.write_all(head).await.expect("head");
        let mut sent = 0;
        for piece in body.chunks(chunk) {
            tokio::time::sleep(every).await;
            if reader.is_finished() || wr.write_all(piece).await.is_err() {
                break;
            }
            sent += piece.len();
        }
        (reader.await.expect("reader"), sent)
    };
    let (raw, sent) = tokio::time::timeout(PATIENCE, exchange).await.expect("the server answered");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let status = headers.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Answer {
        status,
        headers: headers.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        sent,
    }
}

/// The 408 every cut request gets: the API's error body, its request id, and a closed connection.
fn assert_cut(a: &Answer, why: &str) {
    assert_eq!(a.status, 408, "{} {}", a.headers, a.body);
    assert_eq!(a.body["error"]["code"], "REQUEST_TIMEOUT", "{}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "{message}");
    let rid = a.body["error"]["request_id"].as_str().unwrap_or_default();
    assert!(rid.len() > 8 && a.headers.contains(&format!("x-request-id: {rid}")), "{}\n{}", a.headers, a.body);
    assert!(a.headers.contains("connection: close"), "{}", a.headers);
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed_within_the_header_timeout() {
    let s = start_with_limits(service(sqlite_db().await), short_limits()).await;
    let tcp = TcpStream::connect(addr(&s)).await.expect("connect");
    let (mut rd, mut wr) = tcp.into_split();
    let reader = tokio::spawn(async move {
        let mut answer = vec![];
        let _ = rd.read_to_end(&mut answer).await;
        answer
    });
    // A header that grows a byte at a time and never ends: each byte is progress, but the
    // timeout is for the whole head.
    let started = Instant::now();
    wr.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    let drip = async {
        while !reader.is_finished() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if wr.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(PATIENCE, drip).await.expect("the connection was closed");
    let answer = reader.await.expect("reader");
    assert!(answer.is_empty(), "no request was read, so none is answered: {}", String::from_utf8_lossy(&answer));
    assert!(started.elapsed() >= Duration::from_secs(1), "closed by the timeout, not at once");

    // The server still answers a client that sends its request whole.
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn an_upload_trickling_a_byte_a_second_is_cut_with_408() {
    let s = start_with_limits(service(sqlite_db().await), short_limits()).await;
    let token = s.service.create_token(Role::TechLiaisonAgent, "liaison").await.expect("token").token;
    let photo = padded_jpeg(140_000);
    let head = format!(
        "POST /tools/v1/uploads?filename=slow.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        photo.len()
    );
    // Never idle for the 2 s idle timeout, far below 256 bytes a second.
    let a = send_slowly(&s, head.as_bytes(), &photo, 1, Duration::from_secs(1)).await;
    assert_cut(&a, "slower than 256 bytes a second over 2 s; send the file again");
    assert!(a.sent < 100, "cut after {} bytes", a.sent);

    // The same as the multipart field the web app and most clients send.
    let part = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.jpg\"\r\n\
Content-Type: image/jpeg\r\n\r\n";
    let end = b"\r\n--b0undary--\r\n";
    let mut head = format!(
        "POST /tools/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        part.len() + photo.len() + end.len()
    )
    .into_bytes();
    head.extend_from_slice(part);
    let mut rest = photo.clone();
    rest.extend_from_slice(end);
    let a = send_slowly(&s, &head, &rest, 1, Duration::from_secs(1)).await;
    assert_cut(&a, "slower than 256 bytes a second over 2 s; send the file again");
    assert_eq!(crate::support::blob_count(&s).await, 0, "nothing of a cut upload is kept");
}

#[tokio::test]
async fn a_stalled_or_dragging_request_elsewhere_is_cut_with_408() {
    let limits = Limits { request_timeout: Duration::from_secs(4), ..short_limits() };
    let s = start_with_limits(service(sqlite_db().await), limits).await;
    let token = s.service.create_token(Role::Operator, "ops").await.expect("token").token;
    let body = serde_json::json!({
        "customer": {"name": "Ana Ruiz", "phone": "555-010-4477"},
        "site": {"address": "12 Elm St"}, "problem_summary": "No heat", "trade": "hvac"
    })
    .to_string();
    let head = format!(
        "POST /tools/v1/ticket.create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: 7f0c1c55-2b0f-4a51-9a57-3c1c0d5d8e01\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // Ten bytes, then nothing: the body idle timeout (2 s).
    let (start, _) = body.as_bytes().split_at(10);
    let stalled = format!("{head}{}", String::from_utf8_lossy(start));
    let a = send_slowly(&s, stalled.as_bytes(), &[], 1, Duration::ZERO).await;
    assert_cut(&a, "no part of the request body arrived for 2 s");

    // A byte every 300 ms is never idle, but the call is not done within the 4 s a request
    // other than an upload gets.
    let a = send_slowly(&s, head.as_bytes(), body.as_bytes(), 1, Duration::from_millis(300)).await;
    assert_cut(&a, "longer than 4 s");
    assert!(a.sent < body.len(), "cut before the body was whole");
    assert!(s.service.db().ping().await.is_ok());
}

/// An operator signed in (before any flood).
async fn operator(s: &Server) -> Browser {
    let email = "ops@example.com";
    account(s, email, Role::Operator, None, None).await;
    let mut b = Browser::new(s);
    assert_eq!(b.login(email, "correct horse battery").await.status, 200);
    b
}

/// 250 anonymous connections that each start a request and never finish its headers.
async fn slow_flood(s: &Server) -> Vec<TcpStream> {
    let mut flood = Vec::new();
    for _ in 0..250 {
        let mut tcp = TcpStream::connect(addr(s)).await.expect("connect");
        tcp.write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n").await.expect("write");
        flood.push(tcp);
    }
    flood
}

#[tokio::test]
async fn slow_anonymous_connections_do_not_starve_health_or_signed_in_users() {
    // The default cap is far above 250: health and a signed-in page answer while every slow
    // connection is still open (its headers have a minute here).
    let limits = Limits { header_read_timeout: Duration::from_secs(60), ..short_limits() };
    let s = start_with_limits(service(sqlite_db().await), limits).await;
    let mut ops = operator(&s).await;
    let mut flood = slow_flood(&s).await;
    let mut anyone = Browser::new(&s);
    assert_eq!(anyone.get("/healthz").await.status, 200);
    assert_eq!(ops.get("/console").await.status, 200);
    let mut still_open = 0;
    for tcp in &mut flood {
        // A closed connection reads at once; an open one that was never answered has nothing.
        let mut buf = [0u8; 1];
        if tokio::time::timeout(Duration::from_millis(10), tcp.read(&mut buf)).await.is_err() {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 250, "answered beside the slow connections, not after them");
    drop(flood);

    // With more slow connections than the cap (100), new connections wait for a slot; the
    // header timeout (2 s) cuts the slow ones, so health and the signed-in user still answer.
    let limits = Limits { header_read_timeout: Duration::from_secs(2), max_connections: 100, ..short_limits() };
    let s = start_with_limits(service(sqlite_db().await), limits).await;
    let mut ops = operator(&s).await;
    let started = Instant::now();
    let mut flood = slow_flood(&s).await;
    let mut anyone = Browser::new(&s);
    let health = tokio::time::timeout(PATIENCE, anyone.get("/healthz")).await.expect("health answered");
    assert_eq!(health.status, 200);
    // The 251st connection waited for two rounds of slow ones to be cut: the cap held.
    assert!(started.elapsed() >= Duration::from_secs(2), "answered after {:?}", started.elapsed());
    let page = tokio::time::timeout(PATIENCE, ops.get("/console")).await.expect("page answered");
    assert_eq!(page.status, 200);
    for tcp in &mut flood {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(PATIENCE, tcp.read(&mut buf)).await.expect("slow connection closed");
        assert!(matches!(read, Ok(0) | Err(_)), "a slow connection got an answer: {read:?}");
    }
}

#[tokio::test]
async fn a_slow_but_steady_upload_from_a_technician_succeeds() {
    // Uploads have no total cap: this one takes several times the 2 s request timeout.
    let limits = Limits {
        body_idle_timeout: Duration::from_secs(5),
        upload_min_bytes_per_sec: 256,
        upload_rate_window: Duration::from_secs(4),
        ..short_limits()
    };
    let s = start_with_limits(service(sqlite_db().await), limits).await;
    let tech = technician(&s.service, "hvac").await;
    let email = format!("{tech}@example.com");
    account(&s, &email, Role::Technician, Some(&tech), None).await;
    let job = dispatched_ticket(&s.service, &tech, 0).await;
    s.service
        .check_in(&system(), &TicketRef { ticket_id: job.id.clone(), expected_version: None })
        .await
        .expect("check in");
    let mut b = Browser::new(&s);
    assert_eq!(b.login(&email, "correct horse battery").await.status, 200);
    let cookie = b.cookie.clone().expect("session");

    let photo = padded_jpeg(140_000);
    let head = format!(
        "POST /app/jobs/{}/photos?kind=before&filename=slow.jpg HTTP/1.1\r\nHost: x\r\n\
         Cookie: rd_session={cookie}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: image/jpeg\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        job.id,
        photo.len()
    );
    let started = Instant::now();
    // 4 KiB every 200 ms: about 20 KiB a second, a phone on a poor link.
    let a = send_slowly(&s, head.as_bytes(), &photo, 4096, Duration::from_millis(200)).await;
    assert_eq!(a.status, 200, "{} {}", a.headers, a.body);
    assert_eq!(a.sent, photo.len());
    assert!(a.body["attachment_id"].is_string(), "{}", a.body);
    assert!(started.elapsed() > Duration::from_secs(2), "longer than the request timeout");
}

#[tokio::test]
async fn shutting_down_finishes_the_upload_in_flight_then_stops() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = Limits { header_read_timeout: Duration::from_secs(30), ..short_limits() };
    let signal = async {
        let _ = stopped.await;
    };
    let (s, serving) = start_until(service(sqlite_db().await), limits, signal).await;
    let token = s.service.create_token(Role::TechLiaisonAgent, "liaison").await.expect("token").token;
    // An idle connection does not hold the shutdown up (its headers would have 30 s).
    let mut idle = TcpStream::connect(addr(&s)).await.expect("connect");
    let photo = padded_jpeg(140_000);
    let head = format!(
        "POST /tools/v1/uploads?filename=late.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        photo.len()
    );
    let upload = {
        let s = Server { base: s.base.clone(), service: s.service.clone() };
        tokio::spawn(async move { send_slowly(&s, head.as_bytes(), &photo, 8192, Duration::from_millis(100)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).expect("server running");
    let a = tokio::time::timeout(PATIENCE, upload).await.expect("upload answered").expect("upload task");
    assert_eq!(a.status, 200, "{} {}", a.headers, a.body);
    assert!(a.body["upload_id"].is_string(), "{}", a.body);
    assert!(a.headers.contains("connection: close"), "the shutdown reached it mid-request: {}", a.headers);
    let served = tokio::time::timeout(PATIENCE, serving).await.expect("the server stopped").expect("server task");
    assert!(served.is_ok(), "{served:?}");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, idle.read(&mut buf)).await.expect("the idle connection was closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(TcpStream::connect(addr(&s)).await.is_err(), "no longer listening");
}
