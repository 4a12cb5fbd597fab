//! The lifecycle benchmark over the wire: the same 15-call ticket lifecycle as the service
//! benchmark, through `POST /tools/v1/{tool}` with bearer tokens and idempotency keys, against
//! the real router on loopback (SQLite and PostgreSQL). Prints calls/s and p50/p99.
//!
//!   make bench-http     (BENCH_SECONDS, BENCH_TASKS=1,8,32 as for the service benchmark)

use dispatch::testing::{postgres_db, service, sqlite_db};
use real_dispatch::config::Config;
use real_dispatch::server;
use std::time::{Duration, Instant};

#[path = "common/mix.rs"]
mod mix;

use mix::{lifecycle, pct, Client, HOUR, SLOTS_PER_TECHNICIAN};

async fn run(name: &str, db: dispatch::Db, tasks: usize, seconds: u64) {
    let svc = service(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config {
        bind: addr,
        database_url: String::new(),
        data_dir: dispatch::testing::temp_dir(),
        site_root: dispatch::testing::temp_dir(),
        s3: None,
    };
    let app = server::router_with_rate(svc.clone(), server::leptos_options(&config), 1_000_000);
    tokio::spawn(async move { server::serve_on(listener, app).await });
    let ctx = dispatch::CallContext::new(domain::Actor::system("bench"));
    let all_day = domain::window::WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
    let base_slot = (dispatch::ids::now_ms() / HOUR + 24) * HOUR;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut handles = vec![];
    for k in 0..tasks {
        let token = svc.create_token(domain::Role::Operator, &format!("bench {k}")).await.expect("token").token;
        let (svc, ctx, all_day) = (svc.clone(), ctx.clone(), all_day.clone());
        let technician = move |n: u64| {
            let (svc, ctx, all_day) = (svc.clone(), ctx.clone(), all_day.clone());
            async move {
                let new = dispatch::scheduling::NewTechnician {
                    name: format!("Wire tech {k} #{n}"),
                    phone: None,
                    email: None,
                    skills: vec!["hvac".into()],
                    zone: None,
                    working_hours: Some(all_day),
                };
                svc.create_technician(&ctx, &new).await.expect("tech").id
            }
        };
        let mut tech = technician(0).await;
        let base = format!("http://{addr}");
        handles.push(tokio::spawn(async move {
            let mut c = Client { http: reqwest::Client::new(), base, token, lat_us: vec![], errors: 0 };
            let mut i = 0u64;
            while Instant::now() < deadline {
                // An ETA more than 14 days ahead is refused: a new technician every 13 days of bookings.
                let booked = i % SLOTS_PER_TECHNICIAN;
                if i > 0 && booked == 0 {
                    tech = technician(i / SLOTS_PER_TECHNICIAN).await;
                }
                lifecycle(&mut c, &tech, base_slot + (booked as i64) * 2 * HOUR, (k as u64) * 1_000_000 + i).await;
                i += 1;
            }
            (c.lat_us, c.errors)
        }));
    }
    let mut lat = vec![];
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.await.expect("task");
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "{name:<10} tasks={tasks:>2}  calls={:>6}  errors={errors}  {:>8.0} calls/s over HTTP  p50={:.2} ms  p99={:.2} ms",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let tasks_list: Vec<usize> = std::env::var("BENCH_TASKS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 32]);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("tool API lifecycle mix over HTTP, {seconds} s per configuration");
    for tasks in tasks_list {
        rt.block_on(async { run("sqlite", sqlite_db().await, tasks, seconds).await });
        rt.block_on(async { run("postgres", postgres_db().await, tasks, seconds).await });
    }
}
