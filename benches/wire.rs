//! The lifecycle mix as users meet it: separate client processes' worth of HTTP connections
//! against a running `real-dispatch serve` (release build), with PostgreSQL's own pgbench
//! (tpcb-like) run against the same database server in the same run for scale.
//!
//!   make bench-wire                      start a release server on SQLite, then on PostgreSQL
//!   make bench-wire URL=http://host:3000 drive a server that is already running
//!
//! Prints, per backend and number of clients: calls/s, p50/p99 latency, the server's CPU per
//! call (and the database's, on PostgreSQL: every `postgres` process on this machine), the share
//! of active database sessions waiting on a lock, and the ratio to pgbench's TPS.
//!
//! Setup goes through the CLI, as a shop's would: one operator token created with
//! `token create --calls-per-minute 0` (so the shop's per-token rate limit, which would cap a
//! load test at 10 calls/s per token, does not apply to it and no server setting is changed),
//! and technicians with `technician create --all-hours`, so each client books its own
//! technician's time (a new one each 13 days of bookings: an ETA more than 14 days ahead is
//! refused). With URL the CLI must reach the same database: run it with the server's
//! DATABASE_URL (and RD_DATA_DIR for SQLite). A run in which any call was refused says so
//! under its line: a refused call ends its ticket early, so the figures are not the mix's.
//!
//! Environment: BENCH_SECONDS (10), BENCH_CLIENTS (1,8,32), RD_BIN (target/release/real-dispatch),
//! RD_BENCH_PG_URL (the PostgreSQL server to use when starting one's own; default the test one).

#[path = "common/mix.rs"]
mod mix;

