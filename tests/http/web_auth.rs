//! The browser door over real HTTP, on SQLite and PostgreSQL: sign-in, sessions, which pages
//! each role reaches, scoping of technicians and customers, portal links, cross-site refusal,
//! throttling and security headers.

use crate::support::{account, dispatched_ticket, start, system, technician, Browser};
use dispatch::testing::each_backend;
use dispatch::Service;
use domain::window::HOUR_MS;
use domain::{CreateTicket, NewCustomer, Role};

async fn audit_actions(svc: &Service) -> Vec<String> {
    dispatch::audit::all_events(svc.db().pool()).await.expect("events").into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_sets_safe_cookie_flags() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);
        let r = b.login("op@example.com", "correct horse battery").await;
        assert!(matches!(r.status, 200 | 302 | 303), "{} {}", r.status, r.body);
        let cookie = r.set_cookie.iter().find(|c| c.starts_with("rd_session=")).expect("session cookie");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http must not mark the cookie Secure: {cookie}");
        let first = b.cookie.clone().expect("signed in");
        assert_eq!(b.get("/console").await.status, 200);

        // Signing in again (as from a planted, already valid id) yields a new id; the old one is dead.
        b.login("op@example.com", "correct horse battery").await;
        let second = b.cookie.clone().expect("signed in again");
        assert_ne!(first, second, "the session id must change at sign-in");
        let mut old = Browser::new(&s);
        old.cookie = Some(first);
        let r = old.get("/console").await;
        assert_eq!(r.status, 303, "the pre-login id must not be signed in");

        // Signing out ends the session.
        let r = b.call("logout", &[]).await;
        assert!(r.status < 400, "{}", r.status);
        b.cookie = Some(second);
        assert_eq!(b.get("/console").await.status, 303);
        let actions = audit_actions(&s.service).await;
        assert_eq!(actions.iter().filter(|a| *a == "auth.login").count(), 2);
        assert!(actions.contains(&"auth.logout".to_string()));
        assert!(actions.contains(&"account.create".to_string()));
    }
}

#[tokio::test]
async fn each_role_reaches_only_its_pages() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        account(&s, "admin@example.com", Role::Admin, None, None).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        account(&s, "tech@example.com", Role::Technician, Some(&tech), None).await;
        let mut anon = Browser::new(&s);
        for page in ["/console", "/tech", "/portal", "/console/accounts"] {
            let r = anon.get(page).await;
            assert_eq!(r.status, 303, "{page}");
            assert!(r.location.starts_with(&format!("/login?next={page}")), "{page}: {}", r.location);
        }
        assert_eq!(anon.get("/login").await.status, 200);
        let expect = [
            ("admin@example.com", [200, 403, 403, 200]),
            ("op@example.com", [200, 403, 403, 403]),
            ("tech@example.com", [403, 200, 403, 403]),
        ];
        for (email, statuses) in expect {
            let mut b = Browser::new(&s);
            b.login(email, "correct horse battery").await;
            for (page, want) in ["/console", "/tech", "/portal", "/console/accounts"].into_iter().zip(statuses) {
                assert_eq!(b.get(page).await.status, want, "{email} {page}");
            }
        }
        let denials = audit_actions(&s.service).await.iter().filter(|a| *a == "security.denied").count();
        assert_eq!(denials, 8, "every refused page is a security event");
    }
}

