//! The real server binary as its own process: for what only a process shows (its memory, its
//! signals, two instances on one database).

use std::path::Path;
use std::time::Duration;

/// A running `real-dispatch serve`; killed when dropped.
pub struct Instance {
    pub child: std::process::Child,
    pub base: String,
    pub port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(data_dir: &Path, env: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_real-dispatch"));
    c.env("RD_DATA_DIR", data_dir).env("RUST_LOG", "warn").env_remove("DATABASE_URL").env_remove("RD_S3_ENDPOINT");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs a command of the CLI, whatever its outcome.
pub fn run(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    command(data_dir, env).args(args).output().expect("run the cli")
}

/// Runs a command of the CLI; its standard output.
pub fn cli(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = command(data_dir, env).args(args).output().expect("run the cli");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port()
}

/// Starts `serve` on `port` and waits until it answers `/healthz`.
pub async fn serve(data_dir: &Path, env: &[(&str, &str)], port: u16) -> Instance {
    serve_logging_to(data_dir, env, port, std::process::Stdio::null()).await
}

/// [`serve`] with its log (standard error) going to `log`.
pub async fn serve_logging_to(
    data_dir: &Path,
    env: &[(&str, &str)],
    port: u16,
    log: impl Into<std::process::Stdio>,
) -> Instance {
    let child = command(data_dir, env)
        .arg("serve")
        .env("RD_BIND", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    let instance = Instance { child, base: format!("http://127.0.0.1:{port}"), port };
    for _ in 0..300 {
        if reqwest::get(format!("{}/healthz", instance.base)).await.is_ok_and(|r| r.status().is_success()) {
            return instance;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up on port {port}");
}

/// Peak resident memory of a process so far, in bytes (Linux).
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM");
    kib * 1024
}