use mix::{lifecycle, pct, Client, HOUR, SLOTS_PER_TECHNICIAN};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run the CLI against the server's database.
#[derive(Clone)]
struct Cli {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Cli {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("RUST_LOG", "warn");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The last line a command printed (ids and tokens are printed last).
    fn last_line(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap_or_else(|e| panic!("{}: {e}", self.bin.display()));
        assert!(out.status.success(), "real-dispatch {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string()
    }
}

/// A server the bench drives.
struct Target {
    name: String,
    base: String,
    cli: Cli,
    /// The PostgreSQL database it uses (for lock sampling and pgbench), if any.
    postgres: Option<String>,
    /// A server the bench started itself.
    child: Option<Child>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

async fn healthy(base: &str) -> bool {
    for _ in 0..300 {
        if reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Starts `serve` on a fresh database: SQLite in a temporary folder, or a new PostgreSQL
/// database on `pg_admin`'s server.
async fn own_server(bin: &Path, pg_admin: Option<&str>) -> Target {
    let dir = std::env::temp_dir().join(format!("rd-wire-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut env = vec![("RD_DATA_DIR".to_string(), dir.display().to_string())];
    let (name, postgres) = match pg_admin {
        None => ("sqlite".to_string(), None),
        Some(admin) => {
            let db = format!("rd_wire_{}", std::process::id());
            psql(admin, &format!("DROP DATABASE IF EXISTS {db}"));
            psql(admin, &format!("CREATE DATABASE {db}"));
            let url = with_database(admin, &db);
            env.push(("DATABASE_URL".into(), url.clone()));
            ("postgres".to_string(), Some(url))
        }
    };
    let cli = Cli { bin: bin.to_path_buf(), env };
    cli.last_line(&["migrate"]);
    let port = free_port();
    let child = cli
        .command()
        .arg("serve")
        .env("RD_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let base = format!("http://127.0.0.1:{port}");
    let target = Target { name, base, cli, postgres, child: Some(child) };
    assert!(healthy(&target.base).await, "the server did not come up");
    target
}

/// The same server address with another database name.
fn with_database(url: &str, db: &str) -> String {
    let (head, _) = url.rsplit_once('/').expect("a database URL");
    format!("{head}/{db}")
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql").arg(url).args(["-qAtc", sql]).output().expect("psql");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// CPU time (user + system) so far of each process whose name starts with `comm_prefix`,
/// in ms, by pid.
fn cpu_ms(comm_prefix: &str) -> HashMap<u32, f64> {
    let ticks_per_ms = 0.1; // USER_HZ (100) on Linux
    let mut by_pid = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ..." — comm may hold spaces, so split at its closing parenthesis.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with(comm_prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After the comm: state is field 3 of stat(5), utime 14 and stime 15.
        let get = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        by_pid.insert(pid, (get(14) + get(15)) as f64 / ticks_per_ms);
    }
    by_pid
}

/// CPU used between two readings by the processes `keep` admits.
fn cpu_between(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>, keep: impl Fn(u32) -> bool) -> f64 {
    after.iter().filter(|(pid, _)| keep(**pid)).map(|(pid, ms)| ms - before.get(pid).copied().unwrap_or(0.0)).sum()
}

/// What the database's sessions did while the mix ran.
#[derive(Default)]
struct Sessions {
    samples: u64,
    active: u64,
    waiting: u64,
    /// Waiting sessions by what they waited for: the lock's kind and the statement's start.
    waited_on: HashMap<String, u64>,
    /// The server processes of the database's connections (for their CPU).
    pids: HashSet<u32>,
}

impl Sessions {
    /// The most waited-on locks, as shares of all waits.
    fn top_waits(&self, n: usize) -> String {
        let mut by: Vec<(&String, &u64)> = self.waited_on.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let total = self.waiting.max(1) as f64;
        by.iter()
            .take(n)
            .map(|(what, k)| format!("{:.0}% {what}", **k as f64 * 100.0 / total))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Samples the database's sessions while the mix runs.
async fn sample_locks(url: String, stop: Arc<std::sync::atomic::AtomicBool>) -> Sessions {
    sqlx::any::install_default_drivers();
    let mut seen = Sessions::default();
    let Ok(pool) = sqlx::AnyPool::connect(&url).await else { return seen };
    let db = url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_string();
    while !stop.load(Ordering::Relaxed) {
        let rows: Result<Vec<(i32, bool, bool, String)>, _> = sqlx::query_as(
            "SELECT pid, state = 'active', wait_event_type IS NOT DISTINCT FROM 'Lock', \
                    COALESCE(wait_event, '') || ' ' || LEFT(regexp_replace(query, '\\s+', ' ', 'g'), 60) \
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&db)
        .fetch_all(&pool)
        .await;
        if let Ok(rows) = rows {
            seen.samples += 1;
            for (pid, active, waiting, what) in rows {
                seen.active += u64::from(active);
                seen.waiting += u64::from(waiting);
                if waiting {
                    *seen.waited_on.entry(what).or_default() += 1;
                }
                seen.pids.insert(pid as u32);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.close().await;
    seen
}

/// One client's technician and the next hour it books. An ETA more than 14 days ahead is
/// refused, so when the bookings reach 13 days ahead the client takes a new technician (made
/// through the CLI, off the runtime's threads) and starts again from tomorrow.
struct Calendar {
    cli: Cli,
    name: String,
    tech: String,
    next_slot: i64,
    made: u32,
}

impl Calendar {
    fn new(cli: &Cli, name: String) -> Calendar {
        let tech = make_technician(cli, &format!("{name} #1"));
        Calendar { cli: cli.clone(), name, tech, next_slot: tomorrow(), made: 1 }
    }

    /// The technician and hour of the next booking.
    async fn next(&mut self) -> (String, i64) {
        if self.next_slot >= tomorrow() + SLOTS_PER_TECHNICIAN as i64 * 2 * HOUR {
            self.made += 1;
            let (cli, name) = (self.cli.clone(), format!("{} #{}", self.name, self.made));
            self.tech = tokio::task::spawn_blocking(move || make_technician(&cli, &name)).await.expect("technician");
            self.next_slot = tomorrow();
        }
        let slot = self.next_slot;
        // Two hours apart: the hour booked and the travel buffers around it.
        self.next_slot += 2 * HOUR;
        (self.tech.clone(), slot)
    }
}

fn make_technician(cli: &Cli, name: &str) -> String {
    cli.last_line(&["technician", "create", "--name", name, "--skill", "hvac", "--all-hours"])
}

fn tomorrow() -> i64 {
    (dispatch::ids::now_ms() / HOUR + 24) * HOUR
}

/// One run of the mix with `clients` connections; returns calls/s.
async fn run(
    t: &Target,
    token: &str,
    calendars: &[Arc<tokio::sync::Mutex<Calendar>>],
    clients: usize,
    seconds: u64,
) -> f64 {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let locks = t.postgres.clone().map(|url| tokio::spawn(sample_locks(url, stop.clone())));
    let (server_before, db_before) = (cpu_ms("real-dispatch"), cpu_ms("postgres"));
    let own = t.child.as_ref().map(Child::id);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut handles = vec![];
    for (k, calendar) in calendars.iter().take(clients).enumerate() {
        let calendar = calendar.clone();
        let mut c = Client {
            http: reqwest::Client::new(),
            base: t.base.clone(),
            token: token.into(),
            lat_us: vec![],
            errors: 0,
        };
        handles.push(tokio::spawn(async move {
            let mut i = 0u64;
            let mut calendar = calendar.lock().await;
            while Instant::now() < deadline {
                let (tech, slot) = calendar.next().await;
                lifecycle(&mut c, &tech, slot, (k as u64) * 1_000_000 + i).await;
                i += 1;
            }
            (c.lat_us, c.errors)
        }));
    }
    let (mut lat, mut errors) = (vec![], 0);
    for h in handles {
        let (l, e) = h.await.expect("client");
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (server_after, db_after) = (cpu_ms("real-dispatch"), cpu_ms("postgres"));
    stop.store(true, Ordering::Relaxed);
    let sessions = match locks {
        Some(l) => Some(l.await.unwrap_or_default()),
        None => None,
    };
    // The server the bench started, else every server process on this machine; the
    // database's own connections' processes.
    let server_cpu = cpu_between(&server_before, &server_after, |pid| own.is_none_or(|o| o == pid));
    let db_cpu = cpu_between(&db_before, &db_after, |pid| sessions.as_ref().is_some_and(|s| s.pids.contains(&pid)));
    lat.sort_unstable();
    let calls = lat.len().max(1) as f64;
    let rate = lat.len() as f64 / elapsed;
    let mut line = format!(
        "{:<9} clients={clients:>2}  calls={:>6}  errors={errors:<3} {rate:>7.0} calls/s  p50={:>6.2} ms  p99={:>7.2} ms  server CPU {:.2} ms/call",
        t.name,
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        server_cpu / calls,
    );
    if t.postgres.is_some() {
        line += &format!("  + database {:.2} = {:.2} ms/call", db_cpu / calls, (server_cpu + db_cpu) / calls);
    }
    if let Some(s) = sessions {
        let share = if s.active > 0 { s.waiting as f64 * 100.0 / s.active as f64 } else { 0.0 };
        line += &format!("  lock waits {share:.1}% of active sessions ({} samples)", s.samples);
        if s.waiting > 0 {
            line += &format!("\n          waited on: {}", s.top_waits(3));
        }
    }
    println!("{line}");
    if errors > 0 {
        // A refused call ends its ticket early, so the mix ran only its first steps.
        println!(
            "          {errors} calls were refused (the first are shown above): these figures are not the whole mix's"
        );
    }
    rate
}

/// pgbench's tpcb-like TPS on its own database beside the server's, with `clients` clients.
fn pgbench(url: &str, clients: usize, seconds: u64) -> Option<f64> {
    let db = format!("rd_wire_pgbench_{}", std::process::id());
    let admin = with_database(url, "postgres");
    psql(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    psql(&admin, &format!("CREATE DATABASE {db}"));
    let bench_url = with_database(url, &db);
    let init = Command::new("pgbench").args(["-i", "-q", "-s", "10", &bench_url]).output().ok()?;
    if !init.status.success() {
        eprintln!("pgbench -i: {}", String::from_utf8_lossy(&init.stderr));
        return None;
    }
    let out = Command::new("pgbench")
        .args(["-n", "-b", "tpcb-like", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), &bench_url])
        .output()
        .ok()?;
    psql(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text.lines().find(|l| l.starts_with("tps = ")).and_then(|l| l.split_whitespace().nth(2)?.parse().ok());
    let latency = text.lines().find(|l| l.starts_with("latency average")).unwrap_or_default();
    if let Some(tps) = tps {
        println!("pgbench   clients={clients:>2}  tpcb-like {tps:>7.0} TPS  ({latency})");
    }
    tps
}

async fn drive(t: &Target, clients: &[usize], seconds: u64) {
    let token =
        t.cli.last_line(&["token", "create", "--role", "operator", "--name", "bench-wire", "--calls-per-minute", "0"]);
    let most = clients.iter().copied().max().unwrap_or(1);
    // Each client books its own technician's time, from tomorrow on, never twice the same hour.
    let run_tag = dispatch::ids::now_ms() % 100_000;
    let calendars: Vec<_> = (0..most)
        .map(|k| Arc::new(tokio::sync::Mutex::new(Calendar::new(&t.cli, format!("Wire tech {run_tag}-{k}")))))
        .collect();
    let mut at_most = 0.0;
    for &n in clients {
        at_most = run(t, &token, &calendars, n, seconds).await;
    }
    if let Some(url) = &t.postgres {
        if let Some(tps) = pgbench(url, most, seconds) {
            println!("{:<9} clients={most:>2}  Real Dispatch / pgbench = {:.2}", t.name, at_most / tps);
        }
    }
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let clients: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 8, 32]);
    let bin = PathBuf::from(std::env::var("RD_BIN").unwrap_or_else(|_| "target/release/real-dispatch".into()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("the lifecycle mix (15 tool calls a ticket, one photo) over HTTP, {seconds} s per run");
    rt.block_on(async {
        match std::env::var("BENCH_URL").ok().filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                let env: Vec<(String, String)> = ["DATABASE_URL", "RD_DATA_DIR"]
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                    .collect();
                let postgres = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"));
                let name = if postgres.is_some() { "postgres" } else { "server" };
                let t = Target {
                    name: name.into(),
                    base: url.trim_end_matches('/').to_string(),
                    cli: Cli { bin, env },
                    postgres,
                    child: None,
                };
                assert!(healthy(&t.base).await, "{url} does not answer /healthz");
                drive(&t, &clients, seconds).await;
            }
            None => {
                let pg = std::env::var("RD_BENCH_PG_URL")
                    .or_else(|_| std::env::var("RD_TEST_PG_URL"))
                    .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
                for backend in [None, Some(pg.as_str())] {
                    let t = own_server(&bin, backend).await;
                    drive(&t, &clients, seconds).await;
                    if let Some(url) = t.postgres.clone() {
                        drop(t);
                        psql(
                            &with_database(&url, "postgres"),
                            &format!("DROP DATABASE IF EXISTS rd_wire_{}", std::process::id()),
                        );
                    }
                }
            }
        }
    });
}
