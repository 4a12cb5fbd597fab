//! A real S3 server for tests: s3s-fs (it checks SigV4 signatures), started per test on a
//! free loopback port and killed when dropped.
#![allow(dead_code)]

use dispatch::S3Settings;
use std::process::Stdio;
use std::time::Duration;

pub struct S3Server {
    pub child: tokio::process::Child,
    pub endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub async fn start_s3() -> S3Server {
    let bin = std::env::var("RD_S3S_FS").unwrap_or_else(|_| {
        format!("{}/.cache/real-dispatch/tools/bin/s3s-fs", std::env::var("HOME").unwrap_or_default())
    });
    assert!(
        std::path::Path::new(&bin).exists(),
        "S3 test server not found at {bin}; run `make test` (it installs s3s-fs)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let root = dispatch::testing::temp_dir();
    let child = tokio::process::Command::new(&bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--access-key",
            "rdtest",
            "--secret-key",
            "rdtest-secret-key",
        ])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start s3s-fs");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    S3Server { child, endpoint: format!("http://127.0.0.1:{port}") }
}

pub fn settings(endpoint: &str, secret: &str) -> S3Settings {
    S3Settings {
        endpoint: endpoint.into(),
        bucket: "real-dispatch".into(),
        region: "us-east-1".into(),
        access_key_id: "rdtest".into(),
        secret_access_key: secret.into(),
    }
}