#[tokio::test]
async fn technicians_cannot_reach_another_technicians_job() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech_a = technician(&s.service, "hvac").await;
        let tech_b = technician(&s.service, "hvac").await;
        account(&s, "a@example.com", Role::Technician, Some(&tech_a), None).await;
        account(&s, "b@example.com", Role::Technician, Some(&tech_b), None).await;
        let job = dispatched_ticket(&s.service, &tech_a, 0).await;

        let mut a = Browser::new(&s);
        a.login("a@example.com", "correct horse battery").await;
        let page = a.get(&format!("/tech/jobs/{}", job.id)).await;
        assert!(page.body.contains("Ada Lovelace"), "the assigned technician sees the job");
        let mine = a.call("tech_jobs", &[]).await;
        assert!(mine.body.contains(&job.number), "{}", mine.body);

        let mut b = Browser::new(&s);
        b.login("b@example.com", "correct horse battery").await;
        let page = b.get(&format!("/tech/jobs/{}", job.id)).await;
        assert!(!page.body.contains("Ada Lovelace"), "another technician must not see the customer");
        assert!(page.body.contains("not found"), "{}", page.body);
        let by_fn = b.call("job_case", &[("ticket_id", &job.id)]).await;
        assert_eq!(by_fn.status, 404, "another's job reads as not found: {}", by_fn.body);
        // A refusal answers with its own status, never 500: a console action is not a
        // technician's (403), and changes nothing.
        let cancel = b.call("console_cancel", &[("ticket_id", &job.id), ("reason", "x"), ("version", "")]).await;
        assert_eq!(cancel.status, 403, "{}", cancel.body);
        let still = s.service.case(&system(), &job.id).await.expect("case");
        assert_eq!(still.state, domain::CaseState::Dispatched);
        assert!(!by_fn.body.contains("Ada Lovelace"));
        let theirs = b.call("tech_jobs", &[]).await;
        assert!(!theirs.body.contains(&job.number), "{}", theirs.body);
        // Ids in the request are never trusted: the actor comes from the session only.
        let forged = b.call("job_case", &[("ticket_id", &job.id), ("technician_id", &tech_a)]).await;
        assert!(!forged.body.contains("Ada Lovelace"));
    }
}

#[tokio::test]
async fn a_customer_link_opens_exactly_one_ticket_until_it_expires_or_is_revoked() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let first = dispatched_ticket(&s.service, &tech, 0).await;
        let second = dispatched_ticket(&s.service, &tech, 3).await;
        assert_eq!(first.customer.id, second.customer.id, "same customer, two tickets");
        let op = system();
        let link = s
            .service
            .create_portal_link(&op, &dispatch::portal::CreateLink { ticket_id: first.id.clone(), ttl_hours: None })
            .await
            .expect("link");

        let mut c = Browser::new(&s);
        let r = c.get(&link.path).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location, format!("/portal/tickets/{}", first.id));
        let page = c.get(&r.location).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&first.number), "the linked ticket is shown");
        let list = c.call("portal_tickets", &[]).await;
        assert!(list.body.contains(&first.number) && !list.body.contains(&second.number), "{}", list.body);
        let other = c.call("portal_ticket", &[("ticket_id", &second.id)]).await;
        assert!(other.status == 404 && !other.body.contains(&second.number), "{} {}", other.status, other.body);
        assert_eq!(c.get("/console").await.status, 403);

        // A wrong secret, and the right one after revocation, open nothing.
        let mut wrong = Browser::new(&s);
        let forged =
            format!("{}{}", &link.path[..link.path.len() - 1], if link.path.ends_with('0') { "1" } else { "0" });
        assert_eq!(wrong.get(&forged).await.status, 410);
        s.service
            .revoke_portal_link(&op, &dispatch::portal::RevokeLink { link_id: link.link_id.clone() })
            .await
            .expect("revoke");
        assert_eq!(c.get(&format!("/portal/tickets/{}", first.id)).await.status, 303, "revocation ends the session");
        assert_eq!(Browser::new(&s).get(&link.path).await.status, 410);

        // An expired link opens nothing either.
        let expiring = s
            .service
            .create_portal_link(&op, &dispatch::portal::CreateLink { ticket_id: second.id.clone(), ttl_hours: Some(1) })
            .await
            .expect("link");
        sqlx::query("UPDATE portal_links SET expires_at_ms = $1 WHERE id = $2")
            .bind(dispatch::ids::now_ms() - 1)
            .bind(&expiring.link_id)
            .execute(s.service.db().pool())
            .await
            .expect("expire");
        assert_eq!(Browser::new(&s).get(&expiring.path).await.status, 410);
        let actions = audit_actions(&s.service).await;
        for a in ["portal.link_created", "portal.link_opened", "portal.link_revoked"] {
            assert!(actions.iter().any(|x| x == a), "{a} audited");
        }
        let v = dispatch::audit::verify(s.service.db().pool()).await.expect("verify");
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        let replay = s.service.replay().await.expect("replay");
        assert!(replay.mismatches.is_empty(), "{:?}", replay.mismatches);
    }
}

