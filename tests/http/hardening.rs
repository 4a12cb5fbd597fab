//! An attacker's probes, each the test of the rule that closes a whole family: uploads are
//! authorized before their body is read, files do not reveal which tickets exist, and a file
//! downloads under a name that matches what it is.

use crate::support::{account, dispatched_ticket, start, system, technician, Browser, Server};
use dispatch::testing::{each_backend, small_png};
use domain::commands::TicketRef;
use domain::{CreateTicket, NewCustomer, Role};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends the head of an upload that announces 10 MiB, then 1 KiB of it, and waits for an
/// answer without ever sending the rest: a server that reads the body first never answers.
async fn upload_head_only(s: &Server, cookie: Option<&str>, ticket: &str) -> Option<String> {
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let cookie = cookie.map(|c| format!("Cookie: rd_session={c}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /app/jobs/{ticket}/photos?kind=before HTTP/1.1\r\nHost: {addr}\r\n{cookie}Sec-Fetch-Site: same-origin\r\n\
         Content-Type: image/jpeg\r\nContent-Length: 10485760\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    let mut start = small_png();
    start.resize(1024, 0);
    tcp.write_all(&start).await.expect("first bytes");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read(&mut answer)).await;
    match read {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&answer[..n]).into_owned()),
        _ => None,
    }
}

fn status_of(answer: &str) -> u16 {
    answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_refused_upload_is_answered_before_its_body_is_read() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        account(&s, "t@hardening.test", Role::Technician, Some(&tech), None).await;
        let job = dispatched_ticket(&s.service, &tech, 0).await;
        account(&s, "c@hardening.test", Role::Customer, None, Some(&job.customer.id)).await;
        let link = s
            .service
            .create_portal_link(&system(), &dispatch::portal::CreateLink { ticket_id: job.id.clone(), ttl_hours: None })
            .await
            .expect("link");

        let mut customer = Browser::new(&s);
        customer.login("c@hardening.test", "correct horse battery").await;
        let mut visitor = Browser::new(&s);
        assert_eq!(visitor.get(&link.path).await.status, 303);
        let mut tech_b = Browser::new(&s);
        tech_b.login("t@hardening.test", "correct horse battery").await;

        // The customer's own ticket, by account and by link: not theirs to add photos to.
        for (who, b) in [("customer", &customer), ("link visitor", &visitor)] {
            let answer = upload_head_only(&s, b.cookie.as_deref(), &job.id).await;
            let answer = answer.unwrap_or_else(|| panic!("{who}: no answer while the body was still coming"));
            assert_eq!(status_of(&answer), 403, "{who}: {answer}");
        }
        // Another technician's job reads as not found, at once.
        let other = technician(&s.service, "hvac").await;
        let theirs = dispatched_ticket(&s.service, &other, 4).await;
        let answer = upload_head_only(&s, tech_b.cookie.as_deref(), &theirs.id).await.expect("an answer at once");
        assert_eq!(status_of(&answer), 404, "{answer}");
        // A canceled job is not open for photos: refused at once too.
        s.service
            .cancel_ticket(
                &system(),
                &domain::commands::CancelTicket {
                    ticket_id: job.id.clone(),
                    reason: "moved".into(),
                    expected_version: None,
                },
            )
            .await
            .expect("cancel");
        let answer = upload_head_only(&s, tech_b.cookie.as_deref(), &job.id).await.expect("an answer at once");
        assert!(matches!(status_of(&answer), 400 | 409), "{answer}");
        assert_eq!(crate::support::blob_count(&s).await, 0, "nothing was stored");
    }
}

