//! Blob stores against real backends: the local folder, and a real S3 server (s3s-fs, which
//! checks SigV4 signatures) started by this test.

use dispatch::blob::BlobError;
use dispatch::{BlobStore, LocalBlobStore, S3BlobStore, S3Settings};
use std::process::Stdio;
use std::time::Duration;

struct S3Server {
    child: tokio::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn start_s3() -> S3Server {
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

fn settings(endpoint: &str, secret: &str) -> S3Settings {
    S3Settings {
        endpoint: endpoint.into(),
        bucket: "real-dispatch".into(),
        region: "us-east-1".into(),
        access_key_id: "rdtest".into(),
        secret_access_key: secret.into(),
    }
}

async fn round_trip(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let meta = store.put("attachments/tkt_1/photo.jpg", "image/jpeg", body.clone()).await.expect("put");
    assert_eq!(meta.size, 300_000);
    assert_eq!(meta.sha256.len(), 64);
    assert_eq!(store.get("attachments/tkt_1/photo.jpg").await.expect("get"), body);
    assert!(matches!(store.get("attachments/tkt_1/missing.jpg").await, Err(BlobError::NotFound(_))));
    assert!(matches!(store.put("../escape", "text/plain", vec![1]).await, Err(BlobError::InvalidKey(_))));
    // Files on disk stream in without being read into memory first.
    let path = dispatch::testing::temp_dir().join("spool.bin");
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &big).expect("spool");
    store.put_file("uploads/upl_1.png", "image/png", &path).await.expect("put_file");
    assert_eq!(store.get("uploads/upl_1.png").await.expect("get"), big);
    store.delete("attachments/tkt_1/photo.jpg").await.expect("delete");
    assert!(matches!(store.get("attachments/tkt_1/photo.jpg").await, Err(BlobError::NotFound(_))));
}

#[tokio::test]
async fn local_store_round_trip() {
    let store = LocalBlobStore::new(dispatch::testing::temp_dir()).expect("store");
    round_trip(&store).await;
}

#[tokio::test]
async fn s3_store_round_trip_against_a_real_server() {
    let server = start_s3().await;
    let store = S3BlobStore::new(&settings(&server.endpoint, "rdtest-secret-key"));
    assert!(store.ping().await.is_err(), "bucket does not exist yet");
    store.ensure_bucket().await.expect("create bucket");
    store.ensure_bucket().await.expect("idempotent");
    round_trip(&store).await;

    // The server checks signatures: a wrong secret is refused.
    let wrong = S3BlobStore::new(&settings(&server.endpoint, "not-the-secret"));
    assert!(wrong.put("x/y", "text/plain", vec![1, 2, 3]).await.is_err());
}