#[tokio::test]
async fn posts_without_same_origin_marks_are_refused_and_change_nothing() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);
        b.login("op@example.com", "correct horse battery").await;
        let form = [
            ("customer_name", "Mallory"),
            ("phone", "+15550009999"),
            ("email", ""),
            ("address", ""),
            ("problem_summary", "x"),
            ("trade", ""),
            ("priority", ""),
        ];
        let host = s.base.trim_start_matches("http://").to_string();
        let url = format!("{}/api/create_ticket", s.base);
        let attempts: [(&str, Option<(&str, String)>); 4] = [
            ("no marks at all", None),
            ("a foreign origin", Some(("origin", "http://evil.example".to_string()))),
            ("a cross-site fetch", Some(("sec-fetch-site", "cross-site".to_string()))),
            ("a same-site (other subdomain) fetch", Some(("sec-fetch-site", "same-site".to_string()))),
        ];
        for (what, header) in attempts {
            let mut req = b.http.post(&url).form(&form);
            if let Some((k, v)) = header {
                req = req.header(k, v);
            }
            let r = b.send(req).await;
            assert_eq!(r.status, 403, "{what}: {}", r.body);
            assert!(r.body.contains("CSRF_REFUSED"), "{what}");
        }
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(s.service.db().pool()).await.expect("n");
        assert_eq!(count, 0, "refused posts wrote nothing");
        // The same post from the site itself works (Origin of this host, as older browsers send).
        let req = b
            .http
            .post(&url)
            .header("origin", format!("http://{host}"))
            .header("accept", "application/json")
            .form(&form);
        let r = b.send(req).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(s.service.db().pool()).await.expect("n");
        assert_eq!(count, 1);
    }
}

#[tokio::test]
async fn password_change_and_disable_end_sessions() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut laptop = Browser::new(&s);
        let mut tablet = Browser::new(&s);
        laptop.login("op@example.com", "correct horse battery").await;
        tablet.login("op@example.com", "correct horse battery").await;
        let before = laptop.cookie.clone();
        let r = laptop
            .call(
                "change_password",
                &[("current_password", "correct horse battery"), ("new_password", "battery staple horse")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_ne!(laptop.cookie, before, "the session continues under a new id");
        assert_eq!(laptop.get("/console").await.status, 200);
        assert_eq!(tablet.get("/console").await.status, 303, "other sessions end");
        assert!(tablet.login("op@example.com", "correct horse battery").await.body.contains("not recognised"));
        tablet.login("op@example.com", "battery staple horse").await;
        assert_eq!(tablet.get("/console").await.status, 200);

        let user = s.service.user_by_email(&system(), "op@example.com").await.expect("user");
        s.service.set_user_disabled(&system(), &user.id, true).await.expect("disable");
        assert_eq!(laptop.get("/console").await.status, 303);
        assert_eq!(tablet.get("/console").await.status, 303);
        let r = Browser::new(&s).login("op@example.com", "battery staple horse").await;
        assert!(r.body.contains("not recognised"), "a disabled account cannot sign in: {}", r.body);
        let remaining: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(&user.id)
            .fetch_one(s.service.db().pool())
            .await
            .expect("n");
        assert_eq!(remaining, 0, "a disabled account keeps no sessions");
        let actions = audit_actions(&s.service).await;
        assert!(actions.contains(&"account.password_change".to_string()));
        assert!(actions.contains(&"account.disable".to_string()));
    }
}

