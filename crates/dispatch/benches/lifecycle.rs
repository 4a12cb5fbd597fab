//! Throughput of the service under a realistic mix of tool calls: whole ticket lifecycles
//! (create, message, propose, confirm, assign, ETA, check-in, note, photo, labor, complete,
//! closeout, invoice, payment), with 1, 8 and 32 concurrent tasks, on SQLite and PostgreSQL;
//! then `pgbench -b tpcb-like -c 32` on the same PostgreSQL server for scale.
//!
//!   make bench            (or: cargo bench -p dispatch --features test-support --bench lifecycle)
//!   BENCH_SECONDS=10      run length per configuration (default 5)

use base64::Engine;
use dispatch::scheduling::NewTechnician;
use dispatch::testing::{pg_admin_url, postgres_db, service, sqlite_db};
use dispatch::{CallContext, Service};
use domain::case::{AttachmentKind, NoteKind, PaymentKind};
use domain::commands::*;
use domain::window::{WorkingHours, HOUR_MS};
use domain::{Actor, ActorKind, CreateTicket, NewCustomer, NewSite, Role};
use std::time::{Duration, Instant};

fn ctx() -> CallContext {
    CallContext::new(Actor::new(ActorKind::Token, "tok_bench", Role::Operator, "bench"))
}

#[derive(Default)]
struct Stats {
    calls: u64,
    latencies_us: Vec<u64>,
    errors: u64,
    by_action: std::collections::BTreeMap<&'static str, (u64, u64)>,
}

async fn timed<T, E: std::fmt::Debug>(
    stats: &mut Stats,
    action: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Option<T> {
    let t = Instant::now();
    let r = f.await;
    let us = t.elapsed().as_micros() as u64;
    stats.latencies_us.push(us);
    let e = stats.by_action.entry(action).or_default();
    e.0 += 1;
    e.1 += us;
    stats.calls += 1;
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            stats.errors += 1;
            if stats.errors <= 3 {
                eprintln!("  call failed: {e:?}");
            }
            None
        }
    }
}