/// A customer with one ticket, signed in, and the ticket with a photo on it.
async fn customer_with_photo(s: &Server, name: &str, phone: &str) -> (Browser, domain::Case) {
    use base64::Engine;
    let op = system();
    let input = CreateTicket {
        customer: NewCustomer { name: Some(name.into()), phone: Some(phone.into()), ..Default::default() },
        site: Some(domain::NewSite { address: Some("2 Pipe Rd".into()), ..Default::default() }),
        problem_summary: Some("Leak".into()),
        trade: Some("plumbing".into()),
        ..Default::default()
    };
    let case = s.service.create_ticket(&op, &input).await.expect("ticket").case;
    let tech = technician(&s.service, "plumbing").await;
    let case = {
        let dispatched = crate::support::dispatch_to(&s.service, &case, &tech, 30).await;
        s.service
            .check_in(&op, &TicketRef { ticket_id: dispatched.id.clone(), expected_version: None })
            .await
            .expect("check in");
        let photo = domain::commands::AddPhoto {
            ticket_id: case.id.clone(),
            kind: domain::case::AttachmentKind::Before,
            content_type: None,
            filename: Some("sink.png".into()),
            content_base64: Some(base64::engine::general_purpose::STANDARD.encode(small_png())),
            upload_id: None,
        };
        s.service.add_photo(&op, &photo).await.expect("photo").case
    };
    let email = format!("{}@hardening.test", name.to_lowercase().replace(' ', "."));
    account(s, &email, Role::Customer, None, Some(&case.customer.id)).await;
    let mut b = Browser::new(s);
    b.login(&email, "correct horse battery").await;
    (b, case)
}

async fn answer(path: String, b: &mut Browser) -> (u16, Value, Value, String) {
    let r = b.get(&path).await;
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v["error"]["code"].clone(), v["error"]["message"].clone(), r.body)
}

#[tokio::test]
async fn another_customers_file_and_no_file_at_all_answer_alike() {
    for db in each_backend().await {
        let s = start(db).await;
        let (mut nora, _) = customer_with_photo(&s, "Nora Quinn", "+13125550101").await;
        let (_, liam) = customer_with_photo(&s, "Liam Ortiz", "+13125550102").await;
        let theirs = &liam.attachments[0].id;
        for variant in ["view", "thumb", "original"] {
            let (st1, code1, msg1, body1) = answer(format!("/files/{theirs}/{variant}"), &mut nora).await;
            let (st2, code2, msg2, _) = answer(format!("/files/att_doesnotexist/{variant}"), &mut nora).await;
            assert_eq!((st1, &code1, &msg1), (st2, &code2, &msg2), "{variant}: {body1}");
            assert_eq!((st1, code1.as_str()), (404, Some("ATTACHMENT_NOT_FOUND")), "{body1}");
            for named in [&liam.id, &liam.number, theirs] {
                assert!(!body1.contains(named.as_str()), "{variant} names {named}: {body1}");
            }
        }
    }
}

#[tokio::test]
async fn files_download_under_a_name_that_matches_what_they_are() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let email = "namer@hardening.test";
        account(&s, email, Role::Technician, Some(&tech), None).await;
        let job = dispatched_ticket(&s.service, &tech, 0).await;
        s.service
            .check_in(&system(), &TicketRef { ticket_id: job.id.clone(), expected_version: None })
            .await
            .expect("check in");
        let mut b = Browser::new(&s);
        b.login(email, "correct horse battery").await;
        // A PNG named as a web page, and a name that would split a header.
        for (sent, downloads_as) in
            [("poly.html", "poly.png"), ("a%0D%0ASet-Cookie%3A%20x%3Dy.png", "aSet-Cookie xy.png")]
        {
            let req = b
                .http
                .post(format!("{}/app/jobs/{}/photos?kind=before&filename={sent}", b.base, job.id))
                .header("sec-fetch-site", "same-origin")
                .header("content-type", "text/html")
                .body(small_png());
            let r = b.send(req).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let v: Value = serde_json::from_str(&r.body).expect("json");
            let id = v["attachment_id"].as_str().expect("attachment").to_string();
            let (st, headers, _) = b.get_bytes(&format!("/files/{id}/original")).await;
            assert_eq!(st, 200);
            assert_eq!(headers["content-type"], "image/png");
            let disposition = headers["content-disposition"].to_str().expect("ascii");
            assert_eq!(disposition, format!("inline; filename=\"{downloads_as}\""));
            assert!(headers.get("set-cookie").is_none());
        }
        let case = s.service.case(&system(), &job.id).await.expect("case");
        for a in &case.attachments {
            let name = a.filename.as_deref().unwrap_or_default();
            assert!(!name.chars().any(char::is_control), "stored without control characters: {name:?}");
        }
    }
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_for_almost_no_memory() {
    use crate::support::process::{cli, free_port, peak_rss, serve};
    let dir = dispatch::testing::temp_dir();
    cli(&dir, &[], &["migrate"]);
    let token = cli(&dir, &[], &["token", "create", "--role", "closeout_agent", "--name", "bomb"]);
    let token = token.lines().last().expect("the token").trim().to_string();
    let server = serve(&dir, &[], free_port()).await;
    let before = peak_rss(server.child.id());

    // 11900 × 11900 zeros: 141 megapixels, 425 MB as RGB, under a megabyte as a PNG. Three at once.
    let bomb = dispatch::testing::zeros_png(11_900, 11_900);
    let http = reqwest::Client::new();
    let sends = (0..3).map(|i| {
        http.post(format!("{}/tools/v1/uploads?filename=bomb.png", server.base))
            .bearer_auth(&token)
            .header("idempotency-key", format!("bomb-{i}"))
            .header("content-type", "image/png")
            .body(bomb.clone())
            .send()
    });
    for answer in futures_util::future::join_all(sends).await {
        let answer = answer.expect("an answer");
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.expect("json");
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"]["fields"][0]["code"], "too_many_pixels", "{body}");
    }
    let grew = peak_rss(server.child.id()).saturating_sub(before);
    println!("peak memory grew by {} KiB for three bombs", grew / 1024);
    assert!(grew < 128 * 1024 * 1024, "the server's peak memory grew by {} MiB", grew >> 20);
    assert_eq!(files_under(&dir.join("blobs")), 0, "nothing of the refused files is kept");
}

fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
}

#[tokio::test]
async fn sessions_are_stored_only_as_hashes_of_their_cookie() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@hardening.test", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);
        b.login("op@hardening.test", "correct horse battery").await;
        let cookie = b.cookie.clone().expect("a session cookie");
        let keys: Vec<String> =
            sqlx::query_scalar("SELECT id FROM sessions").fetch_all(s.service.db().pool()).await.expect("sessions");
        let hashed = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cookie.as_bytes()));
        assert!(!keys.contains(&cookie), "the cookie's value is not stored: {keys:?}");
        assert_eq!(keys, vec![hashed], "one session, under the hash of its id");
        let data: Vec<String> =
            sqlx::query_scalar("SELECT data_json FROM sessions").fetch_all(s.service.db().pool()).await.expect("data");
        assert!(!data.iter().any(|d| d.contains(&cookie)));
        assert_eq!(b.get("/console").await.status, 200, "the session still opens");
        b.call("logout", &[]).await;
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(s.service.db().pool()).await.expect("count");
        assert_eq!(left, 0, "signing out removes the hashed row");
    }
}

#[tokio::test]
async fn portal_messages_are_held_to_a_persons_pace() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 0).await;
        account(&s, "ada@hardening.test", Role::Customer, None, Some(&job.customer.id)).await;
        let mut ada = Browser::new(&s);
        ada.login("ada@hardening.test", "correct horse battery").await;
        let stored = || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM messages WHERE ticket_id = $1 AND direction = 'inbound' AND channel = 'webchat'",
            )
            .bind(&job.id)
            .fetch_one(s.service.db().pool())
            .await
            .expect("count");
            n
        };
        // 25 in a row from one customer: a burst goes through, the rest are told to wait.
        let mut held = 0;
        for i in 0..25 {
            let text = format!("message {i}");
            let r = ada.call("portal_send", &[("ticket_id", &job.id), ("text", &text)]).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body.contains("several messages in a row") {
                held += 1;
            }
        }
        assert_eq!((stored().await, held), (5, 20));

        // Many visitors on one ticket: the ticket's own limit holds whoever writes.
        for _ in 0..6 {
            let link = s
                .service
                .create_portal_link(
                    &system(),
                    &dispatch::portal::CreateLink { ticket_id: job.id.clone(), ttl_hours: None },
                )
                .await
                .expect("link");
            let mut visitor = Browser::new(&s);
            assert_eq!(visitor.get(&link.path).await.status, 303);
            for _ in 0..5 {
                visitor.call("portal_send", &[("ticket_id", &job.id), ("text", "are you coming?")]).await;
            }
        }
        assert_eq!(stored().await, dispatch::tickets::PORTAL_MESSAGES_PER_TICKET_10_MIN);
        let events = dispatch::audit::all_events(s.service.db().pool()).await.expect("events");
        let sent = events.iter().filter(|e| e.action == "ticket.add_message").count() as i64;
        assert_eq!(sent, stored().await, "a held message is neither stored nor audited as sent");
    }
}