#[tokio::test]
async fn wrong_passwords_are_throttled_with_one_answer_for_every_failure() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);
        let unknown = b.login("nobody@example.com", "whatever it is").await.body;
        let wrong = b.login("op@example.com", "wrong password!").await.body;
        assert_eq!(unknown, wrong, "an unknown e-mail and a wrong password look the same");
        for _ in 0..4 {
            b.login("op@example.com", "wrong password!").await;
        }
        // Five failures from this client lock the pair: even the right password is refused.
        let r = b.login("op@example.com", "correct horse battery").await;
        assert!(r.body.contains("not recognised"), "{}", r.body);
        assert!(b.cookie.is_none(), "no session for a locked pair");
        let failed = audit_actions(&s.service).await.iter().filter(|a| *a == "auth.login_failed").count();
        assert_eq!(failed, 7, "1 unknown e-mail, 5 wrong passwords, 1 locked attempt");
        // From another client the owner can still sign in (a lock is per e-mail and client).
        let from = dispatch::users::LoginFrom { client: "198.51.100.7".into(), request_id: None };
        s.service.login("op@example.com", "correct horse battery", &from).await.expect("owner elsewhere");
        // Past the burst, a client is slowed before any password is checked.
        let mut last = String::new();
        for _ in 0..10 {
            last = b.login("someone@example.com", "a guess at it").await.body;
        }
        assert!(last.contains("too many sign-in attempts from this address; please wait"), "{last}");
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_nonce_for_their_scripts() {
    for db in each_backend().await {
        let s = start(db).await;
        let r = Browser::new(&s).get("/login").await;
        assert_eq!(r.status, 200);
        let h = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let csp = h("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
        let nonce = csp.split("'nonce-").nth(1).and_then(|x| x.split('\'').next()).expect("nonce in CSP");
        assert!(r.body.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("referrer-policy"), "no-referrer");
        assert_eq!(h("x-frame-options"), "DENY");
        let second = Browser::new(&s).get("/login").await;
        let csp2 = second.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_ne!(csp, csp2, "a fresh nonce per page");
    }
}

#[tokio::test]
async fn admins_manage_accounts_from_the_console_and_others_cannot() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "admin@example.com", Role::Admin, None, None).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut admin = Browser::new(&s);
        admin.login("admin@example.com", "correct horse battery").await;
        let form = [
            ("email", "new@example.com"),
            ("name", "New Operator"),
            ("role", "operator"),
            ("password", "a fine new password"),
            ("technician_id", ""),
            ("customer_id", ""),
        ];
        let r = admin.call("create_account", &form).await;
        assert!(r.body.contains("Done") && r.body.contains("new@example.com"), "{}", r.body);
        let dup = admin.call("create_account", &form).await;
        assert!(dup.body.contains("already exists"), "{}", dup.body);
        let tech_without_profile = admin
            .call(
                "create_account",
                &[
                    ("email", "t@example.com"),
                    ("name", "T"),
                    ("role", "technician"),
                    ("password", "a fine new password"),
                    ("technician_id", ""),
                    ("customer_id", ""),
                ],
            )
            .await;
        assert!(tech_without_profile.body.contains("technician profile"), "{}", tech_without_profile.body);
        let list = admin.call("accounts", &[]).await;
        assert!(list.body.contains("new@example.com") && list.body.contains("op@example.com"), "{}", list.body);

        let mut newcomer = Browser::new(&s);
        newcomer.login("new@example.com", "a fine new password").await;
        assert_eq!(newcomer.get("/console").await.status, 200);
        let id = s.service.user_by_email(&system(), "new@example.com").await.expect("user").id;
        let r = admin.call("reset_account_password", &[("user_id", &id), ("password", "another password!")]).await;
        assert!(r.body.contains("Done"), "{}", r.body);
        assert_eq!(newcomer.get("/console").await.status, 303, "a reset ends the account's sessions");
        let r = admin.call("set_account_disabled", &[("user_id", &id), ("disabled", "true")]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(newcomer.login("new@example.com", "another password!").await.body.contains("not recognised"));

        // An operator can neither list nor create accounts, whatever the form says.
        let mut op = Browser::new(&s);
        op.login("op@example.com", "correct horse battery").await;
        let r = op.call("accounts", &[]).await;
        assert!(r.status >= 400 && !r.body.contains("admin@example.com"), "{} {}", r.status, r.body);
        let r = op
            .call(
                "create_account",
                &[
                    ("email", "x@example.com"),
                    ("name", "X"),
                    ("role", "admin"),
                    ("password", "a fine new password"),
                    ("technician_id", ""),
                    ("customer_id", ""),
                ],
            )
            .await;
        assert!(r.status >= 400, "{} {}", r.status, r.body);
        assert!(s.service.user_by_email(&system(), "x@example.com").await.is_err(), "nothing created");
        let actions = audit_actions(&s.service).await;
        for a in ["account.create", "account.password_reset", "account.disable"] {
            assert!(actions.iter().any(|x| x == a), "{a} audited");
        }
    }
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_or_a_day_after_sign_in() {
    for db in each_backend().await {
        let s = start(db).await;
        account(&s, "op@example.com", Role::Operator, None, None).await;
        let mut b = Browser::new(&s);
        b.login("op@example.com", "correct horse battery").await;
        assert_eq!(b.get("/console").await.status, 200);
        // Idle expiry: the stored expiry passes (each request pushes it 8 hours ahead).
        let stored: i64 = sqlx::query_scalar("SELECT MAX(expires_at_ms) FROM sessions")
            .fetch_one(s.service.db().pool())
            .await
            .expect("expiry");
        let now = dispatch::ids::now_ms();
        assert!((stored - now - 8 * HOUR_MS).abs() < 60_000, "8 hours of idle time: {}", stored - now);
        sqlx::query("UPDATE sessions SET expires_at_ms = $1")
            .bind(now - 1)
            .execute(s.service.db().pool())
            .await
            .expect("age");
        assert_eq!(b.get("/console").await.status, 303, "an idle-expired session is refused");

        // Absolute expiry: a session signed in more than a day ago is refused however active.
        b.login("op@example.com", "correct horse battery").await;
        assert_eq!(b.get("/console").await.status, 200);
        let user = s.service.user_by_email(&system(), "op@example.com").await.expect("user");
        let old = dispatch::users::SessionAuth {
            user_id: Some(user.id.clone()),
            epoch: 0,
            link_id: None,
            auth_ms: now - dispatch::users::SESSION_MAX_AGE_MS - 1,
        };
        assert!(s.service.session_actor(&old, dispatch::users::SESSION_MAX_AGE_MS).await.expect("resolve").is_none());
        let fresh = dispatch::users::SessionAuth { auth_ms: now, ..old };
        let actor = s.service.session_actor(&fresh, dispatch::users::SESSION_MAX_AGE_MS).await.expect("resolve");
        assert_eq!(actor.map(|a| a.role), Some(Role::Operator));
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, data_json FROM sessions").fetch_all(s.service.db().pool()).await.expect("rows");
        for (id, data) in rows {
            let aged =
                data.replace(&format!("\"auth_ms\":{}", serde_auth_ms(&data)), &format!("\"auth_ms\":{}", old.auth_ms));
            sqlx::query("UPDATE sessions SET data_json = $1 WHERE id = $2")
                .bind(aged)
                .bind(id)
                .execute(s.service.db().pool())
                .await
                .expect("age");
        }
        assert_eq!(b.get("/console").await.status, 303, "a day after sign-in the session is over");
    }
}

