//! Blob stores against real backends: the local folder, and a real S3 server (s3s-fs, which
//! checks SigV4 signatures) started by this test.

use dispatch::blob::BlobError;
use dispatch::{BlobStore, LocalBlobStore, S3BlobStore};

mod s3_server;

use s3_server::{settings, start_s3};

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
    let mut streamed = vec![];
    let mut reader = store.open("uploads/upl_1.png").await.expect("open");
    assert_eq!(reader.size, Some(big.len() as u64));
    tokio::io::AsyncReadExt::read_to_end(&mut reader.body, &mut streamed).await.expect("stream");
    assert_eq!(streamed, big);
    assert!(matches!(store.open("uploads/missing.png").await, Err(BlobError::NotFound(_))));
    let listed = store.list("attachments/").await.expect("list");
    assert_eq!(listed.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(), ["attachments/tkt_1/photo.jpg"]);
    let now = dispatch::ids::now_ms();
    assert!(listed[0].modified_ms > now - 600_000 && listed[0].modified_ms <= now + 5_000, "{listed:?}");
    assert!(store.list("packets/").await.expect("list").is_empty());
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

/// A streamed PUT the server refuses: the write that finds the refusal reports it, and the
/// upload is then given up cleanly (no second wait on the finished request), storing nothing.
#[tokio::test]
async fn a_refused_streamed_put_fails_cleanly_and_stores_nothing() {
    let server = start_s3().await;
    let good = S3BlobStore::new(&settings(&server.endpoint, "rdtest-secret-key"));
    good.ensure_bucket().await.expect("create bucket");
    let wrong = S3BlobStore::new(&settings(&server.endpoint, "not-the-secret"));
    let chunk = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    let declared = 64 * 1024 * 1024;
    for give_up_by_finishing in [false, true] {
        let mut sink = wrong.sink("uploads/upl_refused.jpg", "image/jpeg", Some(declared)).await.expect("sink");
        let mut refused = false;
        for _ in 0..(declared / chunk.len() as u64) {
            if sink.write(chunk.clone()).await.is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "the server's refusal reaches a write before the declared size is sent");
        if give_up_by_finishing {
            assert!(sink.finish().await.is_err(), "finishing a refused upload reports it");
        } else {
            sink.abort().await;
        }
    }
    assert!(matches!(good.get("uploads/upl_refused.jpg").await, Err(BlobError::NotFound(_))));
}

/// A spool file a killed process left behind (older than the grace period) is removed by the
/// blob sweep; one of an upload in flight (fresh) is kept, and so is anything not a spool file.
#[tokio::test]
async fn the_sweep_removes_orphan_spool_files_and_keeps_fresh_ones() {
    let svc = dispatch::testing::service(dispatch::testing::sqlite_db().await);
    let spool = svc.spool_dir().to_path_buf();
    std::fs::create_dir_all(&spool).expect("spool dir");
    let orphan = spool.join(format!("{}killed", dispatch::spool::FILE_PREFIX));
    let in_flight = spool.join(format!("{}in-flight", dispatch::spool::FILE_PREFIX));
    let other = spool.join("notes.txt");
    for f in [&orphan, &in_flight, &other] {
        std::fs::write(f, b"partial upload").expect("write");
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    for f in [&orphan, &other] {
        std::fs::File::options().write(true).open(f).expect("open").set_modified(two_hours_ago).expect("age");
    }
    let now = dispatch::ids::now_ms();
    let r = svc
        .sweep_blobs(now, dispatch::sweep::DEFAULT_GRACE_MS, dispatch::sweep::DEFAULT_UPLOAD_TTL_MS)
        .await
        .expect("sweep");
    assert_eq!(r.spool_removed, 1, "{r:?}");
    assert!(!orphan.exists(), "the orphan spool file is gone");
    assert!(in_flight.exists(), "a fresh spool file (an upload in flight) is kept");
    assert!(other.exists(), "only spool files are touched");
    // A second pass finds nothing; a missing folder is nothing to sweep.
    assert_eq!(svc.sweep_spool(now, dispatch::sweep::DEFAULT_GRACE_MS).await.expect("sweep").removed, 0);
    std::fs::remove_dir_all(&spool).expect("remove");
    assert_eq!(svc.sweep_spool(now, 0).await.expect("sweep"), dispatch::spool::SpoolSweep::default());
}

/// Spools are created in the folder they are given, which is made on first use.
#[tokio::test]
async fn a_spool_lives_in_its_folder() {
    let dir = dispatch::testing::temp_dir().join("data").join("spool");
    let mut spool = dispatch::spool::Spool::create(&dir, 1 << 20).await.expect("spool");
    spool.write(bytes::Bytes::from_static(b"hello")).await.expect("write");
    let names: Vec<String> =
        std::fs::read_dir(&dir).expect("dir").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with(dispatch::spool::FILE_PREFIX), "{names:?}");
    drop(spool);
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0, "an abandoned spool leaves nothing");
}