#[tokio::test]
async fn a_link_from_another_site_does_not_swap_a_signed_in_session() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 0).await;
        let link = s
            .service
            .create_portal_link(&system(), &dispatch::portal::CreateLink { ticket_id: job.id.clone(), ttl_hours: None })
            .await
            .expect("link");
        account(&s, "op@link.test", Role::Operator, None, None).await;
        let mut op = Browser::new(&s);
        op.login("op@link.test", "correct horse battery").await;
        let signed_in = op.cookie.clone();

        // Sent there by another site: asked, not switched.
        let req = op.http.get(format!("{}{}", op.base, link.path)).header("sec-fetch-site", "cross-site");
        let asked = op.send(req).await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        assert!(asked.body.contains("Open a customer's link?") && asked.body.contains("method=\"post\""));
        assert_eq!(op.cookie, signed_in, "the session is the same");
        assert_eq!(op.get("/console").await.status, 200, "still the operator");

        // The other site cannot answer the question for them.
        let forged = op.http.post(format!("{}{}", op.base, link.path)).header("sec-fetch-site", "cross-site");
        assert_eq!(op.send(forged).await.status, 403);
        assert_eq!(op.get("/console").await.status, 200, "still the operator");

        // The operator's own yes opens it.
        let yes = op.http.post(format!("{}{}", op.base, link.path)).header("sec-fetch-site", "same-origin");
        let opened = op.send(yes).await;
        assert_eq!((opened.status, opened.location.as_str()), (303, format!("/portal/tickets/{}", job.id).as_str()));
        assert_ne!(op.cookie, signed_in, "a new session");
        assert_eq!(op.get("/console").await.status, 403, "now a link visitor");
        // Without an account session, a link opens at once, as before.
        let mut customer = Browser::new(&s);
        assert_eq!(customer.get(&link.path).await.status, 303);
    }
}

/// `kill -9` mid-upload leaves the upload's spool file behind: it is in the server's own
/// spool folder under the data folder (not the system's temporary folder), and the next
/// start-up removes it once it is old enough, while a fresh one (an upload in flight on
/// another instance sharing the folder) is kept.
#[tokio::test]
async fn a_spool_file_left_by_a_killed_server_is_swept_at_start_up() {
    use crate::support::process::{cli, free_port, serve};
    let dir = dispatch::testing::temp_dir();
    cli(&dir, &[], &["migrate"]);
    let token = cli(&dir, &[], &["token", "create", "--role", "closeout_agent", "--name", "crash"]);
    let token = token.lines().last().expect("the token").trim().to_string();
    let mut server = serve(&dir, &[], free_port()).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /tools/v1/uploads?filename=cut.png HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: crash-1\r\nContent-Type: image/png\r\nContent-Length: 1048576\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    let mut start = small_png();
    start.resize(4096, 0);
    tcp.write_all(&start).await.expect("first bytes");
    let spool = dir.join("spool");
    let spooled = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&spool)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().contains("rd-upload-")).collect())
            .unwrap_or_default()
    };
    for _ in 0..100 {
        if !spooled().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(spooled().len(), 1, "the upload in flight spools under the data folder");
    server.child.kill().expect("kill -9");
    server.child.wait().expect("reaped");
    drop(tcp);
    let left = spooled();
    assert_eq!(left.len(), 1, "the killed server left its spool file");

    // An hour and more later, the next start removes it; a fresh one is kept.
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options().write(true).open(&left[0]).expect("open").set_modified(two_hours_ago).expect("age");
    let fresh = spool.join("rd-upload-in-flight-elsewhere");
    std::fs::write(&fresh, b"partial").expect("fresh");
    let _restarted = serve(&dir, &[], free_port()).await;
    assert!(!left[0].exists(), "the orphan spool file is gone after start-up");
    assert!(fresh.exists(), "a fresh spool file is kept");
}