fn serde_auth_ms(data: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(data).expect("session json");
    v["auth"]["auth_ms"].as_i64().expect("auth_ms")
}

#[tokio::test]
async fn a_customer_account_sees_all_and_only_its_own_tickets() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let first = dispatched_ticket(&s.service, &tech, 0).await;
        let second = dispatched_ticket(&s.service, &tech, 3).await;
        let input = CreateTicket {
            customer: NewCustomer {
                name: Some("Other Person".into()),
                phone: Some("+15550002222".into()),
                ..Default::default()
            },
            problem_summary: Some("Leak".into()),
            ..Default::default()
        };
        let stranger = s.service.create_ticket(&system(), &input).await.expect("ticket").case;
        account(&s, "ada@example.com", Role::Customer, None, Some(&first.customer.id)).await;
        let mut c = Browser::new(&s);
        let r = c.login("ada@example.com", "correct horse battery").await;
        assert!(r.status < 400, "{}", r.body);
        assert_eq!(c.get("/portal").await.status, 200);
        let list = c.call("portal_tickets", &[]).await.body;
        assert!(list.contains(&first.number) && list.contains(&second.number), "{list}");
        assert!(!list.contains(&stranger.number), "{list}");
        let other = c.call("portal_ticket", &[("ticket_id", &stranger.id)]).await;
        assert!(other.status >= 400 && !other.body.contains("Other Person"), "{}", other.body);
        assert_eq!(c.get("/tech").await.status, 403);
    }
}

