//! Large uploads through the app: a 200 MiB image file sent to `POST /tools/v1/uploads` of the
//! real server binary (its own process, so its memory can be read from /proc), as a raw body
//! (how the technician page sends photos) and as multipart, once with the local-folder store
//! and once with a real S3 server (s3s-fs); compared with a direct PUT of the same file to the
//! same S3 server. Prints MiB/s, the ratio to the direct PUT, and the
//! server's peak RSS growth during the upload.
//!
//!   make bench-upload     (BENCH_UPLOAD_MIB=200, BENCH_ROUNDS=3)

use dispatch::{BlobStore, S3BlobStore, S3Settings};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

async fn wait_for_port(port: u16) -> Result<(), BoxError> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("nothing listens on port {port}").into())
}

/// A structurally valid JPEG of `mib` MiB (see `testing::padded_jpeg`).
fn big_jpeg(path: &Path, mib: u64) -> Result<(), BoxError> {
    std::fs::write(path, dispatch::testing::padded_jpeg((mib * 1024 * 1024) as usize))?;
    Ok(())
}

struct Child(tokio::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// A kibibyte figure from /proc/<pid>/status.
fn proc_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// How the file is sent: as the raw request body (what the technician page does), or as the
/// multipart field `file` (a form post, size unknown until its end).
#[derive(Clone, Copy)]
enum Shape {
    Raw,
    Multipart,
}

/// Sends `path` to the upload door, streamed from disk in 1 MiB chunks.
async fn upload(port: u16, token: &str, path: &Path, shape: Shape) -> Result<String, BoxError> {
    let size = tokio::fs::metadata(path).await?.len();
    let boundary = "rd-bench-boundary-7c15";
    let (target, content_type, head, tail) = match shape {
        Shape::Raw => ("/tools/v1/uploads?filename=big.jpg", "image/jpeg".to_string(), String::new(), String::new()),
        Shape::Multipart => (
            "/tools/v1/uploads",
            format!("multipart/form-data; boundary={boundary}"),
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
            ),
            format!("\r\n--{boundary}--\r\n"),
        ),
    };
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.set_nodelay(true)?;
    let request = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        head.len() as u64 + size + tail.len() as u64
    );
    s.write_all(request.as_bytes()).await?;
    s.write_all(head.as_bytes()).await?;
    let mut f = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await?;
    }
    s.write_all(tail.as_bytes()).await?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!("upload refused: {}", answer.lines().last().unwrap_or_default()).into());
    }
    Ok(answer)
}

struct Server {
    child: Child,
    port: u16,
    token: String,
}