/// One full lifecycle: 15 service calls.
async fn lifecycle(svc: &Service, tech: &str, slot: i64, n: u64, stats: &mut Stats) -> Option<()> {
    let c = ctx();
    let photo = base64::engine::general_purpose::STANDARD.encode(dispatch::testing::small_png());
    let create = CreateTicket {
        customer: NewCustomer {
            name: Some(format!("Bench {n}")),
            phone: Some(format!("+1555{:07}", n % 10_000_000)),
            ..Default::default()
        },
        site: Some(NewSite {
            address: Some(format!("{n} Bench St")),
            zone: Some("north".into()),
            ..Default::default()
        }),
        problem_summary: Some("No heat".into()),
        trade: Some("hvac".into()),
        ..Default::default()
    };
    let case = timed(stats, "create", svc.create_ticket(&c, &create)).await?.case;
    let id = case.id.clone();
    timed(
        stats,
        "message",
        svc.add_message(
            &c,
            &AddMessage {
                ticket_id: id.clone(),
                direction: Direction::Inbound,
                channel: None,
                sender: None,
                text: "When can you come?".into(),
            },
        ),
    )
    .await?;
    timed(
        stats,
        "propose",
        svc.propose_slots(
            &c,
            &ProposeSlots {
                ticket_id: id.clone(),
                from_ms: Some(slot),
                to_ms: Some(slot + 4 * HOUR_MS),
                duration_minutes: Some(60),
                max_slots: Some(3),
            },
        ),
    )
    .await?;
    timed(
        stats,
        "confirm",
        svc.confirm_slot(
            &c,
            &ConfirmSlot {
                ticket_id: id.clone(),
                start_ms: slot,
                end_ms: slot + HOUR_MS,
                technician_id: Some(tech.into()),
                reschedule: false,
                expected_version: None,
            },
        ),
    )
    .await?;
    timed(
        stats,
        "assign",
        svc.assign_tech(&c, &AssignTech { ticket_id: id.clone(), technician_id: tech.into(), expected_version: None }),
    )
    .await?;
    timed(
        stats,
        "eta",
        svc.set_eta(&c, &SetEta { ticket_id: id.clone(), eta_ms: slot, note: None, late_reason: None }),
    )
    .await?;
    let r = TicketRef { ticket_id: id.clone(), expected_version: None };
    timed(stats, "check_in", svc.check_in(&c, &r)).await?;
    timed(
        stats,
        "note",
        svc.add_note(
            &c,
            &AddNote { ticket_id: id.clone(), kind: NoteKind::WorkSummary, text: "Replaced igniter".into() },
        ),
    )
    .await?;
    timed(
        stats,
        "photo",
        svc.add_photo(
            &c,
            &AddPhoto {
                ticket_id: id.clone(),
                kind: AttachmentKind::After,
                content_type: None,
                filename: None,
                content_base64: Some(photo),
                upload_id: None,
            },
        ),
    )
    .await?;
    timed(
        stats,
        "labor",
        svc.record_labor(
            &c,
            &RecordLabor { ticket_id: id.clone(), minutes: 45, description: "Repair".into(), rate_cents: None },
        ),
    )
    .await?;
    timed(stats, "complete", svc.complete_work(&c, &r)).await?;
    let keys = case.checklist.iter().map(|i| i.key.clone()).collect();
    timed(
        stats,
        "checklist",
        svc.checklist_complete(
            &c,
            &ChecklistComplete {
                ticket_id: id.clone(),
                items: keys,
                untick: vec![],
                finalize: true,
                expected_version: None,
            },
        ),
    )
    .await?;
    timed(stats, "invoice", svc.generate_invoice_draft(&c, &r)).await?;
    timed(
        stats,
        "message_out",
        svc.add_message(
            &c,
            &AddMessage {
                ticket_id: id.clone(),
                direction: Direction::Outbound,
                channel: None,
                sender: None,
                text: "Invoice sent".into(),
            },
        ),
    )
    .await?;
    timed(
        stats,
        "payment",
        svc.record_payment(
            &c,
            &RecordPayment {
                ticket_id: id,
                kind: PaymentKind::Paid,
                amount_cents: None,
                due_ms: None,
                expected_version: None,
            },
        ),
    )
    .await?;
    Some(())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn run(name: &str, svc: &Service, tasks: usize, seconds: u64) -> f64 {
    let all_day = WorkingHours([(); 7].map(|()| vec![(0, 24 * 60)]));
    let mut techs = vec![];
    for i in 0..tasks {
        let t = svc
            .create_technician(
                &ctx(),
                &NewTechnician {
                    name: format!("Bench tech {i}"),
                    phone: None,
                    email: None,
                    skills: vec!["hvac".into()],
                    zone: Some("north".into()),
                    working_hours: Some(all_day.clone()),
                },
            )
            .await
            .expect("technician");
        techs.push(t.id);
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let base = (dispatch::ids::now_ms() / HOUR_MS + 24) * HOUR_MS;
    let handles: Vec<_> = techs
        .into_iter()
        .enumerate()
        .map(|(k, tech)| {
            let svc = svc.clone();
            tokio::spawn(async move {
                let mut stats = Stats::default();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    // Each task books its own technician, two hours apart: no false conflicts.
                    let slot = base + (i as i64) * 2 * HOUR_MS;
                    lifecycle(&svc, &tech, slot, (k as u64) * 1_000_000 + i, &mut stats).await;
                    i += 1;
                }
                stats
            })
        })
        .collect();
    let mut calls = 0;
    let mut errors = 0;
    let mut lat = vec![];
    let mut by_action: std::collections::BTreeMap<&'static str, (u64, u64)> = Default::default();
    for h in handles {
        let s = h.await.expect("task");
        calls += s.calls;
        errors += s.errors;
        lat.extend(s.latencies_us);
        for (k, (n, us)) in s.by_action {
            let e = by_action.entry(k).or_default();
            e.0 += n;
            e.1 += us;
        }
    }
    if std::env::var("BENCH_BREAKDOWN").is_ok() {
        let line: Vec<String> = by_action
            .iter()
            .map(|(k, (n, us))| format!("{k} {:.2}", *us as f64 / (*n).max(1) as f64 / 1000.0))
            .collect();
        println!("  mean ms per action: {}", line.join(", "));
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let rate = calls as f64 / elapsed;
    println!(
        "{name:<10} tasks={tasks:>2}  calls={calls:>6}  errors={errors}  {rate:>8.0} calls/s  p50={:.2} ms  p99={:.2} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    rate
}

fn pgbench_tps(seconds: u64) -> Option<f64> {
    let admin = pg_admin_url();
    let (base, _) = admin.rsplit_once('/')?;
    let db = format!("rdbench_{}", std::process::id());
    let url = format!("{base}/{db}");
    let psql = |sql: &str| std::process::Command::new("psql").args([admin.as_str(), "-qc", sql]).status().ok();
    psql(&format!("CREATE DATABASE {db}"))?;
    let init = std::process::Command::new("pgbench").args(["-i", "-q", "-s", "1", url.as_str()]).output().ok()?;
    let out = if init.status.success() {
        std::process::Command::new("pgbench")
            .args(["-b", "tpcb-like", "-c", "32", "-j", "2", "-T", &seconds.to_string(), url.as_str()])
            .output()
            .ok()
    } else {
        None
    };
    psql(&format!("DROP DATABASE IF EXISTS {db}"));
    let text = String::from_utf8_lossy(&out?.stdout).to_string();
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    if std::env::var("BENCH_PING").is_ok() {
        // Round-trip cost of one trivial statement, to tell driver overhead from work.
        rt.block_on(async {
            for (name, db) in [("sqlite", sqlite_db().await), ("postgres", postgres_db().await)] {
                let mut conn = db.pool().acquire().await.expect("conn");
                if name == "sqlite" {
                    use sqlx::Row;
                    for pragma in ["journal_mode", "synchronous", "busy_timeout", "foreign_keys"] {
                        let v = sqlx::query(&format!("PRAGMA {pragma}")).fetch_one(&mut *conn).await.expect("pragma");
                        let shown = v
                            .try_get::<String, _>(0)
                            .or_else(|_| v.try_get::<i64, _>(0).map(|n| n.to_string()))
                            .unwrap_or_default();
                        println!("sqlite {pragma} = {shown}");
                    }
                }
                let t = Instant::now();
                for _ in 0..5_000 {
                    sqlx::query("SELECT 1").fetch_one(&mut *conn).await.expect("select");
                }
                println!("{name}: {:.1} us per SELECT 1", t.elapsed().as_secs_f64() * 1e6 / 5_000.0);
            }
        });
        return;
    }
    println!("service lifecycle mix, {seconds} s per configuration (15 calls per ticket lifecycle)");
    let mut pg_best: f64 = 0.0;
    let mut lite_best: f64 = 0.0;
    // BENCH_TASKS=1,8 and BENCH_BACKENDS=sqlite narrow a run while profiling.
    let tasks_list: Vec<usize> = std::env::var("BENCH_TASKS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 32]);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for tasks in tasks_list {
        if backends.contains("sqlite") {
            let lite = rt.block_on(async { service(sqlite_db().await) });
            lite_best = lite_best.max(rt.block_on(run("sqlite", &lite, tasks, seconds)));
        }
        if backends.contains("postgres") {
            let pg = rt.block_on(async { service(postgres_db().await) });
            pg_best = pg_best.max(rt.block_on(run("postgres", &pg, tasks, seconds)));
        }
    }
    if !backends.contains("postgres") {
        println!("best service rate on sqlite: {lite_best:.0} calls/s (target >= 1500)");
        return;
    }
    match pgbench_tps(seconds) {
        Some(tps) => println!(
            "pgbench tpcb-like -c 32: {tps:.0} tps; best service rate on postgres {pg_best:.0} calls/s = {:.2} x pgbench (target >= 0.5)",
            pg_best / tps
        ),
        None => println!("pgbench not available: ratio not measured"),
    }
    println!("best service rate on sqlite: {lite_best:.0} calls/s (target >= 1500)");
}