#[tokio::test]
async fn the_portal_writes_webchat_messages_and_serves_only_its_own_packet() {
    for db in each_backend().await {
        let s = start(db).await;
        let tech = technician(&s.service, "hvac").await;
        let mine = dispatched_ticket(&s.service, &tech, 0).await;
        let other = dispatched_ticket(&s.service, &tech, 3).await;
        let op = system();
        let link = s
            .service
            .create_portal_link(&op, &dispatch::portal::CreateLink { ticket_id: mine.id.clone(), ttl_hours: None })
            .await
            .expect("link");
        let mut c = Browser::new(&s);
        assert_eq!(c.get(&link.path).await.status, 303);

        // Before a packet exists there is nothing to download.
        let (status, _, _) = c.get_bytes(&format!("/packets/{}", mine.id)).await;
        assert_eq!(status, 400);

        // A message from the portal is inbound, over webchat, signed with the customer's name.
        let sent = c.call("portal_send", &[("ticket_id", &mine.id), ("text", "Gate code is 4411")]).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        let row: (String, String, Option<String>) =
            sqlx::query_as("SELECT direction, channel, sender FROM messages WHERE ticket_id = $1")
                .bind(&mine.id)
                .fetch_one(s.service.db().pool())
                .await
                .expect("message");
        assert_eq!((row.0.as_str(), row.1.as_str(), row.2.as_deref()), ("inbound", "webchat", Some("Ada Lovelace")));
        // Customers cannot post as the office, nor into another ticket.
        let mut customer = domain::Actor::new(
            domain::ActorKind::User,
            format!("link:{}", link.link_id),
            Role::Customer,
            "Ada Lovelace".to_string(),
        );
        customer.customer_id = Some(mine.customer.id.clone());
        customer.ticket_scope = Some(mine.id.clone());
        let as_office =
            dispatch::CallContext { channel: domain::SourceChannel::Webchat, ..dispatch::CallContext::new(customer) };
        let forged = domain::commands::AddMessage {
            ticket_id: mine.id.clone(),
            direction: domain::commands::Direction::Internal,
            channel: None,
            sender: None,
            text: "note to self".into(),
        };
        assert_eq!(s.service.add_message(&as_office, &forged).await.expect_err("internal").code(), "FORBIDDEN");
        let elsewhere = c.call("portal_send", &[("ticket_id", &other.id), ("text", "hello")]).await;
        assert!(elsewhere.status >= 400 || elsewhere.body.contains("not found"), "{}", elsewhere.body);

        // Office notes stay out of the customer's thread; replies to them show.
        for (direction, text) in [("internal", "customer sounded upset"), ("outbound", "We are on our way")] {
            let m = domain::commands::AddMessage {
                ticket_id: mine.id.clone(),
                direction: if direction == "internal" {
                    domain::commands::Direction::Internal
                } else {
                    domain::commands::Direction::Outbound
                },
                channel: None,
                sender: None,
                text: text.into(),
            };
            s.service.add_message(&op, &m).await.expect("office message");
        }
        let view = c.call("portal_ticket", &[("ticket_id", &mine.id)]).await;
        assert!(view.body.contains("We are on our way") && view.body.contains("Gate code is 4411"), "{}", view.body);
        assert!(!view.body.contains("customer sounded upset"), "internal notes never reach the portal");

        // After closeout: the packet for this ticket only.
        let done = crate::support::closed_out(&s.service, &mine, None).await;
        let packet = done.packet.expect("packet");
        let (status, headers, body) = c.get_bytes(&format!("/packets/{}", mine.id)).await;
        assert_eq!(status, 200);
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
        assert!(body.starts_with(b"%PDF-"));
        assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)), packet.sha256);
        let view = c.call("portal_ticket", &[("ticket_id", &mine.id)]).await;
        assert!(view.body.contains(&format!("/packets/{}", mine.id)) && view.body.contains("INV-"), "{}", view.body);
        let (status, _, body) = c.get_bytes(&format!("/packets/{}", other.id)).await;
        assert_eq!(status, 404, "another ticket's packet reads as not found");
        assert!(!String::from_utf8_lossy(&body).contains("%PDF"));
        let (status, _, _) = Browser::new(&s).get_bytes(&format!("/packets/{}", mine.id)).await;
        assert_eq!(status, 401, "no session, no packet");
    }
}

