//! Dispatch board rendering with 2,000 open tickets: seeds them through the service (a third
//! booked and dispatched), signs an operator in, and times `GET /console` (the whole
//! server-side render, over loopback) on SQLite. Target: < 30 ms server time.
//!
//!   make bench-board        (BENCH_TICKETS=2000, BENCH_RENDERS=40)

use dispatch::testing::{service, sqlite_db};
use domain::commands::{AssignTech, ConfirmSlot};
use domain::window::{WorkingHours, HOUR_MS};
use domain::{Actor, CreateTicket, NewCustomer, NewSite, Role};
use real_dispatch::config::Config;
use real_dispatch::server;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let tickets = env("BENCH_TICKETS", 2_000);
    let renders = env("BENCH_RENDERS", 40);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let svc = service(sqlite_db().await);
        let op = dispatch::CallContext::new(Actor::system("bench"));
        let all_day = WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
        let mut techs = vec![];
        for i in 0..20 {
            let input = dispatch::scheduling::NewTechnician {
                name: format!("Tech {i:02}"),
                phone: None,
                email: None,
                skills: vec!["hvac".into(), "plumbing".into()],
                zone: None,
                working_hours: Some(all_day.clone()),
            };
            techs.push(svc.create_technician(&op, &input).await.expect("technician").id);
        }
        let seed_start = Instant::now();
        let base = (dispatch::ids::now_ms() / HOUR_MS + 24) * HOUR_MS;
        for n in 0..tickets {
            let input = CreateTicket {
                customer: NewCustomer {
                    name: Some(format!("Customer {n}")),
                    phone: Some(format!("+1557{:07}", n)),
                    ..Default::default()
                },
                site: Some(NewSite { address: Some(format!("{n} Board Ave")), ..Default::default() }),
                problem_summary: Some(if n % 2 == 0 { "No heat".into() } else { "Leaking pipe".into() }),
                trade: Some(if n % 2 == 0 { "hvac".into() } else { "plumbing".into() }),
                ..Default::default()
            };
            let case = svc.create_ticket(&op, &input).await.expect("ticket").case;
            if n % 3 == 0 {
                let tech = &techs[n % techs.len()];
                let start = base + ((n / techs.len()) as i64) * 2 * HOUR_MS;
                let confirm = ConfirmSlot {
                    ticket_id: case.id.clone(),
                    start_ms: start,
                    end_ms: start + HOUR_MS,
                    technician_id: Some(tech.clone()),
                    reschedule: false,
                    expected_version: None,
                };
                svc.confirm_slot(&op, &confirm).await.expect("confirm");
                let assign = AssignTech { ticket_id: case.id.clone(), technician_id: tech.clone(), expected_version: None };
                svc.assign_tech(&op, &assign).await.expect("assign");
            }
        }
        println!("seeded {tickets} open tickets in {:.1} s", seed_start.elapsed().as_secs_f64());
        let user = dispatch::users::NewUser {
            email: "bench@example.com".into(),
            name: "Bench".into(),
            role: Some(Role::Operator),
            password: "bench password".into(),
            ..Default::default()
        };
        svc.create_user(&op, &user).await.expect("operator");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = Config {
            bind: addr,
            database_url: String::new(),
            data_dir: dispatch::testing::temp_dir(),
            site_root: dispatch::testing::temp_dir(),
            s3: None,
        };
        let app = server::router(svc.clone(), server::leptos_options(&config));
        tokio::spawn(async move {
            let _ = server::serve_on(listener, app).await;
        });
        let http = reqwest::Client::new();
        let base_url = format!("http://{addr}");
        let login = http
            .post(format!("{base_url}/api/login"))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .form(&[("email", "bench@example.com"), ("password", "bench password"), ("next", "")])
            .send()
            .await
            .expect("login");
        let cookie = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.split(';').next().filter(|kv| kv.starts_with("rd_session=")).map(str::to_string))
            .expect("session cookie");
        // The data alone, without HTTP, session or rendering.
        let mut data_ms = vec![];
        for _ in 0..20 {
            let t = Instant::now();
            svc.board(&op, &Default::default(), 25).await.expect("board data");
            svc.board_stamp(&op).await.expect("stamp");
            data_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        data_ms.sort_by(f64::total_cmp);
        println!("board data (4 queries) p50 {:.1} ms", data_ms[data_ms.len() / 2]);
        let mut base_ms = vec![];
        for _ in 0..20 {
            let t = Instant::now();
            http.get(format!("{base_url}/account")).header("cookie", &cookie).send().await.expect("get").text().await.expect("body");
            base_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        base_ms.sort_by(f64::total_cmp);
        println!("a signed-in page without data (session, shell, hydration script) p50 {:.1} ms", base_ms[base_ms.len() / 2]);
        let mut times = vec![];
        let mut bytes = 0;
        for i in 0..renders + 3 {
            let t = Instant::now();
            let body = http
                .get(format!("{base_url}/console"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body");
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert!(body.contains("RD-000001") || body.contains("data-ticket"), "the board rendered");
            bytes = body.len();
            if i >= 3 {
                times.push(ms);
            }
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "board SSR with {tickets} open tickets: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms, {} KiB per page (target < 30 ms)",
            pct(0.5),
            pct(0.95),
            times[times.len() - 1],
            bytes / 1024
        );
    });
}