async fn start_server(bin: &str, data: &Path, s3: Option<&S3Settings>) -> Result<Server, BoxError> {
    let port = free_port();
    let mut env: Vec<(&str, String)> = vec![
        ("RD_DATA_DIR", data.display().to_string()),
        ("RD_BIND", format!("127.0.0.1:{port}")),
        ("RD_MAX_UPLOAD_MIB", "1024".into()),
        ("RUST_LOG", "warn".into()),
        ("TMPDIR", data.join("tmp").display().to_string()),
    ];
    std::fs::create_dir_all(data.join("tmp"))?;
    if let Some(s) = s3 {
        env.extend([
            ("RD_S3_ENDPOINT", s.endpoint.clone()),
            ("RD_S3_BUCKET", s.bucket.clone()),
            ("AWS_ACCESS_KEY_ID", s.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", s.secret_access_key.clone()),
        ]);
    }
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(bin);
        c.args(args).env_remove("DATABASE_URL").env_remove("RD_S3_ENDPOINT");
        for (k, v) in &env {
            c.env(k, v);
        }
        c
    };
    let out = run(&["token", "create", "--role", "tech_liaison_agent", "--name", "bench"]).output()?;
    if !out.status.success() {
        return Err(format!("token create failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let token = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
    let child =
        tokio::process::Command::from(run(&["serve"])).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn()?;
    wait_for_port(port).await?;
    Ok(Server { child: Child(child), port, token })
}

struct Figures {
    mib_s: f64,
    rss_growth_mib: f64,
}

/// Best of `rounds` uploads, and the largest peak-RSS growth seen.
async fn through_app(server: &Server, file: &Path, mib: u64, rounds: u64, shape: Shape) -> Result<Figures, BoxError> {
    let pid = server.child.0.id().ok_or("server exited")?;
    // A first small upload warms the pools, the runtime and the store client.
    let warm = file.with_extension("warm.jpg");
    big_jpeg(&warm, 1)?;
    upload(server.port, &server.token, &warm, shape).await?;
    let mut best = f64::MAX;
    let mut growth = 0u64;
    for _ in 0..rounds {
        let before = proc_kib(pid, "VmRSS:").max(proc_kib(pid, "VmHWM:"));
        let t = Instant::now();
        upload(server.port, &server.token, file, shape).await?;
        best = best.min(t.elapsed().as_secs_f64());
        growth = growth.max(proc_kib(pid, "VmHWM:").saturating_sub(before));
    }
    Ok(Figures { mib_s: mib as f64 / best, rss_growth_mib: growth as f64 / 1024.0 })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let mib = env_num("BENCH_UPLOAD_MIB", 200);
    let rounds = env_num("BENCH_ROUNDS", 3).max(1);
    let bin = env!("CARGO_BIN_EXE_real-dispatch");
    let s3s = std::env::var("RD_S3S_FS").unwrap_or_else(|_| {
        format!("{}/.cache/real-dispatch/tools/bin/s3s-fs", std::env::var("HOME").unwrap_or_default())
    });
    let work = std::env::temp_dir().join(format!("rd-bench-upload-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let file = work.join("big.jpg");
    big_jpeg(&file, mib)?;
    println!("upload benchmark: one {mib} MiB JPEG, best of {rounds} rounds, server in its own process");

    // The S3 server, and the direct PUT every figure is compared with.
    let s3_port = free_port();
    let s3_root = work.join("s3");
    std::fs::create_dir_all(&s3_root)?;
    let _s3 = Child(
        tokio::process::Command::new(&s3s)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &s3_port.to_string(),
                "--access-key",
                "bench",
                "--secret-key",
                "bench-secret-key",
            ])
            .arg(&s3_root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start {s3s}: {e} (make bench-upload installs it)"))?,
    );
    wait_for_port(s3_port).await?;
    let settings = S3Settings {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        bucket: "bench".into(),
        region: "us-east-1".into(),
        access_key_id: "bench".into(),
        secret_access_key: "bench-secret-key".into(),
    };
    let direct = S3BlobStore::new(&settings);
    direct.ensure_bucket().await?;
    let mut best = f64::MAX;
    for i in 0..rounds {
        let t = Instant::now();
        direct.put_file(&format!("direct/{i}.jpg"), "image/jpeg", &file).await?;
        best = best.min(t.elapsed().as_secs_f64());
        direct.delete(&format!("direct/{i}.jpg")).await?;
    }
    let direct_mib_s = mib as f64 / best;
    println!("  {:<34} {direct_mib_s:>8.1} MiB/s", "direct PUT to S3 (aws-sdk-s3)");

    for (store, s3) in [("S3", Some(&settings)), ("local folder", None)] {
        for (shape, how) in [(Shape::Raw, "raw body"), (Shape::Multipart, "multipart")] {
            // A server of its own per row, so each peak-RSS figure is that row's alone.
            let data = work.join(format!("{}-{how}", store.replace(' ', "_")).replace(' ', "_"));
            let server = start_server(bin, &data, s3).await?;
            let f = through_app(&server, &file, mib, rounds, shape).await?;
            let name = format!("app -> {store} ({how})");
            println!(
                "  {name:<34} {:>8.1} MiB/s  = {:.2} x direct PUT   server peak RSS growth {:.1} MiB",
                f.mib_s,
                f.mib_s / direct_mib_s,
                f.rss_growth_mib
            );
        }
    }
    println!("targets: >= 0.8 x direct PUT, < 32 MiB RSS growth");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