/// A server function, the action it runs, and the form fields besides the ticket.
type Door = (&'static str, domain::Action, Vec<(&'static str, &'static str)>);

/// The web app's door answers each person's role as the action table says: a role that the
/// table does not give the action, or that the function's surface is not for (the console is
/// the office's, the portal the customer's), is refused with 403 before anything is read; any
/// other gets past authorization (here to "no such ticket", so nothing changes).
#[tokio::test]
async fn every_console_action_answers_each_role_as_the_table_says() {
    use domain::Action;
    for db in each_backend().await {
        let s = start(db.clone()).await;
        let tech = technician(&s.service, "hvac").await;
        let job = dispatched_ticket(&s.service, &tech, 9).await;
        let t = "tkt_nobody";
        let doors: [Door; 15] = [
            ("console_set_priority", Action::TicketSetPriority, vec![("priority", "urgent"), ("version", "")]),
            ("console_propose", Action::ScheduleProposeSlots, vec![("duration_minutes", "60"), ("days", "3")]),
            (
                "console_book",
                Action::TicketBook,
                vec![("start_ms", "1"), ("end_ms", "2"), ("technician_id", "tec_x"), ("reschedule", "false")],
            ),
            (
                "calendar_book",
                Action::TicketBook,
                vec![("technician_id", "tec_x"), ("start_ms", "1"), ("minutes", "60"), ("reschedule", "false")],
            ),
            ("console_set_eta", Action::DispatchSetEta, vec![("minutes", "45"), ("note", "")]),
            ("console_message", Action::TicketAddMessage, vec![("direction", "inbound"), ("text", "hello")]),
            ("console_cancel", Action::TicketCancel, vec![("reason", "no longer needed"), ("version", "")]),
            ("console_job_step", Action::JobCheckIn, vec![("step", "check_in"), ("version", "")]),
            ("console_job_step", Action::JobCompleteWork, vec![("step", "complete_work"), ("version", "")]),
            ("console_billing_step", Action::BillingGenerateInvoiceDraft, vec![("step", "invoice"), ("version", "")]),
            ("console_billing_step", Action::BillingCompileCloseoutPacket, vec![("step", "packet"), ("version", "")]),
            (
                "console_edit_invoice",
                Action::BillingEditInvoiceDraft,
                vec![("lines", "Labor | 1 | 10.00"), ("tax_percent", "0"), ("version", "")],
            ),
            (
                "console_record_payment",
                Action::BillingRecordPayment,
                vec![("kind", "paid"), ("amount", ""), ("due", ""), ("version", "")],
            ),
            ("portal_send", Action::TicketAddMessage, vec![("text", "hello")]),
            ("console_message", Action::TicketAddMessage, vec![("direction", "inbound"), ("text", "again")]),
        ];
        let customer_id = job.customer.id.clone();
        for (role, tech_id, cust_id) in [
            (Role::Admin, None, None),
            (Role::Operator, None, None),
            (Role::Technician, Some(tech.as_str()), None),
            (Role::Customer, None, Some(customer_id.as_str())),
        ] {
            let email = format!("walk-{}@example.com", role.as_str());
            account(&s, &email, role, tech_id, cust_id).await;
            let mut b = Browser::new(&s);
            b.login(&email, "correct horse battery").await;
            for (endpoint, action, fields) in &doors {
                let mut form = vec![("ticket_id", t)];
                form.extend(fields.iter().copied());
                let r = b.call(endpoint, &form).await;
                let surface = if endpoint.starts_with("portal_") { Action::PortalRead } else { Action::BoardRead };
                if action.allowed_for(role) && surface.allowed_for(role) {
                    assert_ne!(r.status, 403, "{role} {endpoint} ({action}): {}", r.body);
                    assert!(r.status < 500, "{role} {endpoint}: {} {}", r.status, r.body);
                } else {
                    assert_eq!(r.status, 403, "{role} {endpoint} ({action}): {}", r.body);
                }
            }
        }
        let after = s.service.case(&system(), &job.id).await.expect("case");
        assert_eq!((after.state, after.version), (job.state, job.version), "nothing changed");
    }
}
